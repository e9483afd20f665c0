//! The OpenAPI document: the committed `server/coordinator/openapi.json` equals the one generated from the
//! types (`MESH_UPDATE_OPENAPI=1` rewrites it), every operation in it is served by the router,
//! and `GET /v1/openapi.json` serves it.
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use mesh_coordinator::{Caller, OPERATIONS, openapi_document};

use crate::fixtures::Coordinator;

#[test]
fn the_committed_document_matches_the_types() {
    let generated = serde_json::to_string_pretty(&openapi_document()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("MESH_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the types and routes: run `MESH_UPDATE_OPENAPI=1 cargo test -p mesh-coordinator --test integration openapi` and commit it",
        path.display()
    );
}

#[tokio::test]
async fn every_operation_is_routed_and_the_document_is_served() {
    let mesh = Coordinator::new();
    for operation in OPERATIONS {
        let path = operation
            .path
            .split('/')
            .map(|part| {
                if part == "{round}" && operation.path.starts_with("/v1/psi") {
                    "blinded"
                } else if part.starts_with('{') {
                    "1"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(operation.method.as_bytes()).unwrap();
        let request = Request::builder()
            .method(method)
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let reply = mesh.send(request).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}",
            operation.method
        );
        // Unrouted paths fall back to "nothing at …"; the routes' own 404s say what is missing.
        assert!(
            reply.status != StatusCode::NOT_FOUND || !reply.text().contains("nothing at"),
            "{} {path} is not routed",
            operation.method
        );
        // What the document says needs a caller refuses an anonymous one before anything else.
        if matches!(
            operation.caller,
            Caller::Signed | Caller::Operator | Caller::SignedOrOperator
        ) {
            assert!(
                [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status),
                "anonymous {} {path} answered {}: {}",
                operation.method,
                reply.status,
                reply.text()
            );
        }
    }
    let reply = mesh
        .send(
            Request::get("/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json::<serde_json::Value>(), openapi_document());
}
