//! This device's part in a federated round with secure aggregation: the protocol of
//! `mesh_shared::secagg::ClientRound`, with the device's own randomness (its round keys are
//! pseudonymous: fresh per round), speaking the JSON of `/v1/rounds`. The Worker relays the messages; the update itself (the clipped
//! delta of local training) is quantised and masked here and leaves the device only masked.
use std::collections::BTreeSet;

use mesh_shared::secagg::{
    ClientPhase, ClientRound, EncryptedShares, InputPrivacy, SignedRoundKeys, SurvivorSignature,
};
use mesh_shared::{
    PrivacyFloors, RoundCharge, RoundKeysMessage, RoundSharesMessage, RoundSignatureMessage,
    RoundUnmaskMessage,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// One round on this device.
#[derive(Debug)]
pub struct DeviceRound {
    round: ClientRound,
    model_version: u32,
    rng: ChaCha20Rng,
    norm_before_clip: Option<f32>,
    clip: f32,
}

impl DeviceRound {
    /// Joins round `round` of model `model_version` as `client` (the id `join` returned), with
    /// the coordinator's `threshold` and, for SecAgg+, its `(neighbours, share_threshold)`.
    ///
    /// # Errors
    /// [`Error::Randomness`] when the platform has no random source; thresholds out of range.
    pub fn new(
        round: u64,
        model_version: u32,
        client: u32,
        threshold: usize,
        sparse: Option<(usize, usize)>,
    ) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Randomness(e.to_string()))?;
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut round = ClientRound::new(round, model_version, client, threshold, &mut rng)?;
        if let Some((neighbours, share_threshold)) = sparse {
            round = round.sparse(neighbours, share_threshold)?;
        }
        Ok(Self {
            round,
            model_version,
            rng,
            norm_before_clip: None,
            clip: 0.0,
        })
    }

    /// Where the round is for this device.
    pub fn phase(&self) -> ClientPhase {
        self.round.phase()
    }

    /// [`RoundKeysMessage`] JSON: the signed round keys to post.
    ///
    /// # Errors
    /// Only if the message cannot be encoded.
    pub fn keys_json(&self) -> Result<String> {
        to_json(&RoundKeysMessage {
            model_version: self.model_version,
            keys: self.round.advertise(),
        })
    }

    /// [`RoundSharesMessage`] JSON for the roster the coordinator relayed (its JSON).
    ///
    /// # Errors
    /// Roster JSON that does not parse, or a roster the protocol refuses.
    pub fn shares_json(&mut self, roster_json: &str) -> Result<String> {
        let roster: Vec<SignedRoundKeys> = parse("roster", roster_json)?;
        let shares = self.round.share_keys(&roster, &mut self.rng)?;
        to_json(&RoundSharesMessage {
            model_version: self.model_version,
            client: self.round.client(),
            shares,
        })
    }

    /// The masked input for `update`, prepared as the round's settings say: clipped to the L2
    /// bound `clip`, quantised for `expected_clients`, and noised with this device's share of
    /// the distributed discrete Gaussian noise (`noise_multiplier`, 0 for none). Needs the
    /// mailbox JSON.
    ///
    /// # Errors
    /// Mailbox JSON that does not parse or that the protocol refuses; bad settings.
    pub fn masked_input(
        &mut self,
        mailbox_json: &str,
        update: &[f32],
        clip: f32,
        expected_clients: u32,
        noise_multiplier: f64,
    ) -> Result<Vec<u32>> {
        let mailbox: Vec<EncryptedShares> = parse("mailbox", mailbox_json)?;
        let privacy = InputPrivacy {
            l2_clip: clip,
            noise_multiplier,
            expected_clients,
        };
        let prepared = privacy.prepare(update, &mut self.rng)?;
        self.norm_before_clip = Some(prepared.norm_before_clip);
        self.clip = clip;
        Ok(self.round.masked_input(&mailbox, &prepared.values)?)
    }

    /// The update's L2 norm before clipping, once the input is prepared.
    pub fn norm_before_clip(&self) -> Option<f32> {
        self.norm_before_clip
    }

    /// Whether the L2 clip bound the update (reported, never silent).
    pub fn clipped(&self) -> bool {
        self.norm_before_clip.is_some_and(|norm| norm > self.clip)
    }

    /// [`RoundSignatureMessage`] JSON over the survivor set the coordinator relayed (its JSON).
    ///
    /// # Errors
    /// JSON that does not parse, or a set the protocol refuses.
    pub fn signature_json(&mut self, survivors_json: &str) -> Result<String> {
        let survivors: BTreeSet<u32> = parse("survivors", survivors_json)?;
        let signature = self.round.consistency_signature(&survivors)?;
        to_json(&RoundSignatureMessage {
            model_version: self.model_version,
            signature,
        })
    }

    /// [`RoundUnmaskMessage`] JSON once enough survivors signed the same set (their
    /// signatures' JSON).
    ///
    /// # Errors
    /// JSON that does not parse, or too few valid signatures: then nothing is revealed.
    pub fn unmask_json(&mut self, signatures_json: &str) -> Result<String> {
        let signatures: Vec<SurvivorSignature> = parse("signatures", signatures_json)?;
        let shares = self.round.unmasking_shares(&signatures)?;
        to_json(&RoundUnmaskMessage {
            model_version: self.model_version,
            client: self.round.client(),
            shares,
        })
    }
}

