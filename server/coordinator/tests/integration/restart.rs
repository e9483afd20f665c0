//! What survives a restart of the coordinator on the same data directory.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use crate::fixtures::{Coordinator, Device, SCI_FI_FILMS, SCI_FI_MIX, upload_from_favourites};

async fn get_model(mesh: &Coordinator) -> crate::fixtures::Reply {
    let reply = mesh
        .send(Request::get("/v1/model").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply
}

#[tokio::test]
async fn a_published_profile_and_the_served_model_survive_a_restart() {
    let mesh = Coordinator::new();
    let model = mesh.model();
    let ada = Device::new(1);
    let upload = upload_from_favourites(&model, "Ada", SCI_FI_FILMS);
    let query = upload_from_favourites(&model, "Bo", SCI_FI_MIX).taste_vector;
    mesh.published(&ada, &upload).await;
    let stored_before = mesh.stored_profile(&ada.user).expect("stored");
    let model_before = get_model(&mesh).await;

    let mesh = mesh.restart();

    assert_eq!(mesh.stored_profile(&ada.user), Some(stored_before));
    assert!(mesh.state.is_discoverable(&ada.user));
    let found = mesh.candidates(&query, 10, None).await;
    assert_eq!(found.candidates.len(), 1);
    assert_eq!(found.candidates[0].user_id, ada.user);
    assert_eq!(found.candidates[0].card, upload.card);

    let model_after = get_model(&mesh).await;
    assert_eq!(model_after.body, model_before.body, "same model bytes");
    for name in ["x-mesh-model-version", header::ETAG.as_str()] {
        assert_eq!(
            model_after.headers.get(name),
            model_before.headers.get(name),
            "{name}"
        );
    }
    assert_eq!(mesh.state.model_version(), model.version());
    assert!(mesh.model() == model, "the decoded model is identical");
}

#[tokio::test]
async fn an_opt_out_survives_a_restart() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    mesh.published(
        &ada,
        &upload_from_favourites(&mesh.model(), "Ada", SCI_FI_FILMS),
    )
    .await;
    let deleted = mesh.delete_profile(&ada).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());

    let mesh = mesh.restart();

    mesh.assert_holds_nothing_for(&ada.user).await;
}

#[tokio::test]
async fn replay_protection_survives_a_restart() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    let upload = upload_from_favourites(&mesh.model(), "Ada", SCI_FI_FILMS);
    mesh.registered(&ada).await;
    let ts = mesh.next_ts();
    let body = serde_json::to_vec(&upload).unwrap();
    let send = || ada.signed(Method::PUT, &ada.profile_path(), ts, body.clone());
    let first = mesh.send(send()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let stored = mesh.stored_profile(&ada.user);

    let mesh = mesh.restart();
    mesh.clock.advance(1_000);

    let replayed = mesh.send(send()).await;
    replayed.assert_error(
        StatusCode::CONFLICT,
        "replayed_request",
        None,
        &[&format!("timestamp {ts} is not after {ts}")],
    );
    assert_eq!(mesh.stored_profile(&ada.user), stored, "nothing changed");
}

#[tokio::test]
async fn profiles_of_an_older_model_wait_for_a_new_publish_after_the_model_changes() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    let upload = upload_from_favourites(&mesh.model(), "Ada", SCI_FI_FILMS);
    mesh.published(&ada, &upload).await;
    let next = mesh_models::initial_model(mesh_models::Catalogue::embedded(), 2);
    mesh.state.store().save_model(&next.encode()).unwrap();

    let mesh = mesh.restart();

    assert_eq!(mesh.state.model_version(), 2);
    assert!(
        mesh.stored_profile(&ada.user).is_some(),
        "kept in the store"
    );
    assert!(
        !mesh.state.is_discoverable(&ada.user),
        "a v1 vector is not comparable with v2 ones"
    );
    let republished = upload_from_favourites(&mesh.model(), "Ada", SCI_FI_FILMS);
    let reply = mesh.put_profile(&ada, &republished).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(mesh.state.is_discoverable(&ada.user));
}
