//! The discovery controls (blocks, reports, snoozes, intents, swipe-to-tune, introductions),
//! presence and live rooms, and the operator's flags, fairness tally and re-ranker training.
//! Every user action is a signed write: appended to the store (advancing the key's timestamp)
//! before it is applied and answered.
use std::sync::PoisonError;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mesh_shared::{
    BlockRequest, DiscoveryFlags, FeedbackRequest, IntentsRequest, IntroductionRequest,
    IntroductionSent, MessageRequest, ReportRequest, RoomCandidatesRequest, SnoozeRequest, UserId,
    check_room_id,
};

use super::extract::{MaybeSigned, Signed, parse_json, require_operator};
use crate::{ApiError, AppState, OutreachRefusal, SocialEvent, SocialState};

/// Appends `event` signed by `signed` and applies it, under the social write lock so that
/// the state matches the store's order.
fn append(state: &AppState, signed: &Signed, event: SocialEvent) -> Result<(), ApiError> {
    state.append_and_apply(Some(signed.signer()), &event)?;
    Ok(())
}

fn other_user(signed: &Signed, target: &UserId, action: &str) -> Result<(), ApiError> {
    if *target == signed.user {
        return Err(ApiError::InvalidBody {
            field: Some("target".to_owned()),
            message: format!("target: you cannot {action} yourself"),
        });
    }
    Ok(())
}

