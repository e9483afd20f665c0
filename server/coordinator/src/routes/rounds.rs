//! `/v1/rounds`: federated rounds with secure aggregation (see `crate::RoundCoordinator`).
//! Every client message and read is signed by a registered device key; `join` seats the signer
//! (if the round admits it) and every later message or read must come from the seat's holder.
//! Messages name the round (in the path) and the model version they train (in the body or
//! query); the coordinator saves the round before it answers `204`.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mesh_shared::{
    RoundInputQuery, RoundJoin, RoundJoined, RoundKeysMessage, RoundSharesMessage,
    RoundSignatureMessage, RoundUnmaskMessage, UserId,
};

use super::extract::{AppJson, AppPath, AppQuery, MaskedInput, Operator, OperatorOrSigned, Signed};
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
            RoundRequestError::Admission(_)
            | RoundRequestError::NoSeat(_)
            | RoundRequestError::NotYourSeat { .. } => Self::Forbidden(error.to_string()),
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

/// `POST /v1/rounds/{round}/join` (signed): seats the signer; its client id in the round.
pub(crate) async fn join(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed<RoundJoin>,
) -> Result<Response, ApiError> {
    let Signed { user, body, .. } = signed;
    let client = state
        .blocking(move |s| s.join_round(round, body.model_version, &user))
        .await?;
    Ok(Json(RoundJoined { client }).into_response())
}

/// `POST /v1/rounds/{round}/keys` (signed by the seat's holder): its signed round keys.
pub(crate) async fn keys(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed<RoundKeysMessage>,
) -> Result<StatusCode, ApiError> {
    let Signed { user, body, .. } = signed;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .advertise(round, body.model_version, &user, body.keys)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/shares` (signed by the seat's holder): its encrypted shares, one
/// per peer.
pub(crate) async fn shares(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed<RoundSharesMessage>,
) -> Result<StatusCode, ApiError> {
    let Signed { user, body, .. } = signed;
    let RoundSharesMessage {
        model_version,
        client,
        shares,
    } = body;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .share_keys(round, model_version, &user, client, shares)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/input?client=C&model_version=V` (signed by the seat's holder, the
/// query inside the signature): the masked input as little-endian `u32` values
/// (`application/octet-stream`).
pub(crate) async fn input(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    query: Result<AppQuery<RoundInputQuery>, ApiError>,
    signed: Signed<MaskedInput>,
) -> Result<StatusCode, ApiError> {
    // The signature is checked before the query is (an anonymous caller learns nothing).
    let Signed { user, body, .. } = signed;
    let AppQuery(RoundInputQuery {
        client,
        model_version,
    }) = query?;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .masked_input(round, model_version, &user, client, body.0)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/signature` (signed by the seat's holder): its signature over the
/// survivor set.
pub(crate) async fn signature(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed<RoundSignatureMessage>,
) -> Result<StatusCode, ApiError> {
    let Signed { user, body, .. } = signed;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .consistency(round, body.model_version, &user, body.signature)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rounds/{round}/unmask` (signed by the seat's holder): its unmasking shares.
pub(crate) async fn unmask(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed<RoundUnmaskMessage>,
) -> Result<StatusCode, ApiError> {
    let Signed { user, body, .. } = signed;
    let RoundUnmaskMessage {
        model_version,
        client,
        shares,
    } = body;
    state
        .blocking(move |s| {
            Ok(s.rounds
                .unmask(round, model_version, &user, client, shares)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/rounds/{round}/roster` (signed by a participant): every seat's signed round keys
/// (once advertising closed). Round keys are fresh per round: the roster names no identity.
pub(crate) async fn roster(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let roster = relayed(&state, round, RoundPhase::ShareKeys, signed.user, |r, _| {
        Ok(r.roster())
    })
    .await?;
    Ok(Json(roster).into_response())
}

/// `GET /v1/rounds/{round}/mailbox/{client}` (signed by that client's holder): the shares
/// addressed to it (once sharing closed).
pub(crate) async fn mailbox(
    State(state): State<AppState>,
    AppPath((round, client)): AppPath<(u64, u32)>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let mailbox = relayed(
        &state,
        round,
        RoundPhase::MaskedInput,
        signed.user,
        move |r, seat| {
            if seat != client {
                return Err(RoundRequestError::NotYourSeat {
                    round,
                    seat,
                    named: client,
                });
            }
            Ok(r.mailbox(client))
        },
    )
    .await?;
    Ok(Json(mailbox).into_response())
}

/// `GET /v1/rounds/{round}/survivors` (signed by a participant): the clients whose input is in
/// the sum (once the inputs closed).
pub(crate) async fn survivors(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let survivors = relayed(
        &state,
        round,
        RoundPhase::ConsistencyCheck,
        signed.user,
        |r, _| Ok(r.survivors().iter().copied().collect::<Vec<u32>>()),
    )
    .await?;
    Ok(Json(survivors).into_response())
}

/// `GET /v1/rounds/{round}/signatures` (signed by a participant): the survivors' signatures
/// (once the check closed).
pub(crate) async fn signatures(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let signatures = relayed(&state, round, RoundPhase::Unmasking, signed.user, |r, _| {
        Ok(r.signatures())
    })
    .await?;
    Ok(Json(signatures).into_response())
}

/// `GET /v1/rounds/{round}/result` (a participant, signed, or the operator): the applied mean
/// update, little-endian `f32` values (once the round applied its sum).
pub(crate) async fn result(
    State(state): State<AppState>,
    AppPath(round): AppPath<u64>,
    reader: OperatorOrSigned,
) -> Result<Response, ApiError> {
    let mean = state
        .blocking(move |s| {
            s.rounds.tick()?;
            Ok(s.rounds.result(round, reader.user())?)
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

/// What the round relays in `phase` to the participant `reader` (after closing any phase whose
/// deadline passed), read on the blocking pool.
async fn relayed<T: Send + 'static>(
    state: &AppState,
    round: u64,
    phase: RoundPhase,
    reader: UserId,
    read: impl FnOnce(&crate::AggregationRound, u32) -> Result<T, RoundRequestError> + Send + 'static,
) -> Result<T, ApiError> {
    state
        .blocking(move |s| {
            s.rounds.tick()?;
            Ok(s.rounds.relay(round, phase, &reader, read)?)
        })
        .await
}

/// Refuses a masked input larger than the current round needs (4 bytes per coordinate of its
/// dimension) from its `Content-Length`, before the body is read. A body sent without a length
/// (chunked) is bounded by the route's body limit instead.
pub(crate) async fn input_size_check(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let needed = state
        .rounds
        .status()
        .map_or(0, |status| status.settings.dimension.saturating_mul(4));
    match declared {
        Some(length) if length <= needed => next.run(request).await,
        Some(_) => ApiError::PayloadTooLarge { limit: needed }.into_response(),
        None => next.run(request).await,
    }
}
