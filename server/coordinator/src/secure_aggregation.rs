//! The coordinator's side of one secure-aggregation round (Bonawitz et al., CCS 2017, with the
//! consistency check): it relays signed keys and encrypted shares, collects masked inputs,
//! relays the survivors' signatures over the survivor set, and from the survivors' shares
//! removes the masks, learning the sum and nothing else. The clients' side is
//! `mesh_shared::secagg::ClientRound`; deadlines, persistence and HTTP wrap this state machine
//! (`crate::round_coordinator`).
//!
//! Phases: advertise keys → share keys → masked input → consistency check → unmasking (for
//! every peer that shared, a survivor reveals its share of the self-mask seed if the peer's
//! input arrived, else of the peer's mask secret, never both). Every phase needs at least
//! `threshold` clients; below it the round is abandoned and nothing is revealed.
use std::collections::{BTreeMap, BTreeSet};

use mesh_shared::RoundPhase;
use mesh_shared::secagg::{
    EncryptedShares, SeedShare, SignedRoundKeys, SurvivorSignature, UnmaskingShares, pairwise_seed,
    reconstruct_seed, remove_pairwise_masks, remove_self_masks, round_graph,
    verify_survivor_signature,
};
use serde::{Deserialize, Serialize};

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

/// One round at the coordinator. Serialisable, so a restarted coordinator resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregationRound {
    round: u64,
    model_version: u32,
    threshold: usize,
    /// SecAgg+: neighbours per client (`None`: the complete graph).
    neighbours: Option<usize>,
    /// Shares that rebuild one client's secrets.
    share_threshold: usize,
    /// Each client's neighbours, fixed when advertising closes.
    graph: BTreeMap<u32, BTreeSet<u32>>,
    dimension: usize,
    phase: RoundPhase,
    keys: BTreeMap<u32, SignedRoundKeys>,
    /// recipient → messages addressed to it.
    mailbox: BTreeMap<u32, Vec<EncryptedShares>>,
    shared: BTreeSet<u32>,
    sum: Vec<u32>,
    masked: BTreeSet<u32>,
    signatures: BTreeMap<u32, SurvivorSignature>,
    /// owner → shares of its self-mask seed, from survivors.
    self_seed_shares: BTreeMap<u32, Vec<SeedShare>>,
    /// owner → shares of its mask secret, from survivors.
    mask_secret_shares: BTreeMap<u32, Vec<SeedShare>>,
    unmasked: BTreeSet<u32>,
}