/// `POST /v1/blocks`: `204`; the two never see each other in discovery or rooms again.
pub(crate) async fn block(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: BlockRequest = parse_json(&signed.body)?;
    other_user(&signed, &request.target, "block")?;
    let event = SocialEvent::Blocked {
        by: signed.user.clone(),
        target: request.target,
        at_ms: state.clock.now_ms(),
    };
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/reports`: `204`; reports raise the target's harassment risk.
pub(crate) async fn report(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: ReportRequest = parse_json(&signed.body)?;
    request.validate().map_err(crate::Error::from)?;
    other_user(&signed, &request.target, "report")?;
    let event = SocialEvent::Reported {
        by: signed.user.clone(),
        target: request.target,
        at_ms: state.clock.now_ms(),
    };
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/snoozes`: `204`; the category stays out of the signer's suggestions for 30 days.
pub(crate) async fn snooze(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: SnoozeRequest = parse_json(&signed.body)?;
    request.validate().map_err(crate::Error::from)?;
    let event =
        SocialState::snooze_event(signed.user.clone(), &request.category, state.clock.now_ms());
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/intents`: `204`; replaces the signer's intent flags, each expiring after its TTL.
pub(crate) async fn intents(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: IntentsRequest = parse_json(&signed.body)?;
    request.validate().map_err(crate::Error::from)?;
    let now = state.clock.now_ms();
    let event = SocialEvent::IntentsSet {
        user: signed.user.clone(),
        flags: request
            .flags
            .iter()
            .map(|f| (f.topic, now + u64::from(f.ttl_hours) * 3_600_000))
            .collect(),
    };
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/feedback`: `204`; swipe-to-tune, applied to the signer's next suggestions and
/// queued for the re-ranker's training.
pub(crate) async fn feedback(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: FeedbackRequest = parse_json(&signed.body)?;
    other_user(&signed, &request.target, "rate")?;
    let event = SocialEvent::Feedback {
        by: signed.user.clone(),
        target: request.target,
        more: request.more_like_this,
        at_ms: state.clock.now_ms(),
    };
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/introductions`: asks for an introduction. `200` with the remaining allowance;
/// `429` past the daily cap (the message names the cap, the account's age and reply ratio,
/// and when to retry); `403` between blocked people; `409` when already tied.
pub(crate) async fn introduce(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<IntroductionSent>, ApiError> {
    let request: IntroductionRequest = parse_json(&signed.body)?;
    let now = state.clock.now_ms();
    let mut social = state
        .discovery
        .social
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let (from, to) = (social.index_of(&signed.user), social.index_of(&request.to));
    let remaining = social
        .outreach_allowance(from, to, now, &state.discovery.outreach)
        .map_err(|refusal| match refusal {
            OutreachRefusal::Limited {
                cap,
                account_age_days,
                reply_ratio,
                retry_at_ms,
            } => ApiError::RateLimited(format!(
                "daily limit of {cap} new introductions reached (account age {account_age_days} days, {:.0}% of your introductions accepted); the next one is possible in {} minutes",
                reply_ratio * 100.0,
                retry_at_ms.saturating_sub(now).div_ceil(60_000)
            )),
            OutreachRefusal::Blocked => {
                ApiError::Forbidden("one of you has blocked the other".to_owned())
            }
            OutreachRefusal::Oneself => ApiError::InvalidBody {
                field: Some("to".to_owned()),
                message: "to: you cannot ask yourself for an introduction".to_owned(),
            },
            OutreachRefusal::AlreadyConnected => {
                ApiError::Conflict("you are already connected".to_owned())
            }
        })?;
    let event = SocialEvent::IntroductionSent {
        from: signed.user.clone(),
        to: request.to,
        at_ms: now,
    };
    state.append_under(&mut social, Some(signed.signer()), &event)?;
    Ok(Json(IntroductionSent {
        remaining_today: remaining,
    }))
}

/// `POST /v1/introductions/{from}/accept`: the signer accepts `from`'s pending introduction;
/// the two are tied from now on. `204`, or `404` without a pending introduction.
pub(crate) async fn accept(
    State(state): State<AppState>,
    Path(from): Path<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let from = UserId::try_from(from).map_err(|e| ApiError::NotFound(e.to_string()))?;
    let mut social = state
        .discovery
        .social
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let pending = match (social.find(&from), social.find(&signed.user)) {
        (Some(f), Some(t)) => social.has_pending(f, t),
        _ => false,
    };
    if !pending {
        return Err(ApiError::NotFound(format!(
            "no pending introduction from {from}"
        )));
    }
    let event = SocialEvent::IntroductionAccepted {
        from,
        to: signed.user.clone(),
        at_ms: state.clock.now_ms(),
    };
    state.append_under(&mut social, Some(signed.signer()), &event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/messages`: `204`; records that the signer wrote to someone they are tied to
/// (metadata only, for the conversation-depth metric). `403` without a tie.
pub(crate) async fn message(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let request: MessageRequest = parse_json(&signed.body)?;
    other_user(&signed, &request.to, "write to")?;
    let tied = {
        let social = state
            .discovery
            .social
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match (social.find(&signed.user), social.find(&request.to)) {
            (Some(a), Some(b)) => social.graph().connected(a as usize, b as usize),
            _ => false,
        }
    };
    if !tied {
        return Err(ApiError::Forbidden(format!(
            "you are not connected to {}: an accepted introduction comes first",
            request.to
        )));
    }
    let event = SocialEvent::MessageSent {
        from: signed.user.clone(),
        to: request.to,
        at_ms: state.clock.now_ms(),
    };
    append(&state, &signed, event)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rooms/{room}/presence`: a heartbeat; the signer counts as present in the room
/// (and active) for the next minute. `204`. Presence is kept in memory only.
pub(crate) async fn presence(
    State(state): State<AppState>,
    Path(room): Path<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    check_room_id(&room).map_err(crate::Error::from)?;
    let mut social = state
        .discovery
        .social
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let user = social.index_of(&signed.user);
    social.mark_present(user, Some(&room), state.clock.now_ms());
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/rooms/{room}/candidates`: the discoverable people present in the room, nearest
/// to its topical vector first. Signed requests leave out people blocked either way.
pub(crate) async fn room_candidates(
    State(state): State<AppState>,
    Path(room): Path<String>,
    request: MaybeSigned,
) -> Result<Json<mesh_shared::CandidatesResponse>, ApiError> {
    check_room_id(&room).map_err(crate::Error::from)?;
    let body: RoomCandidatesRequest = parse_json(&request.body)?;
    body.validate().map_err(crate::Error::from)?;
    state.check_model_version(body.model_version)?;
    let candidates = state
        .discovery
        .room_candidates(
            &state.index,
            &room,
            request.viewer.as_ref(),
            body.topic_vector.as_slice(),
            body.k as usize,
            state.clock.now_ms(),
        )
        .map_err(|_| ApiError::DiscoveryOff)?;
    Ok(Json(mesh_shared::CandidatesResponse {
        model_version: state.model.version,
        candidates,
    }))
}

/// `GET /v1/admin/flags` (operator): the discovery flags in force.
pub(crate) async fn get_flags(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<DiscoveryFlags>, ApiError> {
    require_operator(&state, &headers, "reading the flags")?;
    let social = state
        .discovery
        .social
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(Json(social.flags()))
}

/// `PUT /v1/admin/flags` (operator): switches the ranking (v1/v2) or the kill switch at once,
/// without a restart; durable across restarts.
pub(crate) async fn put_flags(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<DiscoveryFlags>, ApiError> {
    require_operator(&state, &headers, "changing the flags")?;
    let flags: DiscoveryFlags = parse_json(&body)?;
    let mut social = state
        .discovery
        .social
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let event = SocialEvent::FlagsSet { flags };
    state.append_under(&mut social, None, &event)?;
    tracing::info!(?flags, "discovery flags changed");
    Ok(Json(flags))
}

/// `GET /v1/admin/fairness` (operator): exposure of new and established accounts in
/// everything shown so far, against their share of the suggestions.
pub(crate) async fn fairness(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_operator(&state, &headers, "reading the fairness tally")?;
    let shares = state.discovery.exposure().shares();
    let groups: Vec<serde_json::Value> = shares
        .into_iter()
        .map(|(group, (share, exposure, ratio))| {
            serde_json::json!({
                "group": group,
                "share_of_suggestions": share,
                "share_of_exposure": exposure,
                "exposure_ratio": ratio,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "groups": groups })).into_response())
}

/// `POST /v1/admin/ranker/train` (operator): fits the re-ranker on the queued outcomes,
/// saves it and serves it at once. `409` while fewer than 10 positive or negative outcomes
/// are queued.
pub(crate) async fn train_ranker(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_operator(&state, &headers, "training the re-ranker")?;
    let trees = state
        .refresh_ranker("operator", 10)?
        .map_err(|(positives, negatives)| {
            ApiError::Conflict(format!(
                "not enough outcomes to train on: {positives} positive and {negatives} negative (10 of each needed)"
            ))
        })?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "trees": trees })),
    )
        .into_response())
}
