//! The coordinator's background work, spawned once by `mesh serve` on its Tokio runtime:
//! closing round phases at their deadlines, following other replicas through the shared
//! database, and the scheduled re-ranker refit. Blocking work runs on the blocking pool.
use crate::AppState;

/// What runs in the background besides the round timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackgroundWork {
    /// Replicas sharing a database: follow the others' profiles and events every 2 s.
    pub replica_sync: bool,
    /// Refit the re-ranker every this many hours (0: only when the operator asks).
    pub ranker_refresh_hours: u64,
}

/// Spawns the round timer and what `work` asks for on the current Tokio runtime.
pub fn spawn_background_work(state: &AppState, work: BackgroundWork) {
    spawn_round_timer(state.clone());
    if work.replica_sync {
        spawn_index_sync(state.clone());
    }
    spawn_ranker_refresh(state.clone(), work.ranker_refresh_hours);
}

/// Closes round phases at their deadlines (every message also checks), 4 times a second.
fn spawn_round_timer(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            interval.tick().await;
            // Closing a phase can unmask a round and write the model: off the async workers.
            let ticking = state.clone();
            match tokio::task::spawn_blocking(move || ticking.rounds().tick()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(%error, "closing a round phase failed"),
                Err(error) => tracing::error!(%error, "closing a round phase panicked"),
            }
        }
    });
}

/// Replicas sharing a database: every 2 s, re-read the profiles and apply the social events
/// the others appended (`AppState::sync_index`, `AppState::sync_social`).
fn spawn_index_sync(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            interval.tick().await;
            let sync = state.clone();
            let synced = tokio::task::spawn_blocking(move || {
                let profiles = sync.sync_index()?;
                Ok::<_, crate::Error>((profiles, sync.sync_social()?))
            })
            .await;
            match synced {
                Ok(Ok(((0, 0), 0))) => {}
                Ok(Ok(((changed, dropped), events))) => {
                    tracing::info!(changed, dropped, events, "synced with the database")
                }
                Ok(Err(error)) => tracing::error!(%error, "syncing the index failed"),
                Err(error) => tracing::error!(%error, "syncing the index panicked"),
            }
        }
    });
}

/// The scheduled refresh: refits the re-ranker every `hours` on the outcomes queued since
/// (skipped, with a log line, while there are too few).
fn spawn_ranker_refresh(state: AppState, hours: u64) {
    if hours == 0 {
        return;
    }
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(hours * 3600);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            interval.tick().await;
            let refresh = state.clone();
            let outcome =
                tokio::task::spawn_blocking(move || refresh.refresh_ranker("scheduled", 10)).await;
            match outcome {
                Ok(Ok(Ok(trees))) => tracing::info!(trees, "scheduled re-ranker refresh"),
                Ok(Ok(Err((positives, negatives)))) => tracing::info!(
                    positives,
                    negatives,
                    "scheduled re-ranker refresh skipped: too few outcomes"
                ),
                Ok(Err(error)) => tracing::error!(%error, "scheduled re-ranker refresh failed"),
                Err(error) => tracing::error!(%error, "scheduled re-ranker refresh panicked"),
            }
        }
    });
}
