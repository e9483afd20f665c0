//! Whether the store can still write, as `GET /v1/health` reports it.
//!
//! A store that failed a write (a full disk, a lost database connection, a redb file that
//! refuses every write after one I/O error) keeps answering reads, so a liveness check that
//! only answers "ok" would keep a replica in rotation that turns every write into a 500.
//! [`HealthCheckedStore`] wraps the store the coordinator uses and remembers the last write
//! that failed for a storage reason; a later successful write clears it.

use std::sync::{Arc, Mutex, PoisonError};

use mesh_shared::UserId;

use crate::store::{Registration, SavedRound, Signer, Store, StoredProfile};
use crate::{Error, Event, Result};

/// The last storage failure of a write, if the store has not written since.
#[derive(Debug, Default)]
pub(crate) struct StoreHealth {
    failure: Mutex<Option<String>>,
}

impl StoreHealth {
    /// `None` while writes succeed; the last storage error otherwise.
    pub(crate) fn write_failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn observe<T>(&self, outcome: Result<T>) -> Result<T> {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match &outcome {
            Ok(_) => *failure = None,
            Err(error @ Error::Storage(_)) => *failure = Some(error.to_string()),
            // Refusals (a replay, an unregistered key) say nothing about writing.
            Err(_) => {}
        }
        outcome
    }
}

/// A [`Store`] whose write failures are recorded in a [`StoreHealth`].
pub(crate) struct HealthCheckedStore {
    inner: Arc<dyn Store>,
    health: Arc<StoreHealth>,
}

impl HealthCheckedStore {
    pub(crate) fn new(inner: Arc<dyn Store>, health: Arc<StoreHealth>) -> Self {
        Self { inner, health }
    }
}

impl Store for HealthCheckedStore {
    fn current_model(&self) -> Result<Option<Vec<u8>>> {
        self.inner.current_model()
    }
    fn save_model(&self, bytes: &[u8]) -> Result<()> {
        self.health.observe(self.inner.save_model(bytes))
    }
    fn register(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
    ) -> Result<Registration> {
        self.health
            .observe(self.inner.register(user, public_key, timestamp_ms))
    }
    fn put_profile(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
        profile: &StoredProfile,
    ) -> Result<()> {
        self.health.observe(
            self.inner
                .put_profile(user, public_key, timestamp_ms, profile),
        )
    }
    fn delete_user(&self, user: &UserId, public_key: &[u8; 32], timestamp_ms: u64) -> Result<bool> {
        self.health
            .observe(self.inner.delete_user(user, public_key, timestamp_ms))
    }
    fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>> {
        self.inner.profile(user)
    }
    fn profiles(&self) -> Result<Vec<(UserId, StoredProfile)>> {
        self.inner.profiles()
    }
    fn start_round(&self, header: &[u8]) -> Result<()> {
        self.health.observe(self.inner.start_round(header))
    }
    fn append_round(&self, header: Option<&[u8]>, events: &[(u64, Vec<u8>)]) -> Result<()> {
        self.health.observe(self.inner.append_round(header, events))
    }
    fn round(&self) -> Result<Option<SavedRound>> {
        self.inner.round()
    }
    fn save_model_and_round(
        &self,
        model: &[u8],
        header: &[u8],
        events: &[(u64, Vec<u8>)],
    ) -> Result<()> {
        self.health
            .observe(self.inner.save_model_and_round(model, header, events))
    }
    fn append_event(&self, signer: Option<Signer<'_>>, event: &Event) -> Result<u64> {
        self.health.observe(self.inner.append_event(signer, event))
    }
    fn events(&self) -> Result<Vec<Event>> {
        self.inner.events()
    }
    fn events_from(&self, from: u64) -> Result<Vec<(u64, Event)>> {
        self.inner.events_from(from)
    }
    fn save_ranker(&self, bytes: &[u8]) -> Result<()> {
        self.health.observe(self.inner.save_ranker(bytes))
    }
    fn ranker(&self) -> Result<Option<Vec<u8>>> {
        self.inner.ranker()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_failure_is_remembered_until_a_write_succeeds() {
        let health = StoreHealth::default();
        assert_eq!(health.write_failure(), None);
        let _ = health.observe::<()>(Err(Error::Storage("No space left on device".to_owned())));
        assert!(
            health
                .write_failure()
                .is_some_and(|failure| failure.contains("No space left"))
        );
        let _ = health.observe::<()>(Err(Error::NotRegistered));
        assert!(health.write_failure().is_some(), "a refusal is no write");
        let _ = health.observe(Ok(()));
        assert_eq!(health.write_failure(), None);
    }
}
