//! Identities: a request is someone's only if it is signed by their key. The promise: a key
//! that verifies every message (a small-order Ed25519 point) registers nothing and publishes
//! nothing; a signature over one query string does not cover another.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mesh_shared::{AUTH_SCHEME, UserId};

use super::{Target, assert_refused, identity};

/// The identity point (y = 1, encoded `01 00 … 00`) as a public key, with the signature
/// R = identity, s = 0: it satisfies the verification equation of every message unless the
/// verifier refuses small-order keys.
fn all_messages_forgery(ts: u64) -> String {
    let mut point = [0u8; 32];
    point[0] = 1;
    let mut signature = [0u8; 64];
    signature[0] = 1;
    format!(
        "{AUTH_SCHEME} key={},ts={ts},sig={}",
        hex::encode(point),
        hex::encode(signature)
    )
}

#[tokio::test]
async fn a_small_order_key_registers_and_publishes_nothing() {
    let target = Target::new();
    let ts = target.clock.advance(1);
    let forged = all_messages_forgery(ts);
    let reply = target
        .send(
            Request::post("/v1/identities")
                .header("authorization", &forged)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "signature does not match");
    let mut point = [0u8; 32];
    point[0] = 1;
    let forged_user = UserId::from_public_key(&point);
    assert!(
        target
            .state
            .store()
            .profile(&forged_user)
            .unwrap()
            .is_none()
    );
    let put = target
        .send(
            Request::put(format!("/v1/profiles/{forged_user}"))
                .header(
                    "authorization",
                    all_messages_forgery(target.clock.advance(1)),
                )
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(put.status, StatusCode::UNAUTHORIZED, "{}", put.text());
}

#[tokio::test]
async fn a_signature_does_not_cover_another_query_string() {
    let target = Target::new();
    let alice = identity(2);
    target.register(&alice).await;
    // Alice signs a read of `?client=1`; the attacker replays her header on `?client=2`.
    let ts = target.clock.advance(1);
    let header = alice.authorization(
        "POST",
        "/v1/rounds/1/input?client=1&model_version=1",
        ts,
        b"",
    );
    let reply = target
        .send(
            Request::post("/v1/rounds/1/input?client=2&model_version=1")
                .header("authorization", header)
                .header("content-type", "application/octet-stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "signature does not match");
}
