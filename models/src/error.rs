use thiserror::Error;

/// Everything that can go wrong in `mesh-models`. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Internal or user data: a catalogue file row that cannot be read.
    #[error("catalogue line {line}, field {field}: {reason}")]
    CatalogueRow {
        /// 1-based line number.
        line: usize,
        /// The column name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Internal or operator input: training that cannot proceed (empty round, bad sizes).
    #[error("training: {0}")]
    Training(String),
    /// Internal: a tensor operation of the on-device training failed.
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// User input or model data, from the shared layer.
    #[error(transparent)]
    Shared(#[from] mesh_shared::Error),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
