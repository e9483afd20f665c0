//! The Mesh lab: everything that measures or simulates the system and is never linked by the
//! coordinator. Datasets in the TSV layout of `../shared/data/FORMAT.md`, the reference
//! evaluation protocol (`mesh eval`, whose setting B runs the served candidate pipeline),
//! federated training by simulation (`mesh train`), secure-aggregation rounds in process
//! (`mesh bench-secagg`) and populations loaded from datasets.
//!
//! ```
//! use mesh_lab::{Dataset, EvalOptions, evaluate};
//! use mesh_models::{Catalogue, initial_model};
//!
//! let dataset = Dataset {
//!     users: vec!["a".into(), "b".into()],
//!     interactions: vec![Vec::new(), Vec::new()],
//!     ..Dataset::default()
//! };
//! let model = initial_model(Catalogue::embedded(), 1);
//! let report = evaluate(&dataset, Catalogue::embedded(), &model, EvalOptions::default());
//! assert_eq!(report.users, 2);
//! ```

mod dataset;
mod error;
mod evaluation;
mod federated_training;
mod population_dir;
mod secagg_simulation;

pub use dataset::{Dataset, Interaction, ItemInfo};
pub use error::{Error, Result};
pub use evaluation::pipeline::{EVAL_NOW_MS, EvalPopulation};
pub use evaluation::{EvalOptions, EvalReport, EvalSetting, MethodScore, evaluate, held_out_split};
pub use federated_training::{
    ContentOptions, DpOptions, RoundStats, TrainOptions, TrainReport, is_cold_item, train,
};
pub use population_dir::load_population_dir;
pub use secagg_simulation::{SimulationReport, simulate_round};
