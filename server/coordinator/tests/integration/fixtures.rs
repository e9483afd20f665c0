//! Shared fixtures: a coordinator over a temporary store with a controlled clock, device keys
//! that sign requests as a client would, and profile bodies built from real taste vectors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use mesh_coordinator::{
    AppConfig, AppState, Clock, PopulationProfile, RedbStore, Store, StoredProfile, app,
    demo_population,
};
use mesh_models::{Catalogue, resolve_favourites};
use mesh_shared::{
    ApiErrorBody, CandidatesRequest, CandidatesResponse, ModelWeights, PROFILE_SCHEMA_VERSION,
    ProfileUpload, PublicCard, RegisteredIdentity, RequestAuth, TASTE_DIM, TasteVector, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tower::ServiceExt;

/// The test clock's start: an arbitrary fixed Unix time in milliseconds.
pub(crate) const T0_MS: u64 = 1_790_000_000_000;

/// Sci-fi films: the favourites of the user who publishes a profile.
pub(crate) const SCI_FI_FILMS: &str =
    "Blade Runner (1982)\nThe Matrix\nArrival\nAlien\nInterstellar\nEx Machina";

/// Sci-fi books and films with one overlap: the favourites of the user who searches.
pub(crate) const SCI_FI_MIX: &str =
    "Dune (2021)\nNeuromancer\nFoundation\nBlade Runner 2049\nThe Matrix\nHyperion";

/// A clock that only moves when a test moves it.
#[derive(Debug)]
pub(crate) struct TestClock(pub(crate) AtomicU64);

impl TestClock {
    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms` and returns the new time.
    pub(crate) fn advance(&self, ms: u64) -> u64 {
        self.0.fetch_add(ms, Ordering::SeqCst) + ms
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.now()
    }
}

/// A coordinator as `mesh serve` builds it, over a store in its own temporary directory.
#[derive(Debug)]
pub(crate) struct Coordinator {
    pub(crate) clock: Arc<TestClock>,
    pub(crate) store: Arc<RedbStore>,
    pub(crate) state: AppState,
    router: Router,
    population: Vec<PopulationProfile>,
    dir: TempDir,
}

impl Coordinator {
    /// An empty coordinator: no population, the default [`AppConfig`].
    pub(crate) fn new() -> Self {
        Self::open(
            tempfile::tempdir().unwrap(),
            Arc::new(TestClock(AtomicU64::new(T0_MS))),
            |_| Vec::new(),
        )
    }

    /// A coordinator that also serves `count` deterministic demo people.
    pub(crate) fn with_population(count: usize) -> Self {
        Self::open(
            tempfile::tempdir().unwrap(),
            Arc::new(TestClock(AtomicU64::new(T0_MS))),
            |model| demo_population(Catalogue::embedded(), model, count, 7).unwrap(),
        )
    }

    /// A coordinator over an existing store directory (no population), as `mesh serve
    /// --data-dir` opens one written by an earlier version.
    pub(crate) fn over_store(dir: TempDir) -> Self {
        Self::open(dir, Arc::new(TestClock(AtomicU64::new(T0_MS))), |_| {
            Vec::new()
        })
    }

    /// Simulates a process restart: drops the router, the state and the store, then opens a
    /// new store on the same directory and a new state, with the same clock and population.
    pub(crate) fn restart(self) -> Self {
        let Self {
            clock,
            store,
            state,
            router,
            population,
            dir,
        } = self;
        drop(router);
        drop(state);
        assert_eq!(
            Arc::strong_count(&store),
            1,
            "something still holds the store"
        );
        drop(store);
        Self::open(dir, clock, move |_| population)
    }

    /// Swaps the router for one built with `config` over the same state.
    pub(crate) fn with_config(mut self, config: AppConfig) -> Self {
        self.router = app(self.state.clone(), &config);
        self
    }

    fn open(
        dir: TempDir,
        clock: Arc<TestClock>,
        population: impl FnOnce(&ModelWeights) -> Vec<PopulationProfile>,
    ) -> Self {
        let store = Arc::new(RedbStore::open(dir.path()).unwrap());
        // The population is computed from the served model, as `mesh serve` does.
        let population = population(&mesh_coordinator::current_model(store.as_ref()).unwrap());
        let state = AppState::open(store.clone(), clock.clone(), population.clone()).unwrap();
        let router = app(state.clone(), &AppConfig::default());
        Self {
            clock,
            store,
            state,
            router,
            population,
            dir,
        }
    }

    /// The served model, decoded.
    pub(crate) fn model(&self) -> ModelWeights {
        self.state.model_weights().unwrap()
    }

    /// A fresh signing timestamp: moves the clock 1 ms forward and returns it, so that every
    /// signed request of a test is newer than the previous one.
    pub(crate) fn next_ts(&self) -> u64 {
        self.clock.advance(1)
    }

    /// Sends one request through the router, without a socket.
    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `POST /v1/identities`, signed by `device` now.
    pub(crate) async fn register(&self, device: &Device) -> Reply {
        let request = device.signed(Method::POST, "/v1/identities", self.next_ts(), Vec::new());
        self.send(request).await
    }

    /// Registers `device`, checking the `201` answer.
    pub(crate) async fn registered(&self, device: &Device) {
        let reply = self.register(device).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert_eq!(reply.json::<RegisteredIdentity>().user_id, device.user);
    }

    /// `PUT /v1/profiles/{own id}` with `body`, signed by `device` now.
    pub(crate) async fn put_raw(&self, device: &Device, body: Vec<u8>) -> Reply {
        let request = device.signed(Method::PUT, &device.profile_path(), self.next_ts(), body);
        self.send(request).await
    }

    /// `PUT /v1/profiles/{own id}` with `upload`, signed by `device` now.
    pub(crate) async fn put_profile(&self, device: &Device, upload: &ProfileUpload) -> Reply {
        self.put_raw(device, json_bytes(upload)).await
    }

    /// Registers `device` and publishes `upload`, checking both answers.
    pub(crate) async fn published(&self, device: &Device, upload: &ProfileUpload) {
        self.registered(device).await;
        let reply = self.put_profile(device, upload).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json::<RegisteredIdentity>().user_id, device.user);
    }

    /// `DELETE /v1/profiles/{own id}`, signed by `device` now.
    pub(crate) async fn delete_profile(&self, device: &Device) -> Reply {
        let request = device.signed(
            Method::DELETE,
            &device.profile_path(),
            self.next_ts(),
            Vec::new(),
        );
        self.send(request).await
    }

    /// `POST /v1/discovery/candidates` with a raw body, signed by the registered
    /// [`Coordinator::viewer`] (discovery answers registered callers only).
    pub(crate) async fn candidates_raw(&self, body: Vec<u8>) -> Reply {
        let viewer = Self::viewer();
        if self.state.registered_at(&viewer.user).is_none() {
            self.registered(&viewer).await;
        }
        let request = viewer.signed(
            Method::POST,
            "/v1/discovery/candidates",
            self.next_ts(),
            body,
        );
        self.send(request).await
    }

    /// The device that asks the tests' discovery queries: nobody's tie, no blocks or snoozes.
    pub(crate) fn viewer() -> Device {
        Device::new(250)
    }

    /// A discovery query for the `k` people nearest `vector` under the current model, which
    /// must succeed.
    pub(crate) async fn candidates(
        &self,
        vector: &TasteVector,
        k: u32,
        exclude: Option<&UserId>,
    ) -> CandidatesResponse {
        let request = CandidatesRequest {
            model_version: self.state.model_version(),
            taste_vector: vector.clone(),
            k,
            exclude: exclude.cloned(),
        };
        let reply = self.candidates_raw(json_bytes(&request)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    /// What the store holds for `user`.
    pub(crate) fn stored_profile(&self, user: &UserId) -> Option<StoredProfile> {
        self.store.profile(user).unwrap()
    }

    /// Asserts that nothing at all is held or discoverable for `user`.
    pub(crate) async fn assert_holds_nothing_for(&self, user: &UserId) {
        assert_eq!(self.stored_profile(user), None, "a profile was stored");
        assert!(
            !self
                .store
                .profiles()
                .unwrap()
                .iter()
                .any(|(u, _)| u == user),
            "the store lists a profile"
        );
        assert!(
            !self.state.is_discoverable(user),
            "the user is discoverable"
        );
        let all = self
            .candidates(&unit_vector(0), mesh_shared::MAX_CANDIDATES, None)
            .await;
        assert!(
            !all.candidates.iter().any(|c| &c.user_id == user),
            "a discovery query returns the user"
        );
    }
}

/// A device: an Ed25519 secret key and the user id it owns.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    secret: [u8; 32],
    pub(crate) user: UserId,
}

impl Device {
    pub(crate) fn new(seed: u8) -> Self {
        let secret = [seed; 32];
        let user = UserId::from_public_key(&RequestAuth::public_key_from_secret(&secret));
        Self { secret, user }
    }

    /// `/v1/profiles/{id}` of this device's user.
    pub(crate) fn profile_path(&self) -> String {
        format!("/v1/profiles/{}", self.user)
    }

    /// The `Authorization` header value for one request.
    pub(crate) fn authorization(
        &self,
        method: &Method,
        path: &str,
        ts: u64,
        body: &[u8],
    ) -> String {
        let signed = RequestAuth::sign(&self.secret, method.as_str(), path, ts, body);
        assert_eq!(signed.user_id, self.user);
        signed.authorization
    }

    /// A request to `path` signed over exactly what is sent.
    pub(crate) fn signed(
        &self,
        method: Method,
        path: &str,
        ts: u64,
        body: Vec<u8>,
    ) -> Request<Body> {
        let authorization = self.authorization(&method, path, ts, &body);
        request(method, path, Some(&authorization), body)
    }
}

/// A JSON request, with an `Authorization` header when given.
pub(crate) fn request(
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(authorization) = authorization {
        builder = builder.header(header::AUTHORIZATION, authorization);
    }
    builder.body(Body::from(body)).unwrap()
}

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not the expected JSON ({e}): {}", self.text()))
    }

    /// Asserts an error answer: its status, a JSON [`ApiErrorBody`] with `code` and `field`,
    /// and a message containing each of `message_parts`. Returns the body.
    pub(crate) fn assert_error(
        &self,
        status: StatusCode,
        code: &str,
        field: Option<&str>,
        message_parts: &[&str],
    ) -> ApiErrorBody {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "an error body is JSON"
        );
        let body: ApiErrorBody = self.json();
        assert_eq!(body.error, code, "{body:?}");
        assert_eq!(body.field.as_deref(), field, "{body:?}");
        for part in message_parts {
            assert!(
                body.message.contains(part),
                "message {:?} does not contain {part:?}",
                body.message
            );
        }
        body
    }
}

