//! Everything the Mesh client (on the device, in WebAssembly) and the coordinator must compute
//! identically: wire types, canonical favourite keys and their keyed hashes, the taste-vector
//! math, the served model's byte format, the explanation schema and request signatures.
//!
//! This crate does no I/O and builds for `wasm32-unknown-unknown` and native targets alike.
//!
//! ```
//! use mesh_shared::{parse_favourite_line, TASTE_DIM};
//!
//! let entry = parse_favourite_line(1, "Blade Runner (1982) — Ridley Scott")
//!     .unwrap()
//!     .expect("a non-empty line is a favourite");
//! assert_eq!(entry.canonical_title(), "blade runner");
//! assert_eq!(entry.year, Some(1982));
//! assert_eq!(TASTE_DIM, 256);
//! ```
#![warn(missing_docs)]

mod activity;
mod canonical_text;
mod content_tower;
mod error;
mod explain;
mod external_id;
mod favorites_hash;
mod favourite_entry;
mod importers;
mod model_weights;
mod operations_wire;
mod privacy_floors;
mod psi;
mod request_signature;
mod round_wire;
mod schema;
pub mod secagg;
mod signal;
mod signal_weight;
mod social_wire;
mod taste_vector;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod traits_report;
mod wire;

pub use activity::{
    ACTIVE_HOURS_BLOCK, ActivityCard, TONES, ToneCard, coarsen_hours, tone_tenths, usual_hours,
};
pub use canonical_text::{
    canonical_artist, canonical_person, canonical_title, fold_text, strip_qualifiers,
};
pub use content_tower::{
    CONTENT_DIM, CONTENT_TABLE_MAGIC, ContentTable, ContentTower, check_content_embedding,
    encode_content_table,
};
pub use error::{Error, Result};
pub use explain::{
    EXPLANATION_SCHEMA_VERSION, Explanation, ExplanationInput, ReasonChip, ReasonKind, explain,
};
pub use external_id::ExternalId;
pub use favorites_hash::{FavouriteHasher, ItemHash, ItemKey, ItemKind};
pub use favourite_entry::{FavouriteEntry, parse_favourite_line};
#[cfg(feature = "fuzzing")]
pub use importers::import_unchecked;
pub use importers::{
    ExportFormat, ImportReport, ImportedFavourite, SkippedRow, detect_format, import_export,
};
pub use model_weights::{MODEL_MAGIC, MODEL_MAGIC_WITH_CONTENT, ModelWeights};
pub use operations_wire::{
    Alert, ArmReport, CohortSeries, DailyMetrics, Drift, Estimate, ExperimentSettings, ModelEntry,
    ModelReport, OperationsReport, RankerEntry, Threshold, VersionSummary,
};
pub use privacy_floors::{PrivacyFloors, ROUND_GUARANTEE_DIMENSION, RoundCharge};
pub use psi::{MAX_PSI_ITEMS, PsiMessage, PsiParty};
pub use request_signature::{
    AUTH_SCHEME, MAX_CLOCK_SKEW_MS, RequestAuth, SignedRequest, UserId, signing_message,
};
pub use round_wire::{
    DEFAULT_MIN_ACCOUNT_AGE_MS, RoundInputQuery, RoundJoin, RoundJoined, RoundKeysMessage,
    RoundOutcome, RoundPhase, RoundSettings, RoundSharesMessage, RoundSignatureMessage,
    RoundStatus, RoundUnmaskMessage, ServerOptimizer,
};
pub use schema::wire_schemas;
pub use signal::{PrivacyGrade, Signal, SignalSet, SignalSource};
pub use signal_weight::{
    DEFAULT_HALF_LIFE_DAYS, LIKE_ENTHUSIASM, MIN_WEIGHT, WeightPolicy, play_enthusiasm,
    star_enthusiasm,
};
pub use social_wire::{
    BlockRequest, DiscoveryFlags, FairnessGroup, FairnessReport, FeedbackRequest, IntentFlag,
    IntentTopic, IntentsRequest, IntroductionRequest, IntroductionSent, MAX_INTENT_TTL_HOURS,
    MessageRequest, PRESENCE_WINDOW_MS, RankerTrained, RankingVersion, ReportRequest,
    RoomCandidatesRequest, SNOOZE_DAYS, SnoozeRequest, check_room_id,
};
pub use taste_vector::{
    Intent, TASTE_DIM, TasteVector, WeightedItem, cosine, taste_vector, user_taste_vector,
};
pub use traits_report::{InferredTrait, TraitsReport};
pub use wire::{
    ApiErrorBody, CandidatesRequest, CandidatesResponse, CardTrait, DiscoveryCandidate,
    MAX_CANDIDATES, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, RegisteredIdentity,
};
