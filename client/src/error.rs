use thiserror::Error;

/// Everything that can go wrong in the on-device engine. Each variant says who is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// User input or served data rejected by the shared layer (favourites, model bytes).
    #[error(transparent)]
    Shared(#[from] mesh_shared::Error),
    /// User input rejected while resolving favourites.
    #[error(transparent)]
    Models(#[from] mesh_models::Error),
    /// Caller error: an operation that needs analysed favourites was called before `analyse`.
    #[error("no favourites analysed yet: call analyse first")]
    NotAnalysed,
    /// Caller error: a federated round needs an update, and none is pending.
    #[error("no local update to contribute: train on this device first")]
    NoPendingUpdate,
    /// Caller error: a secret key that is not 32 bytes.
    #[error("a device secret key is 32 bytes, got {0}")]
    SecretKeyLength(usize),
    /// Internal: on-device storage failed (native builds).
    #[error("storage: {0}")]
    Storage(String),
    /// Internal: the platform's random source failed.
    #[error("the platform random source failed: {0}")]
    Randomness(String),
    /// Caller input: content embeddings of the wrong size or not unit vectors.
    #[error("content embeddings: {0}")]
    ContentEmbedding(String),
    /// Peer or caller input: JSON that does not match the expected shape.
    #[error("{what}: {reason}")]
    Json {
        /// What was being read or written.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