/// A profile computed from a typed favourites list under `model`, as a device computes it.
pub(crate) fn upload_from_favourites(
    model: &ModelWeights,
    display_name: &str,
    favourites: &str,
) -> ProfileUpload {
    let profile = resolve_favourites(Catalogue::embedded(), model, favourites).unwrap();
    assert!(profile.skipped.is_empty(), "{:?}", profile.skipped);
    ProfileUpload {
        schema_version: PROFILE_SCHEMA_VERSION,
        model_version: model.version(),
        taste_vector: profile.taste_vector,
        card: PublicCard {
            activity: None,
            tone: None,
            display_name: display_name.to_owned(),
            traits: profile.traits,
            public_favourites: profile
                .items
                .iter()
                .take(3)
                .map(|i| i.title.clone())
                .collect(),
        },
    }
}

/// The unit vector along `axis`.
pub(crate) fn unit_vector(axis: usize) -> TasteVector {
    let mut v = vec![0.0; TASTE_DIM];
    v[axis] = 1.0;
    TasteVector::try_from(v).unwrap()
}

/// A minimal valid profile for model version 1 with a unit taste vector.
pub(crate) fn unit_upload(display_name: &str, axis: usize) -> ProfileUpload {
    ProfileUpload {
        schema_version: PROFILE_SCHEMA_VERSION,
        model_version: 1,
        taste_vector: unit_vector(axis),
        card: PublicCard {
            activity: None,
            tone: None,
            display_name: display_name.to_owned(),
            traits: Vec::new(),
            public_favourites: Vec::new(),
        },
    }
}

pub(crate) fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}
