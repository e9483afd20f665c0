use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::RegisteredIdentity;

use super::extract::Signed;
use crate::{ApiError, AppState, Registration};

/// `POST /v1/identities`: registers the signing device key as the owner of the user id derived
/// from it. The body is ignored but signed. `201` when new, `200` when already registered.
pub(crate) async fn register(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<(StatusCode, Json<RegisteredIdentity>), ApiError> {
    let registration = state.store.register(
        &signed.user,
        signed.auth.public_key(),
        signed.auth.timestamp_ms(),
    )?;
    let status = match registration {
        Registration::Created => StatusCode::CREATED,
        Registration::AlreadyRegistered => StatusCode::OK,
    };
    Ok((
        status,
        Json(RegisteredIdentity {
            user_id: signed.user,
        }),
    ))
}
