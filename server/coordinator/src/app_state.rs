use std::sync::{Arc, Mutex, PoisonError};

use mesh_shared::{ModelWeights, RequestAuth, UserId};

use mesh_ranking::GradientBoostedTrees;

use crate::population::PopulationProfile;
use crate::{
    Clock, Discovery, DiscoveryIndex, Result, RoundCoordinator, SocialState, Store, StoredProfile,
    current_model,
};

/// Shared state of the coordinator's handlers.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    store_health: Arc<crate::store_health::StoreHealth>,
    pub(crate) index: Arc<DiscoveryIndex>,
    /// The candidate pipeline with the social state it reads.
    pub(crate) discovery: Arc<Discovery>,
    pub(crate) model: Arc<ServedModel>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) body_limit: usize,
    /// The federated rounds.
    pub(crate) rounds: Arc<RoundCoordinator>,
    /// Bearer token that starts rounds (`None`: nobody can).
    pub(crate) operator_token: Option<String>,
    /// The A/B experiment this router runs on signed viewers (set by [`crate::app`] from its
    /// config, per router).
    pub(crate) experiment: Option<Arc<crate::Experiment>>,
    /// Private-set-intersection messages between two people, in memory.
    pub(crate) psi: Arc<crate::PsiRelay>,
    /// Discovery queries each identity made today.
    pub(crate) query_budget: Arc<crate::answer_privacy::QueryBudget>,
    /// How many discovery queries an identity may make per day (set by [`crate::app`]).
    pub(crate) queries_per_day: u32,
    /// Held across a profile write to the store and the matching index update, so that a
    /// publish racing an opt-out cannot leave the index out of step with the store.
    profile_writes: Arc<Mutex<()>>,
    /// The people the index holds because of a stored profile (not the read-only
    /// population): what [`AppState::sync_index`] may add, update or drop.
    from_store: Arc<Mutex<std::collections::HashSet<UserId>>>,
    /// Which social events this replica has applied (its own and those it tailed).
    seen_events: Arc<Mutex<SeenEvents>>,
}

/// How far back a replica re-reads the event log when it tails it: a database may make an
/// event with a lower sequence number visible after a higher one (concurrent transactions).
const TAIL_LOOKBACK: u64 = 1024;

/// The social events applied: every sequence below `floor`, and those in `applied`.
#[derive(Debug, Default)]
struct SeenEvents {
    floor: u64,
    applied: std::collections::BTreeSet<u64>,
}

impl SeenEvents {
    fn mark(&mut self, sequence: u64) {
        if sequence >= self.floor {
            self.applied.insert(sequence);
        }
    }

    fn contains(&self, sequence: u64) -> bool {
        sequence < self.floor || self.applied.contains(&sequence)
    }

    /// Moves the floor up to `TAIL_LOOKBACK` below the highest applied sequence.
    fn settle(&mut self) {
        if let Some(&highest) = self.applied.last() {
            self.floor = self.floor.max(highest.saturating_sub(TAIL_LOOKBACK));
            let floor = self.floor;
            self.applied.retain(|&s| s >= floor);
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("model_version", &self.model.version)
            .field("indexed", &self.index.len())
            .finish_non_exhaustive()
    }
}

/// The model as served: its version, encoded bytes and HTTP entity tag.
#[derive(Debug)]
pub(crate) struct ServedModel {
    pub(crate) version: u32,
    pub(crate) bytes: axum::body::Bytes,
    pub(crate) etag: String,
}

impl AppState {
    /// Loads the current model from the store (saving the version-1 model on first start),
    /// indexes every stored profile of the current model version and adds the given read-only
    /// population.
    ///
    /// # Errors
    /// A store failure or a stored model that does not decode.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        population: Vec<PopulationProfile>,
    ) -> Result<Self> {
        Self::open_with_index(store, clock, population, DiscoveryIndex::default())
    }

