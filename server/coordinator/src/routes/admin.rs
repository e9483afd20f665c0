//! The operator's routes, together: discovery flags, the fairness tally, re-ranker training,
//! the dashboard page with its metrics and model history, and the Prometheus scrape. Every
//! `/v1/admin` route takes the [`Operator`] extractor; metrics over the event log are computed
//! on the blocking pool.
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use mesh_shared::{
    DiscoveryFlags, FairnessGroup, FairnessReport, ModelReport, OperationsReport, RankerTrained,
};

use super::extract::{AppJson, Operator};
use crate::operations::{model_report, operations_report, overall_metrics, prometheus_text};
use crate::{ApiError, AppState};

const DASHBOARD_HTML: &str = include_str!("../../dashboard/index.html");

/// `GET /dashboard`: the operator's page (it asks for the token and reads the admin routes).
pub(crate) async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

/// `GET /v1/admin/flags`: the discovery flags in force.
pub(crate) async fn get_flags(_: Operator, State(state): State<AppState>) -> Json<DiscoveryFlags> {
    Json(state.flags())
}

/// `PUT /v1/admin/flags`: switches the ranking (v1/v2) or the kill switch at once, without a
/// restart; durable across restarts.
pub(crate) async fn put_flags(
    _: Operator,
    State(state): State<AppState>,
    AppJson(flags): AppJson<DiscoveryFlags>,
) -> Result<Json<DiscoveryFlags>, ApiError> {
    state.blocking(move |s| s.set_flags(flags)).await?;
    Ok(Json(flags))
}

/// `GET /v1/admin/fairness`: exposure of new and established accounts in everything shown so
/// far, against their share of the suggestions.
pub(crate) async fn fairness(_: Operator, State(state): State<AppState>) -> Json<FairnessReport> {
    let groups = state
        .discovery
        .exposure()
        .shares()
        .into_iter()
        .map(|(group, (share, exposure, ratio))| FairnessGroup {
            group,
            share_of_suggestions: share,
            share_of_exposure: exposure,
            exposure_ratio: ratio,
        })
        .collect();
    Json(FairnessReport { groups })
}

/// `POST /v1/admin/ranker/train`: fits the re-ranker on the queued outcomes, saves it and
/// serves it at once. `409` while fewer than 10 positive or negative outcomes are queued.
pub(crate) async fn train_ranker(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let trees = state
        .blocking(|s| Ok(s.refresh_ranker("operator", 10)?))
        .await?
        .map_err(|(positives, negatives)| {
            ApiError::Conflict(format!(
                "not enough outcomes to train on: {positives} positive and {negatives} negative (10 of each needed)"
            ))
        })?;
    Ok((StatusCode::CREATED, Json(RankerTrained { trees })).into_response())
}

/// `GET /v1/admin/metrics`: the outcome metrics per day and cohort, the arms and the alerts.
pub(crate) async fn metrics(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Json<OperationsReport>, ApiError> {
    let experiment = state.experiment.clone();
    let report = state
        .blocking(move |s| {
            let events = s.store.events()?;
            Ok(operations_report(&events, experiment.as_deref()))
        })
        .await?;
    Ok(Json(report))
}

/// `GET /v1/admin/models`: the model history and the drift of the published taste vectors.
pub(crate) async fn models(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Json<ModelReport>, ApiError> {
    let report = state
        .blocking(|s| {
            let events = s.store.events()?;
            let profiles = s.store.profiles()?;
            let published: Vec<(u32, &[f32])> = profiles
                .iter()
                .map(|(_, p)| (p.upload.model_version, p.upload.taste_vector.as_slice()))
                .collect();
            Ok(model_report(&events, &published))
        })
        .await?;
    Ok(Json(report))
}

/// `GET /metrics` (operator token, as Prometheus' `bearer_token` sends it): the overall daily
/// series (no per-cohort series, arm comparison or alert log per scrape).
pub(crate) async fn prometheus(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let experiment = state.experiment.clone();
    let text = state
        .blocking(move |s| {
            let events = s.store.events()?;
            let days = overall_metrics(&events, experiment.as_deref());
            Ok(prometheus_text(
                &days,
                &events,
                s.index.len(),
                s.model.version,
            ))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
