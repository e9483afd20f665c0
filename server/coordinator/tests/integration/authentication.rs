//! Who may write: signatures, ownership, freshness and replays.

use axum::http::{Method, StatusCode};
use mesh_shared::{MAX_CLOCK_SKEW_MS, ProfileUpload, RegisteredIdentity};
use rstest::rstest;

use crate::fixtures::{
    Coordinator, Device, SCI_FI_FILMS, SCI_FI_MIX, json_bytes, request, upload_from_favourites,
};

/// A coordinator where Ada has published `first`, and the profile she would replace it with.
async fn ada_published() -> (Coordinator, Device, ProfileUpload, ProfileUpload) {
    let mesh = Coordinator::new();
    let model = mesh.model();
    let ada = Device::new(1);
    let first = upload_from_favourites(&model, "Ada", SCI_FI_FILMS);
    let second = upload_from_favourites(&model, "Ada L.", SCI_FI_MIX);
    mesh.published(&ada, &first).await;
    (mesh, ada, first, second)
}

#[rstest]
#[case::put(Method::PUT)]
#[case::delete(Method::DELETE)]
#[tokio::test]
async fn another_users_key_cannot_write_or_delete_a_profile(#[case] method: Method) {
    let (mesh, ada, first, second) = ada_published().await;
    let ada_before = mesh.stored_profile(&ada.user);
    let bo = Device::new(2);
    mesh.published(&bo, &second).await;
    let bo_before = mesh.stored_profile(&bo.user);

    let body = if method == Method::PUT {
        json_bytes(&second)
    } else {
        Vec::new()
    };
    let reply = mesh
        .send(bo.signed(method, &ada.profile_path(), mesh.next_ts(), body))
        .await;

    reply.assert_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
        &[&format!(
            "the signing key owns user {}, not {}",
            bo.user, ada.user
        )],
    );
    assert_eq!(mesh.stored_profile(&ada.user), ada_before);
    assert_eq!(mesh.stored_profile(&bo.user), bo_before);
    assert!(mesh.state.is_discoverable(&ada.user));
    let found = mesh.candidates(&first.taste_vector, 1, None).await;
    assert_eq!(found.candidates[0].user_id, ada.user);
    assert_eq!(found.candidates[0].card, first.card);
}

#[tokio::test]
async fn a_profile_path_that_is_not_a_user_id_is_not_found() {
    let (mesh, ada, first, second) = ada_published().await;
    let path = "/v1/profiles/Not_A_User";

    let reply = mesh
        .send(ada.signed(Method::PUT, path, mesh.next_ts(), json_bytes(&second)))
        .await;

    reply.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        &["\"Not_A_User\" is not 1-64 characters of a-z, 0-9 and -"],
    );
    assert_eq!(
        mesh.stored_profile(&ada.user).map(|p| p.upload),
        Some(first)
    );
}

/// Ways to make a signed request no longer match its signature.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    BodyChangedAfterSigning,
    SignedForAnotherPath,
    SignedForAnotherMethod,
    FlippedHexDigitInSig,
    TimestampChangedAfterSigning,
    KeySwappedForAnotherDevice,
}

