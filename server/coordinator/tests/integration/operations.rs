//! The operator's views through the router: signed suggestions and messages become outcome
//! events, `GET /v1/admin/metrics` computes the day's metrics from them (operator only),
//! `GET /metrics` exposes counts in the Prometheus text format, `GET /dashboard` is served.
use axum::http::{Method, StatusCode};
use mesh_coordinator::{AppConfig, Event, SocialEvent};
use mesh_shared::{CandidatesRequest, TasteVector};
use serde_json::json;

use crate::fixtures::{Coordinator, Device, json_bytes, request, unit_upload};

const OPERATOR: &str = "operator-secret";

#[tokio::test]
async fn outcome_events_feed_the_metrics_the_scrape_and_the_dashboard() {
    let mesh = Coordinator::new().with_config(AppConfig {
        operator_token: Some(OPERATOR.to_owned()),
        ..AppConfig::default()
    });
    let (ada, bo) = (Device::new(1), Device::new(2));
    mesh.published(&ada, &unit_upload("Ada", 0)).await;
    mesh.published(&bo, &unit_upload("Bo", 0)).await;

    // Ada's signed query is recorded with what she was shown.
    let query = CandidatesRequest {
        model_version: 1,
        taste_vector: TasteVector::try_from({
            let mut v = vec![0.0; mesh_shared::TASTE_DIM];
            v[0] = 1.0;
            v
        })
        .unwrap(),
        k: 5,
        exclude: None,
    };
    let reply = mesh
        .send(ada.signed(
            Method::POST,
            "/v1/discovery/candidates",
            mesh.next_ts(),
            json_bytes(&query),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // A message before a tie is refused; after an accepted introduction it is recorded.
    let write = |from: &Device, to: &Device| {
        from.signed(
            Method::POST,
            "/v1/messages",
            mesh.next_ts(),
            json_bytes(&json!({ "to": to.user })),
        )
    };
    assert_eq!(
        mesh.send(write(&ada, &bo)).await.status,
        StatusCode::FORBIDDEN
    );
    let intro = ada.signed(
        Method::POST,
        "/v1/introductions",
        mesh.next_ts(),
        json_bytes(&json!({ "to": bo.user })),
    );
    assert_eq!(mesh.send(intro).await.status, StatusCode::OK);
    let accept = format!("/v1/introductions/{}/accept", ada.user);
    let reply = mesh
        .send(bo.signed(Method::POST, &accept, mesh.next_ts(), Vec::new()))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    for (from, to) in [(&ada, &bo), (&bo, &ada), (&bo, &ada)] {
        assert_eq!(
            mesh.send(write(from, to)).await.status,
            StatusCode::NO_CONTENT
        );
    }
    let events = mesh.state.store().events().unwrap();
    assert!(events.iter().filter_map(Event::social).any(|e| matches!(e, SocialEvent::SuggestionsShown { viewer, shown, .. } if *viewer == ada.user && shown.contains(&bo.user))));
    assert_eq!(
        events
            .iter()
            .filter_map(Event::social)
            .filter(|e| matches!(e, SocialEvent::MessageSent { .. }))
            .count(),
        3
    );

    // The metrics: operator only.
    let unauthorised = mesh
        .send(request(Method::GET, "/v1/admin/metrics", None, Vec::new()))
        .await;
    assert_eq!(
        unauthorised.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unauthorised.text()
    );
    let bearer = format!("Bearer {OPERATOR}");
    let reply = mesh
        .send(request(
            Method::GET,
            "/v1/admin/metrics",
            Some(&bearer),
            Vec::new(),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // The report reads back as the wire type the OpenAPI document names.
    let report: mesh_shared::OperationsReport = reply.json();
    let today = &report.series[0].days[0];
    // Ada was shown Bo (one pair) and they became a mutual follow: 100%; their conversation
    // went Ada, Bo, Bo: 2 turns.
    assert_eq!(report.series[0].cohort, "all");
    assert_eq!(today.pairs_suggested, 1);
    assert_eq!(today.introductions_accepted, Some(1.0));
    assert_eq!(today.conversation_depth, Some(2.0));
    assert_eq!(report.thresholds.len(), 3);

    let reply = mesh
        .send(request(
            Method::GET,
            "/v1/admin/models",
            Some(&bearer),
            Vec::new(),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let models: mesh_shared::ModelReport = reply.json();
    assert_eq!(
        models.versions.iter().map(|v| v.profiles).sum::<usize>(),
        2,
        "both published profiles are counted under their model version"
    );

    let anonymous_scrape = mesh
        .send(request(Method::GET, "/metrics", None, Vec::new()))
        .await;
    assert_eq!(anonymous_scrape.status, StatusCode::UNAUTHORIZED);
    let scrape = mesh
        .send(request(Method::GET, "/metrics", Some(&bearer), Vec::new()))
        .await;
    assert_eq!(scrape.status, StatusCode::OK);
    let text = scrape.text();
    for line in [
        "mesh_profiles_indexed 2",
        "mesh_social_events{kind=\"message_sent\"} 3",
        "mesh_social_events{kind=\"suggestions_shown\"} 1",
        "mesh_introductions_accepted_ratio 1",
        "# TYPE mesh_conversation_depth gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    let page = mesh
        .send(request(Method::GET, "/dashboard", None, Vec::new()))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("/v1/admin/metrics"));
}
