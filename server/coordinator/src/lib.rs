//! The Mesh coordinator: serves the versioned taste model, keeps the profiles of people who
//! opted in to be discoverable (redb, or PostgreSQL for replicas), answers discovery queries
//! through the candidate pipeline of `mesh-ranking` over the index of `mesh-ann`, runs
//! federated rounds with secure aggregation, relays PSI, and keeps the outcome metrics.
//!
//! [`app`] is the only way a router gets built, for `mesh serve` and for tests alike.
//!
//! ```
//! use std::sync::Arc;
//! use mesh_coordinator::{AppConfig, AppState, RedbStore, SystemClock, app};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(RedbStore::open(dir.path()).unwrap());
//! let state = AppState::open(store, Arc::new(SystemClock), Vec::new()).unwrap();
//! let _router = app(state, &AppConfig::default());
//! ```

mod answer_privacy;
mod api_error;
mod app_state;
mod background_work;
mod clock;
mod discovery_index;
mod discovery_service;
mod error;
mod events;
mod experiments;
mod http_server;
mod openapi;
mod operations;
mod outcome_metrics;
mod pg_store;
mod population;
mod psi_relay;
mod round_coordinator;
mod routes;
mod secure_aggregation;
mod server_optimizer;
mod social;
mod social_controls;
mod store;
mod store_health;

pub use answer_privacy::{DEFAULT_QUERIES_PER_DAY, SCORE_STEP, coarse_score};
pub use app_state::AppState;
pub use background_work::{BackgroundWork, spawn_background_work};
pub use clock::{Clock, DAY_MS, SystemClock};
pub use discovery_index::DiscoveryIndex;
pub use discovery_service::{Discovery, DiscoveryRefusal};
pub use error::{Error, Result};
pub use events::{AfterOptOut, Event, ModelEvent, OperatorEvent, SocialEvent};
pub use experiments::Experiment;
pub use http_server::{ServeLimits, serve};
pub use mesh_shared::{RoundOutcome, RoundPhase, RoundSettings, RoundStatus, ServerOptimizer};
pub use openapi::{Caller, OPERATIONS, openapi_document};
pub use operations::model_report;
pub use outcome_metrics::daily_metrics;
pub use pg_store::PgStore;
pub use population::{PUBLIC_FAVOURITES, PopulationProfile, demo_population};
pub use psi_relay::PSI_MESSAGE_TTL_MS;
pub use round_coordinator::{RoundCoordinator, RoundRequestError};
pub use routes::{AppConfig, RateLimit, app};
pub use secure_aggregation::{AggregationRound, RoundError};
pub use server_optimizer::apply_server_step;
pub use social::{OutreachRefusal, SocialState};
pub use store::{RedbStore, Registration, Signer, Store, StoredProfile, current_model};

pub(crate) use api_error::ApiError;
pub(crate) use experiments::{Cohort, compare_arms};
pub(crate) use outcome_metrics::active_people;
pub(crate) use psi_relay::{MAX_OPEN_PSI_PER_USER, PsiRefusal, PsiRelay, PsiRound};
pub(crate) use social::OutreachPolicy;