#[rstest]
#[case::body_changed_after_signing(Tamper::BodyChangedAfterSigning)]
#[case::signed_for_another_path(Tamper::SignedForAnotherPath)]
#[case::signed_for_another_method(Tamper::SignedForAnotherMethod)]
#[case::flipped_hex_digit_in_sig(Tamper::FlippedHexDigitInSig)]
#[case::timestamp_changed_after_signing(Tamper::TimestampChangedAfterSigning)]
#[case::key_swapped_for_another_device(Tamper::KeySwappedForAnotherDevice)]
#[tokio::test]
async fn a_request_that_does_not_match_its_signature_is_unauthenticated(#[case] tamper: Tamper) {
    let (mesh, ada, first, second) = ada_published().await;
    let stored_before = mesh.stored_profile(&ada.user);
    let path = ada.profile_path();
    let body = json_bytes(&second);
    let ts = mesh.next_ts();
    let signed =
        |method: &Method, path: &str, body: &[u8]| ada.authorization(method, path, ts, body);

    let (authorization, sent_body) = match tamper {
        Tamper::BodyChangedAfterSigning => {
            let mut changed = second.clone();
            changed.card.display_name = "Mallory".into();
            (signed(&Method::PUT, &path, &body), json_bytes(&changed))
        }
        Tamper::SignedForAnotherPath => (
            signed(&Method::PUT, "/v1/profiles/someone-else", &body),
            body.clone(),
        ),
        Tamper::SignedForAnotherMethod => (signed(&Method::DELETE, &path, &body), body.clone()),
        Tamper::FlippedHexDigitInSig => {
            let header = signed(&Method::PUT, &path, &body);
            let at = header.find("sig=").unwrap() + 4 + 17;
            let digit = u8::from_str_radix(&header[at..=at], 16).unwrap() ^ 1;
            let flipped = format!("{}{digit:x}{}", &header[..at], &header[at + 1..]);
            assert_ne!(flipped, header);
            (flipped, body.clone())
        }
        Tamper::TimestampChangedAfterSigning => {
            let header = signed(&Method::PUT, &path, &body);
            let later = header.replace(&format!("ts={ts}"), &format!("ts={}", ts + 1));
            (later, body.clone())
        }
        Tamper::KeySwappedForAnotherDevice => {
            let header = signed(&Method::PUT, &path, &body);
            let bo = Device::new(2).authorization(&Method::PUT, &path, ts, &body);
            let key = |h: &str| h[h.find("key=").unwrap()..h.find(",ts=").unwrap()].to_owned();
            (header.replace(&key(&header), &key(&bo)), body.clone())
        }
    };
    let reply = mesh
        .send(request(Method::PUT, &path, Some(&authorization), sent_body))
        .await;

    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
        &["authorization: signature does not match the request"],
    );
    assert_eq!(mesh.stored_profile(&ada.user), stored_before);
    assert_eq!(stored_before.map(|p| p.upload), Some(first));
    // A forged request does not use up the timestamp: the genuine request still goes through.
    let genuine = mesh
        .send(ada.signed(Method::PUT, &path, ts, body.clone()))
        .await;
    assert_eq!(genuine.status, StatusCode::OK, "{}", genuine.text());
    assert_eq!(
        mesh.stored_profile(&ada.user).map(|p| p.upload),
        Some(second)
    );
}

#[rstest]
#[case::missing_header(None, "missing Authorization header: writes must be signed")]
#[case::another_scheme(Some("Bearer abc"), "expected the `Mesh-Ed25519` scheme")]
#[case::short_key(Some("Mesh-Ed25519 key=00,ts=1,sig=00"), "key= is not 64 hex digits")]
#[case::missing_signature(
    Some("Mesh-Ed25519 key=0000000000000000000000000000000000000000000000000000000000000000,ts=1"),
    "missing sig="
)]
#[case::unknown_parameter(Some("Mesh-Ed25519 nonce=1"), "unknown parameter `nonce`")]
#[tokio::test]
async fn a_write_without_a_readable_authorization_is_unauthenticated(
    #[case] authorization: Option<&str>,
    #[case] message: &str,
) {
    let (mesh, ada, first, second) = ada_published().await;

    for (method, body) in [
        (Method::PUT, json_bytes(&second)),
        (Method::DELETE, Vec::new()),
    ] {
        let reply = mesh
            .send(request(method, &ada.profile_path(), authorization, body))
            .await;
        reply.assert_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            None,
            &[message],
        );
    }
    let register = mesh
        .send(request(
            Method::POST,
            "/v1/identities",
            authorization,
            Vec::new(),
        ))
        .await;
    register.assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
        &[message],
    );

    assert_eq!(
        mesh.stored_profile(&ada.user).map(|p| p.upload),
        Some(first)
    );
    assert!(mesh.state.is_discoverable(&ada.user));
}

#[rstest]
#[case::older_than_five_minutes(-(MAX_CLOCK_SKEW_MS as i64) - 1)]
#[case::more_than_five_minutes_ahead(MAX_CLOCK_SKEW_MS as i64 + 1)]
#[tokio::test]
async fn a_request_signed_more_than_five_minutes_from_the_clock_is_unauthenticated(
    #[case] offset_ms: i64,
    #[values(Method::PUT, Method::DELETE)] method: Method,
) {
    let (mesh, ada, first, second) = ada_published().await;
    let stored_before = mesh.stored_profile(&ada.user);
    let now = mesh.clock.advance(2 * MAX_CLOCK_SKEW_MS);
    let ts = now.checked_add_signed(offset_ms).unwrap();
    let body = if method == Method::PUT {
        json_bytes(&second)
    } else {
        Vec::new()
    };

    let reply = mesh
        .send(ada.signed(method, &ada.profile_path(), ts, body))
        .await;

    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
        &[&format!(
            "ts={ts} is more than 300 s from the coordinator's clock ({now})"
        )],
    );
    assert_eq!(mesh.stored_profile(&ada.user), stored_before);
    assert_eq!(stored_before.map(|p| p.upload), Some(first));
    assert!(mesh.state.is_discoverable(&ada.user));
}

