use thiserror::Error;

/// Everything that can go wrong in the ranking library. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Caller: re-ranker training data or parameters that cannot be used.
    #[error("re-ranker: {0}")]
    Ranking(String),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
