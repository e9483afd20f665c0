//! One suite for every [`Store`]: the embedded redb store always; PostgreSQL when
//! `MESH_TEST_POSTGRES_URL` names a server (those tests are ignored otherwise; `cargo xtask
//! test` starts one and runs them). Each PostgreSQL test gets a fresh database. Then two
//! coordinator replicas on one PostgreSQL: what one publishes, the other serves; a block made
//! on one holds on the other; an opt-out on one removes the person from both.
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use mesh_coordinator::{
    AppConfig, AppState, Error, Event, OperatorEvent, PgStore, RedbStore, Registration,
    SocialEvent, Store, StoredProfile, SystemClock, app,
};
use mesh_shared::{CandidatesRequest, CandidatesResponse, UserId};
use tower::ServiceExt;

use crate::fixtures::{Device, json_bytes, unit_upload, unit_vector};

fn user(n: u8) -> (UserId, [u8; 32]) {
    let device = Device::new(n);
    let key = mesh_shared::RequestAuth::public_key_from_secret(&[n; 32]);
    (device.user, key)
}

fn stored(name: &str) -> StoredProfile {
    StoredProfile {
        upload: unit_upload(name, 3),
        updated_at_ms: 5,
    }
}

fn identities_profiles_and_replays(store: &dyn Store) {
    let (ada, ada_key) = user(1);
    let (bo, bo_key) = user(2);
    assert_eq!(
        store.register(&ada, &ada_key, 10).unwrap(),
        Registration::Created
    );
    assert!(matches!(
        store.register(&ada, &ada_key, 10),
        Err(Error::Replayed { got: 10, last: 10 })
    ));
    assert_eq!(
        store.register(&ada, &ada_key, 11).unwrap(),
        Registration::AlreadyRegistered
    );
    // A key that is not registered for the user, and a replayed timestamp: nothing written.
    assert!(matches!(
        store.put_profile(&ada, &bo_key, 20, &stored("Ada")),
        Err(Error::NotRegistered)
    ));
    assert!(matches!(
        store.put_profile(&ada, &ada_key, 11, &stored("Ada")),
        Err(Error::Replayed { .. })
    ));
    assert!(store.profile(&ada).unwrap().is_none());
    store
        .put_profile(&ada, &ada_key, 12, &stored("Ada"))
        .unwrap();
    assert_eq!(store.profile(&ada).unwrap(), Some(stored("Ada")));
    store.register(&bo, &bo_key, 1).unwrap();
    store.put_profile(&bo, &bo_key, 2, &stored("Bo")).unwrap();
    let listed: Vec<UserId> = store
        .profiles()
        .unwrap()
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&ada) && listed.contains(&bo));
}

