//! The operator's views: the dashboard page, its metrics and the Prometheus scrape.
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};

use super::extract::require_operator;
use crate::operations::{
    ModelReport, OperationsReport, model_report, operations_report, overall_metrics,
    prometheus_text,
};
use crate::{ApiError, AppState};

/// The dashboard (static; it asks for the operator token and reads `/v1/admin/metrics`).
const DASHBOARD_HTML: &str = include_str!("../../dashboard/index.html");

/// `GET /dashboard`: the operator's dashboard page.
pub(crate) async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

/// `GET /v1/admin/metrics` (operator): the daily outcome metrics overall and per experiment
/// cohort, the arms compared with confidence intervals, the thresholds and the alerts.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<OperationsReport>, ApiError> {
    require_operator(&state, &headers, "reading the metrics")?;
    let events = state.store.social_events()?;
    let experiment = state.discovery.experiment();
    Ok(Json(operations_report(&events, experiment.as_ref())))
}

/// `GET /v1/admin/models` (operator): the model version history with its figures, the
/// re-ranker's refits, the published taste vectors per model version and their drift.
pub(crate) async fn models(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ModelReport>, ApiError> {
    require_operator(&state, &headers, "reading the model history")?;
    let events = state.store.social_events()?;
    let profiles = state.store.profiles()?;
    let published: Vec<(u32, &[f32])> = profiles
        .iter()
        .map(|(_, p)| (p.upload.model_version, p.upload.taste_vector.as_slice()))
        .collect();
    Ok(Json(model_report(&events, &published)))
}

/// `GET /metrics`: Prometheus text exposition (aggregates only: counts and the last day's
/// metrics; nothing about any one person).
pub(crate) async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let events = state.store.social_events()?;
    let experiment = state.discovery.experiment();
    // Only the overall series: no per-cohort series, arm comparison or alert log per scrape.
    let days = overall_metrics(&events, experiment.as_ref());
    let text = prometheus_text(&days, &events, state.index.len(), state.model.version);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
