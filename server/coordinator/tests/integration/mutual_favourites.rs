//! Mutual favourites through the coordinator's PSI relay, both sides real `PsiParty`s: each
//! learns exactly the intersection; only the addressee reads a message; answers out of turn,
//! malformed points and blocked pairs are refused; opt-out drops the mailboxes; messages
//! expire after ten minutes.
use axum::http::{Method, StatusCode};
use mesh_coordinator::PSI_MESSAGE_TTL_MS;
use mesh_shared::{ItemHash, PsiMessage, PsiParty};
use rand::SeedableRng;
use serde_json::json;

use crate::fixtures::{Coordinator, Device, Reply, json_bytes};

fn item(n: u8) -> ItemHash {
    ItemHash(*blake3::hash(&[n]).as_bytes())
}

async fn put(mesh: &Coordinator, from: &Device, to: &Device, round: &str, body: &[u8]) -> Reply {
    let path = format!("/v1/psi/{}/{round}", to.user);
    mesh.send(from.signed(Method::PUT, &path, mesh.next_ts(), body.to_vec()))
        .await
}

async fn get(mesh: &Coordinator, reader: &Device, peer: &Device, round: &str) -> Reply {
    let path = format!("/v1/psi/{}/{round}", peer.user);
    mesh.send(reader.signed(Method::GET, &path, mesh.next_ts(), Vec::new()))
        .await
}

fn party(items: &[u8], seed: u64) -> PsiParty {
    let hashes: Vec<ItemHash> = items.iter().map(|&n| item(n)).collect();
    PsiParty::new(&hashes, &mut rand_chacha::ChaCha20Rng::seed_from_u64(seed)).unwrap()
}

#[tokio::test]
async fn both_learn_exactly_their_mutual_favourites_through_the_relay() {
    let mesh = Coordinator::new();
    let (ada, bo, cy) = (Device::new(1), Device::new(2), Device::new(3));
    for device in [&ada, &bo, &cy] {
        mesh.registered(device).await;
    }
    let (ada_party, bo_party) = (party(&[1, 2, 3, 4, 5], 1), party(&[4, 5, 6, 7], 2));

    // Nothing to read before it is sent; an answer before the peer's round one is out of turn.
    assert_eq!(
        get(&mesh, &bo, &ada, "blinded").await.status,
        StatusCode::NOT_FOUND
    );
    let early = json_bytes(&PsiMessage { points: vec![] });
    assert_eq!(
        put(&mesh, &bo, &ada, "answer", &early).await.status,
        StatusCode::CONFLICT
    );

    let mut bytes = 0;
    for (from, to, p) in [(&ada, &bo, &ada_party), (&bo, &ada, &bo_party)] {
        let body = json_bytes(&p.blinded());
        bytes += body.len();
        assert_eq!(
            put(&mesh, from, to, "blinded", &body).await.status,
            StatusCode::NO_CONTENT
        );
    }
    // Cy is not the addressee: Ada's message to Bo is not hers to read.
    assert_eq!(
        get(&mesh, &cy, &ada, "blinded").await.status,
        StatusCode::NOT_FOUND
    );

    for (me, peer, p) in [(&ada, &bo, &ada_party), (&bo, &ada, &bo_party)] {
        let theirs: PsiMessage = get(&mesh, me, peer, "blinded").await.json();
        let body = json_bytes(&p.answer(&theirs).unwrap());
        bytes += body.len();
        assert_eq!(
            put(&mesh, me, peer, "answer", &body).await.status,
            StatusCode::NO_CONTENT
        );
    }
    let mut learned = Vec::new();
    for (me, peer, p) in [(&ada, &bo, &ada_party), (&bo, &ada, &bo_party)] {
        let blinded: PsiMessage = get(&mesh, me, peer, "blinded").await.json();
        let answer: PsiMessage = get(&mesh, me, peer, "answer").await.json();
        learned.push(p.intersection(&blinded, &answer).unwrap());
    }
    let mut expected = vec![item(4), item(5)];
    expected.sort_unstable();
    assert_eq!(learned, vec![expected.clone(), expected]);
    // 5 + 4 items, each point sent twice (blinded, answered): 18 points of 32 bytes.
    println!(
        "PSI of 5 and 4 items: {bytes} bytes of JSON through the relay (18 points, 576 bytes of points)"
    );
    assert!(bytes > 18 * 64 && bytes < 18 * 64 + 200, "{bytes}");

    // Messages expire after ten minutes.
    mesh.clock.advance(PSI_MESSAGE_TTL_MS);
    assert_eq!(
        get(&mesh, &bo, &ada, "blinded").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn malformed_blocked_and_opted_out_runs_are_refused() {
    let mesh = Coordinator::new();
    let (ada, bo) = (Device::new(1), Device::new(2));
    for device in [&ada, &bo] {
        mesh.registered(device).await;
    }
    let bad = put(&mesh, &ada, &bo, "blinded", br#"{"points":["zz"]}"#).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert!(bad.text().contains("points[0]"), "{}", bad.text());
    let wrong_round = put(&mesh, &ada, &bo, "third", b"{}").await;
    assert_eq!(wrong_round.status, StatusCode::NOT_FOUND);
    let to_self = put(&mesh, &ada, &ada, "blinded", b"{\"points\":[]}").await;
    assert_eq!(to_self.status, StatusCode::UNPROCESSABLE_ENTITY);

    let blinded = json_bytes(&party(&[1, 2], 3).blinded());
    assert_eq!(
        put(&mesh, &ada, &bo, "blinded", &blinded).await.status,
        StatusCode::NO_CONTENT
    );
    // Opt-out drops the mailboxes from and to the person.
    let delete = ada.signed(
        Method::DELETE,
        &ada.profile_path(),
        mesh.next_ts(),
        Vec::new(),
    );
    assert_eq!(mesh.send(delete).await.status, StatusCode::NO_CONTENT);
    mesh.registered(&ada).await;
    assert_eq!(
        get(&mesh, &bo, &ada, "blinded").await.status,
        StatusCode::NOT_FOUND
    );

    // After a block, neither may start a run with the other.
    let block = ada.signed(
        Method::POST,
        "/v1/blocks",
        mesh.next_ts(),
        json_bytes(&json!({ "target": bo.user })),
    );
    assert_eq!(mesh.send(block).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        put(&mesh, &bo, &ada, "blinded", &blinded).await.status,
        StatusCode::FORBIDDEN
    );
}
