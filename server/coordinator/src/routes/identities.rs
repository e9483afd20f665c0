use std::sync::PoisonError;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mesh_shared::RegisteredIdentity;

use super::extract::Signed;
use crate::{ApiError, AppState, Registration, SocialEvent};

/// `POST /v1/identities`: registers the signing device key as the owner of the user id derived
/// from it. The body is ignored but signed. `201` when new, `200` when already registered.
pub(crate) async fn register(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<(StatusCode, Json<RegisteredIdentity>), ApiError> {
    // The store appends `Registered` in the registration's transaction; the social state
    // applies it under its write lock, so that it follows the store's order.
    let mut social = state
        .discovery
        .social
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let registration = state.store.register(
        &signed.user,
        signed.auth.public_key(),
        signed.auth.timestamp_ms(),
    )?;
    let status = match registration {
        Registration::Created => {
            social.apply(&SocialEvent::Registered {
                user: signed.user.clone(),
                at_ms: signed.auth.timestamp_ms(),
            });
            StatusCode::CREATED
        }
        Registration::AlreadyRegistered => StatusCode::OK,
    };
    drop(social);
    Ok((
        status,
        Json(RegisteredIdentity {
            user_id: signed.user,
        }),
    ))
}
