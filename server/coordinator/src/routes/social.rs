//! The people-facing controls (blocks, reports, snoozes, intents, swipe-to-tune,
//! introductions, messages), presence and live rooms. Each handler hands its verified,
//! parsed request to the service (`crate::social_controls`) on the blocking pool.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::{
    BlockRequest, CandidatesResponse, FeedbackRequest, IntentsRequest, IntroductionRequest,
    IntroductionSent, MessageRequest, ReportRequest, RoomCandidatesRequest, SnoozeRequest, UserId,
    check_room_id,
};

use super::extract::{AppPath, Signed};
use crate::{ApiError, AppState};

/// `POST /v1/blocks`: `204`; the two never see each other in discovery or rooms again.
pub(crate) async fn block(
    State(state): State<AppState>,
    signed: Signed<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.block(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/reports`: `204`; reports raise the target's harassment risk.
pub(crate) async fn report(
    State(state): State<AppState>,
    signed: Signed<ReportRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.report(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/snoozes`: `204`; the category stays out of the signer's suggestions for 30 days.
pub(crate) async fn snooze(
    State(state): State<AppState>,
    signed: Signed<SnoozeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.snooze(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/intents`: `204`; replaces the signer's intent flags, each expiring after its TTL.
pub(crate) async fn intents(
    State(state): State<AppState>,
    signed: Signed<IntentsRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.set_intents(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/feedback`: `204`; swipe-to-tune, applied to the signer's next suggestions and
/// queued for the re-ranker's training.
pub(crate) async fn feedback(
    State(state): State<AppState>,
    signed: Signed<FeedbackRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.feedback(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/introductions`: asks for an introduction. `200` with the remaining allowance;
/// `429` past the daily cap (the message names the cap, the account's age and reply ratio,
/// and when to retry); `403` between blocked people; `409` when already tied.
pub(crate) async fn introduce(
    State(state): State<AppState>,
    signed: Signed<IntroductionRequest>,
) -> Result<Json<IntroductionSent>, ApiError> {
    let sent = state
        .blocking(move |s| s.introduce(signed.signer(), signed.body.clone()))
        .await?;
    Ok(Json(sent))
}

/// `POST /v1/introductions/{from}/accept`: the signer accepts `from`'s pending introduction;
/// the two are tied from now on. `204`, or `404` without a pending introduction.
pub(crate) async fn accept(
    State(state): State<AppState>,
    AppPath(from): AppPath<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let from = UserId::try_from(from).map_err(|e| ApiError::NotFound(e.to_string()))?;
    state
        .blocking(move |s| s.accept_introduction(signed.signer(), from))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/messages`: `204`; records that the signer wrote to someone they are tied to
/// (metadata only, for the conversation-depth metric). `403` without a tie.
pub(crate) async fn message(
    State(state): State<AppState>,
    signed: Signed<MessageRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |s| s.record_message(signed.signer(), signed.body.clone()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rooms/{room}/presence`: a heartbeat; the signer counts as present in the room
/// (and active) for the next minute. `204`. Presence is kept in memory only.
pub(crate) async fn presence(
    State(state): State<AppState>,
    AppPath(room): AppPath<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    check_room_id(&room).map_err(crate::Error::from)?;
    state.mark_present(&signed.user, &room);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rooms/{room}/candidates` (signed by a registered device, within its daily query
/// budget): the discoverable people present in the room, nearest to its topical vector first,
/// without people blocked either way; scores coarse and noised.
pub(crate) async fn room_candidates(
    State(state): State<AppState>,
    AppPath(room): AppPath<String>,
    signed: Signed<RoomCandidatesRequest>,
) -> Result<Json<CandidatesResponse>, ApiError> {
    check_room_id(&room).map_err(crate::Error::from)?;
    state.admit_discovery_query(&signed.user)?;
    let mut found = state.room_candidates(&room, Some(&signed.user), &signed.body)?;
    super::discovery::coarsen(&mut found.candidates);
    Ok(Json(found))
}
