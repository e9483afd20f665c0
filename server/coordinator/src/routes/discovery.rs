use axum::Json;
use axum::extract::State;
use mesh_shared::{CandidatesRequest, CandidatesResponse};

use super::extract::{MaybeSigned, parse_json};
use crate::{ApiError, AppState, SocialEvent};

/// `POST /v1/discovery/candidates`: the `k` best suggestions for the query's taste vector,
/// from the pipeline the feature flag selects (v2: taste and friends-of-friends, re-ranked in
/// both directions, diversified; v1: shared public favourites). Signed requests are the
/// viewer's own: their blocks, ties, snoozes, intents and feedback apply, and what they were
/// shown is recorded (`SuggestionsShown`, an outcome event). `503` while the kill switch is off.
pub(crate) async fn candidates(
    State(state): State<AppState>,
    request: MaybeSigned,
) -> Result<Json<CandidatesResponse>, ApiError> {
    let body: CandidatesRequest = parse_json(&request.body)?;
    body.validate().map_err(crate::Error::from)?;
    state.check_model_version(body.model_version)?;
    let candidates = state
        .discovery
        .candidates(
            &state.index,
            (request.viewer.as_ref(), body.exclude.as_ref()),
            body.taste_vector.as_slice(),
            body.k as usize,
            state.clock.now_ms(),
        )
        .map_err(|_| ApiError::DiscoveryOff)?;
    if let Some(viewer) = request.viewer {
        state.record_event(&SocialEvent::SuggestionsShown {
            viewer,
            shown: candidates.iter().map(|c| c.user_id.clone()).collect(),
            at_ms: state.clock.now_ms(),
        })?;
    }
    Ok(Json(CandidatesResponse {
        model_version: state.model.version,
        candidates,
    }))
}
