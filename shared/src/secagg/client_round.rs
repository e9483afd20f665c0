//! A client's side of one secure-aggregation round (Bonawitz et al. 2017, with its consistency
//! check), as a state machine without I/O: the Web Worker (through `mesh-client`) and the
//! native clients of `mesh simulate` drive the same code.
//!
//! Steps, each answering what the coordinator relayed after the previous one:
//! 1. [`ClientRound::advertise`]: fresh X25519 keys for share encryption and mask agreement,
//!    signed with a fresh Ed25519 key of this round only (pseudonymous: nothing a peer sees
//!    links the round's keys to the device's identity; the coordinator binds them to the
//!    identity that signed the request that carried them);
//! 2. [`ClientRound::share_keys`]: checks every peer's signed keys, then encrypts to each peer
//!    its Shamir shares of the self-mask seed and of the mask secret;
//! 3. [`ClientRound::masked_input`]: decrypts the shares addressed to it (a tampered,
//!    replayed or misaddressed one is refused) and masks its quantised input against the
//!    peers that shared;
//! 4. [`ClientRound::consistency_signature`]: signs the survivor set the coordinator claims;
//! 5. [`ClientRound::unmasking_shares`]: only when at least `threshold` survivors signed that
//!    same set, reveals for each survivor its share of the self-mask seed and for each dropped
//!    sharer its share of the mask secret: never both for one client, so a coordinator that
//!    tells clients different survivor sets learns no single input (with `threshold` above half
//!    of the roster, two conflicting sets cannot both gather enough signatures).
//!
//! What leaves the device: the public keys and their signature, ciphertexts only the peers
//! read, the masked input (uniformly random without the masks) and, once the survivors agree,
//! the shares that remove the masks of the sum. Peers' round signing keys come from the roster
//! the coordinator relays; the coordinator admits only registered identities, one seat each,
//! and accepts each seat's keys only over a request signed by that identity. A coordinator that
//! invents whole clients is outside this model, as in the paper.
use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{
    SeedShare, SharesForPeer, decrypt_shares, encrypt_shares, mask_input, mask_public_key,
    pairwise_seed, round_graph, share_encryption_key, split_seed,
};
use crate::{Error, Result};

const KEYS_CONTEXT: &[u8] = b"mesh secagg round keys v1";
const SURVIVORS_CONTEXT: &[u8] = b"mesh secagg survivors v1";

/// A client's public keys for one round, signed with its round signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignedRoundKeys {
    /// The client's id in the round (assigned by the coordinator, 1-based).
    pub client: u32,
    /// X25519 public key for share encryption.
    #[serde(with = "hex32")]
    #[schemars(with = "String")]
    pub encryption_public: [u8; 32],
    /// X25519 public key for pairwise mask agreement.
    #[serde(with = "hex32")]
    #[schemars(with = "String")]
    pub mask_public: [u8; 32],
    /// The client's Ed25519 key of this round only (fresh per round, not the device's
    /// identity): it signs these keys and the client's survivor signature.
    #[serde(with = "hex32")]
    #[schemars(with = "String")]
    pub signing_public: [u8; 32],
    /// Ed25519 signature over the round, model version, client and both X25519 keys.
    #[serde(with = "hex64")]
    #[schemars(with = "String")]
    pub signature: [u8; 64],
}

impl SignedRoundKeys {
    /// Checks the signature for `round` and `model_version`.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `keys` when the signature does not verify.
    pub fn verify(&self, round: u64, model_version: u32) -> Result<()> {
        let message = keys_message(
            round,
            model_version,
            self.client,
            &self.encryption_public,
            &self.mask_public,
        );
        verify(&self.signing_public, &message, &self.signature).map_err(|reason| {
            Error::field(
                "keys",
                format!("client {}'s signature: {reason}", self.client),
            )
        })
    }
}

