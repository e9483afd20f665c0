//! `GET /v1/health` reports a store that cannot write: a disk that fills up turns writes into
//! 500s, and health says 503 `store_unwritable` until a write succeeds again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use mesh_coordinator::{
    AppConfig, AppState, Error, Event, RedbStore, Registration, Signer, Store, StoredProfile, app,
};
use mesh_shared::UserId;
use tower::ServiceExt;

use crate::fixtures::{Device, T0_MS, TestClock};

/// A redb store on a disk that can be made full: every write then fails as `ENOSPC` does.
struct FillableDisk {
    inner: RedbStore,
    full: AtomicBool,
}

impl FillableDisk {
    fn write<T>(
        &self,
        write: impl FnOnce(&RedbStore) -> mesh_coordinator::Result<T>,
    ) -> mesh_coordinator::Result<T> {
        if self.full.load(Ordering::SeqCst) {
            return Err(Error::Storage(
                "No space left on device (os error 28)".to_owned(),
            ));
        }
        write(&self.inner)
    }
}

impl Store for FillableDisk {
    fn current_model(&self) -> mesh_coordinator::Result<Option<Vec<u8>>> {
        self.inner.current_model()
    }
    fn save_model(&self, bytes: &[u8]) -> mesh_coordinator::Result<()> {
        self.write(|s| s.save_model(bytes))
    }
    fn register(
        &self,
        user: &UserId,
        key: &[u8; 32],
        ts: u64,
    ) -> mesh_coordinator::Result<Registration> {
        self.write(|s| s.register(user, key, ts))
    }
    fn put_profile(
        &self,
        user: &UserId,
        key: &[u8; 32],
        ts: u64,
        profile: &StoredProfile,
    ) -> mesh_coordinator::Result<()> {
        self.write(|s| s.put_profile(user, key, ts, profile))
    }
    fn delete_user(
        &self,
        user: &UserId,
        key: &[u8; 32],
        ts: u64,
    ) -> mesh_coordinator::Result<bool> {
        self.write(|s| s.delete_user(user, key, ts))
    }
    fn profile(&self, user: &UserId) -> mesh_coordinator::Result<Option<StoredProfile>> {
        self.inner.profile(user)
    }
    fn profiles(&self) -> mesh_coordinator::Result<Vec<(UserId, StoredProfile)>> {
        self.inner.profiles()
    }
    fn start_round(&self, header: &[u8]) -> mesh_coordinator::Result<()> {
        self.write(|s| s.start_round(header))
    }
    fn append_round(
        &self,
        header: Option<&[u8]>,
        events: &[(u64, Vec<u8>)],
    ) -> mesh_coordinator::Result<()> {
        self.write(|s| s.append_round(header, events))
    }
    fn round(&self) -> mesh_coordinator::Result<Option<(Vec<u8>, Vec<Vec<u8>>)>> {
        self.inner.round()
    }
    fn save_model_and_round(
        &self,
        model: &[u8],
        header: &[u8],
        events: &[(u64, Vec<u8>)],
    ) -> mesh_coordinator::Result<()> {
        self.write(|s| s.save_model_and_round(model, header, events))
    }
    fn append_event(
        &self,
        signer: Option<Signer<'_>>,
        event: &Event,
    ) -> mesh_coordinator::Result<u64> {
        self.write(|s| s.append_event(signer, event))
    }
    fn events(&self) -> mesh_coordinator::Result<Vec<Event>> {
        self.inner.events()
    }
    fn events_from(&self, from: u64) -> mesh_coordinator::Result<Vec<(u64, Event)>> {
        self.inner.events_from(from)
    }
    fn save_ranker(&self, bytes: &[u8]) -> mesh_coordinator::Result<()> {
        self.write(|s| s.save_ranker(bytes))
    }
    fn ranker(&self) -> mesh_coordinator::Result<Option<Vec<u8>>> {
        self.inner.ranker()
    }
}

async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn health() -> Request<Body> {
    Request::get("/v1/health").body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_says_503_while_the_disk_is_full_and_ok_once_a_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FillableDisk {
        inner: RedbStore::open(dir.path()).unwrap(),
        full: AtomicBool::new(false),
    });
    let clock = Arc::new(TestClock(AtomicU64::new(T0_MS)));
    let state = AppState::open(disk.clone(), clock.clone(), Vec::new()).unwrap();
    let router = app(state, &AppConfig::default());
    let register = |device: &Device| {
        device.signed(Method::POST, "/v1/identities", clock.advance(1), Vec::new())
    };

    assert_eq!(
        call(&router, health()).await,
        (StatusCode::OK, "ok".to_owned())
    );

    disk.full.store(true, Ordering::SeqCst);
    let (status, _) = call(&router, register(&Device::new(1))).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the write failed"
    );
    let (status, body) = call(&router, health()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("\"store_unwritable\""), "{body}");
    assert!(
        !body.contains("os error"),
        "the cause is logged, not told: {body}"
    );

    disk.full.store(false, Ordering::SeqCst);
    assert_eq!(
        call(&router, health()).await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "nothing has written since"
    );
    let (status, _) = call(&router, register(&Device::new(2))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        call(&router, health()).await,
        (StatusCode::OK, "ok".to_owned())
    );
}