#[rstest]
#[case::exactly_five_minutes_old(-(MAX_CLOCK_SKEW_MS as i64))]
#[case::exactly_five_minutes_ahead(MAX_CLOCK_SKEW_MS as i64)]
#[tokio::test]
async fn a_request_signed_exactly_five_minutes_from_the_clock_is_accepted(#[case] offset_ms: i64) {
    let (mesh, ada, _, second) = ada_published().await;
    let now = mesh.clock.advance(2 * MAX_CLOCK_SKEW_MS);
    let ts = now.checked_add_signed(offset_ms).unwrap();

    let reply = mesh
        .send(ada.signed(Method::PUT, &ada.profile_path(), ts, json_bytes(&second)))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json::<RegisteredIdentity>().user_id, ada.user);
    assert_eq!(
        mesh.stored_profile(&ada.user).map(|p| p.upload),
        Some(second)
    );
}

#[tokio::test]
async fn replaying_a_signed_profile_write_is_refused_and_changes_nothing() {
    let (mesh, ada, _, second) = ada_published().await;
    let ts = mesh.next_ts();
    let write = || ada.signed(Method::PUT, &ada.profile_path(), ts, json_bytes(&second));
    let first = mesh.send(write()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let stored = mesh.stored_profile(&ada.user);
    assert_eq!(stored.as_ref().map(|p| &p.upload), Some(&second));

    mesh.clock.advance(1_000);
    let replayed = mesh.send(write()).await;

    replayed.assert_error(
        StatusCode::CONFLICT,
        "replayed_request",
        None,
        &[&format!(
            "replayed or out-of-order request: timestamp {ts} is not after {ts}"
        )],
    );
    assert_eq!(
        mesh.stored_profile(&ada.user),
        stored,
        "not even updated_at_ms moved"
    );
}

#[tokio::test]
async fn a_write_signed_before_the_last_accepted_one_is_refused_as_replayed() {
    let (mesh, ada, first, second) = ada_published().await;
    let older = mesh.next_ts();
    let newer = mesh.next_ts();
    let path = ada.profile_path();
    let put = mesh
        .send(ada.signed(Method::PUT, &path, newer, json_bytes(&first)))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let stored = mesh.stored_profile(&ada.user);

    let late = mesh
        .send(ada.signed(Method::PUT, &path, older, json_bytes(&second)))
        .await;

    late.assert_error(
        StatusCode::CONFLICT,
        "replayed_request",
        None,
        &[&format!("timestamp {older} is not after {newer}")],
    );
    assert_eq!(mesh.stored_profile(&ada.user), stored);
    assert_eq!(stored.map(|p| p.upload), Some(first));
}

#[tokio::test]
async fn a_replayed_opt_out_cannot_remove_a_profile_published_again() {
    let (mesh, ada, first, _) = ada_published().await;
    let ts = mesh.next_ts();
    let opt_out = || ada.signed(Method::DELETE, &ada.profile_path(), ts, Vec::new());
    let deleted = mesh.send(opt_out()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    mesh.published(&ada, &first).await;
    let stored = mesh.stored_profile(&ada.user);

    let replayed = mesh.send(opt_out()).await;

    replayed.assert_error(
        StatusCode::CONFLICT,
        "replayed_request",
        None,
        &[&format!("timestamp {ts} is not after")],
    );
    assert_eq!(mesh.stored_profile(&ada.user), stored);
    assert!(mesh.state.is_discoverable(&ada.user));
}

#[tokio::test]
async fn a_replayed_registration_after_an_opt_out_is_refused() {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    let ts = mesh.next_ts();
    let registration = || ada.signed(Method::POST, "/v1/identities", ts, Vec::new());
    let created = mesh.send(registration()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let deleted = mesh.delete_profile(&ada).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());

    let replayed = mesh.send(registration()).await;

    replayed.assert_error(
        StatusCode::CONFLICT,
        "replayed_request",
        None,
        &[&format!("timestamp {ts} is not after")],
    );
    let put = mesh
        .put_profile(
            &ada,
            &upload_from_favourites(&mesh.model(), "Ada", SCI_FI_FILMS),
        )
        .await;
    put.assert_error(StatusCode::FORBIDDEN, "not_registered", None, &[]);
    mesh.assert_holds_nothing_for(&ada.user).await;
}
