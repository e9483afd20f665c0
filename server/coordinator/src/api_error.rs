use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mesh_shared::ApiErrorBody;

use crate::Error;

/// An error answer of the HTTP API. Client-fault variants are returned verbatim; internal
/// errors are logged and answered with a generic body.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum ApiError {
    /// 400: the body is not JSON at all.
    MalformedJson(String),
    /// 422: JSON of the wrong shape or out of range, with the offending field when known.
    InvalidBody {
        /// Dotted path of the field.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 413: the body is larger than the limit.
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 409: the request names a model version other than the current one.
    UnknownModelVersion {
        /// The version in the request.
        got: u32,
        /// The current version.
        current: u32,
    },
    /// 401: a missing, malformed, stale or invalid signature.
    Unauthenticated(String),
    /// 403: a valid signature by a key that does not own the resource.
    Forbidden(String),
    /// 403: a valid signature by a key that is not registered.
    NotRegistered,
    /// 409: a timestamp not after the last one accepted from the key.
    Replayed(String),
    /// 404: nothing there.
    NotFound(String),
    /// 409: the request does not fit the state it meets (a round's phase, a running round).
    Conflict(String),
    /// 429: a rate limit (the daily outreach cap), with the limit and when to retry.
    RateLimited(String),
    /// 503: discovery is switched off by the operator's kill switch.
    DiscoveryOff,
    /// 503: the store failed its last write (logged; the caller learns only that).
    StoreUnwritable(String),
    /// 500: a fault of the coordinator, never detailed to the caller.
    Internal(Error),
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotRegistered => Self::NotRegistered,
            Error::Replayed { .. } => Self::Replayed(error.to_string()),
            Error::Shared(mesh_shared::Error::InvalidAuthorization(message)) => {
                Self::Unauthenticated(format!("authorization: {message}"))
            }
            Error::Shared(mesh_shared::Error::InvalidField { field, reason }) => {
                Self::InvalidBody {
                    message: format!("{field}: {reason}"),
                    field: Some(field),
                }
            }
            Error::Shared(mesh_shared::Error::InvalidTasteVector(reason)) => Self::InvalidBody {
                field: Some("taste_vector".to_owned()),
                message: format!("taste_vector: {reason}"),
            },
            other @ (Error::Storage(_)
            | Error::CorruptRecord { .. }
            | Error::Shared(_)
            | Error::Models(_)
            | Error::Ann(_)
            | Error::Ranking(_)) => Self::Internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = match self {
            Self::MalformedJson(message) => {
                (StatusCode::BAD_REQUEST, "malformed_json", message, None)
            }
            Self::InvalidBody { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                message,
                field,
            ),
            Self::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {limit}-byte limit"),
                None,
            ),
            Self::UnknownModelVersion { got, current } => (
                StatusCode::CONFLICT,
                "unknown_model_version",
                format!(
                    "model_version {got} is not the current model version {current}: \
                     fetch GET /v1/model and recompute the taste vector"
                ),
                Some("model_version".to_owned()),
            ),
            Self::Unauthenticated(message) => {
                (StatusCode::UNAUTHORIZED, "unauthenticated", message, None)
            }
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message, None),
            Self::NotRegistered => (
                StatusCode::FORBIDDEN,
                "not_registered",
                Error::NotRegistered.to_string(),
                None,
            ),
            Self::Replayed(message) => (StatusCode::CONFLICT, "replayed_request", message, None),
            Self::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message, None),
            Self::Conflict(message) => (StatusCode::CONFLICT, "conflict", message, None),
            Self::RateLimited(message) => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited", message, None)
            }
            Self::DiscoveryOff => (
                StatusCode::SERVICE_UNAVAILABLE,
                "discovery_off",
                "discovery is switched off by the operator; try again later".to_owned(),
                None,
            ),
            Self::StoreUnwritable(failure) => {
                tracing::error!(%failure, "health: the store cannot write");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unwritable",
                    "the store failed its last write; this replica cannot accept writes".to_owned(),
                    None,
                )
            }
            Self::Internal(error) => {
                tracing::error!(%error, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_owned(),
                    None,
                )
            }
        };
        (
            status,
            Json(ApiErrorBody {
                error: code.to_owned(),
                message,
                field,
            }),
        )
            .into_response()
    }
}
