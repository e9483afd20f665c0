use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the lab. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Operator input: a dataset file that cannot be read.
    #[error("{}:{line}:{column}: field {field}: {reason}", file.display())]
    Dataset {
        /// The file.
        file: PathBuf,
        /// 1-based line number (0 when the whole file is at fault).
        line: usize,
        /// 1-based column (field) number (0 when the whole line is at fault).
        column: usize,
        /// The column's name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Internal: the ranking library refused the evaluation's training data or parameters.
    #[error(transparent)]
    Ranking(#[from] mesh_ranking::Error),
    /// Internal: the coordinator's state refused what the evaluation built.
    #[error(transparent)]
    Coordinator(#[from] mesh_coordinator::Error),
    /// Operator input rejected by the shared layer.
    #[error(transparent)]
    Shared(#[from] mesh_shared::Error),
    /// Operator input rejected by the models layer.
    #[error(transparent)]
    Models(#[from] mesh_models::Error),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
