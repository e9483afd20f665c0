use thiserror::Error;

/// Everything that can go wrong in `mesh-encoder`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The model bytes are not the expected ONNX graph, or running it failed.
    #[error("encoder model: {0}")]
    Model(String),
    /// The tokenizer JSON does not load, or tokenizing failed.
    #[error("encoder tokenizer: {0}")]
    Tokenizer(String),
    /// Caller input: nothing to embed.
    #[error("nothing to embed: the text is blank")]
    EmptyText,
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
