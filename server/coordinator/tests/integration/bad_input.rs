//! Bodies that must be refused with an error naming the problem, leaving nothing stored.

use axum::http::{Method, StatusCode, header};
use mesh_coordinator::{AppConfig, Store};
use mesh_shared::{MAX_CANDIDATES, TASTE_DIM};
use rstest::rstest;
use serde_json::{Value, json};

use crate::fixtures::{Coordinator, Device, json_bytes, request, unit_upload, unit_vector};

/// A valid profile upload as JSON, for model version 1.
fn valid_profile() -> Value {
    serde_json::to_value(unit_upload("Ada", 0)).unwrap()
}

/// A valid profile upload with one edit.
fn profile_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value = valid_profile();
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

/// A valid profile upload whose taste vector component 3 is the raw JSON text `raw`.
fn profile_with_component(raw: &str) -> Vec<u8> {
    let text = String::from_utf8(profile_with(|v| v["taste_vector"][3] = json!("<raw>"))).unwrap();
    text.replace("\"<raw>\"", raw).into_bytes()
}

/// A taste vector of `len` components, `value` along every axis of `axes`.
fn vector(len: usize, value: f32, axes: &[usize]) -> Value {
    let mut v = vec![0.0f32; len];
    for &axis in axes {
        v[axis] = value;
    }
    json!(v)
}

