use axum::Json;
use axum::extract::State;
use mesh_shared::{CandidatesRequest, CandidatesResponse};

use super::extract::AppJson;
use crate::{ApiError, AppState};

/// `POST /v1/discovery/candidates`: the `k` discoverable people nearest to the query vector
/// by cosine similarity (an exact scan), best first.
pub(crate) async fn candidates(
    State(state): State<AppState>,
    AppJson(request): AppJson<CandidatesRequest>,
) -> Result<Json<CandidatesResponse>, ApiError> {
    request.validate().map_err(crate::Error::from)?;
    if request.model_version != state.model.version {
        return Err(ApiError::UnknownModelVersion {
            got: request.model_version,
            current: state.model.version,
        });
    }
    let candidates = state.index.top_k(
        &request.taste_vector,
        request.k as usize,
        request.exclude.as_ref(),
    );
    Ok(Json(CandidatesResponse {
        model_version: state.model.version,
        candidates,
    }))
}