/// One encrypted share message, relayed by the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EncryptedShares {
    /// Who encrypted it.
    pub sender: u32,
    /// Who can decrypt it.
    pub recipient: u32,
    /// ChaCha20-Poly1305 ciphertext of the sender's two shares (hex).
    #[serde(with = "hex_vec")]
    #[schemars(with = "String")]
    pub ciphertext: Vec<u8>,
}

/// A survivor's signature over the survivor set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SurvivorSignature {
    /// The signing survivor.
    pub client: u32,
    /// Ed25519 signature over the round, model version and the sorted survivor ids.
    #[serde(with = "hex64")]
    #[schemars(with = "String")]
    pub signature: [u8; 64],
}

/// What a survivor reveals to unmask the sum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnmaskingShares {
    /// `(survivor, share of its self-mask seed)`.
    pub self_seed_shares: Vec<(u32, SeedShare)>,
    /// `(dropped sharer, share of its mask secret)`.
    pub mask_secret_shares: Vec<(u32, SeedShare)>,
}

/// Where the client is in its round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPhase {
    /// Keys made, waiting for the roster.
    Advertised,
    /// Shares sent, waiting for its mailbox.
    SharesSent,
    /// Masked input sent, waiting for the survivor set.
    InputSent,
    /// Survivor set signed, waiting for the signatures.
    Signed,
    /// Shares revealed: the round is over for this client.
    Revealed,
}

/// One client's state in one round.
pub struct ClientRound {
    round: u64,
    model_version: u32,
    client: u32,
    threshold: usize,
    /// SecAgg+: how many neighbours share with each client (`None`: all of them).
    neighbours: Option<usize>,
    /// Shares that rebuild one client's secrets (`threshold` on the complete graph).
    share_threshold: usize,
    /// This client's neighbours in the round's graph (known once the roster is).
    peers: BTreeSet<u32>,
    signing: SigningKey,
    encryption_secret: [u8; 32],
    mask_secret: [u8; 32],
    self_seed: [u8; 32],
    phase: ClientPhase,
    roster: BTreeMap<u32, SignedRoundKeys>,
    received: BTreeMap<u32, SharesForPeer>,
    /// This client's share of its own self-mask seed (revealed with the others', so that a
    /// round with exactly `threshold` survivors can still unmask).
    own_seed_share: Option<SeedShare>,
    survivors: BTreeSet<u32>,
}

