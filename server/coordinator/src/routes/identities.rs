//! `POST /v1/identities`: a device key registers the user id it owns.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::RegisteredIdentity;

use super::extract::Signed;
use crate::{ApiError, AppState};

/// `POST /v1/identities`: `201` for a new key, `200` for one already registered.
pub(crate) async fn register(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<(StatusCode, Json<RegisteredIdentity>), ApiError> {
    let user = signed.user.clone();
    let created = state
        .blocking(move |s| s.register_identity(signed.signer()))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RegisteredIdentity { user_id: user })))
}
