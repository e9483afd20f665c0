//! Private set intersection of two people's favourites: Diffie-Hellman PSI on Ristretto255.
//!
//! Each party hashes its items to the group and raises them to a secret scalar that never
//! leaves its device (`H(x)^a`). The parties swap these blinded sets through the coordinator,
//! raise the other's set to their own secret (`H(y)^b^a`) and send it back in the order
//! received. An item is in both sets exactly when its doubly blinded points are equal, so each
//! party learns which of *its own* items the other also has, and nothing about the other's
//! remaining items (under the decisional Diffie-Hellman assumption, for parties that follow the
//! protocol). The coordinator relays points that look random to it. Set sizes are revealed.
//!
//! Messages are sorted by their bytes, so their order says nothing about the order of the items.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use crate::{Error, ItemHash, Result};

/// Largest set either side may offer or answer (bounds the work a peer can ask for).
pub const MAX_PSI_ITEMS: usize = 20_000;

/// Context of the hash from item hashes to group elements.
const HASH_TO_GROUP_CONTEXT: &str = "mesh-discovery 2026-11 psi hash-to-ristretto255 v1";

/// One PSI message: compressed Ristretto255 points, hex encoded (32 bytes each).
///
/// Round one carries the sender's blinded items sorted by bytes; round two carries the
/// receiver's round-one points raised to the sender's secret, in the order they came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PsiMessage {
    /// The points, each 64 hex characters.
    pub points: Vec<String>,
}

impl PsiMessage {
    fn from_points(points: impl Iterator<Item = CompressedRistretto>) -> Self {
        Self {
            points: points.map(|p| hex::encode(p.as_bytes())).collect(),
        }
    }

    /// The points' 32-byte encodings, checked for shape only: at most [`MAX_PSI_ITEMS`], each
    /// 64 hex characters (what the relay checks; [`decode`](Self::decode) also checks that
    /// they are group elements).
    ///
    /// Errors with [`Error::InvalidField`] naming `points` or `points[i]`.
    pub fn encodings(&self) -> Result<Vec<[u8; 32]>> {
        if self.points.len() > MAX_PSI_ITEMS {
            return Err(psi_field(
                "points",
                format!("{} points, at most {MAX_PSI_ITEMS}", self.points.len()),
            ));
        }
        self.points
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(text, &mut bytes)
                    .map_err(|_| psi_field(&format!("points[{i}]"), "not 64 hex characters"))?;
                Ok(bytes)
            })
            .collect()
    }

    /// The points, checked: the shape of [`encodings`](Self::encodings), and each a valid
    /// encoding of a group element.
    ///
    /// Errors with [`Error::InvalidField`] naming `points` or `points[i]`.
    pub fn decode(&self) -> Result<Vec<RistrettoPoint>> {
        self.encodings()?
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                CompressedRistretto(bytes)
                    .decompress()
                    .ok_or_else(|| psi_field(&format!("points[{i}]"), "not a Ristretto255 point"))
            })
            .collect()
    }
}

