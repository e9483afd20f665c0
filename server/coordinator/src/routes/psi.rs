//! The private-set-intersection relay: two people who were suggested to each other swap
//! blinded favourites through the coordinator to learn the ones they share, and only those.
//! Every call is signed; a person reads only messages addressed to them.
use std::sync::PoisonError;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mesh_shared::{PsiMessage, UserId};

use super::extract::{Signed, parse_json};
use crate::{ApiError, AppState, PsiRefusal, PsiRound};

/// The peer in the path: a registered person other than the signer, with no block between
/// the two.
fn peer(state: &AppState, signed: &Signed, peer: String) -> Result<UserId, ApiError> {
    let peer = UserId::try_from(peer).map_err(|e| ApiError::NotFound(e.to_string()))?;
    if peer == signed.user {
        return Err(ApiError::InvalidBody {
            field: None,
            message: "peer: a private set intersection needs someone else".to_owned(),
        });
    }
    let social = state
        .discovery
        .social
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    match (social.find(&signed.user), social.find(&peer)) {
        (Some(me), Some(them)) if social.blocked_pair(me, them) => Err(ApiError::Forbidden(
            "one of you has blocked the other".to_owned(),
        )),
        (Some(_), Some(_)) => Ok(peer),
        (None, _) => Err(ApiError::NotRegistered),
        (_, None) => Err(ApiError::NotFound(format!("no person {peer}"))),
    }
}

fn round(name: &str) -> Result<PsiRound, ApiError> {
    match name {
        "blinded" => Ok(PsiRound::Blinded),
        "answer" => Ok(PsiRound::Answer),
        other => Err(ApiError::NotFound(format!(
            "no PSI round {other:?}: use blinded or answer"
        ))),
    }
}

/// `PUT /v1/psi/{peer}/{round}` (`round` is `blinded` or `answer`): `204`; holds the signer's
/// message for `peer` for ten minutes. `409` for an answer before the peer's round one or of
/// another length, `422` for malformed points, `429` with too many open runs.
pub(crate) async fn put_message(
    State(state): State<AppState>,
    Path((peer_id, round_name)): Path<(String, String)>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let round = round(&round_name)?;
    let peer = peer(&state, &signed, peer_id)?;
    let message: PsiMessage = parse_json(&signed.body)?;
    state
        .psi
        .put(&signed.user, &peer, round, message, state.clock.now_ms())
        .map_err(|refusal| match refusal {
            PsiRefusal::Malformed(message) => ApiError::InvalidBody {
                field: Some("points".to_owned()),
                message,
            },
            PsiRefusal::OutOfTurn(message) => ApiError::Conflict(message),
            PsiRefusal::TooMany => ApiError::RateLimited(format!(
                "at most {} private set intersections may be open at once; wait {} minutes",
                crate::MAX_OPEN_PSI_PER_USER,
                crate::PSI_MESSAGE_TTL_MS / 60_000
            )),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/psi/{peer}/{round}` (signed): the message of that round `peer` left for the
/// signer; `404` until it is there.
pub(crate) async fn get_message(
    State(state): State<AppState>,
    Path((peer_id, round_name)): Path<(String, String)>,
    signed: Signed,
) -> Result<Json<PsiMessage>, ApiError> {
    let round = round(&round_name)?;
    let peer = peer(&state, &signed, peer_id)?;
    state
        .psi
        .get(&peer, &signed.user, round, state.clock.now_ms())
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no {round_name} message from {peer} yet")))
}
