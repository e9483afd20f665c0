//! `/v1/rounds`: federated rounds with secure aggregation (see `crate::RoundCoordinator`).
//! Every client message names the round (in the path) and the model version it trains (in
//! the body or query); the coordinator saves the round before it answers `204`.
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mesh_shared::{
    RoundInputQuery, RoundJoin, RoundJoined, RoundKeysMessage, RoundSharesMessage,
    RoundSignatureMessage, RoundUnmaskMessage,
};

use super::extract::{AppJson, AppPath, AppQuery, Operator};
use crate::{ApiError, AppState, RoundPhase, RoundRequestError, RoundSettings};

impl From<RoundRequestError> for ApiError {
    fn from(error: RoundRequestError) -> Self {
        match error {
            RoundRequestError::NoSuchRound(_) => Self::NotFound(error.to_string()),
            RoundRequestError::WrongModelVersion { expected, got, .. } => {
                Self::UnknownModelVersion {
                    got,
                    current: expected,
                }
            }
            RoundRequestError::Round(crate::RoundError::Malformed { .. }) => Self::InvalidBody {
                field: None,
                message: error.to_string(),
            },
            RoundRequestError::Busy(_) | RoundRequestError::Round(_) => {
                Self::Conflict(error.to_string())
            }
            RoundRequestError::Internal(inner) => inner.into(),
        }
    }
}

/// `POST /v1/rounds` (operator, `Authorization: Bearer <operator token>`): starts the next
/// round on the served model with the given settings.
pub(crate) async fn start(
    _: Operator,
    State(state): State<AppState>,
    AppJson(settings): AppJson<RoundSettings>,
) -> Result<Response, ApiError> {
    let status = state.blocking(move |s| s.start_round(settings)).await?;
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

/// `GET /v1/rounds/current`: the current (or last) round's status.
pub(crate) async fn current(State(state): State<AppState>) -> Result<Response, ApiError> {
    let status = state
        .blocking(|s| {
            s.rounds.tick()?;
            s.rounds
                .status()
                .ok_or_else(|| ApiError::NotFound("no round has been started".to_owned()))
        })
        .await?;
    Ok(Json(status).into_response())
}

/// `POST /v1/rounds/{round}/join`: the client's id in the round.
pub(crate) async fn join(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppJson(body): AppJson<RoundJoin>,
) -> Result<Response, ApiError> {
    let client = state
        .blocking(move |s| Ok(s.rounds.join(round, body.model_version)?))
        .await?;
    Ok(Json(RoundJoined { client }).into_response())
}

/// `POST /v1/rounds/{round}/keys`: the client's signed round keys.
pub(crate) async fn keys(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppJson(body): AppJson<RoundKeysMessage>,
) -> Result<StatusCode, ApiError> {
    let RoundKeysMessage {
        model_version: version,
        keys,
    } = body;
    state
        .blocking(move |s| Ok(s.rounds.advertise(round, version, keys)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/shares`: the client's encrypted shares, one per peer.
pub(crate) async fn shares(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppJson(body): AppJson<RoundSharesMessage>,
) -> Result<StatusCode, ApiError> {
    let RoundSharesMessage {
        model_version: version,
        client,
        shares,
    } = body;
    state
        .blocking(move |s| Ok(s.rounds.share_keys(round, version, client, shares)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/input?client=C&model_version=V`: the masked input as
/// little-endian `u32` values (`application/octet-stream`).
pub(crate) async fn input(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppQuery(query): AppQuery<RoundInputQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    if !body.len().is_multiple_of(4) {
        return Err(ApiError::InvalidBody {
            field: None,
            message: format!(
                "{} bytes is not a whole number of little-endian u32 values",
                body.len()
            ),
        });
    }
    let values: Vec<u32> = body
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let RoundInputQuery {
        client,
        model_version,
    } = query;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .masked_input(round, model_version, client, values)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/signature`: a survivor's signature over the survivor set.
pub(crate) async fn signature(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppJson(body): AppJson<RoundSignatureMessage>,
) -> Result<StatusCode, ApiError> {
    let RoundSignatureMessage {
        model_version: version,
        signature,
    } = body;
    state
        .blocking(move |s| Ok(s.rounds.consistency(round, version, signature)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/unmask`: a signer's unmasking shares.
pub(crate) async fn unmask(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    AppJson(body): AppJson<RoundUnmaskMessage>,
) -> Result<StatusCode, ApiError> {
    let RoundUnmaskMessage {
        model_version: version,
        client,
        shares,
    } = body;
    state
        .blocking(move |s| Ok(s.rounds.unmask(round, version, client, shares)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/rounds/{round}/roster`: every client's signed keys (once advertising closed).
pub(crate) async fn roster(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
) -> Result<Response, ApiError> {
    let roster = relayed(&state, round, RoundPhase::ShareKeys, |r| r.roster()).await?;
    Ok(Json(roster).into_response())
}

/// `GET /v1/rounds/{round}/mailbox/{client}`: the shares addressed to a client (once sharing
/// closed).
pub(crate) async fn mailbox(
    State(state): State<AppState>,
    AppPath((round, client)): AppPath<(u64, u32)>,
) -> Result<Response, ApiError> {
    let mailbox = relayed(&state, round, RoundPhase::MaskedInput, move |r| {
        r.mailbox(client)
    })
    .await?;
    Ok(Json(mailbox).into_response())
}

/// `GET /v1/rounds/{round}/survivors`: the clients whose input is in the sum (once the inputs
/// closed).
pub(crate) async fn survivors(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
) -> Result<Response, ApiError> {
    let survivors = relayed(&state, round, RoundPhase::ConsistencyCheck, |r| {
        r.survivors().iter().copied().collect::<Vec<u32>>()
    })
    .await?;
    Ok(Json(survivors).into_response())
}

/// `GET /v1/rounds/{round}/signatures`: the survivors' signatures (once the check closed).
pub(crate) async fn signatures(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
) -> Result<Response, ApiError> {
    let signatures = relayed(&state, round, RoundPhase::Unmasking, |r| r.signatures()).await?;
    Ok(Json(signatures).into_response())
}

/// `GET /v1/rounds/{round}/result`: the applied mean update, little-endian `f32` values
/// (once the round applied its sum).
pub(crate) async fn result(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
) -> Result<Response, ApiError> {
    let mean = state
        .blocking(move |s| {
            s.rounds.tick()?;
            Ok(s.rounds.result(round)?)
        })
        .await?;
    let bytes: Vec<u8> = mean.iter().flat_map(|x| x.to_le_bytes()).collect();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response())
}

/// What the round relays in `phase` (after closing any phase whose deadline passed), read on
/// the blocking pool.
async fn relayed<T: Send + 'static>(
    state: &AppState,
    round: u64,
    phase: RoundPhase,
    read: impl FnOnce(&crate::AggregationRound) -> T + Send + 'static,
) -> Result<T, ApiError> {
    state
        .blocking(move |s| {
            s.rounds.tick()?;
            Ok(s.rounds.relay(round, phase, read)?)
        })
        .await
}
