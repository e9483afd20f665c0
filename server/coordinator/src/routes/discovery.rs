//! `POST /v1/discovery/candidates`: the candidate pipeline (`Discovery::candidates`).
use axum::Json;
use axum::extract::State;
use mesh_shared::{CandidatesRequest, CandidatesResponse};

use super::extract::MaybeSigned;
use crate::{ApiError, AppState};

/// `POST /v1/discovery/candidates`: the `k` suggestions for a taste vector. Anonymous
/// queries are never personalised; a signed viewer's ties, blocks, snoozes, intents and
/// swipes apply, and what they were shown is recorded (on the blocking pool).
pub(crate) async fn candidates(
    State(state): State<AppState>,
    request: MaybeSigned<CandidatesRequest>,
) -> Result<Json<CandidatesResponse>, ApiError> {
    let MaybeSigned { viewer, body } = request;
    state.check_model_version(body.model_version)?;
    let candidates = state
        .discovery
        .candidates(
            &state.index,
            (viewer.as_ref(), body.exclude.as_ref()),
            body.taste_vector.as_slice(),
            body.k as usize,
            state.experiment.as_deref(),
            state.clock.now_ms(),
        )
        .map_err(|_| ApiError::DiscoveryOff)?;
    if let Some(viewer) = viewer {
        let shown = candidates.iter().map(|c| c.user_id.clone()).collect();
        state
            .blocking(move |s| s.record_shown(viewer, shown))
            .await?;
    }
    Ok(Json(CandidatesResponse {
        model_version: state.model.version,
        candidates,
    }))
}