fn events_and_opt_out(store: &dyn Store) {
    let (ada, ada_key) = user(1);
    let (bo, bo_key) = user(2);
    store.register(&ada, &ada_key, 10).unwrap();
    store.register(&bo, &bo_key, 10).unwrap();
    store
        .put_profile(&ada, &ada_key, 11, &stored("Ada"))
        .unwrap();
    let block = Event::from(SocialEvent::Blocked {
        by: ada.clone(),
        target: bo.clone(),
        at_ms: 12,
    });
    let signer = |user, key, ts| {
        Some(mesh_coordinator::Signer {
            user,
            public_key: key,
            timestamp_ms: ts,
        })
    };
    let first = store
        .append_event(signer(&ada, &ada_key, 12), &block)
        .unwrap();
    // The same timestamp again is a replay, and appends nothing.
    assert!(matches!(
        store.append_event(signer(&ada, &ada_key, 12), &block),
        Err(Error::Replayed { .. })
    ));
    let report = Event::from(SocialEvent::Reported {
        by: bo.clone(),
        target: ada.clone(),
        at_ms: 13,
    });
    let second = store
        .append_event(signer(&bo, &bo_key, 13), &report)
        .unwrap();
    assert!(second > first);
    let flags = Event::from(OperatorEvent::FlagsSet {
        flags: mesh_shared::DiscoveryFlags::default(),
    });
    store.append_event(None, &flags).unwrap();
    let events = store.events().unwrap();
    // Two `Registered`, then the block, the report and the flags, in order.
    assert_eq!(events.len(), 5);
    assert_eq!(events[2], block);
    assert_eq!(events[3], report);
    let tail = store.events_from(second).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0], (second, report.clone()));
    assert!(tail[1].0 > second);

    // Bo's events about Ada: a swipe, a message, a suggestion list that showed her.
    let (carol, _) = user(3);
    let about_ada = [
        SocialEvent::Feedback {
            by: bo.clone(),
            target: ada.clone(),
            more: true,
            at_ms: 14,
        },
        SocialEvent::MessageSent {
            from: bo.clone(),
            to: ada.clone(),
            at_ms: 15,
        },
        SocialEvent::SuggestionsShown {
            viewer: bo.clone(),
            shown: vec![ada.clone(), carol.clone()],
            at_ms: 16,
        },
    ];
    for event in about_ada {
        store.append_event(None, &event.into()).unwrap();
    }

    // Opt-out: the profile, the key, Ada's own events and the events about her go (the
    // suggestion list keeps Carol); the report against her and the flags stay.
    assert!(store.delete_user(&ada, &ada_key, 20).unwrap());
    assert!(store.profile(&ada).unwrap().is_none());
    let events = store.events().unwrap();
    assert!(events.iter().all(|e| e.actor() != Some(&ada)), "{events:?}");
    assert!(events.contains(&report) && events.contains(&flags));
    let shown_carol = Event::from(SocialEvent::SuggestionsShown {
        viewer: bo.clone(),
        shown: vec![carol],
        at_ms: 16,
    });
    assert!(events.contains(&shown_carol), "{events:?}");
    let naming_ada = events
        .iter()
        .filter(|e| serde_json::to_string(e).unwrap().contains(ada.as_str()))
        .count();
    assert_eq!(naming_ada, 1, "only the report names her: {events:?}");
    // The tombstone refuses a replayed registration; a later one starts afresh.
    assert!(matches!(
        store.register(&ada, &ada_key, 20),
        Err(Error::Replayed { .. })
    ));
    assert_eq!(
        store.register(&ada, &ada_key, 21).unwrap(),
        Registration::Created
    );
}

fn rounds_models_and_ranker(store: &dyn Store) {
    assert!(store.current_model().unwrap().is_none());
    assert!(store.round().unwrap().is_none());
    assert!(store.ranker().unwrap().is_none());
    store.save_model(b"model-1").unwrap();
    store.start_round(b"h1").unwrap();
    store
        .append_round(None, &[(0, b"a".to_vec()), (1, b"b".to_vec())])
        .unwrap();
    assert_eq!(
        store.round().unwrap(),
        Some((b"h1".to_vec(), vec![b"a".to_vec(), b"b".to_vec()]))
    );
    store
        .append_round(Some(b"h2"), &[(2, b"c".to_vec())])
        .unwrap();
    store
        .save_model_and_round(b"model-2", b"h3", &[(3, b"d".to_vec())])
        .unwrap();
    assert_eq!(
        store.current_model().unwrap().as_deref(),
        Some(&b"model-2"[..])
    );
    let (header, events) = store.round().unwrap().unwrap();
    assert_eq!(header, b"h3");
    assert_eq!(events.len(), 4);
    // A new round forgets the previous round's events.
    store.start_round(b"h4").unwrap();
    assert_eq!(store.round().unwrap(), Some((b"h4".to_vec(), Vec::new())));
    store.save_ranker(b"trees").unwrap();
    assert_eq!(store.ranker().unwrap().as_deref(), Some(&b"trees"[..]));
}

