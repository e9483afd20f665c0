//! The Mesh on-device engine, compiled to WebAssembly for browsers and webviews and natively
//! for simulations and tests.
//!
//! Favourites are parsed, canonicalised, hashed and folded into a taste vector here; the list
//! itself never leaves the device. What may leave it, only when the user publishes, is the
//! [`mesh_shared::ProfileUpload`] built by [`DeviceSession::profile_upload`], signed with the
//! [`DeviceIdentity`] whose secret key also never leaves the device.
//!
//! ```
//! use mesh_client::{DeviceIdentity, DeviceSession};
//! use mesh_models::{Catalogue, initial_model};
//!
//! let model_bytes = initial_model(Catalogue::embedded(), 1).encode();
//! let mut session = DeviceSession::new(&model_bytes).unwrap();
//! let analysis = session.analyse("Blade Runner (1982)\nThe Matrix (1999)").unwrap();
//! assert_eq!(analysis.favourites.len(), 2);
//! let upload = session.profile_upload("Ada", 1).unwrap();
//! assert!(upload.card.public_favourites.is_empty(), "typed favourites are not public by default");
//! let identity = DeviceIdentity::from_secret(&[7; 32]).unwrap();
//! assert!(identity.user_id().as_str().starts_with('u'));
//! ```
#![warn(missing_docs)]

mod activity_log;
mod bindings;
mod device_identity;
mod device_session;
mod error;
mod federated_round;
mod mutual_favourites;
#[cfg(not(target_arch = "wasm32"))]
mod signal_file;

pub use activity_log::{ActivityLog, ActivityView, InteractionKind, SummaryKind, TONE_PROTOTYPES};
pub use device_identity::DeviceIdentity;
pub use device_session::{
    AnalysisView, ContentRequest, DeviceSession, FavouriteView, ImportView, SignalView,
    TrainingView, import_and_hash,
};
pub use error::{Error, Result};
pub use federated_round::{DeviceRound, round_charge};
pub use mutual_favourites::MutualFavourites;
