//! The private-set-intersection relay: two people who were suggested to each other swap
//! blinded favourites through the coordinator to learn the ones they share, and only those.
//! Every call is signed; a person reads only messages addressed to them.
use std::sync::PoisonError;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::{PsiMessage, UserId};

use super::extract::{AppPath, Signed};
use crate::{ApiError, AppState, PsiRefusal, PsiRound};

/// The peer in the path: a registered person other than the signer, with no block between
/// the two.
fn peer(state: &AppState, me: &UserId, peer: String) -> Result<UserId, ApiError> {
    let peer = UserId::try_from(peer).map_err(|e| ApiError::NotFound(e.to_string()))?;
    if peer == *me {
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
    match (social.find(me), social.find(&peer)) {
        (Some(me), Some(them)) if social.blocked_pair(me, them) => Err(ApiError::Forbidden(
            "one of you has blocked the other".to_owned(),
        )),
        (Some(_), Some(_)) => Ok(peer),
        (None, _) => Err(ApiError::NotRegistered),
        (_, None) => Err(ApiError::NotFound(format!("no person {peer}"))),
    }
}

/// `PUT /v1/psi/{peer}/{round}` (`round` is `blinded` or `answer`): `204`; holds the signer's
/// message for `peer` for ten minutes. `409` for an answer before the peer's round one or of
/// another length, `422` for malformed points, `429` with too many open runs.
pub(crate) async fn put_message(
    State(state): State<AppState>,
    AppPath((peer_id, round)): AppPath<(String, PsiRound)>,
    signed: Signed<PsiMessage>,
) -> Result<StatusCode, ApiError> {
    let peer = peer(&state, &signed.user, peer_id)?;
    state
        .psi
        .put(
            &signed.user,
            &peer,
            round,
            signed.body,
            state.clock.now_ms(),
        )
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
    AppPath((peer_id, round)): AppPath<(String, PsiRound)>,
    signed: Signed,
) -> Result<Json<PsiMessage>, ApiError> {
    let peer = peer(&state, &signed.user, peer_id)?;
    state
        .psi
        .get(&peer, &signed.user, round, state.clock.now_ms())
        .map(Json)
        .ok_or_else(|| {
            let name = match round {
                PsiRound::Blinded => "blinded",
                PsiRound::Answer => "answer",
            };
            ApiError::NotFound(format!("no {name} message from {peer} yet"))
        })
}
