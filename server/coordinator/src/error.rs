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
    /// Caller or corruption: the discovery index refused a vector or a snapshot.
    #[error(transparent)]
    Ann(#[from] mesh_ann::Error),
    /// Caller: re-ranker training data or parameters that cannot be used.
    #[error(transparent)]
    Ranking(#[from] mesh_ranking::Error),
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
