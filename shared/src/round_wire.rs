//! The federated round protocol on the wire (`/v1/rounds/*`): the operator's settings, the
//! round's status, and each client message. The coordinator, the wasm client and the native
//! clients of `mesh simulate` all speak these types; the OpenAPI document carries their
//! schemas. Every client message names the model version it trains.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secagg::{
    EncryptedShares, InputPrivacy, Quantizer, SignedRoundKeys, SurvivorSignature, UnmaskingShares,
};
use crate::{Error, Result};

/// How the coordinator turns a round's mean update into the next model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerOptimizer {
    /// `w += lr · mean update` (FedAvg; lr 1 is plain averaging).
    FedAvg {
        /// Server learning rate.
        learning_rate: f32,
    },
    /// Adam on the negated mean update as a pseudo-gradient (FedAdam, Reddi et al. 2021).
    FedAdam {
        /// Server learning rate.
        learning_rate: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Adaptivity floor τ.
        tau: f32,
    },
}

/// Where a round is; phases compare in the order they run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RoundPhase {
    /// Collecting signed public keys.
    AdvertiseKeys,
    /// Collecting encrypted shares.
    ShareKeys,
    /// Collecting masked inputs.
    MaskedInput,
    /// Collecting the survivors' signatures over the survivor set.
    ConsistencyCheck,
    /// Collecting the survivors' shares.
    Unmasking,
    /// The sum is known.
    Done,
}

/// How a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundSettings {
    /// Weights of the model's table the round trains (its first ones).
    pub dimension: usize,
    /// Clients needed in every phase (more than half of `expected_clients`).
    pub threshold: usize,
    /// Clients that may join; a phase closes early once all of them have answered.
    pub expected_clients: usize,
    /// Time each phase waits for stragglers, in milliseconds.
    pub phase_ms: u64,
    /// L2 bound of an update: each client clips to it (and says so) before quantising.
    pub clip: f32,
    /// Server learning rate: the model moves by this times the mean update.
    pub learning_rate: f32,
    /// Differential privacy: noise multiplier `z` of the distributed discrete Gaussian noise
    /// the clients add on their devices (the sum's deviation is `z · clip` when every expected
    /// client survives); 0 for none.
    #[serde(default)]
    pub noise_multiplier: f64,
    /// δ of the reported (ε, δ).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// SecAgg+ (Bell et al. 2020): each client shares secrets and masks with this many ring
    /// neighbours instead of every other client; `None` for the complete graph.
    #[serde(default)]
    pub neighbours: Option<usize>,
    /// With `neighbours`: shares that rebuild one client's secrets (default: just over half a
    /// neighbourhood).
    #[serde(default)]
    pub share_threshold: Option<usize>,
    /// How the mean update moves the model: FedAvg with `learning_rate` when `None`, or
    /// FedAdam (its moments carried from round to round while the settings stay alike).
    #[serde(default)]
    pub server_optimizer: Option<ServerOptimizer>,
    /// Admission: an identity may take a seat only this long after it registered, in
    /// milliseconds (default [`DEFAULT_MIN_ACCOUNT_AGE_MS`]): identities made for one round
    /// cannot join it.
    #[serde(default = "default_min_account_age_ms")]
    pub min_account_age_ms: u64,
}

/// The default account age a round asks of its participants: one day.
pub const DEFAULT_MIN_ACCOUNT_AGE_MS: u64 = 24 * 60 * 60 * 1000;

fn default_delta() -> f64 {
    1e-5
}

fn default_min_account_age_ms() -> u64 {
    DEFAULT_MIN_ACCOUNT_AGE_MS
}

impl RoundSettings {
    /// A round of `expected_clients` over the first `dimension` weights with the documented
    /// defaults: `threshold` as given, 30 s per phase, L2 clip 1, FedAvg at learning rate 1, no
    /// noise (δ 1e-5 should noise be asked for), the complete graph, accounts a day old.
    pub fn new(dimension: usize, threshold: usize, expected_clients: usize) -> Self {
        Self {
            dimension,
            threshold,
            expected_clients,
            phase_ms: 30_000,
            clip: 1.0,
            learning_rate: 1.0,
            noise_multiplier: 0.0,
            delta: default_delta(),
            neighbours: None,
            share_threshold: None,
            server_optimizer: None,
            min_account_age_ms: DEFAULT_MIN_ACCOUNT_AGE_MS,
        }
    }

    /// Shares that rebuild one client's secrets: `threshold` on the complete graph, else the
    /// given share threshold or just over half of the (even) neighbourhood.
    pub fn share_threshold(&self) -> usize {
        match self.neighbours {
            None => self.threshold,
            Some(k) => self.share_threshold.unwrap_or(2 * k.div_ceil(2) / 2 + 1),
        }
    }

