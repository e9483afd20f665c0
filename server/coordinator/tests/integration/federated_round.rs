//! Federated rounds over `/v1/rounds`: native clients (`ClientRound`, the browser's code)
//! against the router, a restart in the middle of a round, deadlines, and refusals.
use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mesh_coordinator::{AppConfig, RoundOutcome, RoundSettings, RoundStatus};
use mesh_shared::secagg::{ClientRound, EncryptedShares, SignedRoundKeys, SurvivorSignature};
use mesh_shared::{
    RoundJoin, RoundJoined, RoundKeysMessage, RoundSharesMessage, RoundSignatureMessage,
    RoundUnmaskMessage,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::fixtures::{Coordinator, Device, Reply, json_bytes, request};

const TOKEN: &str = "operator-secret";
const DIMENSION: usize = 64;

fn settings(expected_clients: usize, threshold: usize) -> RoundSettings {
    RoundSettings {
        phase_ms: 10_000,
        min_account_age_ms: 0,
        ..RoundSettings::new(DIMENSION, threshold, expected_clients)
    }
}

fn operator(coordinator: Coordinator) -> Coordinator {
    coordinator.with_config(AppConfig {
        operator_token: Some(TOKEN.to_owned()),
        ..AppConfig::default()
    })
}

/// `POST /v1/rounds` with the operator token.
fn start_request(settings: &RoundSettings) -> Request<Body> {
    let mut start = request(Method::POST, "/v1/rounds", None, json_bytes(settings));
    start.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    start
}

async fn start(mesh: &Coordinator, settings: RoundSettings) -> RoundStatus {
    let reply = mesh.send(start_request(&settings)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

/// A participant: its registered device (which signs every request) and its protocol state.
struct Seat {
    device: Device,
    client: ClientRound,
}

/// The device of the `i`-th participant of a test (registered by [`through_sharing`]).
fn device(i: usize) -> Device {
    Device::new(100 + i as u8)
}

async fn post(
    mesh: &Coordinator,
    device: &Device,
    path: &str,
    body: impl serde::Serialize,
) -> Reply {
    mesh.send(device.signed(Method::POST, path, mesh.next_ts(), json_bytes(&body)))
        .await
}

async fn get(mesh: &Coordinator, device: &Device, path: &str) -> Reply {
    mesh.send(device.signed(Method::GET, path, mesh.next_ts(), Vec::new()))
        .await
}

async fn send_input(
    mesh: &Coordinator,
    device: &Device,
    (round, version): (u64, u32),
    client: u32,
    values: &[u32],
) -> Reply {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut input = device.signed(
        Method::POST,
        &format!("/v1/rounds/{round}/input?client={client}&model_version={version}"),
        mesh.next_ts(),
        bytes,
    );
    input.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().unwrap(),
    );
    mesh.send(input).await
}

/// Fetches the participant's mailbox, masks `input` and sends it.
async fn masked_input(
    mesh: &Coordinator,
    round: u64,
    version: u32,
    seat: &mut Seat,
    input: &[u32],
) {
    let id = seat.client.client();
    let mailbox: Vec<EncryptedShares> = get(
        mesh,
        &seat.device,
        &format!("/v1/rounds/{round}/mailbox/{id}"),
    )
    .await
    .json();
    let masked = seat.client.masked_input(&mailbox, input).unwrap();
    let reply = send_input(mesh, &seat.device, (round, version), id, &masked).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}

async fn status(mesh: &Coordinator) -> RoundStatus {
    let reply = mesh
        .send(
            Request::get("/v1/rounds/current")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

/// Registers `n` devices, seats them and takes them through keys and shares.
async fn through_sharing(
    mesh: &Coordinator,
    round: u64,
    version: u32,
    n: usize,
    threshold: usize,
    rng: &mut ChaCha20Rng,
) -> Vec<Seat> {
    let settings = status(mesh).await.settings;
    let mut seats = Vec::new();
    for i in 0..n {
        let device = device(i);
        let registered = mesh.register(&device).await;
        assert!(registered.status.is_success(), "{}", registered.text());
        let joined = post(
            mesh,
            &device,
            &format!("/v1/rounds/{round}/join"),
            RoundJoin {
                model_version: version,
            },
        )
        .await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text());
        let RoundJoined { client: id } = joined.json();
        let mut client = ClientRound::new(round, version, id, threshold, rng).unwrap();
        if let (Some(k), Some(t)) = (settings.neighbours, settings.share_threshold) {
            client = client.sparse(k, t).unwrap();
        }
        let reply = post(
            mesh,
            &device,
            &format!("/v1/rounds/{round}/keys"),
            RoundKeysMessage {
                model_version: version,
                keys: client.advertise(),
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        seats.push(Seat { device, client });
    }
    let roster: Vec<SignedRoundKeys> = get(
        mesh,
        &seats[0].device,
        &format!("/v1/rounds/{round}/roster"),
    )
    .await
    .json();
    assert_eq!(roster.len(), n);
    for seat in &mut seats {
        let shares = seat.client.share_keys(&roster, rng).unwrap();
        let reply = post(
            mesh,
            &seat.device,
            &format!("/v1/rounds/{round}/shares"),
            RoundSharesMessage {
                model_version: version,
                client: seat.client.client(),
                shares,
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }
    seats
}

#[tokio::test]
async fn a_round_survives_a_restart_drops_a_client_and_advances_the_model() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mesh = operator(Coordinator::new());
    let version = mesh.model().version();
    let before = mesh.model().weights()[..DIMENSION].to_vec();
    let round = start(&mesh, settings(5, 3)).await.round;
    let mut clients = through_sharing(&mesh, round, version, 5, 3, &mut rng).await;
    let quantizer = settings(5, 3).quantizer().unwrap();
    let updates: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..DIMENSION).map(|_| rng.random::<f32>() - 0.5).collect())
        .collect();
    let quantized: Vec<Vec<u32>> = updates
        .iter()
        .map(|u| quantizer.quantize(u).values)
        .collect();

    // Two inputs arrive, then the coordinator restarts.
    for at in 0..2 {
        masked_input(&mesh, round, version, &mut clients[at], &quantized[at]).await;
    }
    let mesh = operator(mesh.restart());
    let resumed = status(&mesh).await;
    assert_eq!((resumed.round, resumed.arrived), (round, 2), "{resumed:?}");
    // The same input again is refused: the accepted one was kept.
    let first = &clients[0].device;
    let mailbox: Vec<EncryptedShares> = get(&mesh, first, &format!("/v1/rounds/{round}/mailbox/1"))
        .await
        .json();
    assert!(!mailbox.is_empty());
    let replay = send_input(&mesh, first, (round, version), 1, &vec![0; DIMENSION]).await;
    replay.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        None,
        &["already sent its masked input"],
    );

    // Client 3 sends; 4 never does; 5 sends. The phase closes at its deadline.
    for at in [2usize, 4] {
        masked_input(&mesh, round, version, &mut clients[at], &quantized[at]).await;
    }
    let first = &clients[0].device;
    let early = get(&mesh, first, &format!("/v1/rounds/{round}/survivors")).await;
    early.assert_error(StatusCode::CONFLICT, "conflict", None, &["MaskedInput"]);
    mesh.clock.advance(10_001);
    let survivors: BTreeSet<u32> = get(&mesh, first, &format!("/v1/rounds/{round}/survivors"))
        .await
        .json();
    assert_eq!(survivors, BTreeSet::from([1, 2, 3, 5]));

    let survivor_clients: Vec<usize> = vec![0, 1, 2, 4];
    for &at in &survivor_clients {
        let signature = clients[at]
            .client
            .consistency_signature(&survivors)
            .unwrap();
        let reply = post(
            &mesh,
            &clients[at].device,
            &format!("/v1/rounds/{round}/signature"),
            RoundSignatureMessage {
                model_version: version,
                signature,
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }
    let signatures: Vec<SurvivorSignature> = get(
        &mesh,
        &clients[0].device,
        &format!("/v1/rounds/{round}/signatures"),
    )
    .await
    .json();
    assert_eq!(signatures.len(), 4);
    for &at in &survivor_clients {
        let shares = clients[at].client.unmasking_shares(&signatures).unwrap();
        let reply = post(
            &mesh,
            &clients[at].device,
            &format!("/v1/rounds/{round}/unmask"),
            RoundUnmaskMessage {
                model_version: version,
                client: at as u32 + 1,
                shares,
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }

    let done = status(&mesh).await;
    assert!(
        matches!(done.outcome, Some(RoundOutcome::Applied { new_model_version, clients: 4, .. }) if new_model_version == version + 1),
        "{done:?}"
    );
    // The store holds the next version, moved by the mean of the four survivors' updates.
    let next = mesh_coordinator::current_model(mesh.store.as_ref()).unwrap();
    assert_eq!(next.version(), version + 1);
    let bound = quantizer.max_sum_error(4) / 4.0 + 1e-6;
    for i in 0..DIMENSION {
        let mean: f32 = survivor_clients
            .iter()
            .map(|at| updates[*at][i])
            .sum::<f32>()
            / 4.0;
        let moved = next.weights()[i] - before[i];
        assert!(
            (moved - mean).abs() <= bound,
            "coordinate {i}: {moved} vs {mean}"
        );
    }
    // The model history records the new version with the round's figures.
    let history: Vec<mesh_coordinator::Event> =
        mesh_coordinator::Store::events(mesh.store.as_ref()).unwrap();
    assert!(
        history.iter().filter_map(mesh_coordinator::Event::model).any(|e| matches!(e,
            mesh_coordinator::ModelEvent::ModelVersioned { version: v, source, figures, .. }
                if *v == version + 1 && *source == format!("federated round {round}") && figures.get("clients") == Some(&4.0))),
        "{history:?}"
    );
    // A round on the new model waits for the coordinator to serve it.
    let again = start_request(&settings(5, 3));
    mesh.send(again).await.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        None,
        &["restart the coordinator"],
    );
    let mesh = operator(mesh.restart());
    assert_eq!(mesh.model().version(), version + 1);
    let next_round = start(&mesh, settings(5, 3)).await;
    assert_eq!(
        (next_round.round, next_round.model_version),
        (round + 1, version + 1)
    );
}

#[tokio::test]
async fn too_few_clients_abort_the_round_and_nothing_is_applied() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mesh = operator(Coordinator::new());
    let version = mesh.model().version();
    let round = start(&mesh, settings(5, 3)).await.round;
    let clients = through_sharing(&mesh, round, version, 5, 3, &mut rng).await;
    mesh.clock.advance(10_001);
    let aborted = status(&mesh).await;
    match aborted.outcome {
        Some(RoundOutcome::Aborted { reason }) => {
            assert!(
                reason.contains("0 clients in MaskedInput, the threshold is 3"),
                "{reason}"
            );
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(
        mesh_coordinator::current_model(mesh.store.as_ref())
            .unwrap()
            .version(),
        version
    );
    // A late input is refused: the round is over.
    let late = send_input(
        &mesh,
        &clients[0].device,
        (round, version),
        1,
        &vec![0; DIMENSION],
    )
    .await;
    late.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        &["no round 1 is running"],
    );
}

#[tokio::test]
async fn round_messages_are_checked_with_clear_errors() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let unsigned_start = || {
        request(
            Method::POST,
            "/v1/rounds",
            None,
            json_bytes(&settings(5, 3)),
        )
    };
    let closed = Coordinator::new();
    let refused = closed.send(unsigned_start()).await;
    refused.assert_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
        &["operator token"],
    );
    let mesh = operator(closed);
    let anonymous = mesh.send(unsigned_start()).await;
    anonymous.assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
        &["Bearer"],
    );
    let low = start_request(&settings(4, 2));
    mesh.send(low).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("settings"),
        &["above half"],
    );

    let version = mesh.model().version();
    let round = start(&mesh, settings(3, 2)).await.round;
    let busy = start_request(&settings(3, 2));
    mesh.send(busy)
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", None, &["still running"]);

    let ada = device(0);
    mesh.registered(&ada).await;
    let stale = post(
        &mesh,
        &ada,
        &format!("/v1/rounds/{round}/join"),
        RoundJoin {
            model_version: version + 7,
        },
    )
    .await;
    stale.assert_error(
        StatusCode::CONFLICT,
        "unknown_model_version",
        Some("model_version"),
        &["model_version 8"],
    );
    let elsewhere = post(
        &mesh,
        &ada,
        "/v1/rounds/99/join",
        RoundJoin {
            model_version: version,
        },
    )
    .await;
    elsewhere.assert_error(StatusCode::NOT_FOUND, "not_found", None, &["no round 99"]);
    let clients = through_sharing(&mesh, round, version, 3, 2, &mut rng).await;
    let ada = &clients[0].device;
    // A wrongly sized or misaligned input, and one for a seat the signer does not hold.
    let wrong_length = send_input(&mesh, ada, (round, version), 1, &[1, 2, 3]).await;
    wrong_length.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        None,
        &["3 values, expected 64"],
    );
    let mut ragged = ada.signed(
        Method::POST,
        &format!("/v1/rounds/{round}/input?client=1&model_version={version}"),
        mesh.next_ts(),
        vec![1, 2, 3],
    );
    ragged.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().unwrap(),
    );
    mesh.send(ragged).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        None,
        &["whole number"],
    );
    let impostor = send_input(&mesh, ada, (round, version), 2, &vec![0; DIMENSION]).await;
    impostor.assert_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
        &["the signer holds seat 1, the message speaks for client 2"],
    );
}