#[test]
fn the_embedded_store_passes_the_suite() {
    for case in [
        identities_profiles_and_replays,
        events_and_opt_out,
        rounds_models_and_ranker,
    ] {
        let dir = tempfile::tempdir().unwrap();
        case(&RedbStore::open(dir.path()).unwrap());
    }
}

/// A fresh database on the test server: its URL.
fn fresh_database() -> String {
    let url = std::env::var("MESH_TEST_POSTGRES_URL")
        .expect("MESH_TEST_POSTGRES_URL names the test PostgreSQL (cargo xtask test sets it)");
    let name = format!(
        "mesh_test_{}",
        &blake3::hash(
            format!(
                "{:?}{:?}",
                std::time::SystemTime::now(),
                std::thread::current().id()
            )
            .as_bytes()
        )
        .to_hex()[..12]
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
    format!("{base}/{name}")
}

#[test]
#[ignore = "needs PostgreSQL: run `cargo xtask test` (or set MESH_TEST_POSTGRES_URL)"]
fn postgres_passes_the_suite() {
    for case in [
        identities_profiles_and_replays,
        events_and_opt_out,
        rounds_models_and_ranker,
    ] {
        case(&PgStore::connect(&fresh_database()).unwrap());
    }
}

#[test]
#[ignore = "needs PostgreSQL: run `cargo xtask test` (or set MESH_TEST_POSTGRES_URL)"]
fn two_replicas_registering_one_key_at_once_log_one_registration() {
    let url = fresh_database();
    let (a, b) = (
        Arc::new(PgStore::connect(&url).unwrap()),
        Arc::new(PgStore::connect(&url).unwrap()),
    );
    let devices: Vec<u8> = (1..=40).collect();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    // The same key registering on both replicas at once (with the replicas' own timestamps):
    // exactly one registration is created; the other replica finds it, or refuses its older
    // timestamp as a replay.
    let race = |store: Arc<PgStore>, barrier: Arc<std::sync::Barrier>, ts: u64| {
        let devices = devices.clone();
        std::thread::spawn(move || {
            devices
                .iter()
                .map(|&n| {
                    barrier.wait();
                    let (user, key) = user(n);
                    store.register(&user, &key, ts)
                })
                .collect::<Vec<mesh_coordinator::Result<Registration>>>()
        })
    };
    let from_a = race(a.clone(), barrier.clone(), 1_000);
    let from_b = race(b, barrier, 1_001);
    let (from_a, from_b) = (from_a.join().unwrap(), from_b.join().unwrap());
    for (i, (x, y)) in from_a.iter().zip(&from_b).enumerate() {
        let created = [x, y]
            .iter()
            .filter(|r| matches!(r, Ok(Registration::Created)))
            .count();
        let other_fine = [x, y].iter().all(|r| {
            matches!(
                r,
                Ok(Registration::Created | Registration::AlreadyRegistered)
                    | Err(Error::Replayed { .. })
            )
        });
        assert!(created == 1 && other_fine, "device {i}: {x:?} and {y:?}");
    }
    let registered = a
        .events()
        .unwrap()
        .iter()
        .filter_map(Event::social)
        .filter(|e| matches!(e, SocialEvent::Registered { .. }))
        .count();
    assert_eq!(registered, devices.len());
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec())
}

/// The device that asks `names_served`'s queries.
fn viewer() -> Device {
    Device::new(200)
}

