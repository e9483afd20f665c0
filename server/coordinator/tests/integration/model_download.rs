//! `GET /v1/model`: the served bytes, their version and revalidation with an entity tag.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mesh_shared::{MODEL_MAGIC, ModelWeights};
use rstest::rstest;

use crate::fixtures::{Coordinator, Reply};

async fn get_model(mesh: &Coordinator, if_none_match: Option<&str>) -> Reply {
    let mut request = Request::get("/v1/model");
    if let Some(tags) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tags);
    }
    mesh.send(request.body(Body::empty()).unwrap()).await
}

fn header_text<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_model_decodes_and_its_version_is_in_a_header() {
    let mesh = Coordinator::new();

    let reply = get_model(&mesh, None).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        header_text(&reply, header::CONTENT_TYPE.as_str()),
        "application/octet-stream"
    );
    assert_eq!(
        header_text(&reply, header::CACHE_CONTROL.as_str()),
        "no-cache"
    );
    assert!(reply.body.starts_with(MODEL_MAGIC));
    let model = ModelWeights::decode(&reply.body).expect("the served bytes decode");
    assert_eq!(
        header_text(&reply, "x-mesh-model-version"),
        model.version().to_string()
    );
    assert_eq!(model.version(), mesh.state.model_version());
    assert!(model == mesh.model(), "the state serves the model it holds");
    let etag = header_text(&reply, header::ETAG.as_str());
    assert!(
        etag.starts_with(&format!("\"mesh-model-v{}-", model.version())) && etag.ends_with('"'),
        "a strong, quoted entity tag: {etag}"
    );
}

#[rstest]
#[case::the_same_tag(|etag: &str| etag.to_owned())]
#[case::the_tag_in_a_list(|etag: &str| format!("\"mesh-model-v0-0000\", {etag}"))]
#[case::the_weak_form_of_the_tag(|etag: &str| format!("W/{etag}"))]
#[case::any_tag(|_: &str| "*".to_owned())]
#[tokio::test]
async fn revalidating_with_the_current_etag_answers_not_modified_with_no_body(
    #[case] if_none_match: fn(&str) -> String,
) {
    let mesh = Coordinator::new();
    let first = get_model(&mesh, None).await;
    let etag = header_text(&first, header::ETAG.as_str()).to_owned();

    let again = get_model(&mesh, Some(&if_none_match(&etag))).await;

    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty(), "{} bytes", again.body.len());
    assert_eq!(header_text(&again, header::ETAG.as_str()), etag);
    assert_eq!(
        header_text(&again, "x-mesh-model-version"),
        header_text(&first, "x-mesh-model-version")
    );
}

#[tokio::test]
async fn revalidating_with_another_etag_downloads_the_model_again() {
    let mesh = Coordinator::new();
    let first = get_model(&mesh, None).await;

    let again = get_model(&mesh, Some("\"mesh-model-v0-0000000000000000\"")).await;

    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    assert!(ModelWeights::decode(&again.body).is_ok());
}
