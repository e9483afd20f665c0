//! Client computes → coordinator stores and ranks → client explains, all in-process
//! (the router is called with `oneshot`, no socket).
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mesh_client::{DeviceIdentity, DeviceSession};
use mesh_coordinator::{AppConfig, app};
use mesh_models::Catalogue;
use mesh_shared::{CandidatesResponse, ItemKey, ReasonKind, parse_favourite_line};
use tower::ServiceExt;

use super::fixtures::{coordinator, favourites};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec())
}

fn signed(
    identity: &DeviceIdentity,
    method: &str,
    path: &str,
    ts: u64,
    body: Vec<u8>,
) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header(
            "authorization",
            identity.authorization(method, path, ts, &body),
        )
        .body(Body::from(body))
        .unwrap()
}

/// Canonical keys of titles, resolved the way the device resolves them, on plaintext.
fn plaintext_keys(titles: impl Iterator<Item = String>) -> Vec<ItemKey> {
    let catalogue = Catalogue::embedded();
    titles
        .filter_map(|t| parse_favourite_line(1, &t).ok().flatten())
        .map(|e| catalogue.key_of(&e))
        .collect()
}

#[tokio::test]
async fn a_device_publishes_finds_matches_and_explains_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = coordinator(dir.path(), 300);
    let router = app(state.clone(), &AppConfig::default());

    let (status, model_bytes) = send(
        &router,
        Request::get("/v1/model").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut session = DeviceSession::new(&model_bytes).unwrap();
    let text = favourites();
    let analysis = session.analyse(&text).unwrap();
    assert!(analysis.skipped.is_empty(), "{:?}", analysis.skipped);
    assert_eq!(
        analysis.favourites.len(),
        13,
        "the fixture's spellings of The Matrix and of Blade Runner merge"
    );

    let identity = DeviceIdentity::generate().unwrap();
    let ts = now_ms();
    let (status, _) = send(
        &router,
        signed(&identity, "POST", "/v1/identities", ts, b"{}".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let upload = session.profile_upload("Flow Tester", 3).unwrap();
    let path = format!("/v1/profiles/{}", identity.user_id());
    let (status, body) = send(
        &router,
        signed(
            &identity,
            "PUT",
            &path,
            ts + 1,
            serde_json::to_vec(&upload).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let stored = state
        .store()
        .profile(identity.user_id())
        .unwrap()
        .unwrap()
        .upload;
    assert_eq!(
        stored.taste_vector.bits_hex(),
        upload.taste_vector.bits_hex(),
        "the vector crosses JSON bit-exactly"
    );

    let request = session
        .candidates_request(10, Some(identity.user_id().clone()))
        .unwrap();
    let (status, body) = send(
        &router,
        signed(
            &identity,
            "POST",
            "/v1/discovery/candidates",
            now_ms() + 2,
            serde_json::to_vec(&request).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: CandidatesResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(response.candidates.len(), 10);
    assert!(
        response
            .candidates
            .iter()
            .all(|c| &c.user_id != identity.user_id())
    );
    // Scores leave coarse (a multiple of 0.25, noised): they do not rebuild anyone's vector.
    let step = mesh_coordinator::SCORE_STEP;
    assert!(
        response
            .candidates
            .iter()
            .all(|c| (c.score / step).fract() == 0.0 && c.score.abs() <= 1.0),
        "{:?}",
        response
            .candidates
            .iter()
            .map(|c| c.score)
            .collect::<Vec<_>>()
    );

    let mine = plaintext_keys(text.lines().map(str::to_owned));
    for candidate in &response.candidates {
        let explanation = session.explain(candidate).unwrap();
        assert_eq!(explanation.schema_version, 1);
        assert!(!explanation.chips.is_empty() && explanation.chips.len() <= 2);
        let shared_on_plaintext: Vec<String> = candidate
            .card
            .public_favourites
            .iter()
            .filter(|t| {
                plaintext_keys(std::iter::once((*t).clone()))
                    .iter()
                    .any(|k| mine.contains(k))
            })
            .cloned()
            .collect();
        let shared_in_chips: Vec<String> = explanation
            .chips
            .iter()
            .filter_map(|c| match &c.kind {
                ReasonKind::SharedFavourite { title } => Some(title.clone()),
                _ => None,
            })
            .collect();
        let expected: Vec<String> = shared_on_plaintext.into_iter().take(2).collect();
        assert_eq!(shared_in_chips, expected, "candidate {}", candidate.user_id);
    }

    let (status, _) = send(
        &router,
        signed(&identity, "DELETE", &path, ts + 2, Vec::new()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(state.store().profile(identity.user_id()).unwrap().is_none());
    assert!(!state.is_discoverable(identity.user_id()));
}
