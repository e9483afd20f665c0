//! The discovery controls through the HTTP API with the test clock: blocks, snoozes, intent
//! flags with their TTL, swipe-to-tune, the outreach cap, live rooms, and the feature flag and
//! kill switch switched at runtime.
use axum::http::{Method, StatusCode};
use mesh_coordinator::{AppConfig, Store};
use mesh_shared::{
    CandidatesRequest, CandidatesResponse, CardTrait, DiscoveryFlags, PROFILE_SCHEMA_VERSION,
    ProfileUpload, PublicCard, RankingVersion, TASTE_DIM, TasteVector,
};
use serde::Serialize;
use serde_json::json;

use crate::fixtures::{Coordinator, Device, Reply, json_bytes, request};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
const OPERATOR: &str = "operator-secret";

/// A unit vector at `angle` radians from axis 0 towards axis 1 (cosine `cos angle` with
/// axis 0).
fn at_angle(angle: f32) -> TasteVector {
    let mut v = vec![0.0; TASTE_DIM];
    v[0] = angle.cos();
    v[1] = angle.sin();
    TasteVector::try_from(v).unwrap()
}

fn upload(name: &str, angle: f32, category: &str, favourites: &[&str]) -> ProfileUpload {
    ProfileUpload {
        schema_version: PROFILE_SCHEMA_VERSION,
        model_version: 1,
        taste_vector: at_angle(angle),
        card: PublicCard {
            activity: None,
            tone: None,
            display_name: name.to_owned(),
            traits: vec![CardTrait {
                label: category.to_owned(),
                strength: 0.5,
            }],
            public_favourites: favourites.iter().map(|f| (*f).to_owned()).collect(),
        },
    }
}

/// Five people around axis 0: Ada (the viewer, on the axis), Bo, Cy, Di and Ed further out.
struct People {
    ada: Device,
    bo: Device,
    cy: Device,
    di: Device,
    ed: Device,
}

async fn people(mesh: &Coordinator) -> People {
    let people = People {
        ada: Device::new(1),
        bo: Device::new(2),
        cy: Device::new(3),
        di: Device::new(4),
        ed: Device::new(5),
    };
    mesh.published(
        &people.ada,
        &upload("Ada", 0.0, "sci-fi", &["Alien", "Dune"]),
    )
    .await;
    mesh.published(&people.bo, &upload("Bo", 0.30, "jazz", &["Alien"]))
        .await;
    mesh.published(&people.cy, &upload("Cy", 0.25, "rock", &[]))
        .await;
    mesh.published(&people.di, &upload("Di", 0.9, "folk", &[]))
        .await;
    mesh.published(&people.ed, &upload("Ed", 1.2, "jazz", &[]))
        .await;
    people
}

async fn signed_json<T: Serialize>(
    mesh: &Coordinator,
    device: &Device,
    method: Method,
    path: &str,
    body: &T,
) -> Reply {
    let request = device.signed(method, path, mesh.next_ts(), json_bytes(body));
    mesh.send(request).await
}

async fn ok(reply: Reply) -> Reply {
    assert!(
        reply.status.is_success(),
        "{}: {}",
        reply.status,
        reply.text()
    );
    reply
}

/// The display names `device` is suggested (a signed query with its own vector at `angle`).
async fn suggestions(mesh: &Coordinator, device: &Device, angle: f32) -> Vec<String> {
    let reply = signed_candidates(mesh, device, angle).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply
        .json::<CandidatesResponse>()
        .candidates
        .into_iter()
        .map(|c| c.card.display_name)
        .collect()
}

async fn signed_candidates(mesh: &Coordinator, device: &Device, angle: f32) -> Reply {
    let body = CandidatesRequest {
        model_version: 1,
        taste_vector: at_angle(angle),
        k: 10,
        exclude: None,
    };
    signed_json(
        mesh,
        device,
        Method::POST,
        "/v1/discovery/candidates",
        &body,
    )
    .await
}

async fn operator(mesh: &Coordinator, method: Method, path: &str, body: Vec<u8>) -> Reply {
    let bearer = format!("Bearer {OPERATOR}");
    mesh.send(request(method, path, Some(&bearer), body)).await
}

fn with_operator(mesh: Coordinator) -> Coordinator {
    mesh.with_config(AppConfig {
        operator_token: Some(OPERATOR.to_owned()),
        ..AppConfig::default()
    })
}

