//! Register → publish → be found → opt out → stay out.

use axum::http::StatusCode;
use mesh_shared::{RegisteredIdentity, cosine};

use crate::fixtures::{Coordinator, Device, SCI_FI_FILMS, SCI_FI_MIX, upload_from_favourites};

#[tokio::test]
async fn registering_twice_answers_created_then_ok_for_the_same_user_id() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);

    let first = mesh.register(&ada).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json::<RegisteredIdentity>().user_id, ada.user);

    let again = mesh.register(&ada).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json::<RegisteredIdentity>().user_id, ada.user);

    // Registering stores a key, never a profile.
    mesh.assert_holds_nothing_for(&ada.user).await;
}

#[tokio::test]
async fn a_published_profile_is_found_with_its_card_until_its_owner_opts_out() {
    let mesh = Coordinator::with_population(40);
    let model = mesh.model();
    let ada = Device::new(1);
    let bo = Device::new(2);
    let ada_upload = upload_from_favourites(&model, "Ada", SCI_FI_FILMS);
    let bo_vector = upload_from_favourites(&model, "Bo", SCI_FI_MIX).taste_vector;

    let created = mesh.register(&ada).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let again = mesh.register(&ada).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());

    let put = mesh.put_profile(&ada, &ada_upload).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(put.json::<RegisteredIdentity>().user_id, ada.user);
    let stored = mesh
        .stored_profile(&ada.user)
        .expect("the profile is stored");
    assert_eq!(stored.upload, ada_upload);
    assert_eq!(stored.updated_at_ms, mesh.clock.now());
    assert!(mesh.state.is_discoverable(&ada.user));

    let found = mesh.candidates(&bo_vector, 10, Some(&bo.user)).await;
    assert_eq!(found.model_version, model.version());
    assert_eq!(found.candidates.len(), 10);
    let distinct: std::collections::HashSet<_> =
        found.candidates.iter().map(|c| &c.user_id).collect();
    assert_eq!(distinct.len(), 10, "each person is suggested once");
    assert!(distinct.iter().all(|id| **id != bo.user), "never oneself");
    let ada_found = found
        .candidates
        .iter()
        .find(|c| c.user_id == ada.user)
        .expect("a sci-fi fan finds Ada among the 10 nearest of 41 people");
    assert_eq!(ada_found.card, ada_upload.card);
    // The score is the cosine, coarse: on the 0.25 grid, at most one step away.
    let expected = cosine(bo_vector.as_slice(), ada_upload.taste_vector.as_slice());
    let step = mesh_coordinator::SCORE_STEP;
    assert!(
        (ada_found.score - expected).abs() <= step && (ada_found.score / step).fract().abs() < 1e-6,
        "score {} is the coarse cosine {expected}",
        ada_found.score
    );

    let deleted = mesh.delete_profile(&ada).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    let after = mesh.candidates(&bo_vector, 100, Some(&bo.user)).await;
    assert_eq!(after.candidates.len(), 40, "only the population is left");
    mesh.assert_holds_nothing_for(&ada.user).await;

    // The key went with the profile: a later, newer write is refused until it registers again.
    let refused = mesh.put_profile(&ada, &ada_upload).await;
    refused.assert_error(
        StatusCode::FORBIDDEN,
        "not_registered",
        None,
        &["not registered", "POST /v1/identities"],
    );
    mesh.assert_holds_nothing_for(&ada.user).await;
}

#[tokio::test]
async fn publishing_again_replaces_the_profile_in_the_store_and_in_discovery() {
    let mesh = Coordinator::new();
    let model = mesh.model();
    let ada = Device::new(1);
    let first = upload_from_favourites(&model, "Ada", SCI_FI_FILMS);
    let second = upload_from_favourites(&model, "Ada L.", SCI_FI_MIX);
    mesh.published(&ada, &first).await;

    mesh.clock.advance(60_000);
    let put = mesh.put_profile(&ada, &second).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());

    let stored = mesh
        .stored_profile(&ada.user)
        .expect("the profile is stored");
    assert_eq!(stored.upload, second);
    assert_eq!(stored.updated_at_ms, mesh.clock.now());
    let found = mesh.candidates(&second.taste_vector, 5, None).await;
    assert_eq!(found.candidates.len(), 1);
    assert_eq!(found.candidates[0].user_id, ada.user);
    assert_eq!(found.candidates[0].card, second.card);
}

#[tokio::test]
async fn writing_a_profile_before_registering_is_refused_as_not_registered() {
    let mesh = Coordinator::new();
    let model = mesh.model();
    let ada = Device::new(1);

    let reply = mesh
        .put_profile(&ada, &upload_from_favourites(&model, "Ada", SCI_FI_FILMS))
        .await;
    reply.assert_error(
        StatusCode::FORBIDDEN,
        "not_registered",
        None,
        &["this key is not registered: POST /v1/identities first"],
    );
    mesh.assert_holds_nothing_for(&ada.user).await;

    let delete = mesh.delete_profile(&ada).await;
    delete.assert_error(StatusCode::FORBIDDEN, "not_registered", None, &[]);
}

#[tokio::test]
async fn a_user_who_opted_out_can_register_and_publish_again() {
    let mesh = Coordinator::new();
    let model = mesh.model();
    let ada = Device::new(1);
    let upload = upload_from_favourites(&model, "Ada", SCI_FI_FILMS);
    mesh.published(&ada, &upload).await;
    let deleted = mesh.delete_profile(&ada).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());

    mesh.registered(&ada).await;
    let put = mesh.put_profile(&ada, &upload).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(
        mesh.stored_profile(&ada.user).map(|p| p.upload),
        Some(upload)
    );
    assert!(mesh.state.is_discoverable(&ada.user));
}
