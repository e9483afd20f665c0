//! `POST /v1/discovery/candidates`: the candidate pipeline (`Discovery::candidates`), answered
//! to signed, registered callers within their daily query budget, with coarse, noised scores
//! (`crate::answer_privacy`).
use axum::Json;
use axum::extract::State;
use mesh_shared::{CandidatesRequest, CandidatesResponse};

use super::extract::Signed;
use crate::{ApiError, AppState};

/// `POST /v1/discovery/candidates` (signed by a registered device): the `k` suggestions for a
/// taste vector. The viewer's ties, blocks, snoozes, intents and swipes apply, and what they
/// were shown is recorded (on the blocking pool).
pub(crate) async fn candidates(
    State(state): State<AppState>,
    signed: Signed<CandidatesRequest>,
) -> Result<Json<CandidatesResponse>, ApiError> {
    let Signed { user, body, .. } = signed;
    state.check_model_version(body.model_version)?;
    state.admit_discovery_query(&user)?;
    let mut candidates = state
        .discovery
        .candidates(
            &state.index,
            (Some(&user), body.exclude.as_ref()),
            body.taste_vector.as_slice(),
            body.k as usize,
            state.experiment.as_deref(),
            state.clock.now_ms(),
        )
        .map_err(|_| ApiError::DiscoveryOff)?;
    coarsen(&mut candidates);
    let shown = candidates.iter().map(|c| c.user_id.clone()).collect();
    state.blocking(move |s| s.record_shown(user, shown)).await?;
    Ok(Json(CandidatesResponse {
        model_version: state.model.version,
        candidates,
    }))
}

/// Every score as it may leave: coarse and noised.
pub(crate) fn coarsen(candidates: &mut [mesh_shared::DiscoveryCandidate]) {
    let mut rng = rand::rng();
    for candidate in candidates {
        candidate.score = crate::coarse_score(candidate.score, &mut rng);
    }
}