/// A round message as the JSON the coordinator reads.
/// What taking part in a round with `settings_json` (the settings of
/// `GET /v1/rounds/current`) costs this device, after `rho_spent` of earlier rounds, under its
/// `floors_json` ([`PrivacyFloors`] JSON; `None` for the defaults): the [`RoundCharge`] JSON.
/// The Worker asks before it joins and records the charge before it unmasks.
///
/// # Errors
/// Settings or floors that do not parse; a round below a floor or past the budget (the error
/// names which).
pub fn round_charge(
    settings_json: &str,
    rho_spent: f64,
    floors_json: Option<&str>,
) -> Result<String> {
    let settings: mesh_shared::RoundSettings = parse("round settings", settings_json)?;
    let floors: PrivacyFloors = match floors_json {
        Some(json) => parse("privacy floors", json)?,
        None => PrivacyFloors::default(),
    };
    let charge: RoundCharge = floors.admit(&settings, rho_spent)?;
    to_json(&charge)
}

fn to_json(message: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(message).map_err(|e| Error::Json {
        what: "round message",
        reason: e.to_string(),
    })
}

fn parse<T: DeserializeOwned>(what: &'static str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Json {
        what,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_below_the_floors_is_refused_before_joining() {
        let floors = PrivacyFloors::default();
        let fine = serde_json::to_string(&floors.minimal_round(1024)).unwrap();
        let charge: RoundCharge =
            serde_json::from_str(&round_charge(&fine, 0.0, None).unwrap()).unwrap();
        assert!(charge.rho > 0.0);
        let server_default =
            serde_json::to_string(&mesh_shared::RoundSettings::new(1024, 11, 20)).unwrap();
        let err = round_charge(&server_default, 0.0, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("noise multiplier 0"), "{err}");
        let small = serde_json::to_string(&mesh_shared::RoundSettings {
            noise_multiplier: 1.0,
            ..mesh_shared::RoundSettings::new(1024, 3, 5)
        })
        .unwrap();
        assert!(
            round_charge(&small, 0.0, None)
                .unwrap_err()
                .to_string()
                .contains("at least 20")
        );
        assert!(round_charge(&small, 0.0, Some(r#"{"min_cohort": 5}"#)).is_ok());
        let err = round_charge(&small, 0.0, Some(r#"{"min_cohrt": 5}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("privacy floors"), "{err}");
    }

    #[test]
    fn bad_relayed_json_is_refused_with_what_was_wrong() {
        let mut device = DeviceRound::new(1, 1, 1, 2, None).unwrap();
        assert!(DeviceRound::new(1, 1, 1, 2, Some((4, 9))).is_err());
        let err = device.shares_json("{").unwrap_err();
        assert!(err.to_string().starts_with("roster: "), "{err}");
        let keys: serde_json::Value = serde_json::from_str(&device.keys_json().unwrap()).unwrap();
        let roster = serde_json::json!([keys["keys"]]).to_string();
        let err = device.shares_json(&roster).unwrap_err();
        assert!(
            err.to_string().contains("1 clients for a threshold of 2"),
            "{err}"
        );
        assert_eq!(device.phase(), ClientPhase::Advertised);
    }
}
