//! Reports: a person's safety tools must not become a way to erase someone else. The promise:
//! one account's reports, however many, never hide a person from everyone's suggestions; nor do
//! a few brand-new accounts that never met them; people who did meet them, reporting together,
//! still do.
use axum::http::StatusCode;
use mesh_client::DeviceIdentity;
use mesh_coordinator::DAY_MS;
use mesh_shared::{CandidatesRequest, CandidatesResponse, TASTE_DIM, TasteVector};

use super::{Target, identity};

/// A unit taste vector between the first two axes.
fn near(angle: f32) -> TasteVector {
    let mut v = vec![0.0; TASTE_DIM];
    (v[0], v[1]) = (angle.cos(), angle.sin());
    TasteVector::try_from(v).unwrap()
}

async fn publish(target: &Target, person: &DeviceIdentity, name: &str, angle: f32) {
    target.publish(person, name, near(angle)).await;
}

/// The names `viewer` is suggested near angle 0.
async fn suggestions(target: &Target, viewer: &DeviceIdentity) -> Vec<String> {
    let body = serde_json::to_vec(&CandidatesRequest {
        model_version: target.state.model_version(),
        taste_vector: near(0.0),
        k: 10,
        exclude: None,
    })
    .unwrap();
    let reply = target
        .signed(viewer, "POST", "/v1/discovery/candidates", body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply
        .json::<CandidatesResponse>()
        .candidates
        .into_iter()
        .map(|c| c.card.display_name)
        .collect()
}

async fn report(target: &Target, by: &DeviceIdentity, whom: &DeviceIdentity) {
    let body = serde_json::json!({ "target": whom.user_id(), "reason": "harassment" });
    let reply = target
        .signed(
            by,
            "POST",
            "/v1/reports",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}

#[tokio::test]
async fn one_account_or_a_few_strangers_cannot_hide_anyone() {
    let target = Target::new();
    let (victim, bystander) = (identity(30), identity(31));
    publish(&target, &victim, "Victim", 0.1).await;
    publish(&target, &bystander, "Bystander", 0.2).await;
    assert!(
        suggestions(&target, &bystander)
            .await
            .contains(&"Victim".to_owned())
    );

    // One brand-new account reports the victim again and again.
    let troll = identity(32);
    target.register(&troll).await;
    for _ in 0..5 {
        report(&target, &troll, &victim).await;
    }
    let seen = suggestions(&target, &bystander).await;
    assert!(
        seen.contains(&"Victim".to_owned()),
        "one account hid the victim: {seen:?}"
    );

    // Three more new accounts that never met the victim join in.
    for seed in 33..36 {
        let sock = identity(seed);
        target.register(&sock).await;
        report(&target, &sock, &victim).await;
    }
    let seen = suggestions(&target, &bystander).await;
    assert!(
        seen.contains(&"Victim".to_owned()),
        "fresh strangers hid the victim: {seen:?}"
    );
}

#[tokio::test]
async fn people_who_met_someone_can_still_report_them_out_of_discovery() {
    let target = Target::new();
    let (offender, bystander) = (identity(40), identity(41));
    publish(&target, &offender, "Offender", 0.1).await;
    publish(&target, &bystander, "Bystander", 0.2).await;
    // Three established people were shown the offender, then report them.
    let witnesses: Vec<DeviceIdentity> = (42..45).map(identity).collect();
    for witness in &witnesses {
        target.register(witness).await;
    }
    target.clock.advance(8 * DAY_MS);
    for witness in &witnesses {
        assert!(
            suggestions(&target, witness)
                .await
                .contains(&"Offender".to_owned())
        );
        report(&target, witness, &offender).await;
    }
    let seen = suggestions(&target, &bystander).await;
    assert!(!seen.contains(&"Offender".to_owned()), "{seen:?}");
}