#[tokio::test]
async fn blocked_pairs_never_appear_either_way() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    assert!(
        suggestions(&mesh, &p.ada, 0.0)
            .await
            .contains(&"Bo".to_owned())
    );
    ok(signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/blocks",
        &json!({ "target": p.bo.user }),
    )
    .await)
    .await;
    let ada_sees = suggestions(&mesh, &p.ada, 0.0).await;
    assert!(!ada_sees.contains(&"Bo".to_owned()), "{ada_sees:?}");
    assert!(ada_sees.contains(&"Cy".to_owned()));
    let bo_sees = suggestions(&mesh, &p.bo, 0.30).await;
    assert!(!bo_sees.contains(&"Ada".to_owned()), "{bo_sees:?}");
    // A third person still finds both: their block is theirs, not public.
    let cy_sees = suggestions(&mesh, &p.cy, 0.0).await;
    assert!(
        cy_sees.contains(&"Bo".to_owned()) && cy_sees.contains(&"Ada".to_owned()),
        "{cy_sees:?}"
    );
    // Not in a live room either, and no introduction between them.
    for device in [&p.ada, &p.bo, &p.cy] {
        let presence = device.signed(
            Method::POST,
            "/v1/rooms/sci-fi/presence",
            mesh.next_ts(),
            Vec::new(),
        );
        assert_eq!(mesh.send(presence).await.status, StatusCode::NO_CONTENT);
    }
    let room = json!({ "model_version": 1, "topic_vector": at_angle(0.0), "k": 10 });
    let reply = signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/rooms/sci-fi/candidates",
        &room,
    )
    .await;
    let names: Vec<String> = ok(reply)
        .await
        .json::<CandidatesResponse>()
        .candidates
        .into_iter()
        .map(|c| c.card.display_name)
        .collect();
    assert_eq!(names, ["Cy"]);
    signed_json(
        &mesh,
        &p.bo,
        Method::POST,
        "/v1/introductions",
        &json!({ "to": p.ada.user }),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden", None, &["blocked"]);
    // Blocking oneself is refused with the field named.
    signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/blocks",
        &json!({ "target": p.ada.user }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("target"),
        &["yourself"],
    );
    // The block survives a restart.
    let mesh = mesh.restart();
    assert!(
        !suggestions(&mesh, &p.ada, 0.0)
            .await
            .contains(&"Bo".to_owned())
    );
}

#[tokio::test]
async fn snoozed_categories_stay_away_for_thirty_days() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    ok(signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/snoozes",
        &json!({ "category": "Jazz" }),
    )
    .await)
    .await;
    let hidden = suggestions(&mesh, &p.ada, 0.0).await;
    assert!(
        !hidden.contains(&"Bo".to_owned()) && !hidden.contains(&"Ed".to_owned()),
        "{hidden:?}"
    );
    assert!(hidden.contains(&"Cy".to_owned()));
    mesh.clock.advance(30 * DAY_MS - 60_000);
    let still = suggestions(&mesh, &p.ada, 0.0).await;
    assert!(
        !still.contains(&"Bo".to_owned()),
        "day 30 minus a minute: {still:?}"
    );
    mesh.clock.advance(60_000);
    let back = suggestions(&mesh, &p.ada, 0.0).await;
    assert!(
        back.contains(&"Bo".to_owned()) && back.contains(&"Ed".to_owned()),
        "after 30 days: {back:?}"
    );
}

#[tokio::test]
async fn intent_flags_weight_results_until_they_expire() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    // Cy (0.25 rad) is nearer Ada than Bo (0.30 rad).
    assert_eq!(suggestions(&mesh, &p.ada, 0.0).await[0], "Cy");
    let flags = json!({ "flags": [{ "topic": "collaborators", "ttl_hours": 1 }] });
    ok(signed_json(&mesh, &p.ada, Method::PUT, "/v1/intents", &flags).await).await;
    ok(signed_json(&mesh, &p.bo, Method::PUT, "/v1/intents", &flags).await).await;
    assert_eq!(
        suggestions(&mesh, &p.ada, 0.0).await[0],
        "Bo",
        "a shared active intent lifts Bo"
    );
    mesh.clock.advance(3_600_000);
    assert_eq!(
        suggestions(&mesh, &p.ada, 0.0).await[0],
        "Cy",
        "an expired intent is ignored"
    );
    let bad = json!({ "flags": [{ "topic": "friends", "ttl_hours": 721 }] });
    signed_json(&mesh, &p.ada, Method::PUT, "/v1/intents", &bad)
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("flags[0].ttl_hours"),
            &["721"],
        );
}

