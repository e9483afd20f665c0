//! Federated rounds with secure aggregation at the coordinator: one [`AggregationRound`] at a
//! time, with per-phase deadlines, the model version checked on every message, and its state
//! saved in the store before any message is acknowledged, so a coordinator killed mid-round
//! resumes it (or aborts it cleanly) without losing an accepted input. The routes under
//! `/v1/rounds` call this; `mesh simulate` drives it with native clients over HTTP.
//!
//! A round trains the first `dimension` weights of the current model: every client sends its
//! clipped update quantised into `Z_2^32` (`mesh_shared::secagg::Quantizer`), masked; the
//! coordinator learns only the sum, applies the mean with the round's learning rate (FedAvg)
//! and saves the next model version in the same transaction that closes the round.
use std::sync::{Arc, Mutex, PoisonError};

use mesh_shared::ModelWeights;
use mesh_shared::secagg::{
    EncryptedShares, Quantizer, SignedRoundKeys, SurvivorSignature, UnmaskingShares,
};
use serde::{Deserialize, Serialize};

use crate::{AggregationRound, Clock, Error, Result, RoundError, RoundPhase, Store};

/// How a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundSettings {
    /// Weights of the model's table the round trains (its first ones).
    pub dimension: usize,
    /// Clients needed in every phase (more than half of `expected_clients`).
    pub threshold: usize,
    /// Clients that may join; a phase closes early once all of them have answered.
    pub expected_clients: usize,
    /// Time each phase waits for stragglers, in milliseconds.
    pub phase_ms: u64,
    /// Per-coordinate clip of an update (the quantiser's range, reported when it binds).
    pub clip: f32,
    /// Server learning rate: the model moves by this times the mean update.
    pub learning_rate: f32,
}

impl RoundSettings {
    /// The quantiser every client and the coordinator use.
    ///
    /// # Errors
    /// As [`Quantizer::new`].
    pub fn quantizer(&self) -> Result<Quantizer> {
        Ok(Quantizer::new(self.clip, self.expected_clients as u32)?)
    }

