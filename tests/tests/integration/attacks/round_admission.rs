//! Federated rounds: who may take a seat, and what a seat may say and read. The promise: only
//! registered identities of a minimum age join, one seat each; every message and read of a
//! round is signed by the seat's holder; what participants see of each other names no identity;
//! strangers read nothing of a round.
use axum::http::StatusCode;
use mesh_coordinator::DAY_MS;
use mesh_shared::secagg::{ClientRound, SignedRoundKeys};
use mesh_shared::{
    RoundJoin, RoundJoined, RoundKeysMessage, RoundPhase, RoundSettings, RoundSharesMessage,
    RoundStatus, UserId,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{Target, assert_refused, identity};

const DIMENSION: usize = 64;

/// A round of three seats with the default admission rule (accounts a day old).
async fn start_round(target: &Target) -> RoundStatus {
    let settings = RoundSettings {
        phase_ms: 60_000,
        ..RoundSettings::new(DIMENSION, 2, 3)
    };
    let reply = target
        .operator("POST", "/v1/rounds", serde_json::to_vec(&settings).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

fn join_body(status: &RoundStatus) -> Vec<u8> {
    serde_json::to_vec(&RoundJoin {
        model_version: status.model_version,
    })
    .unwrap()
}

#[tokio::test]
async fn anonymous_unregistered_and_fresh_identities_cannot_join_a_round() {
    let target = Target::new();
    let status = start_round(&target).await;
    let join = format!("/v1/rounds/{}/join", status.round);

    let anonymous = target.anonymous("POST", &join, join_body(&status)).await;
    assert_refused(&anonymous, StatusCode::UNAUTHORIZED, "Authorization");

    let stranger = identity(1);
    let unregistered = target
        .signed(&stranger, "POST", &join, join_body(&status))
        .await;
    assert_refused(
        &unregistered,
        StatusCode::FORBIDDEN,
        "only registered identities",
    );

    // An identity made for this round is too young for it.
    target.register(&stranger).await;
    let fresh = target
        .signed(&stranger, "POST", &join, join_body(&status))
        .await;
    assert_refused(
        &fresh,
        StatusCode::FORBIDDEN,
        "registered at least 86400 s ago",
    );

    // Nobody took a seat.
    let current: RoundStatus = target
        .anonymous("GET", "/v1/rounds/current", Vec::new())
        .await
        .json();
    assert_eq!(current.joined, 0);

    // The same identity a day later is admitted.
    target.clock.advance(DAY_MS);
    let admitted = target
        .signed(&stranger, "POST", &join, join_body(&status))
        .await;
    assert_eq!(admitted.status, StatusCode::OK, "{}", admitted.text());
}

#[tokio::test]
async fn a_seat_speaks_and_reads_only_for_itself_and_strangers_read_nothing() {
    let target = Target::new();
    let (mallory, alice, bob, eve) = (identity(1), identity(2), identity(3), identity(4));
    for person in [&mallory, &alice, &bob, &eve] {
        target.register(person).await;
    }
    target.clock.advance(DAY_MS);
    let status = start_round(&target).await;
    let (round, version) = (status.round, status.model_version);
    let join = format!("/v1/rounds/{round}/join");

    let mut seats = Vec::new();
    for person in [&mallory, &alice, &bob] {
        let reply = target
            .signed(person, "POST", &join, join_body(&status))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        seats.push(reply.json::<RoundJoined>().client);
    }
    assert_eq!(seats, [1, 2, 3]);
    // One seat per identity: joining again hands back the same seat, not a second one.
    let again: RoundJoined = target
        .signed(&mallory, "POST", &join, join_body(&status))
        .await
        .json();
    assert_eq!(again.client, 1);

    // Mallory advertises keys for Alice's seat.
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let forged = ClientRound::new(round, version, 2, 2, &mut rng).unwrap();
    let keys_path = format!("/v1/rounds/{round}/keys");
    let keys_body = |client: &ClientRound| {
        serde_json::to_vec(&RoundKeysMessage {
            model_version: version,
            keys: client.advertise(),
        })
        .unwrap()
    };
    let impersonation = target
        .signed(&mallory, "POST", &keys_path, keys_body(&forged))
        .await;
    assert_refused(
        &impersonation,
        StatusCode::FORBIDDEN,
        "the signer holds seat 1, the message speaks for client 2",
    );
    // Anonymous keys are refused before anything else.
    let anonymous = target
        .anonymous("POST", &keys_path, keys_body(&forged))
        .await;
    assert_refused(&anonymous, StatusCode::UNAUTHORIZED, "Authorization");

    let mut clients = Vec::new();
    for (person, seat) in [&mallory, &alice, &bob].into_iter().zip(&seats) {
        let client = ClientRound::new(round, version, *seat, 2, &mut rng).unwrap();
        let reply = target
            .signed(person, "POST", &keys_path, keys_body(&client))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        clients.push(client);
    }

    // A stranger (registered, old enough, not seated) and an anonymous caller read nothing.
    let roster_path = format!("/v1/rounds/{round}/roster");
    let result_path = format!("/v1/rounds/{round}/result");
    for path in [&roster_path, &result_path] {
        let stranger = target.signed(&eve, "GET", path, Vec::new()).await;
        assert_refused(&stranger, StatusCode::FORBIDDEN, "holds no seat");
        let anonymous = target.anonymous("GET", path, Vec::new()).await;
        assert_refused(&anonymous, StatusCode::UNAUTHORIZED, "Authorization");
    }

    // What a participant sees of the others: round keys that are none of their identities.
    let roster: Vec<SignedRoundKeys> = target
        .signed(&alice, "GET", &roster_path, Vec::new())
        .await
        .json();
    assert_eq!(roster.len(), 3);
    let participants: Vec<&UserId> = [&mallory, &alice, &bob]
        .iter()
        .map(|p| p.user_id())
        .collect();
    for keys in &roster {
        let named = UserId::from_public_key(&keys.signing_public);
        assert!(
            !participants.contains(&&named),
            "the roster names participant {named}"
        );
    }

    // Sharing closes; Mallory asks for Alice's mailbox.
    for ((person, client), seat) in [&mallory, &alice, &bob]
        .into_iter()
        .zip(&mut clients)
        .zip(&seats)
    {
        let shares = client.share_keys(&roster, &mut rng).unwrap();
        let body = RoundSharesMessage {
            model_version: version,
            client: *seat,
            shares,
        };
        let reply = target
            .signed(
                person,
                "POST",
                &format!("/v1/rounds/{round}/shares"),
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }
    let current: RoundStatus = target
        .anonymous("GET", "/v1/rounds/current", Vec::new())
        .await
        .json();
    assert_eq!(current.phase, RoundPhase::MaskedInput);
    let snooping = target
        .signed(
            &mallory,
            "GET",
            &format!("/v1/rounds/{round}/mailbox/2"),
            Vec::new(),
        )
        .await;
    assert_refused(&snooping, StatusCode::FORBIDDEN, "holds seat 1");
    let own = target
        .signed(
            &alice,
            "GET",
            &format!("/v1/rounds/{round}/mailbox/2"),
            Vec::new(),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}