#[rstest]
#[case::unknown_model_version(
    || profile_with(|v| v["model_version"] = json!(2)),
    StatusCode::CONFLICT, "unknown_model_version", Some("model_version"),
    &["model_version 2 is not the current model version 1", "GET /v1/model"]
)]
#[case::vector_too_short(
    || profile_with(|v| v["taste_vector"] = vector(2, 1.0, &[0])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector"),
    &["taste_vector: expected 256 components, got 2"]
)]
#[case::vector_too_long(
    || profile_with(|v| v["taste_vector"] = vector(TASTE_DIM + 1, 1.0, &[0])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector"),
    &["taste_vector: expected 256 components, got 257"]
)]
// Valid JSON (RFC 8259 sets no range limit) that no f64 holds: a range error, which the
// contract of `parse_json` answers with 422 and the field path, as for `null` below.
#[case::component_beyond_json_number_range(
    || profile_with_component("1e999"),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector[3]"),
    &["taste_vector[3]", "number out of range"]
)]
// Parsed exactly (serde_json's `float_roundtrip`, on for the whole workspace), a number no
// f32 holds is a range error at its own path.
#[case::component_overflowing_f32(
    || profile_with_component("1e39"),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector[3]"),
    &["taste_vector[3]", "number out of range"]
)]
#[case::component_null(
    || profile_with_component("null"),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector[3]"),
    &["taste_vector[3]: invalid type: null, expected f32"]
)]
#[case::component_nan_string(
    || profile_with_component("\"NaN\""),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector[3]"),
    &["taste_vector[3]: invalid type: string \"NaN\", expected f32"]
)]
#[case::vector_not_normalised(
    || profile_with(|v| v["taste_vector"] = vector(TASTE_DIM, 2.0, &[0])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector"),
    &["taste_vector: not L2-normalised: norm is 2, expected 1"]
)]
#[case::vector_all_zero(
    || profile_with(|v| v["taste_vector"] = vector(TASTE_DIM, 0.0, &[])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector"),
    &["taste_vector: all components are zero", "was the favourites list empty?"]
)]
#[case::empty_display_name(
    || profile_with(|v| v["card"]["display_name"] = json!("")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.display_name"),
    &["card.display_name: must be 1-40 characters, got 0"]
)]
#[case::blank_display_name(
    || profile_with(|v| v["card"]["display_name"] = json!("   ")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.display_name"),
    &["card.display_name: is only whitespace"]
)]
#[case::display_name_too_long(
    || profile_with(|v| v["card"]["display_name"] = json!("a".repeat(41))),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.display_name"),
    &["card.display_name: must be 1-40 characters, got 41"]
)]
#[case::display_name_with_a_control_character(
    || profile_with(|v| v["card"]["display_name"] = json!("Ada\u{7}")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.display_name"),
    &["card.display_name: contains a control character"]
)]
#[case::trait_strength_above_one(
    || profile_with(|v| v["card"]["traits"] = json!([{"label": "sci-fi films", "strength": 2.0}])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.traits[0].strength"),
    &["card.traits[0].strength: 2 is not within 0..=1"]
)]
#[case::too_many_public_favourites(
    || profile_with(|v| v["card"]["public_favourites"] = json!(vec!["Dune"; 11])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.public_favourites"),
    &["card.public_favourites: more than 10 titles"]
)]
#[case::unsupported_schema_version(
    || profile_with(|v| v["schema_version"] = json!(2)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("schema_version"),
    &["schema_version: 2 is not supported, expected 1"]
)]
#[case::unknown_field(
    || profile_with(|v| v["email"] = json!("ada@example.org")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("email"),
    &["unknown field `email`"]
)]
#[case::unknown_card_field(
    || profile_with(|v| v["card"]["age"] = json!(36)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("card.age"),
    &["unknown field `age`"]
)]
#[case::missing_card(
    || profile_with(|v| drop(v.as_object_mut().unwrap().remove("card"))),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", None,
    &["missing field `card`"]
)]
#[case::model_version_as_a_string(
    || profile_with(|v| v["model_version"] = json!("1")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("model_version"),
    &["model_version: invalid type: string \"1\", expected u32"]
)]
#[case::truncated_json(
    || b"{\"schema_version\":1,".to_vec(),
    StatusCode::BAD_REQUEST, "malformed_json", None,
    &["the body is not valid JSON: EOF while parsing"]
)]
#[case::not_json_at_all(
    || b"display_name=Ada".to_vec(),
    StatusCode::BAD_REQUEST, "malformed_json", None,
    &["the body is not valid JSON: expected value"]
)]
#[case::empty_body(
    Vec::new,
    StatusCode::BAD_REQUEST, "malformed_json", None,
    &["the body is not valid JSON: EOF while parsing"]
)]
#[case::trailing_data(
    || [profile_with(|_| {}), b" {}".to_vec()].concat(),
    StatusCode::BAD_REQUEST, "malformed_json", None,
    &["trailing data after the JSON body"]
)]
#[tokio::test]
async fn a_bad_profile_is_refused_and_nothing_is_stored(
    #[case] body: fn() -> Vec<u8>,
    #[case] status: StatusCode,
    #[case] code: &str,
    #[case] field: Option<&str>,
    #[case] message: &[&str],
) {
    let mesh = Coordinator::new();
    let ada = Device::new(1);
    mesh.registered(&ada).await;

    let reply = mesh.put_raw(&ada, body()).await;

    mesh.assert_holds_nothing_for(&ada.user).await;
    reply.assert_error(status, code, field, message);
    // The refusal left the key usable: the valid profile goes through.
    let valid = mesh.put_raw(&ada, profile_with(|_| {})).await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.text());
}

#[rstest]
#[case::with_a_content_length(true)]
#[case::without_a_content_length(false)]
#[tokio::test]
async fn a_signed_body_over_the_64_kib_limit_is_refused_as_too_large(#[case] content_length: bool) {
    let config = AppConfig::default();
    assert_eq!(config.body_limit, 64 * 1024, "the default limit");
    let mesh = Coordinator::new().with_config(config);
    let ada = Device::new(1);
    mesh.registered(&ada).await;
    let mut body = profile_with(|_| {});
    body.resize(100 * 1024, b' ');
    assert!(
        serde_json::from_slice::<Value>(&body).is_ok(),
        "valid, only large"
    );
    let path = ada.profile_path();
    let authorization = ada.authorization(&Method::PUT, &path, mesh.next_ts(), &body);
    let mut request = request(Method::PUT, &path, Some(&authorization), body);
    if content_length {
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, (100 * 1024).into());
    }

    let reply = mesh.send(request).await;

    reply.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
        &["the body is larger than the 65536-byte limit"],
    );
    mesh.assert_holds_nothing_for(&ada.user).await;
}