    fn check(&self, model: &ModelWeights) -> Result<()> {
        let fail = |reason: String| {
            Error::Shared(mesh_shared::Error::InvalidField {
                field: "settings".to_owned(),
                reason,
            })
        };
        if self.dimension == 0 || self.dimension > model.weights().len() {
            return Err(fail(format!(
                "dimension {} (the model has {} weights)",
                self.dimension,
                model.weights().len()
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
        self.quantizer().map(|_| ())
    }
}

/// How a round ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    },
    /// The round stopped without revealing anything; why.
    Aborted {
        /// What went wrong (for example too few clients before a deadline).
        reason: String,
    },
}

/// What `GET /v1/rounds/current` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedRound {
    settings: RoundSettings,
    round: AggregationRound,
    joined: u32,
    deadline_ms: u64,
    outcome: Option<RoundOutcome>,
    /// The applied mean update (the revealed aggregate), once the round is done.
    result: Option<Vec<f32>>,
}

impl SavedRound {
    fn status(&self) -> RoundStatus {
        RoundStatus {
            round: self.round.round(),
            model_version: self.round.model_version(),
            phase: self.round.phase(),
            settings: self.settings,
            joined: self.joined,
            arrived: self.round.arrived(),
            deadline_ms: self.deadline_ms,
            outcome: self.outcome.clone(),
        }
    }

    fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// Why a round message was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoundRequestError {
    /// No round with that number is running.
    #[error("no round {0} is running")]
    NoSuchRound(u64),
    /// The message names another model version than the round's.
    #[error("round {round} trains model version {expected}, the message names {got}")]
    WrongModelVersion {
        /// The round.
        round: u64,
        /// The round's version.
        expected: u32,
        /// The message's.
        got: u32,
    },
    /// A round is already running.
    #[error("round {0} is still running")]
    Busy(u64),
    /// The round refused the message (phase, duplicate, malformed, threshold).
    #[error(transparent)]
    Round(#[from] RoundError),
    /// The coordinator failed (store, model).
    #[error(transparent)]
    Internal(#[from] Error),
}

/// The coordinator's rounds: the current one, saved in the store after every change.
pub struct RoundCoordinator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<SavedRound>>,
}

impl std::fmt::Debug for RoundCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundCoordinator").finish_non_exhaustive()
    }
}

type Outcome<T> = std::result::Result<T, RoundRequestError>;

impl RoundCoordinator {
    /// Resumes the round saved in `store`, if any. A round whose next model version is
    /// already the store's model (the coordinator stopped after applying it) is marked done.
    ///
    /// # Errors
    /// A store failure or a saved round that does not decode.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let saved = match store.round()? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        if let Some(round) = &saved {
            tracing::info!(
                round = round.round.round(),
                phase = ?round.round.phase(),
                open = round.is_open(),
                "resumed the saved federated round"
            );
        }
        Ok(Self {
            store,
            clock,
            current: Mutex::new(saved),
        })
    }

    /// The current (or last) round's status.
    pub fn status(&self) -> Option<RoundStatus> {
        self.lock().as_ref().map(SavedRound::status)
    }

    /// Starts the next round on `model` (the store's current model).
    ///
    /// # Errors
    /// [`RoundRequestError::Busy`] while a round runs; invalid settings.
    pub fn start(&self, settings: RoundSettings, model: &ModelWeights) -> Outcome<RoundStatus> {
        let now_ms = self.clock.now_ms();
        settings.check(model)?;
        let mut current = self.lock();
        if let Some(open) = current.as_ref().filter(|r| r.is_open()) {
            return Err(RoundRequestError::Busy(open.round.round()));
        }
        let number = current.as_ref().map_or(1, |r| r.round.round() + 1);
        let round = AggregationRound::new(
            number,
            model.version(),
            settings.threshold,
            settings.dimension,
        )?;
        let saved = SavedRound {
            settings,
            round,
            joined: 0,
            deadline_ms: now_ms + settings.phase_ms,
            outcome: None,
            result: None,
        };
        self.store.save_round(&encode(&saved)?)?;
        tracing::info!(
            round = number,
            model_version = model.version(),
            ?settings,
            "round started"
        );
        let status = saved.status();
        *current = Some(saved);
        Ok(status)
    }

    /// Assigns the next client id of round `round` (while keys are collected).
    ///
    /// # Errors
    /// An unknown round, a wrong model version, the wrong phase or a full round.
    pub fn join(&self, round: u64, model_version: u32) -> Outcome<u32> {
        self.change(round, model_version, |saved| {
            if saved.round.phase() != RoundPhase::AdvertiseKeys {
                return Err(RoundError::WrongPhase {
                    round,
                    what: "a join",
                    phase: saved.round.phase(),
                }
                .into());
            }
            if saved.joined as usize >= saved.settings.expected_clients {
                return Err(RoundError::Malformed {
                    round,
                    client: saved.joined + 1,
                    reason: format!("the round is full ({} clients)", saved.joined),
                }
                .into());
            }
            saved.joined += 1;
            Ok(saved.joined)
        })
    }

    /// A client's signed keys.
    ///
    /// # Errors
    /// As [`AggregationRound::advertise`]; a client id that was not handed out.
    pub fn advertise(&self, round: u64, model_version: u32, keys: SignedRoundKeys) -> Outcome<()> {
        self.change(round, model_version, |saved| {
            if keys.client == 0 || keys.client > saved.joined {
                return Err(RoundError::NotParticipating {
                    round,
                    client: keys.client,
                    phase: saved.round.phase(),
                }
                .into());
            }
            Ok(saved.round.advertise(keys)?)
        })
    }

    /// A client's encrypted shares.
    ///
    /// # Errors
    /// As [`AggregationRound::share_keys`].
    pub fn share_keys(
        &self,
        round: u64,
        model_version: u32,
        client: u32,
        shares: Vec<EncryptedShares>,
    ) -> Outcome<()> {
        self.change(round, model_version, |saved| {
            Ok(saved.round.share_keys(client, shares)?)
        })
    }

    /// A client's masked input.
    ///
    /// # Errors
    /// As [`AggregationRound::masked_input`].
    pub fn masked_input(
        &self,
        round: u64,
        model_version: u32,
        client: u32,
        values: &[u32],
    ) -> Outcome<()> {
        self.change(round, model_version, |saved| {
            Ok(saved.round.masked_input(client, values)?)
        })
    }

    /// A survivor's signature over the survivor set.
    ///
    /// # Errors
    /// As [`AggregationRound::consistency`].
    pub fn consistency(
        &self,
        round: u64,
        model_version: u32,
        signature: SurvivorSignature,
    ) -> Outcome<()> {
        self.change(round, model_version, |saved| {
            Ok(saved.round.consistency(signature.client, signature)?)
        })
    }

    /// A signer's unmasking shares.
    ///
    /// # Errors
    /// As [`AggregationRound::unmask`].
    pub fn unmask(
        &self,
        round: u64,
        model_version: u32,
        client: u32,
        shares: UnmaskingShares,
    ) -> Outcome<()> {
        self.change(round, model_version, |saved| {
            Ok(saved.round.unmask(client, shares)?)
        })
    }

    /// What the current phase relays, once it is readable: the roster (from share keys on),
    /// a client's mailbox (from masked input on), the survivors (from the consistency check
    /// on) and their signatures (from unmasking on).
    ///
    /// # Errors
    /// An unknown round, or a phase that has not been reached yet.
    pub fn relay<T>(
        &self,
        round: u64,
        ready_from: RoundPhase,
        read: impl FnOnce(&AggregationRound) -> T,
    ) -> Outcome<T> {
        let current = self.lock();
        let saved = current
            .as_ref()
            .filter(|r| r.round.round() == round)
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        if phase_rank(saved.round.phase()) < phase_rank(ready_from) {
            return Err(RoundError::WrongPhase {
                round,
                what: "a read of a later phase",
                phase: saved.round.phase(),
            }
            .into());
        }
        Ok(read(&saved.round))
    }

    /// The mean update round `round` applied (what secure aggregation revealed).
    ///
    /// # Errors
    /// An unknown round, or one that has not applied its sum.
    pub fn result(&self, round: u64) -> Outcome<Vec<f32>> {
        let current = self.lock();
        let saved = current
            .as_ref()
            .filter(|r| r.round.round() == round)
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        saved.result.clone().ok_or_else(|| {
            RoundError::WrongPhase {
                round,
                what: "a read of the result",
                phase: saved.round.phase(),
            }
            .into()
        })
    }

    /// Closes the current phase when its deadline has passed (or aborts the round below the
    /// threshold), applying the sum when unmasking closes. Called by a timer and after every
    /// message.
    ///
    /// # Errors
    /// A store failure.
    pub fn tick(&self) -> Result<()> {
        let now_ms = self.clock.now_ms();
        let mut current = self.lock();
        let Some(saved) = current.as_mut().filter(|r| r.is_open()) else {
            return Ok(());
        };
        if now_ms >= saved.deadline_ms && self.advance(saved, now_ms)? {
            self.store.save_round(&encode(saved)?)?;
        }
        Ok(())
    }

    fn change<T>(
        &self,
        round: u64,
        model_version: u32,
        apply: impl FnOnce(&mut SavedRound) -> Outcome<T>,
    ) -> Outcome<T> {
        let mut current = self.lock();
        let saved = current
            .as_mut()
            .filter(|r| r.round.round() == round && r.is_open())
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        if saved.round.model_version() != model_version {
            return Err(RoundRequestError::WrongModelVersion {
                round,
                expected: saved.round.model_version(),
                got: model_version,
            });
        }
        let before = saved.clone();
        let answer = match apply(saved) {
            Ok(answer) => answer,
            Err(refused) => {
                *saved = before;
                return Err(refused);
            }
        };
        // A phase closes early once everyone it waits for has answered.
        let everyone = match saved.round.expected() {
            Some(expected) => saved.round.arrived() >= expected,
            None => saved.round.arrived() >= saved.settings.expected_clients,
        };
        if everyone {
            self.advance(saved, self.clock.now_ms())?;
        }
        if let Err(error) = self.store.save_round(&encode(saved)?) {
            *saved = before;
            return Err(error.into());
        }
        Ok(answer)
    }

    /// Closes the current phase; returns whether anything changed.
    fn advance(&self, saved: &mut SavedRound, now_ms: u64) -> Result<bool> {
        let closed = match saved.round.phase() {
            RoundPhase::AdvertiseKeys => saved.round.close_advertise().map(|_| ()),
            RoundPhase::ShareKeys => saved.round.close_share_keys(),
            RoundPhase::MaskedInput => saved.round.close_masked_input().map(|_| ()),
            RoundPhase::ConsistencyCheck => saved.round.close_consistency().map(|_| ()),
            RoundPhase::Unmasking => return self.apply(saved),
            RoundPhase::Done => return Ok(false),
        };
        match closed {
            Ok(()) => {
                saved.deadline_ms = now_ms + saved.settings.phase_ms;
                tracing::info!(round = saved.round.round(), phase = ?saved.round.phase(), "round phase opened");
            }
            Err(error) => {
                tracing::warn!(round = saved.round.round(), %error, "round aborted");
                saved.outcome = Some(RoundOutcome::Aborted {
                    reason: error.to_string(),
                });
            }
        }
        Ok(true)
    }

    /// Unmasks the sum, applies the mean update and saves the next model with the closed
    /// round in one transaction.
    fn apply(&self, saved: &mut SavedRound) -> Result<bool> {
        let sum = match saved.round.finish() {
            Ok(sum) => sum,
            Err(error) => {
                tracing::warn!(round = saved.round.round(), %error, "round aborted");
                saved.outcome = Some(RoundOutcome::Aborted {
                    reason: error.to_string(),
                });
                return Ok(true);
            }
        };
        let clients = saved.round.survivors().len();
        let mean: Vec<f32> = saved
            .settings
            .quantizer()?
            .dequantize_sum(&sum, clients as u32)?
            .iter()
            .map(|x| x / clients as f32)
            .collect();
        let model = crate::current_model(self.store.as_ref())?;
        if model.version() != saved.round.model_version() {
            return Err(Error::Storage(format!(
                "round {} trains model version {}, the store holds version {}",
                saved.round.round(),
                saved.round.model_version(),
                model.version()
            )));
        }
        let mut weights = model.weights().to_vec();
        for (w, delta) in weights.iter_mut().zip(&mean) {
            *w += saved.settings.learning_rate * delta;
        }
        let next = ModelWeights::new(model.version() + 1, model.salt(), model.buckets(), weights)?
            .with_content_tower(model.content_tower().cloned());
        saved.outcome = Some(RoundOutcome::Applied {
            new_model_version: next.version(),
            clients,
            max_abs_update: mean.iter().fold(0.0f32, |m, x| m.max(x.abs())),
        });
        saved.result = Some(mean);
        self.store
            .save_model_and_round(&next.encode(), &encode(saved)?)?;
        tracing::info!(
            round = saved.round.round(),
            clients,
            model_version = next.version(),
            "round applied: the model advanced"
        );
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SavedRound>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn phase_rank(phase: RoundPhase) -> u8 {
    match phase {
        RoundPhase::AdvertiseKeys => 0,
        RoundPhase::ShareKeys => 1,
        RoundPhase::MaskedInput => 2,
        RoundPhase::ConsistencyCheck => 3,
        RoundPhase::Unmasking => 4,
        RoundPhase::Done => 5,
    }
}

fn encode(saved: &SavedRound) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ciborium::into_writer(saved, &mut bytes)
        .map_err(|e| Error::Storage(format!("encoding the round: {e}")))?;
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<SavedRound> {
    ciborium::from_reader(bytes).map_err(|e| Error::CorruptRecord {
        key: "rounds/active".to_owned(),
        reason: e.to_string(),
    })
}
