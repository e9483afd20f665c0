//! Federated rounds with secure aggregation at the coordinator: one [`AggregationRound`] at a
//! time, with per-phase deadlines, the model version checked on every message, and every
//! accepted message appended to the round's event log in the store before it is acknowledged,
//! so a coordinator killed mid-round replays the log and resumes the round (or aborts it
//! cleanly) without losing an accepted input. The routes under `/v1/rounds` call this;
//! `mesh simulate` drives it with native clients over HTTP.
//!
//! Admission: only a registered identity at least `min_account_age_ms` old takes a seat, one
//! seat per identity per round, and every later message and read of the round is accepted only
//! from the identity holding the seat it names (the routes verify the request signature; this
//! module binds identities to seats). What participants see of each other (the roster) are
//! per-round keys, not identities; the seat map stays with the coordinator.
//!
//! A round trains the first `dimension` weights of the current model: every client sends its
//! update clipped, quantised into `Z_2^32` and noised as the settings say
//! (`mesh_shared::secagg::InputPrivacy`), masked; the coordinator learns only the sum, applies
//! the mean (FedAvg, or FedAdam) and saves the next model version in the same transaction that
//! closes the round.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mesh_shared::secagg::{
    EncryptedShares, PrivacyAccountant, SignedRoundKeys, SurvivorSignature, UnmaskingShares,
};
use mesh_shared::{ModelWeights, UserId};
use serde::{Deserialize, Serialize};

use crate::server_optimizer::{AdamMoments, apply_server_step};
use crate::{
    AggregationRound, Clock, Error, Result, RoundError, RoundOutcome, RoundPhase, RoundSettings,
    RoundStatus, ServerOptimizer, Store,
};

/// What is saved of a round besides its events: settings and outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoundHeader {
    settings: RoundSettings,
    number: u64,
    model_version: u32,
    started_ms: u64,
    outcome: Option<RoundOutcome>,
    /// The applied mean update (the revealed aggregate), once the round is done.
    result: Option<Vec<f32>>,
    /// FedAdam's moments after the previous round (and after this one, once applied).
    #[serde(default)]
    moments: Option<AdamMoments>,
    /// zCDP ρ spent by the rounds applied before this one, and with it once applied.
    #[serde(default)]
    rho_before: f64,
    #[serde(default)]
    rho_total: f64,
}

/// An accepted message or a phase change, in the order the coordinator took them; replaying
/// them rebuilds the round after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum RoundEvent {
    /// An anonymous join, as rounds before admission logged it (replayed, never written).
    Join,
    /// `user` took the next seat.
    Seat {
        user: UserId,
    },
    Keys(SignedRoundKeys),
    Shares {
        client: u32,
        shares: Vec<EncryptedShares>,
    },
    Input {
        client: u32,
        values: Vec<u32>,
    },
    Signature(SurvivorSignature),
    Unmask {
        client: u32,
        shares: UnmaskingShares,
    },
    /// The current phase closed at `now_ms` (all answered, or its deadline passed).
    Advance {
        now_ms: u64,
    },
}

impl RoundEvent {
    /// The client id a participant's message speaks for.
    fn client(&self) -> Option<u32> {
        match self {
            Self::Keys(keys) => Some(keys.client),
            Self::Shares { client, .. }
            | Self::Input { client, .. }
            | Self::Unmask { client, .. } => Some(*client),
            Self::Signature(signature) => Some(signature.client),
            Self::Join | Self::Seat { .. } | Self::Advance { .. } => None,
        }
    }
}

/// The open round numbered `round`.
fn open_round(current: &Option<LiveRound>, round: u64) -> Outcome<&LiveRound> {
    current
        .as_ref()
        .filter(|r| r.header.number == round && r.is_open())
        .ok_or(RoundRequestError::NoSuchRound(round))
}

/// The round in memory: its header, the state machine its events built, and the next event's
/// sequence number.
#[derive(Debug, Clone)]
struct LiveRound {
    header: RoundHeader,
    round: AggregationRound,
    joined: u32,
    /// Who holds each seat (client id), and each identity's seat.
    seats: HashMap<UserId, u32>,
    deadline_ms: u64,
    next_sequence: u64,
}