    /// How every client prepares its input (clip, quantise, noise).
    pub fn privacy(&self) -> InputPrivacy {
        InputPrivacy {
            l2_clip: self.clip,
            noise_multiplier: self.noise_multiplier,
            expected_clients: self.expected_clients as u32,
        }
    }

    /// The quantiser every client and the coordinator use.
    ///
    /// # Errors
    /// As [`InputPrivacy::quantizer`].
    pub fn quantizer(&self) -> Result<Quantizer> {
        self.privacy().quantizer()
    }

    /// Checks the settings for a model of `model_weights` weights.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `settings`, naming what is out of range.
    pub fn check(&self, model_weights: usize) -> Result<()> {
        let fail = |reason: String| Error::field("settings", reason);
        if self.dimension == 0 || self.dimension > model_weights {
            return Err(fail(format!(
                "dimension {} (the model has {model_weights} weights)",
                self.dimension
            )));
        }
        if self.threshold < 2
            || self.threshold > self.expected_clients
            || 2 * self.threshold <= self.expected_clients
        {
            return Err(fail(format!(
                "threshold {} for {} clients: at least 2, above half, at most all",
                self.threshold, self.expected_clients
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) || self.phase_ms == 0 {
            return Err(fail("learning rate and phase time must be > 0".to_owned()));
        }
        if let Some(k) = self.neighbours {
            let t = self.share_threshold();
            if k < 2 || t < 2 || t > 2 * k.div_ceil(2) + 1 {
                return Err(fail(format!(
                    "{k} neighbours with a share threshold of {t}: at least 2 of each, the threshold at most the neighbourhood"
                )));
            }
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(fail(format!("delta {}: between 0 and 1", self.delta)));
        }
        self.quantizer().map(|_| ())
    }
}

/// How a round ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RoundOutcome {
    /// The sum was unmasked and applied: the model advanced to `model_version`.
    Applied {
        /// The new model version.
        new_model_version: u32,
        /// Clients whose update is in the sum.
        clients: usize,
        /// Largest absolute value of the applied mean update.
        max_abs_update: f32,
        /// With noise: ε of this round at the settings' δ.
        epsilon: Option<f64>,
        /// With noise: ε of every noised round applied so far together (zCDP composition).
        epsilon_total: Option<f64>,
    },
    /// The round stopped without revealing anything; why.
    Aborted {
        /// What went wrong (for example too few clients before a deadline).
        reason: String,
    },
}

/// What `GET /v1/rounds/current` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoundStatus {
    /// The round number.
    pub round: u64,
    /// The model version the round trains (its messages must name it).
    pub model_version: u32,
    /// `advertise_keys`, `share_keys`, `masked_input`, `consistency_check`, `unmasking` or
    /// `done`.
    pub phase: RoundPhase,
    /// The settings.
    pub settings: RoundSettings,
    /// Clients that joined.
    pub joined: u32,
    /// Clients that answered the current phase.
    pub arrived: usize,
    /// When the current phase closes, Unix milliseconds.
    pub deadline_ms: u64,
    /// How the round ended, once it has.
    #[serde(flatten)]
    pub outcome: Option<RoundOutcome>,
}

/// `POST /v1/rounds/{round}/join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundJoin {
    /// The model version the client trains.
    pub model_version: u32,
}

/// The answer to a join: the client's id in the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoundJoined {
    /// 1-based id in the round.
    pub client: u32,
}

/// `POST /v1/rounds/{round}/keys`: the client's signed round keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundKeysMessage {
    /// The model version the client trains.
    pub model_version: u32,
    /// Its two X25519 public keys, signed with its key of this round.
    pub keys: SignedRoundKeys,
}

/// `POST /v1/rounds/{round}/shares`: the client's encrypted shares, one per peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundSharesMessage {
    /// The model version the client trains.
    pub model_version: u32,
    /// The sending client.
    pub client: u32,
    /// One ciphertext per peer.
    pub shares: Vec<EncryptedShares>,
}

/// The query of `POST /v1/rounds/{round}/input` (the body is the masked input as
/// little-endian `u32` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundInputQuery {
    /// The sending client.
    pub client: u32,
    /// The model version the client trains.
    pub model_version: u32,
}

/// `POST /v1/rounds/{round}/signature`: a survivor's signature over the survivor set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundSignatureMessage {
    /// The model version the client trains.
    pub model_version: u32,
    /// The signature.
    pub signature: SurvivorSignature,
}

/// `POST /v1/rounds/{round}/unmask`: a signer's unmasking shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundUnmaskMessage {
    /// The model version the client trains.
    pub model_version: u32,
    /// The sending client.
    pub client: u32,
    /// Its shares of the survivors' self-mask seeds and of the dropped clients' secrets.
    pub shares: UnmaskingShares,
}
