//! The Mesh coordinator: serves the versioned taste model, keeps the profiles of users who
//! opted in to be discoverable in a durable embedded store, and answers discovery queries.
//!
//! [`app`] is the only way a router gets built, for `mesh serve` and for tests alike.
//!
//! ```
//! use std::sync::Arc;
//! use mesh_server::{AppConfig, AppState, RedbStore, SystemClock, app};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(RedbStore::open(dir.path()).unwrap());
//! let state = AppState::open(store, Arc::new(SystemClock), Vec::new()).unwrap();
//! let _router = app(state, &AppConfig::default());
//! ```

mod api_error;
mod app_state;
mod clock;
mod dataset;
mod discovery_index;
mod discovery_service;
mod error;
mod evaluation;
mod experiments;
mod federated_training;
mod hnsw;
mod openapi;
mod operations;
mod outcome_metrics;
mod pg_store;
mod population;
mod psi_relay;
mod ranking;
mod round_coordinator;
mod routes;
mod secagg_simulation;
mod secure_aggregation;
mod social;
mod store;

pub use api_error::ApiError;
pub use app_state::{AppState, current_model};
pub use clock::{Clock, SystemClock};
pub use dataset::{Dataset, Interaction, ItemInfo};
pub use discovery_index::DiscoveryIndex;
pub use discovery_service::{Discovery, DiscoveryRefusal, ExposureTally};
pub use error::{Error, Result};
pub use evaluation::{EvalOptions, EvalReport, EvalSetting, MethodScore, evaluate, held_out_split};
pub use experiments::{ArmReport, Cohort, Estimate, Experiment, SESSION_GAP_MS, compare_arms};
pub use federated_training::{
    ContentOptions, DpOptions, RoundStats, ServerOptimizer, TrainOptions, TrainReport,
    is_cold_item, train,
};
pub use hnsw::{Hnsw, HnswKey, HnswParams};
pub use openapi::{Caller, OPERATIONS, Operation, Payload, openapi_document};
pub use operations::{
    Alert, COMPARE_DAYS, CohortSeries, DRIFT_DISPERSION_LIMIT, DRIFT_SHIFT_LIMIT, Drift,
    ModelEntry, ModelReport, OperationsReport, RankerEntry, THRESHOLDS, Threshold, VersionSummary,
    alerts, model_report, operations_report, overall_metrics, prometheus_text,
};
pub use outcome_metrics::{DAY_MS, DailyMetrics, active_people, daily_metrics, iso_date};
pub use pg_store::PgStore;
pub use population::{PopulationProfile, demo_population, load_population_dir};
pub use psi_relay::{MAX_OPEN_PSI_PER_USER, PSI_MESSAGE_TTL_MS, PsiRefusal, PsiRelay, PsiRound};
pub use ranking::{
    ExposureReport, FEATURE_NAMES, FEATURES, GbtParams, GradientBoostedTrees, PairGraph,
    PersonSignals, SocialGraph, TwoHop, diversify, fuse_reciprocal, pair_features,
};
pub use round_coordinator::{
    RoundCoordinator, RoundOutcome, RoundRequestError, RoundSettings, RoundStatus,
};
pub use routes::{AppConfig, app};
pub use secagg_simulation::{SimulationReport, simulate_round};
pub use secure_aggregation::{AggregationRound, RoundError, RoundPhase};
pub use social::{
    MAX_HARASSMENT_RISK, OutreachPolicy, OutreachRefusal, SocialEvent, SocialState, TrainingExample,
};
pub use store::{RedbStore, Registration, SavedRound, Signer, Store, StoredProfile};
