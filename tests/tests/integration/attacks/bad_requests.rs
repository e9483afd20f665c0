//! Malformed and oversized requests: the promise is that every refusal is JSON that says what
//! is wrong, nothing unknown is silently accepted, a body larger than the round needs is refused
//! from its declared length before it is read, the operator's scrape is not public, and every
//! answer carries the headers that stop sniffing, framing and referrer leaks.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mesh_shared::{ApiErrorBody, RoundSettings};

use super::{Target, identity};

#[tokio::test]
async fn refusals_are_json_and_unknown_fields_are_refused() {
    let target = Target::new();
    for (method, path, status) in [
        ("GET", "/v1/nothing-here", StatusCode::NOT_FOUND),
        ("DELETE", "/v1/identities", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let reply = target.anonymous(method, path, Vec::new()).await;
        assert_eq!(reply.status, status, "{}", reply.text());
        let body: ApiErrorBody = reply.json();
        assert!(body.message.contains(path), "{}", body.message);
    }
    let alice = identity(50);
    target.register(&alice).await;
    let body = serde_json::json!({ "target": alice.user_id(), "also": "this" });
    let bob = identity(51);
    target.register(&bob).await;
    let reply = target
        .signed(
            &bob,
            "POST",
            "/v1/blocks",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    assert!(
        reply.text().contains("unknown field `also`"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn an_oversized_masked_input_is_refused_before_it_is_read() {
    let target = Target::new();
    let settings = RoundSettings::new(64, 2, 3);
    let started = target
        .operator("POST", "/v1/rounds", serde_json::to_vec(&settings).unwrap())
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    // 60 MB declared for a 64-coordinate round, and not a byte of it sent.
    let reply = target
        .send(
            Request::post("/v1/rounds/1/input?client=1&model_version=1")
                .header("content-type", "application/octet-stream")
                .header("content-length", "60000000")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    assert!(reply.text().contains("256"), "{}", reply.text());
}

#[tokio::test]
async fn the_scrape_is_the_operators_and_every_answer_has_the_security_headers() {
    let target = Target::new();
    let anonymous = target.anonymous("GET", "/metrics", Vec::new()).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text()
    );
    // The scheme is case-insensitive.
    let scrape = target
        .send(
            Request::get("/metrics")
                .header("authorization", format!("bearer {}", super::OPERATOR_TOKEN))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(scrape.status, StatusCode::OK, "{}", scrape.text());
    for path in ["/v1/health", "/dashboard", "/v1/nothing-here"] {
        let response = target
            .raw(Request::get(path).body(Body::empty()).unwrap())
            .await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
}
