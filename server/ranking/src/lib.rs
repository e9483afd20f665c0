//! The ranking library: pair features on the known graph, the gradient-boosted re-ranker,
//! reciprocal fusion of both directions, maximal-marginal-relevance diversity, the exposure
//! (fairness) check, and the candidate pipeline that strings them together — the one that
//! `POST /v1/discovery/candidates` serves and `mesh eval --setting b` measures.
//!
//! ```
//! use mesh_ranking::{diversify, fuse_reciprocal};
//!
//! // Both people wanting each other beats one side wanting strongly.
//! assert!(fuse_reciprocal(2.0, 2.0, 0.5) > fuse_reciprocal(5.0, -3.0, 0.5));
//! // Without diversity, MMR keeps score order.
//! assert_eq!(diversify(&[(7, 0.2), (3, 0.9)], 2, 0.0, |_, _| 0.0), vec![3, 7]);
//! ```
mod candidate_pipeline;
mod diversity;
mod error;
mod exposure;
mod features;
mod fusion;
mod gbt;
mod social_graph;

pub use candidate_pipeline::{Candidate, PipelineSettings, Ranker, Viewer, pair_rows, rank_pool};
pub use diversity::diversify;
pub use error::{Error, Result};
pub use exposure::ExposureReport;
pub use features::{FEATURE_NAMES, FEATURES, PairGraph, PersonSignals, pair_features};
pub use fusion::fuse_reciprocal;
pub use gbt::{GbtParams, GradientBoostedTrees};
pub use social_graph::{SocialGraph, TwoHop};
