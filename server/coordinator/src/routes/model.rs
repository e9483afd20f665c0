use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// `GET /v1/model`: the current model in the `MESHMDL1` byte format, with an entity tag so
/// that a client downloads each version once and revalidates afterwards (`304`).
pub(crate) async fn get_model(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let model = &state.model;
    let etag = HeaderValue::from_str(&model.etag).ok();
    let version = HeaderValue::from(model.version);
    let cache = HeaderValue::from_static("no-cache");
    let not_modified = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            // If-None-Match compares weakly (RFC 9110, section 13.1.2).
            tags.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == model.etag)
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            model.bytes.clone(),
        )
            .into_response()
    };
    let response_headers = response.headers_mut();
    if let Some(etag) = etag {
        response_headers.insert(ETAG, etag);
    }
    response_headers.insert(CACHE_CONTROL, cache);
    response_headers.insert("x-mesh-model-version", version);
    response
}