impl std::fmt::Debug for ClientRound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRound")
            .field("round", &self.round)
            .field("client", &self.client)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl ClientRound {
    /// Joins round `round` of model `model_version` as `client`, with fresh secrets from `rng`
    /// (a CSPRNG), its round signing key included.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a threshold below 2.
    pub fn new(
        round: u64,
        model_version: u32,
        client: u32,
        threshold: usize,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if threshold < 2 {
            return Err(Error::field(
                "threshold",
                format!("{threshold}: at least 2"),
            ));
        }
        Ok(Self {
            round,
            model_version,
            client,
            threshold,
            neighbours: None,
            share_threshold: threshold,
            peers: BTreeSet::new(),
            signing: SigningKey::from_bytes(&rng.random()),
            encryption_secret: rng.random(),
            mask_secret: rng.random(),
            self_seed: rng.random(),
            phase: ClientPhase::Advertised,
            roster: BTreeMap::new(),
            received: BTreeMap::new(),
            own_seed_share: None,
            survivors: BTreeSet::new(),
        })
    }

    /// The same client on SecAgg+'s sparse graph: it shares secrets and masks only with its
    /// `neighbours` ring neighbours (`round_graph`), any `share_threshold` of whom rebuild
    /// its secrets; `threshold` still counts the survivors that must sign one survivor set.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a share threshold below 2 or above `neighbours + 1`.
    pub fn sparse(mut self, neighbours: usize, share_threshold: usize) -> Result<Self> {
        if share_threshold < 2 || share_threshold > neighbours + 1 {
            return Err(Error::field(
                "share_threshold",
                format!(
                    "{share_threshold} of {neighbours} neighbours and this client: 2 or more, at most all"
                ),
            ));
        }
        self.neighbours = Some(neighbours);
        self.share_threshold = share_threshold;
        Ok(self)
    }

    /// Where the client is.
    pub fn phase(&self) -> ClientPhase {
        self.phase
    }

    /// The client's id in the round.
    pub fn client(&self) -> u32 {
        self.client
    }

    /// The signed public keys to advertise.
    pub fn advertise(&self) -> SignedRoundKeys {
        let encryption_public = mask_public_key(&self.encryption_secret);
        let mask_public = mask_public_key(&self.mask_secret);
        let message = keys_message(
            self.round,
            self.model_version,
            self.client,
            &encryption_public,
            &mask_public,
        );
        SignedRoundKeys {
            client: self.client,
            encryption_public,
            mask_public,
            signing_public: self.signing.verifying_key().to_bytes(),
            signature: self.signing.sign(&message).to_bytes(),
        }
    }

    /// Checks the roster (every advertised client's signed keys, this client's among them; at
    /// least `threshold` clients, `threshold` above half of them) and returns this client's
    /// encrypted shares, one per peer.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `roster` for a wrong phase, a missing or altered own entry,
    /// a repeated client, a bad signature, too few clients or a threshold not above half.
    pub fn share_keys(
        &mut self,
        roster: &[SignedRoundKeys],
        rng: &mut impl Rng,
    ) -> Result<Vec<EncryptedShares>> {
        self.expect(ClientPhase::Advertised, "roster")?;
        let fail = |reason: String| Error::field("roster", reason);
        let mut checked = BTreeMap::new();
        for keys in roster {
            keys.verify(self.round, self.model_version)?;
            if checked.insert(keys.client, keys.clone()).is_some() {
                return Err(fail(format!("client {} is listed twice", keys.client)));
            }
        }
        let mine = self.advertise();
        if checked.get(&self.client) != Some(&mine) {
            return Err(fail(format!(
                "this client ({}) is missing or its keys were altered",
                self.client
            )));
        }
        let n = checked.len();
        if n < self.threshold || 2 * self.threshold <= n {
            return Err(fail(format!(
                "{n} clients for a threshold of {}: need at least the threshold, and the threshold above half",
                self.threshold
            )));
        }
        let ids: BTreeSet<u32> = checked.keys().copied().collect();
        let mut graph = round_graph(self.round, &ids, self.neighbours);
        self.peers = graph.remove(&self.client).unwrap_or_default();
        let t = self.share_threshold.min(self.peers.len() + 1);
        if t < self.share_threshold {
            return Err(fail(format!(
                "{} neighbours cannot hold a share threshold of {}",
                self.peers.len(),
                self.share_threshold
            )));
        }
        let randomness: Vec<[u8; 64]> = (0..4 * (t - 1))
            .map(|_| {
                let mut wide = [0u8; 64];
                rng.fill_bytes(&mut wide);
                wide
            })
            .collect();
        let (seed_randomness, secret_randomness) = randomness.split_at(2 * (t - 1));
        let seed_shares = split_seed(&self.self_seed, t, n, seed_randomness)?;
        let secret_shares = split_seed(&self.mask_secret, t, n, secret_randomness)?;
        let mut out = Vec::with_capacity(self.peers.len());
        for (position, (peer, keys)) in checked.iter().enumerate() {
            if *peer == self.client {
                self.own_seed_share = Some(seed_shares[position].clone());
                continue;
            }
            if !self.peers.contains(peer) {
                continue;
            }
            let key = share_encryption_key(&self.encryption_secret, &keys.encryption_public)?;
            let shares = SharesForPeer {
                self_mask_seed: seed_shares[position].clone(),
                mask_secret: secret_shares[position].clone(),
            };
            out.push(EncryptedShares {
                sender: self.client,
                recipient: *peer,
                ciphertext: encrypt_shares(&key, self.round, self.client, *peer, &shares),
            });
        }
        self.roster = checked;
        self.phase = ClientPhase::SharesSent;
        Ok(out)
    }

    /// Decrypts the shares addressed to this client (its mailbox: the peers that shared) and
    /// masks `input` against those peers.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `mailbox` for a wrong phase, a message from outside the
    /// roster, for another recipient, repeated, or failing to decrypt (tampered or replayed
    /// from another round), or fewer than `threshold` sharers.
    pub fn masked_input(&mut self, mailbox: &[EncryptedShares], input: &[u32]) -> Result<Vec<u32>> {
        self.expect(ClientPhase::SharesSent, "mailbox")?;
        let fail = |reason: String| Error::field("mailbox", reason);
        let mut received = BTreeMap::new();
        for message in mailbox {
            if message.recipient != self.client {
                return Err(fail(format!(
                    "a message for client {} from {}",
                    message.recipient, message.sender
                )));
            }
            let Some(keys) = self
                .roster
                .get(&message.sender)
                .filter(|_| message.sender != self.client)
            else {
                return Err(fail(format!(
                    "a message from client {}, who is not a neighbour in the roster",
                    message.sender
                )));
            };
            let key = share_encryption_key(&self.encryption_secret, &keys.encryption_public)?;
            let shares = decrypt_shares(
                &key,
                self.round,
                message.sender,
                self.client,
                &message.ciphertext,
            )
            .map_err(|e| fail(format!("client {}'s shares: {e}", message.sender)))?;
            if received.insert(message.sender, shares).is_some() {
                return Err(fail(format!("client {} sent shares twice", message.sender)));
            }
        }
        if received.len() + 1 < self.share_threshold {
            return Err(fail(format!(
                "{} peers shared, the threshold is {}",
                received.len() + 1,
                self.share_threshold
            )));
        }
        let mut peers = Vec::with_capacity(received.len());
        for peer in received.keys() {
            peers.push((
                *peer,
                pairwise_seed(&self.mask_secret, &self.roster[peer].mask_public)?,
            ));
        }
        self.received = received;
        self.phase = ClientPhase::InputSent;
        Ok(mask_input(input, self.client, &self.self_seed, &peers, self.round).values)
    }

    /// Signs the survivor set the coordinator announced.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `survivors` for a wrong phase, a set without this client,
    /// with a client that did not share, or smaller than the threshold.
    pub fn consistency_signature(
        &mut self,
        survivors: &BTreeSet<u32>,
    ) -> Result<SurvivorSignature> {
        self.expect(ClientPhase::InputSent, "survivors")?;
        let fail = |reason: String| Error::field("survivors", reason);
        if !survivors.contains(&self.client) {
            return Err(fail(format!(
                "the set leaves out this client ({})",
                self.client
            )));
        }
        if let Some(stranger) = survivors.iter().find(|c| {
            !self.roster.contains_key(c)
                || (self.peers.contains(c) && !self.received.contains_key(c))
        }) {
            return Err(fail(format!(
                "client {stranger} is not in the roster or did not share with this client"
            )));
        }
        if survivors.len() < self.threshold {
            return Err(fail(format!(
                "{} survivors, the threshold is {}",
                survivors.len(),
                self.threshold
            )));
        }
        self.survivors = survivors.clone();
        self.phase = ClientPhase::Signed;
        let message = survivors_message(self.round, self.model_version, survivors);
        Ok(SurvivorSignature {
            client: self.client,
            signature: self.signing.sign(&message).to_bytes(),
        })
    }

    /// Checks the survivors' signatures over the set this client signed and, with at least
    /// `threshold` valid ones, reveals the shares that unmask the sum (this client's own share
    /// of its self-mask seed among them).
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `signatures` for a wrong phase (shares are revealed once), or
    /// fewer than `threshold` valid signatures of survivors over this set.
    pub fn unmasking_shares(
        &mut self,
        signatures: &[SurvivorSignature],
    ) -> Result<UnmaskingShares> {
        self.expect(ClientPhase::Signed, "signatures")?;
        let message = survivors_message(self.round, self.model_version, &self.survivors);
        let valid: BTreeSet<u32> = signatures
            .iter()
            .filter(|s| self.survivors.contains(&s.client))
            .filter(|s| {
                self.roster.get(&s.client).is_some_and(|keys| {
                    verify(&keys.signing_public, &message, &s.signature).is_ok()
                })
            })
            .map(|s| s.client)
            .collect();
        if valid.len() < self.threshold {
            return Err(Error::field(
                "signatures",
                format!(
                    "{} survivors signed this survivor set, the threshold is {}: not revealing any share",
                    valid.len(),
                    self.threshold
                ),
            ));
        }
        let mut shares = UnmaskingShares::default();
        if let Some(own) = &self.own_seed_share {
            shares.self_seed_shares.push((self.client, own.clone()));
        }
        for (owner, received) in &self.received {
            if self.survivors.contains(owner) {
                shares
                    .self_seed_shares
                    .push((*owner, received.self_mask_seed.clone()));
            } else {
                shares
                    .mask_secret_shares
                    .push((*owner, received.mask_secret.clone()));
            }
        }
        self.phase = ClientPhase::Revealed;
        Ok(shares)
    }

    fn expect(&self, phase: ClientPhase, what: &str) -> Result<()> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(Error::field(
                what,
                format!(
                    "round {}: arrived while the client is {:?}, expected {phase:?}",
                    self.round, self.phase
                ),
            ))
        }
    }
}