fn psi_field(field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// One side of a PSI run over its item hashes. The secret scalar lives only in this value.
pub struct PsiParty {
    secret: Scalar,
    /// Own items by their blinded point (`H(x)^a`), which is also the order of round one.
    items: BTreeMap<[u8; 32], ItemHash>,
}

impl std::fmt::Debug for PsiParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PsiParty")
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl PsiParty {
    /// A party offering `items` (duplicates count once), with a fresh secret from `rng`.
    ///
    /// Errors with [`Error::InvalidField`] if there are more than [`MAX_PSI_ITEMS`] items.
    pub fn new(items: &[ItemHash], rng: &mut impl Rng) -> Result<Self> {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let secret = Scalar::from_bytes_mod_order_wide(&wide);
        let distinct: HashSet<ItemHash> = items.iter().copied().collect();
        if distinct.len() > MAX_PSI_ITEMS {
            return Err(psi_field(
                "items",
                format!("{} items, at most {MAX_PSI_ITEMS}", distinct.len()),
            ));
        }
        let items = distinct
            .into_iter()
            .map(|item| ((hash_to_group(&item) * secret).compress().to_bytes(), item))
            .collect();
        Ok(Self { secret, items })
    }

    /// Round one: own items blinded with the secret, sorted by bytes.
    pub fn blinded(&self) -> PsiMessage {
        PsiMessage::from_points(self.items.keys().map(|bytes| CompressedRistretto(*bytes)))
    }

    /// Round two: the peer's round-one points raised to the secret, in the order received.
    ///
    /// Errors if the peer's message is malformed (see [`PsiMessage::decode`]).
    pub fn answer(&self, peer_blinded: &PsiMessage) -> Result<PsiMessage> {
        let points = peer_blinded.decode()?;
        Ok(PsiMessage::from_points(
            points.into_iter().map(|p| (p * self.secret).compress()),
        ))
    }

    /// Own items the peer also has, sorted: `peer_blinded` is the peer's round one and
    /// `peer_answer` its round two (own round-one points raised to the peer's secret).
    ///
    /// Errors if either message is malformed or the answer does not hold one point per own
    /// item.
    pub fn intersection(
        &self,
        peer_blinded: &PsiMessage,
        peer_answer: &PsiMessage,
    ) -> Result<Vec<ItemHash>> {
        let answered = peer_answer.decode()?;
        if answered.len() != self.items.len() {
            return Err(psi_field(
                "points",
                format!(
                    "the answer holds {} points for {} offered items",
                    answered.len(),
                    self.items.len()
                ),
            ));
        }
        let peer_double: HashSet<[u8; 32]> = peer_blinded
            .decode()?
            .into_iter()
            .map(|p| (p * self.secret).compress().to_bytes())
            .collect();
        let mut common: Vec<ItemHash> = self
            .items
            .values()
            .zip(answered)
            .filter(|(_, double)| peer_double.contains(&double.compress().to_bytes()))
            .map(|(item, _)| *item)
            .collect();
        common.sort_unstable();
        Ok(common)
    }
}

/// Hashes an item to a Ristretto255 element (Elligator on 64 bytes of a keyed BLAKE3 XOF).
fn hash_to_group(item: &ItemHash) -> RistrettoPoint {
    let mut hasher = blake3::Hasher::new_derive_key(HASH_TO_GROUP_CONTEXT);
    hasher.update(&item.0);
    let mut wide = [0u8; 64];
    hasher.finalize_xof().fill(&mut wide);
    RistrettoPoint::from_uniform_bytes(&wide)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn item(n: u32) -> ItemHash {
        ItemHash(*blake3::hash(&n.to_le_bytes()).as_bytes())
    }

    /// Both sides of a full run through serialised messages: what A and B learn.
    fn run(a: &[ItemHash], b: &[ItemHash], seed: u64) -> (Vec<ItemHash>, Vec<ItemHash>) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let alice = PsiParty::new(a, &mut rng).unwrap();
        let bob = PsiParty::new(b, &mut rng).unwrap();
        let relay = |m: PsiMessage| -> PsiMessage {
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap()
        };
        let alice_blinded = relay(alice.blinded());
        let bob_blinded = relay(bob.blinded());
        let bob_answer = relay(bob.answer(&alice_blinded).unwrap());
        let alice_answer = relay(alice.answer(&bob_blinded).unwrap());
        (
            alice.intersection(&bob_blinded, &bob_answer).unwrap(),
            bob.intersection(&alice_blinded, &alice_answer).unwrap(),
        )
    }

    #[test]
    fn both_learn_exactly_the_intersection() {
        let a: Vec<ItemHash> = (0..50).map(item).collect();
        let b: Vec<ItemHash> = (40..120).map(item).collect();
        let (alice, bob) = run(&a, &b, 1);
        let mut expected: Vec<ItemHash> = (40..50).map(item).collect();
        expected.sort_unstable();
        assert_eq!(alice, expected);
        assert_eq!(bob, expected);
    }

    #[test]
    fn blinded_points_do_not_repeat_across_runs() {
        let a = [item(1), item(2)];
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let first = PsiParty::new(&a, &mut rng).unwrap().blinded();
        let second = PsiParty::new(&a, &mut rng).unwrap().blinded();
        assert!(first.points.iter().all(|p| !second.points.contains(p)));
    }

    #[test]
    fn malformed_messages_are_named() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let party = PsiParty::new(&[item(1)], &mut rng).unwrap();
        let not_hex = PsiMessage {
            points: vec!["zz".into()],
        };
        assert!(
            party
                .answer(&not_hex)
                .unwrap_err()
                .to_string()
                .starts_with("points[0]")
        );
        // 32 bytes that are not a canonical Ristretto255 encoding.
        let not_a_point = PsiMessage {
            points: vec!["ff".repeat(32)],
        };
        assert!(party.answer(&not_a_point).is_err());
        let short = PsiMessage { points: vec![] };
        assert!(party.intersection(&party.blinded(), &short).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_sets_meet_in_their_intersection(
            a in proptest::collection::vec(0u32..200, 0..40),
            b in proptest::collection::vec(0u32..200, 0..40),
            seed in any::<u64>(),
        ) {
            let items_a: Vec<ItemHash> = a.iter().map(|&n| item(n)).collect();
            let items_b: Vec<ItemHash> = b.iter().map(|&n| item(n)).collect();
            let set_b: HashSet<u32> = b.iter().copied().collect();
            let mut expected: Vec<ItemHash> = a
                .iter()
                .filter(|n| set_b.contains(n))
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|&n| item(n))
                .collect();
            expected.sort_unstable();
            let (alice, bob) = run(&items_a, &items_b, seed);
            prop_assert_eq!(&alice, &expected);
            prop_assert_eq!(&bob, &expected);
        }
    }
}
