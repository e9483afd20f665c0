//! The stored format stays readable: a store written by the coordinator before the crate
//! redesign (commit b1540fd, `tests/fixtures/store-b1540fd/mesh.redb`: five people with
//! profiles, every kind of event — intents, impressions, swipes, two accepted introductions, a
//! message, a block, a report, a snooze, flags, model history, a re-ranker refit) opens under
//! this code and replays into the same social state.

use axum::http::{Method, StatusCode};
use mesh_coordinator::Store;
use mesh_shared::{CandidatesRequest, CandidatesResponse, UserId};

use crate::fixtures::{Coordinator, Device, json_bytes};

/// The fixture's people: device secrets `[seed; 32]` for seeds 1 to 5.
fn people() -> Vec<Device> {
    (1..=5).map(Device::new).collect()
}

fn open_fixture() -> Coordinator {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-b1540fd/mesh.redb");
    std::fs::copy(fixture, dir.path().join("mesh.redb")).unwrap();
    let mesh = Coordinator::over_store(dir);
    // The fixture's signed writes are at most a minute after the test clock's start.
    mesh.clock.advance(3_600_000);
    mesh
}

async fn suggested_to(mesh: &Coordinator, viewer: &Device) -> Vec<UserId> {
    let own = mesh
        .stored_profile(&viewer.user)
        .unwrap()
        .upload
        .taste_vector;
    let body = CandidatesRequest {
        model_version: mesh.state.model_version(),
        taste_vector: own,
        k: 10,
        exclude: None,
    };
    let path = "/v1/discovery/candidates";
    let request = viewer.signed(Method::POST, path, mesh.next_ts(), json_bytes(&body));
    let reply = mesh.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let found: CandidatesResponse = reply.json();
    found.candidates.into_iter().map(|c| c.user_id).collect()
}

#[tokio::test]
async fn a_store_written_before_the_redesign_opens_and_replays() {
    let mesh = open_fixture();
    let people = people();
    let events = mesh.store.events().unwrap();
    assert_eq!(events.len(), 21, "5 registrations and 16 other events");
    for person in &people {
        assert!(
            mesh.state.is_discoverable(&person.user),
            "{} is discoverable",
            person.user
        );
    }
    // Ties from the two accepted introductions (0–1, 2–1): tied people are never suggested.
    let to_first = suggested_to(&mesh, &people[0]).await;
    assert!(!to_first.contains(&people[1].user), "{to_first:?}");
    assert!(to_first.contains(&people[2].user), "{to_first:?}");
    let to_second = suggested_to(&mesh, &people[1]).await;
    assert!(!to_second.contains(&people[0].user) && !to_second.contains(&people[2].user));
    // The block (3 blocked 4) holds both ways.
    assert!(
        !suggested_to(&mesh, &people[3])
            .await
            .contains(&people[4].user)
    );
    assert!(
        !suggested_to(&mesh, &people[4])
            .await
            .contains(&people[3].user)
    );
}

#[tokio::test]
async fn the_replayed_store_keeps_its_model_history_and_accepts_new_events() {
    let mesh = open_fixture();
    let people = people();
    // A new signed write appends after the replayed log, and survives a restart.
    let register_again =
        people[0].signed(Method::POST, "/v1/identities", mesh.next_ts(), Vec::new());
    assert_eq!(mesh.send(register_again).await.status, StatusCode::OK);
    let before = mesh.store.events().unwrap().len();
    let mesh = mesh.restart();
    assert_eq!(mesh.store.events().unwrap().len(), before);
    let report = mesh_coordinator::model_report(&mesh.store.events().unwrap(), &[]);
    let json = serde_json::to_value(&report).unwrap();
    let text = json.to_string();
    assert!(
        text.contains("B:mesh:ndcg@10"),
        "evaluation figures kept: {text}"
    );
    assert!(
        text.contains("\"trigger\":\"operator\""),
        "re-ranker refit kept: {text}"
    );
}
