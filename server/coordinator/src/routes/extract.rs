//! The request's common work, done before a handler runs: signatures verified and bodies
//! parsed into their types (`Signed<T>`, `OperatorOrSigned`), the operator's token checked
//! (`Operator`), and every path, query and body rejection answered in the API's JSON shape.
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use mesh_shared::{MAX_CLOCK_SKEW_MS, RequestAuth, UserId};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A JSON body parsed into `T`, with rejections in the API's error shape.
#[derive(Debug)]
pub(crate) struct AppJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let body = read_body(request, state).await?;
        parse_json(&body).map(Self)
    }
}

/// A request body: parsed (and checked) from the exact bytes that were signed.
pub(crate) trait RequestBody: Sized {
    /// The body of `bytes`; 400 or 422 in the API's error shape when it does not parse.
    fn parse(bytes: &[u8]) -> Result<Self, ApiError>;
}

/// A request that carries no body (whatever is sent is signed over, then ignored).
#[derive(Debug)]
pub(crate) struct NoBody;

impl RequestBody for NoBody {
    fn parse(_: &[u8]) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// JSON request bodies: `checked` ones also pass their own `validate()` (ranges and lengths
/// serde cannot express).
macro_rules! json_bodies {
    (checked: $($checked:ty),*; plain: $($plain:ty),*) => {
        $(impl RequestBody for $checked {
            fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
                let body: Self = parse_json(bytes)?;
                body.validate().map_err(crate::Error::from)?;
                Ok(body)
            }
        })*
        $(impl RequestBody for $plain {
            fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
                parse_json(bytes)
            }
        })*
    };
}

json_bodies!(
    checked: mesh_shared::CandidatesRequest, mesh_shared::RoomCandidatesRequest,
        mesh_shared::ProfileUpload, mesh_shared::ReportRequest, mesh_shared::SnoozeRequest,
        mesh_shared::IntentsRequest;
    plain: mesh_shared::BlockRequest, mesh_shared::FeedbackRequest,
        mesh_shared::IntroductionRequest, mesh_shared::MessageRequest, mesh_shared::PsiMessage,
        mesh_shared::DiscoveryFlags, mesh_shared::RoundJoin, mesh_shared::RoundKeysMessage,
        mesh_shared::RoundSharesMessage, mesh_shared::RoundSignatureMessage,
        mesh_shared::RoundUnmaskMessage
);

/// A masked round input: the body's little-endian `u32` values.
#[derive(Debug)]
pub(crate) struct MaskedInput(pub(crate) Vec<u32>);

impl RequestBody for MaskedInput {
    fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(ApiError::InvalidBody {
                field: None,
                message: format!(
                    "{} bytes is not a whole number of little-endian u32 values",
                    bytes.len()
                ),
            });
        }
        Ok(Self(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }
}

/// A request signed by a device key, verified against its method, path with query string and
/// exact body bytes and against the coordinator's clock, with its body parsed into `T`.
/// Replays of writes are refused later, by the store.
#[derive(Debug)]
pub(crate) struct Signed<T = NoBody> {
    pub(crate) auth: RequestAuth,
    pub(crate) user: UserId,
    pub(crate) body: T,
}

impl<T> Signed<T> {
    /// The signer, for a store write that advances the key's timestamp.
    pub(crate) fn signer(&self) -> crate::Signer<'_> {
        crate::Signer {
            user: &self.user,
            public_key: self.auth.public_key(),
            timestamp_ms: self.auth.timestamp_ms(),
        }
    }
}

/// The operator: `Authorization: Bearer <operator token>`, compared in constant time.
#[derive(Debug)]
pub(crate) struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = state.operator_token.as_deref() else {
            return Err(ApiError::Forbidden(format!(
                "{} is for the operator: serve with an operator token",
                parts.uri.path()
            )));
        };
        // The scheme is case-insensitive (RFC 9110); the token is compared as BLAKE3 digests
        // in constant time, so neither its bytes nor its length show in the timing.
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let matches =
            presented.is_some_and(|p| blake3::hash(p.as_bytes()) == blake3::hash(token.as_bytes()));
        if !matches {
            return Err(ApiError::Unauthenticated(format!(
                "{} needs Authorization: Bearer <operator token>",
                parts.uri.path()
            )));
        }
        Ok(Self)
    }
}

/// The operator (`Authorization: Bearer …`) or a signed device (`Mesh-Ed25519 …`): for reads
/// open to both, such as a round's result.
#[derive(Debug)]
pub(crate) enum OperatorOrSigned {
    /// The operator's token.
    Operator,
    /// A verified device signature.
    Signed(UserId),
}

impl OperatorOrSigned {
    /// The signer, if a device signed.
    pub(crate) fn user(&self) -> Option<&UserId> {
        match self {
            Self::Operator => None,
            Self::Signed(user) => Some(user),
        }
    }
}

impl FromRequest<AppState> for OperatorOrSigned {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bearer = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer "));
        if bearer {
            let (mut parts, _) = request.into_parts();
            Operator::from_request_parts(&mut parts, state).await?;
            Ok(Self::Operator)
        } else {
            let signed = Signed::<NoBody>::from_request(request, state).await?;
            Ok(Self::Signed(signed.user))
        }
    }
}

/// Path parameters, with a malformed one answered 404 in the API's error shape.
#[derive(Debug)]
pub(crate) struct AppPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AppPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::NotFound(rejection.body_text()))
    }
}

/// A query string, with a malformed one answered 422 in the API's error shape.
#[derive(Debug)]
pub(crate) struct AppQuery<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::InvalidBody {
                field: None,
                message: rejection.body_text(),
            })
    }
}

impl<T: RequestBody> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |p| p.as_str().to_owned(),
        );
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "missing Authorization header: writes must be signed".into(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("the Authorization header is not ASCII".into()))?
            .to_owned();
        let auth = RequestAuth::parse_header(&header)
            .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
        let now = state.clock.now_ms();
        if auth.timestamp_ms().abs_diff(now) > MAX_CLOCK_SKEW_MS {
            return Err(ApiError::Unauthenticated(format!(
                "authorization: ts={} is more than {} s from the coordinator's clock ({now})",
                auth.timestamp_ms(),
                MAX_CLOCK_SKEW_MS / 1000
            )));
        }
        let bytes = read_body(request, state).await?;
        auth.verify(&method, &path, &bytes)
            .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
        let user = auth.user_id();
        let body = T::parse(&bytes)?;
        Ok(Self { auth, user, body })
    }
}

/// Parses a JSON body: syntax errors are 400, shape and range errors 422 with the field path.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        // JSON sets no range on numbers, so a number beyond what the field holds is a bad
        // value, not bad syntax, although serde_json files it under syntax.
        let out_of_range = inner.to_string().starts_with("number out of range");
        match inner.classify() {
            serde_json::error::Category::Syntax if !out_of_range => {
                ApiError::MalformedJson(format!("the body is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Eof | serde_json::error::Category::Io => {
                ApiError::MalformedJson(format!("the body is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Syntax | serde_json::error::Category::Data => {
                let field = (field != ".").then_some(field);
                let message = match &field {
                    Some(field) if !inner.to_string().starts_with(field.as_str()) => {
                        format!("{field}: {inner}")
                    }
                    Some(_) | None => inner.to_string(),
                };
                ApiError::InvalidBody { field, message }
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(format!("trailing data after the JSON body: {e}")))?;
    Ok(value)
}

async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: state.body_limit,
                }
            } else {
                ApiError::MalformedJson(format!("cannot read the body: {rejection}"))
            }
        })
}
