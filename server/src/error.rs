use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the coordinator library. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Internal: the embedded store failed.
    #[error("store: {0}")]
    Storage(String),
    /// Internal: a stored record does not decode (corruption or an incompatible version).
    #[error("store record {key}: {reason}")]
    CorruptRecord {
        /// The record's key.
        key: String,
        /// The decoder's message.
        reason: String,
    },
    /// Peer: a write from a key that never registered (or was deleted).
    #[error("this key is not registered: POST /v1/identities first")]
    NotRegistered,
    /// Peer: a signed request whose timestamp is not above the last one accepted from its key.
    #[error("replayed or out-of-order request: timestamp {got} is not after {last}")]
    Replayed {
        /// The request's timestamp.
        got: u64,
        /// The last accepted timestamp.
        last: u64,
    },
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
    /// Caller: HNSW parameters out of range.
    #[error("ANN index parameters: {0}")]
    AnnParams(String),
    /// Caller: a vector or query that is not a finite vector of the index's dimension.
    #[error("ANN index: expected a finite {expected}-d vector, got {got} values")]
    AnnVector {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// Caller: an insert of a key the ANN index already holds.
    #[error("ANN index: the key is already present")]
    AnnDuplicateKey,
    /// Caller: an update of a key the ANN index does not hold.
    #[error("ANN index: no such key")]
    AnnUnknownKey,
    /// Caller: an insert into an ANN index that already has 2³² - 1 nodes.
    #[error("ANN index: full")]
    AnnFull,
    /// Operator input or corruption: bytes that are not a valid encoded ANN index.
    #[error("ANN index encoding: {0}")]
    AnnDecode(String),
    /// Caller: re-ranker training data or parameters that cannot be used.
    #[error("re-ranker: {0}")]
    Ranking(String),
    /// User, peer or operator input rejected by the shared layer.
    #[error(transparent)]
    Shared(#[from] mesh_shared::Error),
    /// Operator input rejected by the models layer.
    #[error(transparent)]
    Models(#[from] mesh_models::Error),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

impl From<redb::Error> for Error {
    fn from(error: redb::Error) -> Self {
        Self::Storage(error.to_string())
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(error: $t) -> Self {
                Self::Storage(error.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
