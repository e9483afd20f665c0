//! The coordinator's side of one secure-aggregation round (Bonawitz et al., CCS 2017), in
//! process: it relays keys and encrypted shares, collects masked inputs, and from the
//! survivors' shares removes the masks, learning the sum and nothing else. The HTTP surface,
//! deadlines and persistence wrap this state machine (issue 5).
//!
//! Phases: advertise keys (each client's X25519 share-encryption and mask-agreement public
//! keys) → share keys (each client's encrypted Shamir shares of its self-mask seed and its
//! mask secret, one per peer) → masked input → unmasking (for every peer that sent shares,
//! a survivor reveals its share of the self-mask seed if the peer's input arrived, else of
//! the peer's mask secret, never both). Every phase needs at least `threshold` clients.
use std::collections::{BTreeMap, BTreeSet};

use mesh_shared::secagg::{
    SeedShare, pairwise_seed, reconstruct_seed, remove_pairwise_masks, remove_self_masks,
};

/// Where a round is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundPhase {
    /// Collecting public keys.
    AdvertiseKeys,
    /// Collecting encrypted shares.
    ShareKeys,
    /// Collecting masked inputs.
    MaskedInput,
    /// Collecting the survivors' shares.
    Unmasking,
    /// The sum is known.
    Done,
}

/// A client's public keys for the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertisedKeys {
    /// X25519 public key for share encryption.
    pub encryption_public: [u8; 32],
    /// X25519 public key for pairwise mask agreement.
    pub mask_public: [u8; 32],
}