impl LiveRound {
    fn new(header: RoundHeader) -> Result<Self> {
        let settings = header.settings;
        let mut round = AggregationRound::new(
            header.number,
            header.model_version,
            settings.threshold,
            settings.dimension,
        )
        .map_err(|e| Error::Storage(e.to_string()))?;
        if let Some(k) = settings.neighbours {
            round = round
                .sparse(k, settings.share_threshold())
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        Ok(Self {
            deadline_ms: header.started_ms + header.settings.phase_ms,
            header,
            round,
            joined: 0,
            seats: HashMap::new(),
            next_sequence: 0,
        })
    }

    fn status(&self) -> RoundStatus {
        RoundStatus {
            round: self.header.number,
            model_version: self.header.model_version,
            phase: self.round.phase(),
            settings: self.header.settings,
            joined: self.joined,
            arrived: self.round.arrived(),
            deadline_ms: self.deadline_ms,
            outcome: self.header.outcome.clone(),
        }
    }

    fn is_open(&self) -> bool {
        self.header.outcome.is_none()
    }

    /// The seat `user` holds in this round.
    fn seat_of(&self, user: &UserId) -> Outcome<u32> {
        self.seats
            .get(user)
            .copied()
            .ok_or(RoundRequestError::NoSeat(self.header.number))
    }

    /// Applies a client's message; returns the client id for a join.
    fn accept(&mut self, event: &RoundEvent) -> Outcome<u32> {
        let number = self.header.number;
        match event {
            RoundEvent::Join | RoundEvent::Seat { .. } => {
                if self.round.phase() != RoundPhase::AdvertiseKeys {
                    return Err(RoundError::WrongPhase {
                        round: number,
                        what: "a join",
                        phase: self.round.phase(),
                    }
                    .into());
                }
                if self.joined as usize >= self.header.settings.expected_clients {
                    return Err(RoundError::Malformed {
                        round: number,
                        client: self.joined + 1,
                        reason: format!("the round is full ({} clients)", self.joined),
                    }
                    .into());
                }
                self.joined += 1;
                if let RoundEvent::Seat { user } = event {
                    self.seats.insert(user.clone(), self.joined);
                }
                return Ok(self.joined);
            }
            RoundEvent::Keys(keys) => {
                if keys.client == 0 || keys.client > self.joined {
                    return Err(RoundError::NotParticipating {
                        round: number,
                        client: keys.client,
                        phase: self.round.phase(),
                    }
                    .into());
                }
                self.round.advertise(keys.clone())?;
            }
            RoundEvent::Shares { client, shares } => {
                self.round.share_keys(*client, shares.clone())?;
            }
            RoundEvent::Input { client, values } => self.round.masked_input(*client, values)?,
            RoundEvent::Signature(signature) => {
                self.round
                    .consistency(signature.client, signature.clone())?;
            }
            RoundEvent::Unmask { client, shares } => self.round.unmask(*client, shares.clone())?,
            RoundEvent::Advance { .. } => {}
        }
        Ok(0)
    }

    /// Whether every client the current phase waits for has answered.
    fn everyone_answered(&self) -> bool {
        match self.round.expected() {
            Some(expected) => self.round.arrived() >= expected,
            None => self.round.arrived() >= self.header.settings.expected_clients,
        }
    }

    /// Closes the current phase at `now_ms`. Unmasking's close returns the unmasked sum (the
    /// caller applies it); a phase below its threshold aborts the round.
    fn advance(&mut self, now_ms: u64) -> Option<Vec<u32>> {
        let closed = match self.round.phase() {
            RoundPhase::AdvertiseKeys => self.round.close_advertise().map(|_| ()),
            RoundPhase::ShareKeys => self.round.close_share_keys(),
            RoundPhase::MaskedInput => self.round.close_masked_input().map(|_| ()),
            RoundPhase::ConsistencyCheck => self.round.close_consistency().map(|_| ()),
            RoundPhase::Unmasking => match self.round.finish() {
                Ok(sum) => return Some(sum),
                Err(error) => Err(error),
            },
            RoundPhase::Done => return None,
        };
        match closed {
            Ok(()) => {
                self.deadline_ms = now_ms + self.header.settings.phase_ms;
                tracing::info!(round = self.header.number, phase = ?self.round.phase(), "round phase opened");
            }
            Err(error) => {
                tracing::warn!(round = self.header.number, %error, "round aborted");
                self.header.outcome = Some(RoundOutcome::Aborted {
                    reason: error.to_string(),
                });
            }
        }
        None
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
    /// The identity may not take a seat (not registered, too young).
    #[error("{0}")]
    Admission(String),
    /// The signer holds no seat in the round.
    #[error("the signer holds no seat in round {0}: join it first")]
    NoSeat(u64),
    /// The signer speaks for a seat it does not hold.
    #[error("round {round}: the signer holds seat {seat}, the message speaks for client {named}")]
    NotYourSeat {
        /// The round.
        round: u64,
        /// The signer's seat.
        seat: u32,
        /// The client the message names.
        named: u32,
    },
    /// The round refused the message (phase, duplicate, malformed, threshold).
    #[error(transparent)]
    Round(#[from] RoundError),
    /// The coordinator failed (store, model).
    #[error(transparent)]
    Internal(#[from] Error),
}

/// The coordinator's rounds: the current one in memory, its header and every accepted event
/// in the store.
pub struct RoundCoordinator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<LiveRound>>,
}

impl std::fmt::Debug for RoundCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundCoordinator").finish_non_exhaustive()
    }
}

type Outcome<T> = std::result::Result<T, RoundRequestError>;

impl RoundCoordinator {
    /// Resumes the round saved in `store`, if any, by replaying its events.
    ///
    /// # Errors
    /// A store failure, or a saved round that does not decode or replay.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let live = match store.round()? {
            Some((header, events)) => Some(replay(decode(&header)?, &events)?),
            None => None,
        };
        if let Some(live) = &live {
            tracing::info!(
                round = live.header.number,
                phase = ?live.round.phase(),
                open = live.is_open(),
                "resumed the saved federated round"
            );
        }
        Ok(Self {
            store,
            clock,
            current: Mutex::new(live),
        })
    }

    /// The current (or last) round's status.
    pub fn status(&self) -> Option<RoundStatus> {
        self.lock().as_ref().map(LiveRound::status)
    }

    /// Starts the next round on `model` (the store's current model).
    ///
    /// # Errors
    /// [`RoundRequestError::Busy`] while a round runs; invalid settings.
    pub fn start(&self, settings: RoundSettings, model: &ModelWeights) -> Outcome<RoundStatus> {
        settings.check(model.weights().len()).map_err(Error::from)?;
        // Clients read the share threshold from the status: spell out the default.
        let settings = RoundSettings {
            share_threshold: settings.neighbours.map(|_| settings.share_threshold()),
            ..settings
        };
        let mut current = self.lock();
        if let Some(open) = current.as_ref().filter(|r| r.is_open()) {
            return Err(RoundRequestError::Busy(open.header.number));
        }
        let header = RoundHeader {
            settings,
            number: current.as_ref().map_or(1, |r| r.header.number + 1),
            model_version: model.version(),
            started_ms: self.clock.now_ms(),
            outcome: None,
            result: None,
            moments: current
                .as_ref()
                .filter(|r| {
                    r.header.settings.dimension == settings.dimension
                        && r.header.settings.server_optimizer == settings.server_optimizer
                })
                .and_then(|r| r.header.moments.clone()),
            rho_before: current.as_ref().map_or(0.0, |r| r.header.rho_total),
            rho_total: current.as_ref().map_or(0.0, |r| r.header.rho_total),
        };
        let live = LiveRound::new(header)?;
        self.store.start_round(&encode(&live.header)?)?;
        tracing::info!(
            round = live.header.number,
            model_version = model.version(),
            ?settings,
            "round started"
        );
        let status = live.status();
        *current = Some(live);
        Ok(status)
    }

    /// Seats `user` in round `round` (while keys are collected) and returns its client id; the
    /// same id again for an identity already seated. `registered_at_ms` is when the identity
    /// registered (`None`: it is not registered).
    ///
    /// # Errors
    /// [`RoundRequestError::Admission`] for an unregistered or too young identity; an unknown
    /// round, a wrong model version, the wrong phase or a full round.
    pub fn join(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        registered_at_ms: Option<u64>,
    ) -> Outcome<u32> {
        {
            let current = self.lock();
            let live = open_round(&current, round)?;
            if let Some(seat) = live.seats.get(user) {
                return Ok(*seat);
            }
            let min_age = live.header.settings.min_account_age_ms;
            let Some(registered) = registered_at_ms else {
                return Err(RoundRequestError::Admission(
                    "only registered identities join rounds: POST /v1/identities first".to_owned(),
                ));
            };
            let age = self.clock.now_ms().saturating_sub(registered);
            if age < min_age {
                return Err(RoundRequestError::Admission(format!(
                    "round {round} admits identities registered at least {} s ago; this one registered {} s ago",
                    min_age / 1000,
                    age / 1000
                )));
            }
        }
        self.take(
            round,
            model_version,
            None,
            RoundEvent::Seat { user: user.clone() },
        )
    }

    /// The seated client's signed round keys.
    ///
    /// # Errors
    /// As [`AggregationRound::advertise`]; keys for a seat `user` does not hold.
    pub fn advertise(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        keys: SignedRoundKeys,
    ) -> Outcome<()> {
        self.take(round, model_version, Some(user), RoundEvent::Keys(keys))
            .map(|_| ())
    }

    /// A client's encrypted shares.
    ///
    /// # Errors
    /// As [`AggregationRound::share_keys`].
    pub fn share_keys(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        client: u32,
        shares: Vec<EncryptedShares>,
    ) -> Outcome<()> {
        self.take(
            round,
            model_version,
            Some(user),
            RoundEvent::Shares { client, shares },
        )
        .map(|_| ())
    }

    /// A client's masked input.
    ///
    /// # Errors
    /// As [`AggregationRound::masked_input`].
    pub fn masked_input(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        client: u32,
        values: Vec<u32>,
    ) -> Outcome<()> {
        self.take(
            round,
            model_version,
            Some(user),
            RoundEvent::Input { client, values },
        )
        .map(|_| ())
    }

    /// A survivor's signature over the survivor set.
    ///
    /// # Errors
    /// As [`AggregationRound::consistency`].
    pub fn consistency(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        signature: SurvivorSignature,
    ) -> Outcome<()> {
        self.take(
            round,
            model_version,
            Some(user),
            RoundEvent::Signature(signature),
        )
        .map(|_| ())
    }

    /// A signer's unmasking shares.
    ///
    /// # Errors
    /// As [`AggregationRound::unmask`].
    pub fn unmask(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
        client: u32,
        shares: UnmaskingShares,
    ) -> Outcome<()> {
        self.take(
            round,
            model_version,
            Some(user),
            RoundEvent::Unmask { client, shares },
        )
        .map(|_| ())
    }

    /// What the current phase relays to the participant `reader`, once it is readable: the
    /// roster (from share keys on), a client's mailbox (from masked input on), the survivors
    /// (from the consistency check on) and their signatures (from unmasking on). `read` gets
    /// the reader's client id.
    ///
    /// # Errors
    /// An unknown round, a reader without a seat, or a phase that has not been reached yet.
    pub fn relay<T>(
        &self,
        round: u64,
        ready_from: RoundPhase,
        reader: &UserId,
        read: impl FnOnce(&AggregationRound, u32) -> Outcome<T>,
    ) -> Outcome<T> {
        let current = self.lock();
        let live = current
            .as_ref()
            .filter(|r| r.header.number == round)
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        let seat = live.seat_of(reader)?;
        if live.round.phase() < ready_from {
            return Err(RoundError::WrongPhase {
                round,
                what: "a read of a later phase",
                phase: live.round.phase(),
            }
            .into());
        }
        read(&live.round, seat)
    }

    /// The mean update round `round` applied (what secure aggregation revealed), for one of
    /// its participants (`Some(reader)`) or the operator (`None`).
    ///
    /// # Errors
    /// An unknown round, a reader without a seat, or a round that has not applied its sum.
    pub fn result(&self, round: u64, reader: Option<&UserId>) -> Outcome<Vec<f32>> {
        let current = self.lock();
        let live = current
            .as_ref()
            .filter(|r| r.header.number == round)
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        if let Some(reader) = reader {
            live.seat_of(reader)?;
        }
        live.header.result.clone().ok_or_else(|| {
            RoundError::WrongPhase {
                round,
                what: "a read of the result",
                phase: live.round.phase(),
            }
            .into()
        })
    }

    /// Closes the current phase when its deadline has passed (or aborts the round below the
    /// threshold), applying the sum when unmasking closes. Called by a timer and on reads.
    ///
    /// # Errors
    /// A store failure.
    pub fn tick(&self) -> Result<()> {
        let now_ms = self.clock.now_ms();
        let mut current = self.lock();
        let Some(live) = current.as_mut().filter(|r| r.is_open()) else {
            return Ok(());
        };
        if now_ms < live.deadline_ms {
            return Ok(());
        }
        let before = live.clone();
        let mut events = Vec::new();
        if let Err(error) = self.close_phase(live, now_ms, &mut events) {
            *live = before;
            return Err(error);
        }
        Ok(())
    }

    /// Accepts one message from `sender` (the seat holder; `None` only for a seat request):
    /// applies it, closes the phase when everyone has answered, and saves the events before
    /// answering.
    fn take(
        &self,
        round: u64,
        model_version: u32,
        sender: Option<&UserId>,
        event: RoundEvent,
    ) -> Outcome<u32> {
        let mut current = self.lock();
        let live = current
            .as_mut()
            .filter(|r| r.header.number == round && r.is_open())
            .ok_or(RoundRequestError::NoSuchRound(round))?;
        if live.header.model_version != model_version {
            return Err(RoundRequestError::WrongModelVersion {
                round,
                expected: live.header.model_version,
                got: model_version,
            });
        }
        if let Some(sender) = sender {
            let seat = live.seat_of(sender)?;
            if let Some(named) = event.client().filter(|named| *named != seat) {
                return Err(RoundRequestError::NotYourSeat { round, seat, named });
            }
        }
        let before = live.clone();
        let answer = match live.accept(&event) {
            Ok(answer) => answer,
            Err(refused) => {
                *live = before;
                return Err(refused);
            }
        };
        let mut events = vec![(live.next_sequence, encode(&event)?)];
        live.next_sequence += 1;
        let saved = if live.everyone_answered() {
            self.close_phase(live, self.clock.now_ms(), &mut events)
        } else {
            self.store.append_round(None, &events)
        };
        if let Err(error) = saved {
            *live = before;
            return Err(error.into());
        }
        Ok(answer)
    }

    /// Closes the phase at `now_ms` and saves `events` plus the close (and, when unmasking
    /// closes, the next model) in one transaction.
    fn close_phase(
        &self,
        live: &mut LiveRound,
        now_ms: u64,
        events: &mut Vec<(u64, Vec<u8>)>,
    ) -> Result<()> {
        events.push((live.next_sequence, encode(&RoundEvent::Advance { now_ms })?));
        live.next_sequence += 1;
        let Some(sum) = live.advance(now_ms) else {
            let header = live
                .header
                .outcome
                .is_some()
                .then(|| encode(&live.header))
                .transpose()?;
            return self.store.append_round(header.as_deref(), events);
        };
        let clients = live.round.survivors().len();
        let settings = live.header.settings;
        let mean: Vec<f32> = settings
            .quantizer()?
            .dequantize_sum(&sum, clients as u32)?
            .iter()
            .map(|x| x / clients as f32)
            .collect();
        let model = crate::current_model(self.store.as_ref())?;
        if model.version() != live.header.model_version {
            return Err(Error::Storage(format!(
                "round {} trains model version {}, the store holds version {}",
                live.header.number,
                live.header.model_version,
                model.version()
            )));
        }
        let mut weights = model.weights().to_vec();
        let optimizer = settings
            .server_optimizer
            .unwrap_or(ServerOptimizer::FedAvg {
                learning_rate: settings.learning_rate,
            });
        let trained = &mut weights[..mean.len().min(model.weights().len())];
        apply_server_step(optimizer, &mut live.header.moments, trained, &mean);
        let next = ModelWeights::new(model.version() + 1, model.salt(), model.buckets(), weights)?
            .with_content_tower(model.content_tower().cloned());
        let privacy = settings
            .privacy()
            .round_privacy(clients, settings.dimension)?;
        let (mut this_round, mut total) = (
            PrivacyAccountant::default(),
            PrivacyAccountant::from_rho(live.header.rho_before),
        );
        if let Some(noisy) = &privacy {
            this_round.record(noisy);
            total.record(noisy);
        }
        live.header.rho_total = total.rho();
        live.header.outcome = Some(RoundOutcome::Applied {
            new_model_version: next.version(),
            clients,
            max_abs_update: mean.iter().fold(0.0f32, |m, x| m.max(x.abs())),
            epsilon: privacy.map(|_| this_round.epsilon(settings.delta)),
            epsilon_total: (total.rho() > 0.0).then(|| total.epsilon(settings.delta)),
        });
        live.header.result = Some(mean);
        self.store
            .save_model_and_round(&next.encode(), &encode(&live.header)?, events)?;
        let mut figures = std::collections::BTreeMap::from([
            ("clients".to_owned(), clients as f64),
            ("round".to_owned(), live.header.number as f64),
        ]);
        if let Some(RoundOutcome::Applied {
            epsilon: Some(epsilon),
            ..
        }) = &live.header.outcome
        {
            figures.insert("epsilon".to_owned(), *epsilon);
        }
        self.store.append_event(
            None,
            &crate::Event::from(crate::ModelEvent::ModelVersioned {
                version: next.version(),
                at_ms: self.clock.now_ms(),
                source: format!("federated round {}", live.header.number),
                figures,
            }),
        )?;
        tracing::info!(
            round = live.header.number,
            clients,
            model_version = next.version(),
            "round applied: the model advanced"
        );
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<LiveRound>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Rebuilds a round from its header and events. The header says how it ended, so replaying
/// the last close never applies the sum again.
fn replay(header: RoundHeader, events: &[Vec<u8>]) -> Result<LiveRound> {
    let outcome = header.outcome.clone();
    let mut live = LiveRound::new(RoundHeader {
        outcome: None,
        ..header
    })?;
    for (sequence, bytes) in events.iter().enumerate() {
        let event: RoundEvent = decode(bytes)?;
        match event {
            RoundEvent::Advance { now_ms } => {
                live.advance(now_ms);
            }
            message @ (RoundEvent::Join
            | RoundEvent::Seat { .. }
            | RoundEvent::Keys(_)
            | RoundEvent::Shares { .. }
            | RoundEvent::Input { .. }
            | RoundEvent::Signature(_)
            | RoundEvent::Unmask { .. }) => {
                live.accept(&message).map_err(|e| Error::CorruptRecord {
                    key: format!("round_events/{sequence}"),
                    reason: e.to_string(),
                })?;
            }
        }
        live.next_sequence = sequence as u64 + 1;
    }
    live.header.outcome = outcome;
    Ok(live)
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes)
        .map_err(|e| Error::Storage(format!("encoding the round: {e}")))?;
    Ok(bytes)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| Error::CorruptRecord {
        key: "rounds".to_owned(),
        reason: e.to_string(),
    })
}