/// Runs a whole round with `n` clients that all answer; returns the final status.
async fn full_round(
    mesh: &Coordinator,
    settings: RoundSettings,
    rng: &mut ChaCha20Rng,
) -> RoundStatus {
    let version = mesh.model().version();
    let round = start(mesh, settings).await.round;
    let n = settings.expected_clients;
    let mut seats = through_sharing(mesh, round, version, n, settings.threshold, rng).await;
    let privacy = settings.privacy();
    for seat in &mut seats {
        let update: Vec<f32> = (0..DIMENSION).map(|_| rng.random::<f32>() - 0.5).collect();
        let input = privacy.prepare(&update, rng).unwrap();
        masked_input(mesh, round, version, seat, &input.values).await;
    }
    let reader = &seats[0].device;
    let survivors: BTreeSet<u32> = get(mesh, reader, &format!("/v1/rounds/{round}/survivors"))
        .await
        .json();
    for seat in &mut seats {
        let signature = seat.client.consistency_signature(&survivors).unwrap();
        let body = RoundSignatureMessage {
            model_version: version,
            signature,
        };
        let path = format!("/v1/rounds/{round}/signature");
        let reply = post(mesh, &seat.device, &path, body).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }
    let reader = &seats[0].device;
    let signatures: Vec<SurvivorSignature> =
        get(mesh, reader, &format!("/v1/rounds/{round}/signatures"))
            .await
            .json();
    for seat in &mut seats {
        let shares = seat.client.unmasking_shares(&signatures).unwrap();
        let body = RoundUnmaskMessage {
            model_version: version,
            client: seat.client.client(),
            shares,
        };
        let path = format!("/v1/rounds/{round}/unmask");
        let reply = post(mesh, &seat.device, &path, body).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    }
    status(mesh).await
}