impl AggregationRound {
    /// Round `round` of model `model_version`, summing `dimension`-long inputs in `Z_2^32`,
    /// needing `threshold` clients in every phase (at least 2; clients also insist on more
    /// than half of the roster).
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] for a threshold below 2.
    pub fn new(
        round: u64,
        model_version: u32,
        threshold: usize,
        dimension: usize,
    ) -> Result<Self, RoundError> {
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
            model_version,
            threshold,
            neighbours: None,
            share_threshold: threshold,
            graph: BTreeMap::new(),
            dimension,
            phase: RoundPhase::AdvertiseKeys,
            keys: BTreeMap::new(),
            mailbox: BTreeMap::new(),
            shared: BTreeSet::new(),
            sum: vec![0; dimension],
            masked: BTreeSet::new(),
            signatures: BTreeMap::new(),
            self_seed_shares: BTreeMap::new(),
            mask_secret_shares: BTreeMap::new(),
            unmasked: BTreeSet::new(),
        })
    }

    /// The same round on SecAgg+'s sparse graph: each client shares with its `neighbours`
    /// (`mesh_shared::secagg::round_graph`), any `share_threshold` of whom rebuild its secrets.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] for a share threshold below 2 or above `neighbours + 1`.
    pub fn sparse(mut self, neighbours: usize, share_threshold: usize) -> Result<Self, RoundError> {
        if share_threshold < 2 || share_threshold > neighbours + 1 {
            return Err(RoundError::TooFewClients {
                round: self.round,
                phase: self.phase,
                have: neighbours + 1,
                threshold: share_threshold,
            });
        }
        self.neighbours = Some(neighbours);
        self.share_threshold = share_threshold;
        Ok(self)
    }

    /// The round number.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The model version the round trains.
    pub fn model_version(&self) -> u32 {
        self.model_version
    }

    /// The current phase.
    pub fn phase(&self) -> RoundPhase {
        self.phase
    }

    /// The threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The input length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// How many clients have sent what the current phase collects.
    pub fn arrived(&self) -> usize {
        match self.phase {
            RoundPhase::AdvertiseKeys => self.keys.len(),
            RoundPhase::ShareKeys => self.shared.len(),
            RoundPhase::MaskedInput => self.masked.len(),
            RoundPhase::ConsistencyCheck => self.signatures.len(),
            RoundPhase::Unmasking | RoundPhase::Done => self.unmasked.len(),
        }
    }

    /// How many clients the current phase waits for at most (those in the previous one).
    pub fn expected(&self) -> Option<usize> {
        match self.phase {
            RoundPhase::AdvertiseKeys => None,
            RoundPhase::ShareKeys => Some(self.keys.len()),
            RoundPhase::MaskedInput => Some(self.shared.len()),
            RoundPhase::ConsistencyCheck => Some(self.masked.len()),
            RoundPhase::Unmasking | RoundPhase::Done => Some(self.signatures.len()),
        }
    }

    /// The advertised keys (complete once advertising closed).
    pub fn roster(&self) -> Vec<SignedRoundKeys> {
        self.keys.values().cloned().collect()
    }

    /// The shares addressed to `client` by the clients that shared (once sharing closed).
    pub fn mailbox(&self, client: u32) -> Vec<EncryptedShares> {
        self.mailbox
            .get(&client)
            .map(|messages| {
                messages
                    .iter()
                    .filter(|m| self.shared.contains(&m.sender))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The clients whose masked input is in the sum.
    pub fn survivors(&self) -> &BTreeSet<u32> {
        &self.masked
    }

    /// The survivors' signatures over the survivor set (complete once the check closed).
    pub fn signatures(&self) -> Vec<SurvivorSignature> {
        self.signatures.values().cloned().collect()
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

    fn malformed(&self, client: u32, reason: impl Into<String>) -> RoundError {
        RoundError::Malformed {
            round: self.round,
            client,
            reason: reason.into(),
        }
    }

    /// A client's signed public keys (the signature is checked against this round and model
    /// version).
    ///
    /// # Errors
    /// Wrong phase, a bad signature, or a second advertisement from the same client.
    pub fn advertise(&mut self, keys: SignedRoundKeys) -> Result<(), RoundError> {
        self.expect(RoundPhase::AdvertiseKeys, "advertised keys")?;
        let client = keys.client;
        if self.keys.contains_key(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "keys",
            });
        }
        keys.verify(self.round, self.model_version)
            .map_err(|e| self.malformed(client, e.to_string()))?;
        self.keys.insert(client, keys);
        Ok(())
    }

    /// Ends the key phase; returns the roster every client needs to encrypt shares and agree
    /// masks.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_advertise(&mut self) -> Result<Vec<SignedRoundKeys>, RoundError> {
        self.expect(RoundPhase::AdvertiseKeys, "the end of advertising")?;
        self.enough(self.keys.len())?;
        let clients: BTreeSet<u32> = self.keys.keys().copied().collect();
        self.graph = round_graph(self.round, &clients, self.neighbours);
        self.phase = RoundPhase::ShareKeys;
        Ok(self.roster())
    }

    /// A client's encrypted shares, one per other advertised client.
    ///
    /// # Errors
    /// Wrong phase, a client that did not advertise, a duplicate, a message claiming another
    /// sender, or not exactly one share for every other advertised client.
    pub fn share_keys(
        &mut self,
        client: u32,
        shares: Vec<EncryptedShares>,
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
        if let Some(forged) = shares.iter().find(|m| m.sender != client) {
            return Err(self.malformed(
                client,
                format!("a share claiming to come from client {}", forged.sender),
            ));
        }
        let recipients: BTreeSet<u32> = shares.iter().map(|m| m.recipient).collect();
        let expected = self.graph.get(&client).cloned().unwrap_or_default();
        if recipients != expected || shares.len() != expected.len() {
            return Err(self.malformed(
                client,
                format!(
                    "{} shares for {} peers: one per neighbour in the round's graph is needed",
                    shares.len(),
                    expected.len()
                ),
            ));
        }
        for message in shares {
            self.mailbox
                .entry(message.recipient)
                .or_default()
                .push(message);
        }
        self.shared.insert(client);
        Ok(())
    }

    /// Ends the share phase; each sharing client then fetches its [`AggregationRound::mailbox`].
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_share_keys(&mut self) -> Result<(), RoundError> {
        self.expect(RoundPhase::ShareKeys, "the end of sharing")?;
        self.enough(self.shared.len())?;
        self.phase = RoundPhase::MaskedInput;
        Ok(())
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
            return Err(self.malformed(
                client,
                format!("{} values, expected {}", values.len(), self.dimension),
            ));
        }
        for (sum, value) in self.sum.iter_mut().zip(values) {
            *sum = sum.wrapping_add(*value);
        }
        self.masked.insert(client);
        Ok(())
    }

    /// Ends the input phase; returns the survivors, whose inputs are in the sum and who are
    /// asked to sign that set.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_masked_input(&mut self) -> Result<BTreeSet<u32>, RoundError> {
        self.expect(RoundPhase::MaskedInput, "the end of the inputs")?;
        self.enough(self.masked.len())?;
        self.phase = RoundPhase::ConsistencyCheck;
        Ok(self.masked.clone())
    }

    /// A survivor's signature over the survivor set, checked before it is relayed.
    ///
    /// # Errors
    /// Wrong phase, not a survivor, a duplicate, or a signature that does not verify.
    pub fn consistency(
        &mut self,
        client: u32,
        signature: SurvivorSignature,
    ) -> Result<(), RoundError> {
        self.expect(RoundPhase::ConsistencyCheck, "a survivor signature")?;
        self.participant(client, self.masked.contains(&client))?;
        if self.signatures.contains_key(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "survivor signature",
            });
        }
        if signature.client != client {
            return Err(self.malformed(client, "a signature in another client's name"));
        }
        verify_survivor_signature(
            &self.keys[&client].signing_public,
            self.round,
            self.model_version,
            &self.masked,
            &signature,
        )
        .map_err(|e| self.malformed(client, e.to_string()))?;
        self.signatures.insert(client, signature);
        Ok(())
    }

    /// Ends the consistency check; returns the signatures every signer needs before it
    /// reveals its shares.
    ///
    /// # Errors
    /// [`RoundError::TooFewClients`] below the threshold.
    pub fn close_consistency(&mut self) -> Result<Vec<SurvivorSignature>, RoundError> {
        self.expect(
            RoundPhase::ConsistencyCheck,
            "the end of the consistency check",
        )?;
        self.enough(self.signatures.len())?;
        self.phase = RoundPhase::Unmasking;
        Ok(self.signatures())
    }

    /// A signer's shares: of the self-mask seed of every survivor, and of the mask secret of
    /// every client that shared but sent no input. A share of both secrets of one client is
    /// refused (it would unmask that client's input).
    ///
    /// # Errors
    /// Wrong phase, not a signer, a duplicate, or shares of the wrong secret.
    pub fn unmask(&mut self, client: u32, shares: UnmaskingShares) -> Result<(), RoundError> {
        self.expect(RoundPhase::Unmasking, "unmasking shares")?;
        self.participant(client, self.signatures.contains_key(&client))?;
        if self.unmasked.contains(&client) {
            return Err(RoundError::Duplicate {
                round: self.round,
                client,
                what: "unmasking shares",
            });
        }
        if let Some((owner, _)) = shares
            .self_seed_shares
            .iter()
            .find(|(owner, _)| !self.masked.contains(owner))
        {
            return Err(self.malformed(
                client,
                format!("a self-mask share of client {owner}, whose input did not arrive"),
            ));
        }
        if let Some((owner, _)) = shares
            .mask_secret_shares
            .iter()
            .find(|(owner, _)| self.masked.contains(owner) || !self.shared.contains(owner))
        {
            return Err(self.malformed(
                client,
                format!("a mask-secret share of client {owner}, who is not a dropped sharer"),
            ));
        }
        for (owner, share) in shares.self_seed_shares {
            self.self_seed_shares.entry(owner).or_default().push(share);
        }
        for (owner, share) in shares.mask_secret_shares {
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
            reconstruct_seed(shares, self.share_threshold).map_err(|e| RoundError::Recovery {
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
            let near = self.graph.get(dropped).cloned().unwrap_or_default();
            for survivor in self.masked.intersection(&near) {
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