/// Verifies a survivor's signature over `survivors` (the coordinator checks them before
/// relaying).
///
/// # Errors
/// [`Error::InvalidField`] on `signature` when it does not verify.
pub fn verify_survivor_signature(
    signing_public: &[u8; 32],
    round: u64,
    model_version: u32,
    survivors: &BTreeSet<u32>,
    signature: &SurvivorSignature,
) -> Result<()> {
    let message = survivors_message(round, model_version, survivors);
    verify(signing_public, &message, &signature.signature).map_err(|reason| {
        Error::field(
            "signature",
            format!("client {}'s survivor signature: {reason}", signature.client),
        )
    })
}

fn keys_message(
    round: u64,
    model_version: u32,
    client: u32,
    encryption_public: &[u8; 32],
    mask_public: &[u8; 32],
) -> Vec<u8> {
    let mut message = KEYS_CONTEXT.to_vec();
    message.extend_from_slice(&round.to_le_bytes());
    message.extend_from_slice(&model_version.to_le_bytes());
    message.extend_from_slice(&client.to_le_bytes());
    message.extend_from_slice(encryption_public);
    message.extend_from_slice(mask_public);
    message
}

fn survivors_message(round: u64, model_version: u32, survivors: &BTreeSet<u32>) -> Vec<u8> {
    let mut message = SURVIVORS_CONTEXT.to_vec();
    message.extend_from_slice(&round.to_le_bytes());
    message.extend_from_slice(&model_version.to_le_bytes());
    message.extend_from_slice(&(survivors.len() as u32).to_le_bytes());
    for client in survivors {
        message.extend_from_slice(&client.to_le_bytes());
    }
    message
}