#[tokio::test]
async fn noised_rounds_report_their_privacy_and_compose() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mesh = operator(Coordinator::new());
    let private = RoundSettings {
        noise_multiplier: 1.0,
        ..settings(5, 3)
    };
    let first = full_round(&mesh, private, &mut rng).await;
    let Some(RoundOutcome::Applied {
        epsilon: Some(epsilon),
        epsilon_total: Some(total),
        ..
    }) = first.outcome
    else {
        panic!("a noised round reports ε: {first:?}");
    };
    assert!(
        epsilon > 0.0 && (total - epsilon).abs() < 1e-9,
        "{epsilon} {total}"
    );
    // The accountant survives a restart and adds the next round's privacy loss.
    let mesh = operator(mesh.restart());
    let second = full_round(&mesh, private, &mut rng).await;
    let Some(RoundOutcome::Applied {
        epsilon: Some(again),
        epsilon_total: Some(both),
        new_model_version,
        ..
    }) = second.outcome
    else {
        panic!("a noised round reports ε: {second:?}");
    };
    assert_eq!(new_model_version, 3);
    assert!((again - epsilon).abs() < 1e-9);
    assert!(
        both > epsilon && both < 2.0 * epsilon,
        "{both} vs {epsilon}"
    );
    // Without noise there is nothing to report.
    let mesh = operator(mesh.restart());
    let plain = full_round(&mesh, settings(5, 3), &mut rng).await;
    assert!(
        matches!(
            plain.outcome,
            Some(RoundOutcome::Applied {
                epsilon: None,
                epsilon_total: Some(_),
                ..
            })
        ),
        "{plain:?}"
    );
}

