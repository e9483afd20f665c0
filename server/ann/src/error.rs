use thiserror::Error;

/// Everything that can go wrong in the index. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Caller: HNSW parameters out of range.
    #[error("ANN index parameters: {0}")]
    Params(String),
    /// Caller: a vector or query that is not a finite vector of the index's dimension.
    #[error("ANN index: expected a finite {expected}-d vector, got {got} values")]
    Vector {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// Caller: an insert of a key the index already holds.
    #[error("ANN index: the key is already present")]
    DuplicateKey,
    /// Caller: an update of a key the index does not hold.
    #[error("ANN index: no such key")]
    UnknownKey,
    /// Caller: an insert into an index that already has 2³² - 1 nodes.
    #[error("ANN index: full")]
    Full,
    /// Operator input or corruption: bytes that are not a valid encoded index.
    #[error("ANN index encoding: {0}")]
    Decode(String),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