fn verify(
    public: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> std::result::Result<(), String> {
    let key =
        VerifyingKey::from_bytes(public).map_err(|_| "not an Ed25519 public key".to_owned())?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| "does not verify".to_owned())
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &[u8; 32],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &[u8; 64],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::{reconstruct_seed, remove_pairwise_masks, remove_self_masks};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    const ROUND: u64 = 5;
    const VERSION: u32 = 3;

    fn clients(n: u32, threshold: usize, rng: &mut ChaCha20Rng) -> Vec<ClientRound> {
        (1..=n)
            .map(|id| ClientRound::new(ROUND, VERSION, id, threshold, rng).unwrap())
            .collect()
    }

    /// An honest coordinator from the shared primitives: returns the unmasked sum of the
    /// clients in neither drop set.
    fn run_round(
        clients: &mut [ClientRound],
        inputs: &[Vec<u32>],
        drop_before_sharing: &BTreeSet<u32>,
        drop_before_input: &BTreeSet<u32>,
        rng: &mut ChaCha20Rng,
    ) -> Result<Vec<u32>> {
        let threshold = clients[0].share_threshold;
        let ids: BTreeSet<u32> = clients.iter().map(|c| c.client).collect();
        let graph = round_graph(ROUND, &ids, clients[0].neighbours);
        let roster: Vec<SignedRoundKeys> = clients.iter().map(ClientRound::advertise).collect();
        let mut mailboxes: BTreeMap<u32, Vec<EncryptedShares>> = BTreeMap::new();
        let mut sharers = BTreeSet::new();
        for c in clients
            .iter_mut()
            .filter(|c| !drop_before_sharing.contains(&c.client))
        {
            for message in c.share_keys(&roster, rng)? {
                mailboxes
                    .entry(message.recipient)
                    .or_default()
                    .push(message);
            }
            sharers.insert(c.client);
        }
        let mut sum = vec![0u32; inputs[0].len()];
        let mut survivors = BTreeSet::new();
        for (c, input) in clients.iter_mut().zip(inputs) {
            if !sharers.contains(&c.client) || drop_before_input.contains(&c.client) {
                continue;
            }
            let mailbox: Vec<EncryptedShares> = mailboxes
                .get(&c.client)
                .into_iter()
                .flatten()
                .filter(|m| sharers.contains(&m.sender))
                .cloned()
                .collect();
            let masked = c.masked_input(&mailbox, input)?;
            sum.iter_mut()
                .zip(&masked)
                .for_each(|(s, m)| *s = s.wrapping_add(*m));
            survivors.insert(c.client);
        }
        let signatures: Vec<SurvivorSignature> = clients
            .iter_mut()
            .filter(|c| survivors.contains(&c.client))
            .map(|c| c.consistency_signature(&survivors))
            .collect::<Result<_>>()?;
        let mut seed_shares: BTreeMap<u32, Vec<SeedShare>> = BTreeMap::new();
        let mut secret_shares: BTreeMap<u32, Vec<SeedShare>> = BTreeMap::new();
        for c in clients.iter_mut().filter(|c| survivors.contains(&c.client)) {
            let revealed = c.unmasking_shares(&signatures)?;
            for (owner, share) in revealed.self_seed_shares {
                seed_shares.entry(owner).or_default().push(share);
            }
            for (owner, share) in revealed.mask_secret_shares {
                secret_shares.entry(owner).or_default().push(share);
            }
        }
        let seeds: Vec<[u8; 32]> = survivors
            .iter()
            .map(|s| reconstruct_seed(&seed_shares[s], threshold))
            .collect::<Result<_>>()?;
        remove_self_masks(&mut sum, &seeds, ROUND);
        for dropped in sharers.difference(&survivors) {
            let secret = reconstruct_seed(&secret_shares[dropped], threshold)?;
            let pairs: Vec<(u32, [u8; 32])> = survivors
                .iter()
                .filter(|s| graph[dropped].contains(s))
                .map(|s| {
                    let public = roster.iter().find(|k| k.client == *s).unwrap().mask_public;
                    Ok((*s, pairwise_seed(&secret, &public)?))
                })
                .collect::<Result<_>>()?;
            remove_pairwise_masks(&mut sum, *dropped, &pairs, ROUND);
        }
        Ok(sum)
    }

    fn plain_sum(inputs: &[Vec<u32>], left_out: &BTreeSet<u32>) -> Vec<u32> {
        let mut sum = vec![0u32; inputs[0].len()];
        for (i, input) in inputs.iter().enumerate() {
            if !left_out.contains(&(i as u32 + 1)) {
                sum.iter_mut()
                    .zip(input)
                    .for_each(|(s, x)| *s = s.wrapping_add(*x));
            }
        }
        sum
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn the_unmasked_sum_is_the_survivors_plaintext_sum(
            n in 3u32..9,
            extra in 0usize..3,
            dimension in 1usize..40,
            seed in any::<u64>(),
            drop_bits in any::<u32>(),
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let threshold = (n as usize / 2 + 1 + extra).min(n as usize);
            let inputs: Vec<Vec<u32>> = (0..n).map(|_| (0..dimension).map(|_| rng.random()).collect()).collect();
            // Up to n − threshold clients drop, before sharing or before their input.
            let mut early = BTreeSet::new();
            let mut late = BTreeSet::new();
            for id in 1..=n {
                if early.len() + late.len() >= n as usize - threshold {
                    break;
                }
                match (drop_bits >> (2 * id)) & 3 {
                    1 => { early.insert(id); }
                    2 => { late.insert(id); }
                    _ => {}
                }
            }
            let mut round = clients(n, threshold, &mut rng);
            let sum = run_round(&mut round, &inputs, &early, &late, &mut rng).unwrap();
            let left_out: BTreeSet<u32> = early.union(&late).copied().collect();
            prop_assert_eq!(sum, plain_sum(&inputs, &left_out));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        /// SecAgg+: on a sparse graph of k neighbours, with up to a quarter of the clients
        /// dropping (a share threshold of half a neighbourhood), the sum is still exact.
        #[test]
        fn the_sparse_graph_sums_the_survivors_too(
            n in 8u32..16,
            k in 4usize..8,
            dimension in 1usize..16,
            seed in any::<u64>(),
            drop_bits in any::<u32>(),
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let threshold = n as usize / 2 + 1;
            let k_even = 2 * k.div_ceil(2);
            let share_threshold = k_even / 2 + 1;
            let inputs: Vec<Vec<u32>> = (0..n).map(|_| (0..dimension).map(|_| rng.random()).collect()).collect();
            let late: BTreeSet<u32> = (1..=n)
                .filter(|id| drop_bits & (1 << id) != 0)
                .take(1)
                .collect();
            let mut round: Vec<ClientRound> = clients(n, threshold, &mut rng)
                .into_iter()
                .map(|c| c.sparse(k, share_threshold).unwrap())
                .collect();
            let sum = run_round(&mut round, &inputs, &BTreeSet::new(), &late, &mut rng).unwrap();
            prop_assert_eq!(sum, plain_sum(&inputs, &late));
            let sent = round[0].peers.len();
            prop_assert_eq!(sent, k_even.min(n as usize - 1));
        }
    }

    #[test]
    fn below_the_threshold_the_round_stops_and_says_why() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut round = clients(5, 3, &mut rng);
        let inputs = vec![vec![1u32; 4]; 5];
        let err = run_round(
            &mut round,
            &inputs,
            &BTreeSet::new(),
            &BTreeSet::from([1, 2, 3]),
            &mut rng,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("2 survivors, the threshold is 3"),
            "{err}"
        );
    }

    #[test]
    fn a_tampered_or_replayed_share_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut round = clients(3, 2, &mut rng);
        let roster: Vec<SignedRoundKeys> = round.iter().map(ClientRound::advertise).collect();
        let from_two = round[1].share_keys(&roster, &mut rng).unwrap();
        round[0].share_keys(&roster, &mut rng).unwrap();
        let mut to_one = from_two.iter().find(|m| m.recipient == 1).unwrap().clone();
        to_one.ciphertext[3] ^= 1;
        let err = round[0].masked_input(&[to_one], &[0; 4]).unwrap_err();
        assert!(
            err.to_string().starts_with("mailbox: client 2's shares"),
            "{err}"
        );

        // The same ciphertext replayed into another round does not decrypt.
        let mut other_round: Vec<ClientRound> = (1..=3)
            .map(|id| ClientRound::new(ROUND + 1, VERSION, id, 2, &mut rng).unwrap())
            .collect();
        let roster: Vec<SignedRoundKeys> = other_round.iter().map(ClientRound::advertise).collect();
        other_round[0].share_keys(&roster, &mut rng).unwrap();
        let replayed = from_two.iter().find(|m| m.recipient == 1).unwrap().clone();
        assert!(other_round[0].masked_input(&[replayed], &[0; 4]).is_err());
    }

    #[test]
    fn a_forged_or_altered_roster_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut round = clients(3, 2, &mut rng);
        let mut roster: Vec<SignedRoundKeys> = round.iter().map(ClientRound::advertise).collect();
        roster[1].mask_public[0] ^= 1;
        let err = round[0].share_keys(&roster, &mut rng).unwrap_err();
        assert_eq!(
            err.to_string(),
            "keys: client 2's signature: does not verify"
        );
        // Keys signed for another model version.
        let stale = ClientRound::new(ROUND, VERSION + 1, 2, 2, &mut rng).unwrap();
        roster[1] = stale.advertise();
        assert!(round[0].share_keys(&roster, &mut rng).is_err());
        // A threshold not above half would let two conflicting survivor sets both pass.
        let mut low = clients(4, 2, &mut rng);
        let roster: Vec<SignedRoundKeys> = low.iter().map(ClientRound::advertise).collect();
        let err = low[0].share_keys(&roster, &mut rng).unwrap_err();
        assert!(err.to_string().contains("above half"), "{err}");
    }

    #[test]
    fn conflicting_survivor_sets_reveal_nothing() {
        // A coordinator tells client 1 that client 3 survived and client 2 that it dropped,
        // to collect client 3's self-mask share from 1 and its mask-secret share from 2.
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut round = clients(3, 2, &mut rng);
        let roster: Vec<SignedRoundKeys> = round.iter().map(ClientRound::advertise).collect();
        let mut mailboxes: BTreeMap<u32, Vec<EncryptedShares>> = BTreeMap::new();
        for c in &mut round {
            for m in c.share_keys(&roster, &mut rng).unwrap() {
                mailboxes.entry(m.recipient).or_default().push(m);
            }
        }
        for c in &mut round {
            c.masked_input(&mailboxes[&c.client], &[7; 4]).unwrap();
        }
        let with_three = BTreeSet::from([1, 2, 3]);
        let without_three = BTreeSet::from([1, 2]);
        let one = round[0].consistency_signature(&with_three).unwrap();
        let two = round[1].consistency_signature(&without_three).unwrap();
        // Each client sees only one signature over its own set: below the threshold of 2.
        let err = round[0]
            .unmasking_shares(&[one.clone(), two.clone()])
            .unwrap_err();
        assert!(err.to_string().contains("1 survivors signed"), "{err}");
        assert!(round[1].unmasking_shares(&[one, two]).is_err());
        // Nothing was revealed, and a set without the client itself is refused outright.
        assert_eq!(round[0].phase(), ClientPhase::Signed);
        assert!(round[2].consistency_signature(&without_three).is_err());
    }

    #[test]
    fn shares_are_revealed_once() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut round = clients(3, 2, &mut rng);
        let inputs = vec![vec![3u32; 2]; 3];
        run_round(
            &mut round,
            &inputs,
            &BTreeSet::new(),
            &BTreeSet::new(),
            &mut rng,
        )
        .unwrap();
        let err = round[0].unmasking_shares(&[]).unwrap_err();
        assert!(err.to_string().contains("Revealed"), "{err}");
    }

    #[test]
    fn wire_messages_round_trip_as_json() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let keys = clients(1, 2, &mut rng)[0].advertise();
        let json = serde_json::to_string(&keys).unwrap();
        assert_eq!(
            serde_json::from_str::<SignedRoundKeys>(&json).unwrap(),
            keys
        );
        assert!(
            serde_json::from_str::<SignedRoundKeys>(&json.replace("\"client\":1", "\"client\":-1"))
                .is_err()
        );
    }
}
