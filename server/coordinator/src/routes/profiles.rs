use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mesh_shared::{ProfileUpload, RegisteredIdentity, UserId};

use super::extract::{Signed, parse_json};
use crate::{ApiError, AppState, StoredProfile};

/// `PUT /v1/profiles/{id}`: publishes (or replaces) the signer's profile. The path id must be
/// the one the signing key owns; the body is validated in full before anything is written.
pub(crate) async fn put_profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<Json<RegisteredIdentity>, ApiError> {
    let user = owned_user(&id, &signed)?;
    let upload: ProfileUpload = parse_json(&signed.body)?;
    upload.validate().map_err(crate::Error::from)?;
    state.check_model_version(upload.model_version)?;
    let stored = StoredProfile {
        upload,
        updated_at_ms: state.clock.now_ms(),
    };
    state.publish(&user, &signed.auth, stored)?;
    Ok(Json(RegisteredIdentity { user_id: user }))
}

/// `DELETE /v1/profiles/{id}`: opt-out. Removes the profile and the registered key; the user
/// disappears from discovery at once. `204` on success.
pub(crate) async fn delete_profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let user = owned_user(&id, &signed)?;
    state.opt_out(&user, &signed.auth)?;
    Ok(StatusCode::NO_CONTENT)
}

fn owned_user(path_id: &str, signed: &Signed) -> Result<UserId, ApiError> {
    let user =
        UserId::try_from(path_id.to_owned()).map_err(|e| ApiError::NotFound(e.to_string()))?;
    if user != signed.user {
        return Err(ApiError::Forbidden(format!(
            "the signing key owns user {}, not {user}",
            signed.user
        )));
    }
    Ok(user)
}
