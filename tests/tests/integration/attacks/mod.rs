//! The attack suite: each test attacks one promise of README and ARCHITECTURE.md the way a
//! stranger would, through the real router (signed with the device crate's own identity code,
//! or forged by hand where the attack needs it), and fails if the promise breaks. One module per
//! surface; ARCHITECTURE.md lists every test with the property it protects.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mesh_client::DeviceIdentity;
use mesh_coordinator::{AppConfig, AppState, Clock, RedbStore, app};
use tower::ServiceExt;

mod abuse_limits;
mod bad_requests;
mod forged_identities;
mod opt_out_traces;
mod report_brigading;
mod round_admission;
mod vector_reconstruction;

/// The operator token of every target.
pub(crate) const OPERATOR_TOKEN: &str = "attack-suite-operator";

/// A clock the attacker's test moves by hand.
#[derive(Debug)]
pub(crate) struct HandClock(AtomicU64);

impl Clock for HandClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl HandClock {
    /// Moves the clock `ms` forward; the new time.
    pub(crate) fn advance(&self, ms: u64) -> u64 {
        self.0.fetch_add(ms, Ordering::SeqCst) + ms
    }
}

/// A coordinator as `mesh serve --operator-token` builds it, over a fresh store.
pub(crate) struct Target {
    pub(crate) clock: Arc<HandClock>,
    pub(crate) state: AppState,
    router: Router,
    _dir: tempfile::TempDir,
}

/// A response, fully read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not the expected JSON ({e}): {}", self.text()))
    }
}

impl Target {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(dir.path()).unwrap());
        let clock = Arc::new(HandClock(AtomicU64::new(1_800_000_000_000)));
        let state = AppState::open(store, clock.clone(), Vec::new()).unwrap();
        let config = AppConfig {
            operator_token: Some(OPERATOR_TOKEN.to_owned()),
            ..AppConfig::default()
        };
        let router = app(state.clone(), &config);
        Self {
            clock,
            state,
            router,
            _dir: dir,
        }
    }

    /// The router's response itself (headers included).
    pub(crate) async fn raw(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply { status, body }
    }

    /// A request with no credentials at all.
    pub(crate) async fn anonymous(&self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// A request signed by `identity` now (the clock moves 1 ms so each is newer).
    pub(crate) async fn signed(
        &self,
        identity: &DeviceIdentity,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Reply {
        let ts = self.clock.advance(1);
        let content_type = if path.contains("/input?") {
            "application/octet-stream"
        } else {
            "application/json"
        };
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", content_type)
                .header(
                    "authorization",
                    identity.authorization(method, path, ts, &body),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// A request with the operator's token.
    pub(crate) async fn operator(&self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {OPERATOR_TOKEN}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Registers `identity` (`POST /v1/identities`).
    pub(crate) async fn register(&self, identity: &DeviceIdentity) {
        let reply = self
            .signed(identity, "POST", "/v1/identities", Vec::new())
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }
}

impl Target {
    /// Registers `identity` and publishes a profile named `name` with `taste_vector` (a
    /// signed `PUT /v1/profiles/{id}`, as the device does); the upload sent.
    pub(crate) async fn publish(
        &self,
        identity: &DeviceIdentity,
        name: &str,
        taste_vector: mesh_shared::TasteVector,
    ) -> mesh_shared::ProfileUpload {
        self.register(identity).await;
        let upload = mesh_shared::ProfileUpload {
            schema_version: mesh_shared::PROFILE_SCHEMA_VERSION,
            model_version: self.state.model_version(),
            taste_vector,
            card: mesh_shared::PublicCard {
                display_name: name.to_owned(),
                traits: Vec::new(),
                public_favourites: Vec::new(),
                activity: None,
                tone: None,
            },
        };
        let path = format!("/v1/profiles/{}", identity.user_id());
        let reply = self
            .signed(identity, "PUT", &path, serde_json::to_vec(&upload).unwrap())
            .await;
        assert!(reply.status.is_success(), "{}", reply.text());
        upload
    }
}

/// The device identity of seed `seed` (a real device key, made by the device crate).
pub(crate) fn identity(seed: u8) -> DeviceIdentity {
    DeviceIdentity::from_secret(&[seed; 32]).unwrap()
}

/// Asserts an answer refuses the attacker with `status`, saying `why`.
pub(crate) fn assert_refused(reply: &Reply, status: StatusCode, why: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply.text().contains(why),
        "{why:?} not in {}",
        reply.text()
    );
}