async fn names_served(router: &axum::Router, axis: usize) -> Vec<String> {
    let query = CandidatesRequest {
        model_version: 1,
        taste_vector: unit_vector(axis),
        k: 5,
        exclude: None,
    };
    // Discovery answers registered callers: the test's viewer, registered on replica A and
    // known to B from the shared log.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let request = viewer().signed(
        Method::POST,
        "/v1/discovery/candidates",
        now,
        json_bytes(&query),
    );
    let (status, body) = send(router, request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: CandidatesResponse = serde_json::from_slice(&body).unwrap();
    response
        .candidates
        .into_iter()
        .map(|c| c.card.display_name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run `cargo xtask test` (or set MESH_TEST_POSTGRES_URL)"]
async fn two_replicas_on_one_postgres_serve_what_either_accepted() {
    let url = tokio::task::spawn_blocking(fresh_database).await.unwrap();
    let open = || {
        let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url).unwrap());
        AppState::open(store, Arc::new(SystemClock), Vec::new()).unwrap()
    };
    let (a, b) = (open(), open());
    let (router_a, router_b) = (
        app(a.clone(), &AppConfig::default()),
        app(b.clone(), &AppConfig::default()),
    );
    let ada = Device::new(7);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (status, _) = send(
        &router_a,
        ada.signed(Method::POST, "/v1/identities", now, Vec::new()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &router_a,
        viewer().signed(Method::POST, "/v1/identities", now, Vec::new()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    b.sync_social().unwrap();
    let upload = unit_upload("Ada on replica A", 2);
    let (status, body) = send(
        &router_a,
        ada.signed(
            Method::PUT,
            &ada.profile_path(),
            now + 1,
            json_bytes(&upload),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(names_served(&router_a, 2).await, ["Ada on replica A"]);
    // Replica B learns of it from the database.
    assert_eq!(b.sync_index().unwrap(), (1, 0));
    assert_eq!(names_served(&router_b, 2).await, ["Ada on replica A"]);
    // The key's timestamps are shared: a request replayed to B is refused.
    let (status, body) = send(
        &router_b,
        ada.signed(
            Method::PUT,
            &ada.profile_path(),
            now + 1,
            json_bytes(&upload),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&body).contains("replayed"));
    // Bo joins on B; Ada blocks him on A; once B has applied A's events, Bo's own (signed)
    // query on B no longer shows Ada.
    let bo = Device::new(8);
    let (status, _) = send(
        &router_b,
        bo.signed(Method::POST, "/v1/identities", now, Vec::new()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &router_b,
        bo.signed(
            Method::PUT,
            &bo.profile_path(),
            now + 1,
            json_bytes(&unit_upload("Bo on B", 2)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    a.sync_index().unwrap();
    a.sync_social().unwrap();
    let signed_query = |device: &Device, ts: u64| {
        let query = CandidatesRequest {
            model_version: 1,
            taste_vector: unit_vector(2),
            k: 5,
            exclude: None,
        };
        device.signed(
            Method::POST,
            "/v1/discovery/candidates",
            ts,
            json_bytes(&query),
        )
    };
    let seen_by_bo = |body: Vec<u8>| -> Vec<String> {
        let response: CandidatesResponse = serde_json::from_slice(&body).unwrap();
        response
            .candidates
            .into_iter()
            .map(|c| c.card.display_name)
            .collect()
    };
    let (_, body) = send(&router_b, signed_query(&bo, now + 2)).await;
    assert_eq!(seen_by_bo(body), ["Ada on replica A"]);
    let block = ada.signed(
        Method::POST,
        "/v1/blocks",
        now + 2,
        json_bytes(&serde_json::json!({ "target": bo.user })),
    );
    assert_eq!(send(&router_a, block).await.0, StatusCode::NO_CONTENT);
    assert!(b.sync_social().unwrap() >= 1);
    let (_, body) = send(&router_b, signed_query(&bo, now + 3)).await;
    assert!(seen_by_bo(body).is_empty(), "a block made on A holds on B");
    // Applying the log again changes nothing.
    assert_eq!(b.sync_social().unwrap(), 0);
    // Opting out on B removes her from A too, at A's next sync.
    let (status, _) = send(
        &router_b,
        ada.signed(Method::DELETE, &ada.profile_path(), now + 3, Vec::new()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(names_served(&router_b, 2).await, ["Bo on B"]);
    assert_eq!(a.sync_index().unwrap(), (0, 1));
    assert_eq!(names_served(&router_a, 2).await, ["Bo on B"]);
}