/// Why the coordinator refused a message or cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoundError {
    /// Peer: a message for another phase.
    #[error("round {round}: {what} arrived during {phase:?}")]
    WrongPhase {
        /// The round.
        round: u64,
        /// What arrived.
        what: &'static str,
        /// The phase the round is in.
        phase: RoundPhase,
    },
    /// Peer: a client that is not (or no longer) part of this phase.
    #[error("round {round}: client {client} is not part of {phase:?}")]
    NotParticipating {
        /// The round.
        round: u64,
        /// The client.
        client: u32,
        /// The phase.
        phase: RoundPhase,
    },
    /// Peer: a second message from the same client in one phase (the first one stands).
    #[error("round {round}: client {client} already sent its {what}")]
    Duplicate {
        /// The round.
        round: u64,
        /// The client.
        client: u32,
        /// What it sent twice.
        what: &'static str,
    },
    /// Peer: a malformed message.
    #[error("round {round}: client {client}: {reason}")]
    Malformed {
        /// The round.
        round: u64,
        /// The client.
        client: u32,
        /// What is wrong.
        reason: String,
    },
    /// Too few clients left to go on safely; the round is abandoned, nothing is revealed.
    #[error("round {round}: {have} clients in {phase:?}, the threshold is {threshold}")]
    TooFewClients {
        /// The round.
        round: u64,
        /// The phase.
        phase: RoundPhase,
        /// Clients that took part.
        have: usize,
        /// The threshold.
        threshold: usize,
    },
    /// Peer or internal: the shares do not rebuild a secret.
    #[error("round {round}: recovering client {client}'s {what}: {reason}")]
    Recovery {
        /// The round.
        round: u64,
        /// Whose secret.
        client: u32,
        /// Which secret.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// Encrypted shares addressed to one client: `(sender, ciphertext)`.
pub type Mailbox = Vec<(u32, Vec<u8>)>;

/// One round at the coordinator.
#[derive(Debug)]
pub struct AggregationRound {
    round: u64,
    threshold: usize,
    dimension: usize,
    phase: RoundPhase,
    keys: BTreeMap<u32, AdvertisedKeys>,
    /// recipient → its mailbox.
    mailbox: BTreeMap<u32, Mailbox>,
    shared: BTreeSet<u32>,
    sum: Vec<u32>,
    masked: BTreeSet<u32>,
    /// owner → shares of its self-mask seed, from survivors.
    self_seed_shares: BTreeMap<u32, Vec<SeedShare>>,
    /// owner → shares of its mask secret, from survivors.
    mask_secret_shares: BTreeMap<u32, Vec<SeedShare>>,
    unmasked: BTreeSet<u32>,
}

impl AggregationRound {
    /// A round summing `dimension`-long inputs in `Z_2^32`, needing `threshold` clients in
    /// every phase (at least 2; more than half of the expected clients in practice).
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] for a threshold below 2.
    pub fn new(round: u64, threshold: usize, dimension: usize) -> Result<Self, RoundError> {
        if threshold < 2 {
            return Err(RoundError::TooFewClients {
                round,
                phase: RoundPhase::AdvertiseKeys,
                have: threshold,
                threshold: 2,
            });
        }
        Ok(Self {
            round,
            threshold,
            dimension,
            phase: RoundPhase::AdvertiseKeys,
            keys: BTreeMap::new(),
            mailbox: BTreeMap::new(),
            shared: BTreeSet::new(),
            sum: vec![0; dimension],
            masked: BTreeSet::new(),
            self_seed_shares: BTreeMap::new(),
            mask_secret_shares: BTreeMap::new(),
            unmasked: BTreeSet::new(),
        })
    }

    /// The current phase.
    pub fn phase(&self) -> RoundPhase {
        self.phase
    }

    fn expect(&self, phase: RoundPhase, what: &'static str) -> Result<(), RoundError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(RoundError::WrongPhase {
                round: self.round,
                what,
                phase: self.phase,
            })
        }
    }

    fn enough(&self, have: usize) -> Result<(), RoundError> {
        if have >= self.threshold {
            Ok(())
        } else {
            Err(RoundError::TooFewClients {
                round: self.round,
                phase: self.phase,
                have,
                threshold: self.threshold,
            })
        }
    }

    /// A client's public keys.
    ///
    /// # Errors
    /// Wrong phase, or a second advertisement from the same client.
    pub fn advertise(&mut self, client: u32, keys: AdvertisedKeys) -> Result<(), RoundError> {
        self.expect(RoundPhase::AdvertiseKeys, "advertised keys")?;
        if self.keys.contains_key(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "keys",
            });
        }
        self.keys.insert(client, keys);
        Ok(())
    }

    /// Ends the key phase; returns every client's keys, which each client needs to encrypt
    /// shares and agree masks.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_advertise(&mut self) -> Result<BTreeMap<u32, AdvertisedKeys>, RoundError> {
        self.expect(RoundPhase::AdvertiseKeys, "the end of advertising")?;
        self.enough(self.keys.len())?;
        self.phase = RoundPhase::ShareKeys;
        Ok(self.keys.clone())
    }

    /// A client's encrypted shares, one per other advertised client.
    ///
    /// # Errors
    /// Wrong phase, a client that did not advertise, a duplicate, or not exactly one share
    /// for every other advertised client.
    pub fn share_keys(
        &mut self,
        client: u32,
        shares: Vec<(u32, Vec<u8>)>,
    ) -> Result<(), RoundError> {
        self.expect(RoundPhase::ShareKeys, "encrypted shares")?;
        self.participant(client, self.keys.contains_key(&client))?;
        if self.shared.contains(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "shares",
            });
        }
        let recipients: BTreeSet<u32> = shares.iter().map(|(r, _)| *r).collect();
        let expected: BTreeSet<u32> = self.keys.keys().copied().filter(|c| *c != client).collect();
        if recipients != expected || shares.len() != expected.len() {
            return Err(RoundError::Malformed {
                round: self.round,
                client,
                reason: format!(
                    "{} shares for {} peers: one per other advertised client is needed",
                    shares.len(),
                    expected.len()
                ),
            });
        }
        for (recipient, ciphertext) in shares {
            self.mailbox
                .entry(recipient)
                .or_default()
                .push((client, ciphertext));
        }
        self.shared.insert(client);
        Ok(())
    }

    /// Ends the share phase; returns each sharing client's mailbox (the shares addressed to
    /// it by other sharing clients).
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_share_keys(&mut self) -> Result<BTreeMap<u32, Mailbox>, RoundError> {
        self.expect(RoundPhase::ShareKeys, "the end of sharing")?;
        self.enough(self.shared.len())?;
        self.phase = RoundPhase::MaskedInput;
        let shared = self.shared.clone();
        Ok(shared
            .iter()
            .map(|recipient| {
                let inbox = self
                    .mailbox
                    .get(recipient)
                    .map(|messages| {
                        messages
                            .iter()
                            .filter(|(sender, _)| shared.contains(sender))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                (*recipient, inbox)
            })
            .collect())
    }

    /// A client's masked input, added to the running sum at once.
    ///
    /// # Errors
    /// Wrong phase, a client that did not share, a duplicate, or the wrong length.
    pub fn masked_input(&mut self, client: u32, values: &[u32]) -> Result<(), RoundError> {
        self.expect(RoundPhase::MaskedInput, "a masked input")?;
        self.participant(client, self.shared.contains(&client))?;
        if self.masked.contains(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "masked input",
            });
        }
        if values.len() != self.dimension {
            return Err(RoundError::Malformed {
                round: self.round,
                client,
                reason: format!("{} values, expected {}", values.len(), self.dimension),
            });
        }
        for (sum, value) in self.sum.iter_mut().zip(values) {
            *sum = sum.wrapping_add(*value);
        }
        self.masked.insert(client);
        Ok(())
    }

    /// Ends the input phase; returns the survivors, whose inputs are in the sum.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_masked_input(&mut self) -> Result<BTreeSet<u32>, RoundError> {
        self.expect(RoundPhase::MaskedInput, "the end of the inputs")?;
        self.enough(self.masked.len())?;
        self.phase = RoundPhase::Unmasking;
        Ok(self.masked.clone())
    }

    /// A survivor's shares: of the self-mask seed of every survivor, and of the mask secret
    /// of every client that shared but sent no input. A share of both secrets of one client is
    /// refused (it would unmask that client's input).
    ///
    /// # Errors
    /// Wrong phase, not a survivor, a duplicate, or shares of the wrong secret.
    pub fn unmask(
        &mut self,
        client: u32,
        self_seed_shares: Vec<(u32, SeedShare)>,
        mask_secret_shares: Vec<(u32, SeedShare)>,
    ) -> Result<(), RoundError> {
        self.expect(RoundPhase::Unmasking, "unmasking shares")?;
        self.participant(client, self.masked.contains(&client))?;
        if self.unmasked.contains(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "unmasking shares",
            });
        }
        let malformed = |reason: String| RoundError::Malformed {
            round: self.round,
            client,
            reason,
        };
        if let Some((owner, _)) = self_seed_shares
            .iter()
            .find(|(owner, _)| !self.masked.contains(owner))
        {
            return Err(malformed(format!(
                "a self-mask share of client {owner}, whose input did not arrive"
            )));
        }
        if let Some((owner, _)) = mask_secret_shares
            .iter()
            .find(|(owner, _)| self.masked.contains(owner) || !self.shared.contains(owner))
        {
            return Err(malformed(format!(
                "a mask-secret share of client {owner}, who is not a dropped sharer"
            )));
        }
        for (owner, share) in self_seed_shares {
            self.self_seed_shares.entry(owner).or_default().push(share);
        }
        for (owner, share) in mask_secret_shares {
            self.mask_secret_shares
                .entry(owner)
                .or_default()
                .push(share);
        }
        self.unmasked.insert(client);
        Ok(())
    }

    /// Removes every mask and returns the sum of the survivors' inputs.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] with fewer than `threshold` unmasking survivors;
    /// [`RoundError::Recovery`] when a secret cannot be rebuilt.
    pub fn finish(&mut self) -> Result<Vec<u32>, RoundError> {
        self.expect(RoundPhase::Unmasking, "the end of unmasking")?;
        self.enough(self.unmasked.len())?;
        let recover = |shares: Option<&Vec<SeedShare>>, owner: u32, what: &'static str| {
            let shares = shares.map(Vec::as_slice).unwrap_or_default();
            reconstruct_seed(shares, self.threshold).map_err(|e| RoundError::Recovery {
                round: self.round,
                client: owner,
                what,
                reason: e.to_string(),
            })
        };
        let mut sum = self.sum.clone();
        let mut self_seeds = Vec::with_capacity(self.masked.len());
        for owner in &self.masked {
            self_seeds.push(recover(
                self.self_seed_shares.get(owner),
                *owner,
                "self-mask seed",
            )?);
        }
        remove_self_masks(&mut sum, &self_seeds, self.round);
        for dropped in self.shared.difference(&self.masked) {
            let secret = recover(
                self.mask_secret_shares.get(dropped),
                *dropped,
                "mask secret",
            )?;
            let mut survivors = Vec::with_capacity(self.masked.len());
            for survivor in &self.masked {
                let seed =
                    pairwise_seed(&secret, &self.keys[survivor].mask_public).map_err(|e| {
                        RoundError::Recovery {
                            round: self.round,
                            client: *dropped,
                            what: "pairwise seed",
                            reason: e.to_string(),
                        }
                    })?;
                survivors.push((*survivor, seed));
            }
            remove_pairwise_masks(&mut sum, *dropped, &survivors, self.round);
        }
        self.phase = RoundPhase::Done;
        Ok(sum)
    }

    fn participant(&self, client: u32, ok: bool) -> Result<(), RoundError> {
        if ok {
            Ok(())
        } else {
            Err(RoundError::NotParticipating {
                round: self.round,
                client,
                phase: self.phase,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::secagg::mask_public_key;

    fn keys(secret: u8) -> AdvertisedKeys {
        AdvertisedKeys {
            encryption_public: mask_public_key(&[secret; 32]),
            mask_public: mask_public_key(&[secret.wrapping_add(100); 32]),
        }
    }

    #[test]
    fn out_of_phase_duplicate_and_malformed_messages_are_refused() {
        let mut round = AggregationRound::new(1, 2, 4).unwrap();
        assert!(matches!(
            round.masked_input(1, &[0; 4]),
            Err(RoundError::WrongPhase { .. })
        ));
        round.advertise(1, keys(1)).unwrap();
        let err = round.advertise(1, keys(2)).unwrap_err();
        assert_eq!(err.to_string(), "round 1: client 1 already sent its keys");
        round.advertise(2, keys(2)).unwrap();
        round.close_advertise().unwrap();
        let err = round.share_keys(3, vec![]).unwrap_err();
        assert!(
            matches!(err, RoundError::NotParticipating { client: 3, .. }),
            "{err}"
        );
        let err = round.share_keys(1, vec![]).unwrap_err();
        assert!(err.to_string().contains("0 shares for 1 peers"), "{err}");
        round.share_keys(1, vec![(2, vec![1])]).unwrap();
        round.share_keys(2, vec![(1, vec![2])]).unwrap();
        round.close_share_keys().unwrap();
        let err = round.masked_input(1, &[0; 3]).unwrap_err();
        assert!(err.to_string().contains("3 values, expected 4"), "{err}");
        round.masked_input(1, &[1; 4]).unwrap();
        round.masked_input(2, &[2; 4]).unwrap();
        round.close_masked_input().unwrap();
        let share = SeedShare {
            index: 1,
            values: [[0; 32]; 2],
        };
        let err = round.unmask(1, vec![], vec![(2, share)]).unwrap_err();
        assert!(err.to_string().contains("not a dropped sharer"), "{err}");
        assert!(AggregationRound::new(1, 1, 4).is_err());
    }
}