    /// [`AppState::open`] filling `index` (for example one from a snapshot of the last run's
    /// HNSW graph, [`DiscoveryIndex::from_snapshot`]): every profile is added to it, and graph
    /// entries without a profile are dropped.
    ///
    /// # Errors
    /// As [`AppState::open`].
    pub fn open_with_index(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        population: Vec<PopulationProfile>,
        index: DiscoveryIndex,
    ) -> Result<Self> {
        let store_health = Arc::new(crate::store_health::StoreHealth::default());
        let store: Arc<dyn Store> = Arc::new(crate::store_health::HealthCheckedStore::new(
            store,
            store_health.clone(),
        ));
        let model = current_model(store.as_ref())?;
        let bytes = model.encode();
        let etag = format!(
            "\"mesh-model-v{}-{}\"",
            model.version(),
            &blake3::hash(&bytes).to_hex()[..16]
        );
        let served = ServedModel {
            version: model.version(),
            bytes: bytes.into(),
            etag,
        };

        for profile in population {
            index.upsert(
                profile.user_id,
                profile.upload.taste_vector,
                profile.upload.card,
            );
        }
        // Vectors from another model version live in another space: such profiles stay
        // stored but are not discoverable until their device publishes again.
        let mut stale = 0usize;
        let mut from_store = std::collections::HashSet::new();
        for (user, stored) in store.profiles()? {
            if stored.upload.model_version == model.version() {
                from_store.insert(user.clone());
                index.upsert(user, stored.upload.taste_vector, stored.upload.card);
            } else {
                stale += 1;
            }
        }
        let forgotten = index.forget_unlisted();
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                "dropped people without a profile from the index snapshot"
            );
        }
        if stale > 0 {
            tracing::info!(
                stale,
                model_version = model.version(),
                "profiles from older model versions wait for a new publish"
            );
        }
        let rounds = Arc::new(RoundCoordinator::open(store.clone(), clock.clone())?);
        let mut social = SocialState::default();
        let mut seen = SeenEvents::default();
        for (sequence, event) in store.events_from(0)? {
            social.apply_event(&event);
            seen.mark(sequence);
        }
        seen.settle();
        social.refresh_communities();
        let ranker = match store.ranker()? {
            Some(bytes) => Some(
                serde_json::from_slice::<GradientBoostedTrees>(&bytes).map_err(|e| {
                    crate::Error::CorruptRecord {
                        key: "model/ranker".to_owned(),
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        Ok(Self {
            store,
            store_health,
            index: Arc::new(index),
            discovery: Arc::new(Discovery::new(social, ranker)),
            model: Arc::new(served),
            clock,
            body_limit: usize::MAX,
            rounds,
            operator_token: None,
            experiment: None,
            psi: Arc::default(),
            query_budget: Arc::default(),
            queries_per_day: crate::DEFAULT_QUERIES_PER_DAY,
            profile_writes: Arc::default(),
            from_store: Arc::new(Mutex::new(from_store)),
            seen_events: Arc::new(Mutex::new(seen)),
        })
    }

    /// Stores `profile` for `user` (checked against the signing key and its last timestamp by
    /// the store) and makes the user discoverable with it.
    pub(crate) fn publish(
        &self,
        user: &UserId,
        auth: &RequestAuth,
        profile: StoredProfile,
    ) -> Result<()> {
        let _gate = self
            .profile_writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.store
            .put_profile(user, auth.public_key(), auth.timestamp_ms(), &profile)?;
        self.index.upsert(
            user.clone(),
            profile.upload.taste_vector,
            profile.upload.card,
        );
        self.from_store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.clone());
        Ok(())
    }

    /// Deletes everything held for `user` and removes them from discovery.
    pub(crate) fn opt_out(&self, user: &UserId, auth: &RequestAuth) -> Result<()> {
        let _gate = self
            .profile_writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.store
            .delete_user(user, auth.public_key(), auth.timestamp_ms())?;
        self.index.remove(user);
        self.from_store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(user);
        self.refold_social(user)?;
        self.psi.forget(user);
        Ok(())
    }

    /// Folds the social state again from the store's log, after an opt-out deleted and
    /// rewrote the events that named `gone` there; the live presence of everyone else (soft,
    /// in memory only) is carried over. Under the social write lock, as appends are, so no
    /// event lands between the read and the swap.
    ///
    /// # Errors
    /// A store failure; the state is then unchanged.
    fn refold_social(&self, gone: &UserId) -> Result<()> {
        let mut social = self
            .discovery
            .social
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = self
            .seen_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut fresh = SocialState::default();
        let mut fresh_seen = SeenEvents::default();
        for (sequence, event) in self.store.events_from(0)? {
            fresh.apply_event(&event);
            fresh_seen.mark(sequence);
        }
        fresh_seen.settle();
        fresh.refresh_communities();
        fresh.carry_presence_from(&social, gone);
        *social = fresh;
        *seen = fresh_seen;
        Ok(())
    }

    /// Appends `event` (by the coordinator: no signer's timestamp to advance) and applies it
    /// to the social state, under the social write lock so the state follows the store.
    ///
    /// # Errors
    /// A store failure; nothing is applied then.
    pub(crate) fn record_event(&self, event: &crate::Event) -> Result<()> {
        self.append_and_apply(None, event)
    }

    /// Appends `event` (checking `signer`'s timestamp) and applies it, under the social write
    /// lock; the event counts as seen, so tailing the log does not apply it twice.
    ///
    /// # Errors
    /// A store failure or a refused signer; nothing is applied then.
    pub(crate) fn append_and_apply(
        &self,
        signer: Option<crate::Signer<'_>>,
        event: &crate::Event,
    ) -> Result<()> {
        let mut social = self
            .discovery
            .social
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.append_under(&mut social, signer, event)
    }

    /// [`append_and_apply`](Self::append_and_apply) for a caller already holding the social
    /// write lock (`social`).
    pub(crate) fn append_under(
        &self,
        social: &mut crate::SocialState,
        signer: Option<crate::Signer<'_>>,
        event: &crate::Event,
    ) -> Result<()> {
        let sequence = self.store.append_event(signer, event)?;
        social.apply_event(event);
        self.seen_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mark(sequence);
        Ok(())
    }

    /// The operator starts the next federated round on the served model, which must still be
    /// the store's current one (else a restart serves the newer one first).
    pub(crate) fn start_round(
        &self,
        settings: crate::RoundSettings,
    ) -> std::result::Result<crate::RoundStatus, crate::ApiError> {
        let served = self.model_weights()?;
        let stored = current_model(self.store.as_ref())?;
        if stored.version() != served.version() {
            return Err(crate::ApiError::Conflict(format!(
                "the store holds model version {} but version {} is served: restart the coordinator to serve it before the next round",
                stored.version(),
                served.version()
            )));
        }
        Ok(self.rounds.start(settings, &served)?)
    }

    /// When `user` registered (Unix milliseconds); `None` if they are not registered.
    pub fn registered_at(&self, user: &UserId) -> Option<u64> {
        self.discovery
            .social
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .registered_at(user)
    }

    /// Admits one discovery query of the signer `user`: they must be registered and have
    /// budget left today ([`crate::answer_privacy`]).
    pub(crate) fn admit_discovery_query(
        &self,
        user: &UserId,
    ) -> std::result::Result<(), crate::ApiError> {
        if self.registered_at(user).is_none() {
            return Err(crate::ApiError::NotRegistered);
        }
        if !self
            .query_budget
            .spend(user, self.clock.now_ms(), self.queries_per_day)
        {
            return Err(crate::ApiError::RateLimited(format!(
                "discovery answers {} queries per identity per day; try again tomorrow (UTC)",
                self.queries_per_day
            )));
        }
        Ok(())
    }

    /// Seats the signer `user` in round `round` if the round admits them (registered, old
    /// enough); their client id.
    pub(crate) fn join_round(
        &self,
        round: u64,
        model_version: u32,
        user: &UserId,
    ) -> std::result::Result<u32, crate::ApiError> {
        let registered_at = self
            .discovery
            .social
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .registered_at(user);
        Ok(self
            .rounds
            .join(round, model_version, user, registered_at)?)
    }

    /// Applies the social events other replicas appended since this one last looked (blocks,
    /// reports, snoozes, intents, swipes, introductions, impressions). Returns how many.
    ///
    /// # Errors
    /// A store failure; nothing is applied then.
    pub fn sync_social(&self) -> Result<usize> {
        let mut social = self
            .discovery
            .social
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = self
            .seen_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut applied = 0;
        for (sequence, event) in self.store.events_from(seen.floor)? {
            if seen.contains(sequence) {
                continue;
            }
            social.apply_event(&event);
            seen.mark(sequence);
            applied += 1;
        }
        seen.settle();
        Ok(applied)
    }

    /// Brings the discovery index in line with the store's profiles of the served model
    /// version: adds and updates what other replicas published, drops who opted out there.
    /// Returns `(added or updated, dropped)`. A replica sharing a database runs this
    /// periodically (`mesh serve --database-url`).
    ///
    /// # Errors
    /// A store failure; the index is then unchanged.
    pub fn sync_index(&self) -> Result<(usize, usize)> {
        // Under the write gate, so a publish or opt-out on this replica cannot interleave.
        let _gate = self
            .profile_writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let profiles = self.store.profiles()?;
        let mut known = self
            .from_store
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = std::collections::HashSet::with_capacity(profiles.len());
        let mut changed = 0;
        for (user, stored) in profiles {
            if stored.upload.model_version != self.model.version {
                continue;
            }
            seen.insert(user.clone());
            let current = self.index.profile_of(&user);
            let same = current.as_ref().is_some_and(|(vector, card)| {
                *vector == stored.upload.taste_vector && *card == stored.upload.card
            });
            if !same {
                self.index
                    .upsert(user.clone(), stored.upload.taste_vector, stored.upload.card);
                changed += 1;
            }
            known.insert(user);
        }
        let gone: Vec<UserId> = known.difference(&seen).cloned().collect();
        for user in &gone {
            // Opted out on another replica: out of discovery and forgotten here too.
            self.index.remove(user);
            known.remove(user);
            self.refold_social(user)?;
            self.psi.forget(user);
        }
        Ok((changed, gone.len()))
    }

    /// Refits the re-ranker on the queued outcomes (at least `min_each` positive and negative),
    /// stores and serves it, and records a `RankerTrained` event naming `trigger`. Returns the
    /// model's tree count, or the outcome counts when there are too few.
    ///
    /// # Errors
    /// A store failure or a model that cannot be encoded.
    pub fn refresh_ranker(
        &self,
        trigger: &str,
        min_each: usize,
    ) -> Result<std::result::Result<usize, (usize, usize)>> {
        let now_ms = self.clock.now_ms();
        let model = match self.discovery.fit_ranker(&self.index, now_ms, min_each)? {
            Ok(model) => model,
            Err(counts) => return Ok(Err(counts)),
        };
        let (positives, negatives) = {
            let social = self
                .discovery
                .social
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let examples = social.training_examples();
            let positives = examples.iter().filter(|e| e.positive).count();
            (positives, examples.len() - positives)
        };
        let bytes = serde_json::to_vec(&model)
            .map_err(|e| crate::Error::Storage(format!("cannot encode the re-ranker: {e}")))?;
        self.store.save_ranker(&bytes)?;
        let trees = model.tree_count();
        self.discovery.set_ranker(model);
        self.record_event(&crate::Event::from(crate::ModelEvent::RankerTrained {
            at_ms: now_ms,
            trees: u32::try_from(trees).unwrap_or(u32::MAX),
            positives: u32::try_from(positives).unwrap_or(u32::MAX),
            negatives: u32::try_from(negatives).unwrap_or(u32::MAX),
            trigger: trigger.to_owned(),
        }))?;
        Ok(Ok(trees))
    }

    /// Refuses a request computed under another model version than the one served.
    pub(crate) fn check_model_version(&self, got: u32) -> std::result::Result<(), crate::ApiError> {
        if got == self.model.version {
            Ok(())
        } else {
            Err(crate::ApiError::UnknownModelVersion {
                got,
                current: self.model.version,
            })
        }
    }

    /// The current model version.
    pub fn model_version(&self) -> u32 {
        self.model.version
    }

    /// The decoded current model.
    ///
    /// # Errors
    /// Never for a state built by [`AppState::open`]; kept fallible for the type's sake.
    pub fn model_weights(&self) -> Result<ModelWeights> {
        Ok(ModelWeights::decode(&self.model.bytes)?)
    }

    /// The federated rounds (their timer calls [`RoundCoordinator::tick`]).
    pub fn rounds(&self) -> &RoundCoordinator {
        &self.rounds
    }

    /// The durable store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The storage error of the last write, while no write has succeeded since (what
    /// `GET /v1/health` reports as 503).
    pub fn store_write_failure(&self) -> Option<String> {
        self.store_health.write_failure()
    }

    /// The candidate pipeline and its social state.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The discovery index (its snapshot is saved at shutdown).
    pub fn index(&self) -> &DiscoveryIndex {
        &self.index
    }

    /// Whether `user` is currently discoverable.
    pub fn is_discoverable(&self, user: &UserId) -> bool {
        self.index.contains(user)
    }

    /// Number of discoverable people (population included).
    pub fn discoverable_count(&self) -> usize {
        self.index.len()
    }
}