#[tokio::test]
async fn less_like_this_moves_a_suggestion_down() {
    let mesh = with_operator(Coordinator::new());
    let p = people(&mesh).await;
    assert_eq!(suggestions(&mesh, &p.ada, 0.0).await[0], "Cy");
    let less = json!({ "target": p.cy.user, "more_like_this": false });
    ok(signed_json(&mesh, &p.ada, Method::POST, "/v1/feedback", &less).await).await;
    let after = suggestions(&mesh, &p.ada, 0.0).await;
    assert_ne!(after[0], "Cy", "{after:?}");
    // One outcome is not enough to train the re-ranker on.
    operator(&mesh, Method::POST, "/v1/admin/ranker/train", Vec::new())
        .await
        .assert_error(
            StatusCode::CONFLICT,
            "conflict",
            None,
            &["0 positive and 1 negative"],
        );
}

#[tokio::test]
async fn the_outreach_cap_answers_429_with_a_clear_message() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    mesh.registered(&ada).await;
    for n in 0..5u8 {
        let to = Device::new(10 + n).user;
        let reply = ok(signed_json(
            &mesh,
            &ada,
            Method::POST,
            "/v1/introductions",
            &json!({ "to": to }),
        )
        .await)
        .await;
        assert_eq!(
            reply.json::<serde_json::Value>()["remaining_today"],
            4 - u32::from(n)
        );
    }
    let sixth = json!({ "to": Device::new(20).user });
    signed_json(&mesh, &ada, Method::POST, "/v1/introductions", &sixth)
        .await
        .assert_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            None,
            &[
                "daily limit of 5 new introductions",
                "account age 0 days",
                "in 1440 minutes",
            ],
        );
    mesh.clock.advance(DAY_MS);
    ok(signed_json(&mesh, &ada, Method::POST, "/v1/introductions", &sixth).await).await;
}

#[tokio::test]
async fn an_accepted_introduction_ties_the_two() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    ok(signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/introductions",
        &json!({ "to": p.cy.user }),
    )
    .await)
    .await;
    let accept = format!("/v1/introductions/{}/accept", p.ada.user);
    let wrong = format!("/v1/introductions/{}/accept", p.bo.user);
    let reply = mesh
        .send(p.cy.signed(Method::POST, &wrong, mesh.next_ts(), Vec::new()))
        .await;
    reply.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        &["no pending introduction"],
    );
    let reply = mesh
        .send(p.cy.signed(Method::POST, &accept, mesh.next_ts(), Vec::new()))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    // Now connected: no longer suggested to each other, and no second introduction.
    assert!(
        !suggestions(&mesh, &p.ada, 0.0)
            .await
            .contains(&"Cy".to_owned())
    );
    signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/introductions",
        &json!({ "to": p.cy.user }),
    )
    .await
    .assert_error(
        StatusCode::CONFLICT,
        "conflict",
        None,
        &["already connected"],
    );
}

#[tokio::test]
async fn the_flag_switch_and_kill_switch_take_effect_without_a_restart() {
    let mesh = with_operator(Coordinator::new());
    let p = people(&mesh).await;
    let v2 = suggestions(&mesh, &p.ada, 0.0).await;
    assert!(v2.len() >= 4, "{v2:?}");
    let set = |flags: DiscoveryFlags| json_bytes(&flags);
    let v1_on = DiscoveryFlags {
        ranking: RankingVersion::V1,
        discovery_enabled: true,
    };
    ok(operator(&mesh, Method::PUT, "/v1/admin/flags", set(v1_on)).await).await;
    // v1: only people sharing a public favourite with Ada's card (Bo shares "Alien").
    assert_eq!(suggestions(&mesh, &p.ada, 0.0).await, ["Bo"]);
    let off = DiscoveryFlags {
        discovery_enabled: false,
        ..v1_on
    };
    ok(operator(&mesh, Method::PUT, "/v1/admin/flags", set(off)).await).await;
    signed_candidates(&mesh, &p.ada, 0.0).await.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "discovery_off",
        None,
        &["switched off"],
    );
    // Only the operator switches.
    mesh.send(request(
        Method::PUT,
        "/v1/admin/flags",
        Some("Bearer wrong"),
        set(v1_on),
    ))
    .await
    .assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
        &["operator token"],
    );
    // The flags are durable.
    let mesh = with_operator(mesh.restart());
    let flags: DiscoveryFlags =
        ok(operator(&mesh, Method::GET, "/v1/admin/flags", Vec::new()).await)
            .await
            .json();
    assert_eq!(flags, off);
    ok(operator(
        &mesh,
        Method::PUT,
        "/v1/admin/flags",
        set(DiscoveryFlags::default()),
    )
    .await)
    .await;
    assert_eq!(suggestions(&mesh, &p.ada, 0.0).await, v2);
}