#[tokio::test]
async fn a_discovery_query_over_the_body_limit_is_refused_as_too_large() {
    let mesh = Coordinator::new();
    let mut body = query_with(|_| {});
    body.resize(100 * 1024, b' ');

    let reply = mesh.candidates_raw(body).await;

    reply.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
        &["the body is larger than the 65536-byte limit"],
    );
}

/// A valid discovery query as JSON, for model version 1.
fn query_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value = json!({
        "model_version": 1,
        "taste_vector": unit_vector(0),
        "k": 10,
    });
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

#[rstest]
#[case::k_zero(
    || query_with(|v| v["k"] = json!(0)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("k"),
    &["k: 0 is not within 1..=100"]
)]
#[case::k_one_thousand(
    || query_with(|v| v["k"] = json!(1000)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("k"),
    &["k: 1000 is not within 1..=100"]
)]
#[case::k_one_over_the_maximum(
    || query_with(|v| v["k"] = json!(MAX_CANDIDATES + 1)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("k"),
    &["k: 101 is not within 1..=100"]
)]
#[case::k_negative(
    || query_with(|v| v["k"] = json!(-1)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("k"),
    &["k: invalid value: integer `-1`, expected u32"]
)]
#[case::unknown_model_version(
    || query_with(|v| v["model_version"] = json!(7)),
    StatusCode::CONFLICT, "unknown_model_version", Some("model_version"),
    &["model_version 7 is not the current model version 1"]
)]
#[case::vector_not_normalised(
    || query_with(|v| v["taste_vector"] = vector(TASTE_DIM, 1.0, &[0, 1, 2, 3])),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("taste_vector"),
    &["taste_vector: not L2-normalised: norm is 2, expected 1"]
)]
#[case::exclude_not_a_user_id(
    || query_with(|v| v["exclude"] = json!("Ada!")),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("exclude"),
    &["exclude: user_id: \"Ada!\" is not 1-64 characters"]
)]
#[case::unknown_field(
    || query_with(|v| v["radius_km"] = json!(5)),
    StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("radius_km"),
    &["unknown field `radius_km`"]
)]
#[case::malformed_json(
    || b"{\"k\": 10".to_vec(),
    StatusCode::BAD_REQUEST, "malformed_json", None,
    &["the body is not valid JSON"]
)]
#[tokio::test]
async fn a_bad_discovery_query_is_refused_and_changes_nothing(
    #[case] body: fn() -> Vec<u8>,
    #[case] status: StatusCode,
    #[case] code: &str,
    #[case] field: Option<&str>,
    #[case] message: &[&str],
) {
    let mesh = Coordinator::with_population(5);
    let ada = Device::new(1);
    mesh.published(&ada, &unit_upload("Ada", 0)).await;
    let profiles_before = mesh.store.profiles().unwrap();

    let reply = mesh.candidates_raw(body()).await;

    reply.assert_error(status, code, field, message);
    assert_eq!(mesh.store.profiles().unwrap(), profiles_before);
    assert_eq!(mesh.state.discoverable_count(), 6);
}

#[tokio::test]
async fn a_discovery_query_may_ask_for_one_to_one_hundred_candidates() {
    let mesh = Coordinator::with_population(120);
    for k in [1, MAX_CANDIDATES] {
        let found = mesh.candidates(&unit_vector(0), k, None).await;
        assert_eq!(found.candidates.len(), k as usize);
    }
    let reply = mesh
        .candidates_raw(json_bytes(&json!({
            "model_version": 1,
            "taste_vector": unit_vector(0),
            "k": MAX_CANDIDATES + 1,
        })))
        .await;
    reply.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("k"),
        &[],
    );
}
