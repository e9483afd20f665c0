//! `PUT` and `DELETE /v1/profiles/{id}`: publishing a profile and opting out, signed by the
//! key that owns the id.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::{ProfileUpload, RegisteredIdentity, UserId};

use super::extract::{AppPath, Signed};
use crate::{ApiError, AppState, StoredProfile};

/// `PUT /v1/profiles/{id}`: stores the profile and makes the user discoverable with it.
pub(crate) async fn put_profile(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    signed: Signed<ProfileUpload>,
) -> Result<Json<RegisteredIdentity>, ApiError> {
    let user = owned_user(&id, &signed.user)?;
    state.check_model_version(signed.body.model_version)?;
    let stored = StoredProfile {
        upload: signed.body.clone(),
        updated_at_ms: state.clock.now_ms(),
    };
    let published = user.clone();
    state
        .blocking(move |s| Ok(s.publish(&published, &signed.auth, stored)?))
        .await?;
    Ok(Json(RegisteredIdentity { user_id: user }))
}

/// `DELETE /v1/profiles/{id}`: deletes everything held for the user (`204`).
pub(crate) async fn delete_profile(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    signed: Signed,
) -> Result<StatusCode, ApiError> {
    let user = owned_user(&id, &signed.user)?;
    state
        .blocking(move |s| Ok(s.opt_out(&user, &signed.auth)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn owned_user(path_id: &str, signer: &UserId) -> Result<UserId, ApiError> {
    let user =
        UserId::try_from(path_id.to_owned()).map_err(|e| ApiError::NotFound(e.to_string()))?;
    if user != *signer {
        return Err(ApiError::Forbidden(format!(
            "the signing key owns user {signer}, not {user}"
        )));
    }
    Ok(user)
}