#[tokio::test]
async fn room_presence_lasts_a_minute() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    for device in [&p.bo, &p.di] {
        let presence = device.signed(
            Method::POST,
            "/v1/rooms/jazz-night/presence",
            mesh.next_ts(),
            Vec::new(),
        );
        assert_eq!(mesh.send(presence).await.status, StatusCode::NO_CONTENT);
    }
    let room = json!({ "model_version": 1, "topic_vector": at_angle(1.0), "k": 10 });
    let names = |reply: Reply| -> Vec<String> {
        reply
            .json::<CandidatesResponse>()
            .candidates
            .into_iter()
            .map(|c| c.card.display_name)
            .collect()
    };
    // Cy asks (signed: rooms answer registered callers only).
    let path = "/v1/rooms/jazz-night/candidates";
    let reply = signed_json(&mesh, &p.cy, Method::POST, path, &room).await;
    assert_eq!(
        names(ok(reply).await),
        ["Di", "Bo"],
        "nearest the room's topic first"
    );
    mesh.clock.advance(60_000);
    let reply = signed_json(&mesh, &p.cy, Method::POST, path, &room).await;
    assert!(
        names(ok(reply).await).is_empty(),
        "a minute without heartbeat"
    );
    let reply = signed_json(
        &mesh,
        &p.cy,
        Method::POST,
        "/v1/rooms/a%2Fb/candidates",
        &room,
    )
    .await;
    reply.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("room"),
        &["room id"],
    );
}

#[tokio::test]
async fn opting_out_removes_what_the_user_did() {
    let mesh = Coordinator::new();
    let p = people(&mesh).await;
    ok(signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/blocks",
        &json!({ "target": p.bo.user }),
    )
    .await)
    .await;
    ok(signed_json(
        &mesh,
        &p.ada,
        Method::POST,
        "/v1/snoozes",
        &json!({ "category": "rock" }),
    )
    .await)
    .await;
    let reply = mesh.delete_profile(&p.ada).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let events = mesh.store.events().unwrap();
    assert!(
        events.iter().all(|e| e.actor() != Some(&p.ada.user)),
        "{events:?}"
    );
    // Bo is no longer blocked by anyone: Cy and Bo see each other.
    assert!(
        suggestions(&mesh, &p.cy, 0.25)
            .await
            .contains(&"Bo".to_owned())
    );
}

#[tokio::test]
async fn outcomes_train_a_reranker_that_is_served_and_kept() {
    let mesh = with_operator(Coordinator::new());
    let ada = Device::new(1);
    mesh.published(&ada, &upload("Ada", 0.0, "sci-fi", &[]))
        .await;
    for n in 0..24u8 {
        let other = Device::new(10 + n);
        let angle = f32::from(n) * 0.05;
        mesh.published(&other, &upload(&format!("P{n}"), angle, "jazz", &[]))
            .await;
        // Ada likes the people near her and not the ones further out.
        let more = n < 12;
        let feedback = json!({ "target": other.user, "more_like_this": more });
        ok(signed_json(&mesh, &ada, Method::POST, "/v1/feedback", &feedback).await).await;
    }
    assert!(!mesh.state.discovery().has_ranker());
    let trained =
        ok(operator(&mesh, Method::POST, "/v1/admin/ranker/train", Vec::new()).await).await;
    assert_eq!(trained.status, StatusCode::CREATED);
    assert!(
        trained.json::<serde_json::Value>()["trees"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(mesh.state.discovery().has_ranker());
    assert_eq!(suggestions(&mesh, &ada, 0.0).await.len(), 10);
    let mesh = mesh.restart();
    assert!(
        mesh.state.discovery().has_ranker(),
        "the trained re-ranker is stored"
    );
}
