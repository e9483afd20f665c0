use thiserror::Error;

/// Everything that can go wrong in `mesh-shared`. Each variant says who is at fault.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// User input: a favourite line that cannot be read (1-based line number).
    #[error("line {line}: {reason}")]
    FavouriteLine {
        /// 1-based line number in the list the user typed or pasted.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// User input: no favourites at all, so there is no taste to compute.
    #[error("the favourites list is empty: add at least one favourite")]
    EmptyFavourites,
    /// User or peer input: a taste vector that is not a valid point on the unit sphere.
    #[error("taste_vector: {0}")]
    InvalidTasteVector(String),
    /// User or peer input: a field of a wire message is out of its allowed range.
    #[error("{field}: {reason}")]
    InvalidField {
        /// Dotted path of the offending field, e.g. `card.display_name`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Peer input (or a corrupt cache): model bytes that do not decode.
    #[error("model weights: {0}")]
    InvalidModel(String),
    /// User input: a file of another format than the one expected (or of none supported).
    #[error("expected {expected}, but the file looks like {found}")]
    ImportFormat {
        /// The format asked for.
        expected: String,
        /// What the content looks like.
        found: String,
    },
    /// User input: an export file that cannot be read as a whole.
    #[error("line {line}: {reason}")]
    ImportStructure {
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Peer input: a malformed `Authorization` header or a signature that does not verify.
    #[error("authorization: {0}")]
    InvalidAuthorization(String),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
