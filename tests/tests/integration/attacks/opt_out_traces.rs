//! Opting out: the promise is that a person who leaves is gone from what the coordinator keeps
//! — their id and their exact taste vector are in no index snapshot written after they left
//! (the snapshot `mesh serve` saves at shutdown and starts from), and no event of the log names
//! them in any role (introductions, messages, swipes, suggestion lists) except the blocks and
//! reports others made against them, kept on purpose.
use axum::http::StatusCode;
use mesh_coordinator::{Event, SocialEvent};
use mesh_shared::{
    BlockRequest, CandidatesRequest, FeedbackRequest, IntroductionRequest, MessageRequest,
    ReportRequest, TASTE_DIM, TasteVector,
};

use super::{Target, identity};

#[tokio::test]
async fn an_opted_out_person_is_not_in_the_index_snapshot() {
    let target = Target::new();
    let mut people = Vec::new();
    for seed in 60..100u8 {
        let person = identity(seed);
        let mut v = vec![0.0f32; TASTE_DIM];
        (v[0], v[usize::from(seed) % TASTE_DIM]) = (0.6, 0.8);
        let upload = target
            .publish(
                &person,
                &format!("P{seed}"),
                TasteVector::try_from(v).unwrap(),
            )
            .await;
        people.push((person, upload));
    }
    let (leaver, upload) = &people[7];
    let id = leaver.user_id().as_str().as_bytes().to_vec();
    let vector: Vec<u8> = upload
        .taste_vector
        .as_slice()
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let before = target.state.index().snapshot();
    assert!(contains(&before, &id) && contains(&before, &vector));

    let path = format!("/v1/profiles/{}", leaver.user_id());
    let reply = target.signed(leaver, "DELETE", &path, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let after = target.state.index().snapshot();
    assert!(
        !contains(&after, &id),
        "the opted-out id is in the snapshot"
    );
    assert!(
        !contains(&after, &vector),
        "the opted-out vector is in the snapshot"
    );
    let (stayer, _) = &people[8];
    assert!(contains(&after, stayer.user_id().as_str().as_bytes()));
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn axis_vector(axes: &[(usize, f32)]) -> TasteVector {
    let mut v = vec![0.0f32; TASTE_DIM];
    for &(axis, x) in axes {
        v[axis] = x;
    }
    TasteVector::try_from(v).unwrap()
}

#[tokio::test]
async fn an_opted_out_person_is_named_only_in_blocks_and_reports_against_them() {
    let target = Target::new();
    let leaver = identity(40);
    let (friend, admirer, swiper, blocker, reporter) = (
        identity(41),
        identity(42),
        identity(43),
        identity(44),
        identity(45),
    );
    target
        .publish(&leaver, "Leaver", axis_vector(&[(0, 1.0)]))
        .await;
    for (person, name) in [
        (&friend, "Friend"),
        (&admirer, "Admirer"),
        (&swiper, "Swiper"),
        (&blocker, "Blocker"),
        (&reporter, "Reporter"),
    ] {
        target
            .publish(person, name, axis_vector(&[(0, 0.8), (1, 0.6)]))
            .await;
    }
    let ok = |reply: &super::Reply, what: &str| {
        assert!(reply.status.is_success(), "{what}: {}", reply.text());
    };
    // The swiper is shown the leaver among others, and swipes on them.
    let shown = target
        .signed(
            &swiper,
            "POST",
            "/v1/discovery/candidates",
            json(&CandidatesRequest {
                model_version: target.state.model_version(),
                taste_vector: axis_vector(&[(0, 1.0)]),
                k: 10,
                exclude: None,
            }),
        )
        .await;
    ok(&shown, "candidates");
    let to = |user: &mesh_shared::UserId| user.clone();
    let feedback = FeedbackRequest {
        target: to(leaver.user_id()),
        more_like_this: true,
    };
    ok(
        &target
            .signed(&swiper, "POST", "/v1/feedback", json(&feedback))
            .await,
        "feedback",
    );
    // The friend is introduced and accepted, then writes; the admirer's introduction waits.
    let introduce = IntroductionRequest {
        to: to(leaver.user_id()),
    };
    ok(
        &target
            .signed(&friend, "POST", "/v1/introductions", json(&introduce))
            .await,
        "introduce",
    );
    let accept = format!("/v1/introductions/{}/accept", friend.user_id());
    ok(
        &target.signed(&leaver, "POST", &accept, Vec::new()).await,
        "accept",
    );
    let message = MessageRequest {
        to: to(leaver.user_id()),
    };
    ok(
        &target
            .signed(&friend, "POST", "/v1/messages", json(&message))
            .await,
        "message",
    );
    ok(
        &target
            .signed(&admirer, "POST", "/v1/introductions", json(&introduce))
            .await,
        "introduce",
    );
    // Safety tools others used against the leaver.
    let block = BlockRequest {
        target: to(leaver.user_id()),
    };
    ok(
        &target
            .signed(&blocker, "POST", "/v1/blocks", json(&block))
            .await,
        "block",
    );
    let report = ReportRequest {
        target: to(leaver.user_id()),
        reason: "spam".to_owned(),
    };
    ok(
        &target
            .signed(&reporter, "POST", "/v1/reports", json(&report))
            .await,
        "report",
    );

    let names_leaver = |event: &Event| {
        serde_json::to_string(event)
            .unwrap()
            .contains(leaver.user_id().as_str())
    };
    let before: Vec<Event> = target.state.store().events().unwrap();
    assert!(
        before.iter().filter(|e| names_leaver(e)).count() >= 8,
        "{before:?}"
    );

    let path = format!("/v1/profiles/{}", leaver.user_id());
    let reply = target.signed(&leaver, "DELETE", &path, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    let after: Vec<Event> = target.state.store().events().unwrap();
    let naming: Vec<&Event> = after.iter().filter(|e| names_leaver(e)).collect();
    assert!(
        naming.iter().all(|e| matches!(
            e,
            Event::Social(SocialEvent::Blocked { .. } | SocialEvent::Reported { .. })
        )),
        "events still naming the opted-out person: {naming:?}"
    );
    assert_eq!(
        naming.len(),
        2,
        "the block and the report are kept: {naming:?}"
    );
    // The rest of the swiper's suggestion list is kept.
    assert!(after.iter().any(|e| matches!(
        e,
        Event::Social(SocialEvent::SuggestionsShown { viewer, shown, .. })
            if viewer == swiper.user_id() && !shown.is_empty()
    )));
}
