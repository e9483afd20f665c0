//! The Mesh taste model and the artefacts it loads.
//!
//! - [`Catalogue`]: the small catalogue of well-known films, books and artists shipped with the
//!   project (`models/catalogue/catalogue.tsv`), used to resolve typed favourites to canonical
//!   keys and to infer readable traits;
//! - [`initial_model`]: the version-1 hashed-embedding model the coordinator serves;
//! - [`resolve_favourites`]: typed favourites → weighted item hashes and traits, on the device.
//!
//! ```
//! use mesh_models::{Catalogue, initial_model, resolve_favourites};
//!
//! let catalogue = Catalogue::embedded();
//! let model = initial_model(catalogue, 1);
//! let profile = resolve_favourites(catalogue, &model, "Blade Runner (1982)\nThe Matrix").unwrap();
//! assert_eq!(profile.items.len(), 2);
//! assert!(profile.traits.iter().any(|t| t.label == "sci-fi films"));
//! ```
#![warn(missing_docs)]

mod catalogue;
mod content_projection;
mod content_traits;
mod error;
mod favourite_profile;
mod federated_pca;
mod local_training;
mod taste_model;

pub use catalogue::{Catalogue, CatalogueItem};
pub use content_projection::{
    CONTENT_STATISTICS_LEN, add_content_statistics, fit_content_projection,
};
pub use content_traits::{
    ENCODER_NAME, EmbeddedFavourite, LexiconTrait, MIN_TRAIT_SIMILARITY, TraitLexicon,
    content_text, infer_content_traits,
};
pub use error::{Error, Result};
pub use favourite_profile::{
    FavouriteProfile, ResolvedFavourite, SkippedLine, infer_traits, profile_from_entries,
    profile_from_signals, resolve_favourites, resolved_signal_key, signal_content_text,
};
pub use federated_pca::{
    PcaBasis, SparseRows, accumulate, inverse_document_frequency, occupied_buckets,
};
pub use local_training::{LocalTrainer, LocalTrainingOptions, LocalUpdate};
pub use mesh_shared::CONTENT_DIM;
pub use taste_model::{MODEL_BUCKETS, initial_model, model_salt};