#[tokio::test]
async fn a_secagg_plus_round_on_a_sparse_graph_applies() {
    let mut rng = ChaCha20Rng::seed_from_u64(15);
    let mesh = operator(Coordinator::new());
    let sparse = RoundSettings {
        neighbours: Some(4),
        ..settings(9, 5)
    };
    let done = full_round(&mesh, sparse, &mut rng).await;
    assert_eq!(done.settings.share_threshold, Some(3), "{done:?}");
    assert!(
        matches!(done.outcome, Some(RoundOutcome::Applied { clients: 9, .. })),
        "{done:?}"
    );
}

#[tokio::test]
async fn fedadam_rounds_move_each_weight_by_about_the_learning_rate() {
    let mut rng = ChaCha20Rng::seed_from_u64(16);
    let mesh = operator(Coordinator::new());
    let before = mesh.model().weights()[..DIMENSION].to_vec();
    let adam = RoundSettings {
        server_optimizer: Some(mesh_coordinator::ServerOptimizer::FedAdam {
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-6,
        }),
        ..settings(3, 2)
    };
    let done = full_round(&mesh, adam, &mut rng).await;
    assert!(
        matches!(done.outcome, Some(RoundOutcome::Applied { .. })),
        "{done:?}"
    );
    let after = mesh_coordinator::current_model(mesh.store.as_ref()).unwrap();
    // Adam's first step is lr · (1 − β1) / √(1 − β2) · sign(update) = lr for |update| ≫ τ.
    let steps: Vec<f32> = after.weights()[..DIMENSION]
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b).abs())
        .collect();
    assert!(steps.iter().all(|s| *s <= 0.0101), "{steps:?}");
    assert!(
        steps.iter().filter(|s| **s > 0.009).count() > DIMENSION / 2,
        "{steps:?}"
    );
}
