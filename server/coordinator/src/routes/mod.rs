use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;

mod admin;
mod discovery;
mod extract;
mod identities;
mod model;
mod profiles;
mod psi;
mod rounds;
mod social;

/// Largest request body accepted, in bytes.
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Largest body of a round message (a masked input of a few million coordinates).
const ROUND_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Directory of the demo page served at `/` (none: API only).
    pub web_dir: Option<PathBuf>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Time budget of one request.
    pub request_timeout: Duration,
    /// Bearer token of `POST /v1/rounds` (`None`: rounds cannot be started over HTTP).
    pub operator_token: Option<String>,
    /// The A/B experiment run on signed viewers (`None`: none).
    pub experiment: Option<crate::Experiment>,
    /// Discovery queries (candidates and rooms) an identity may make per UTC day.
    pub discovery_queries_per_day: u32,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            web_dir: None,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(15),
            operator_token: None,
            experiment: None,
            discovery_queries_per_day: crate::DEFAULT_QUERIES_PER_DAY,
        }
    }
}

/// The coordinator's router: the `/v1` API plus, when configured, the demo page. The
/// `config` applies to this router's handle on `state` only: nothing shared changes.
pub fn app(mut state: AppState, config: &AppConfig) -> Router {
    state.body_limit = config.body_limit;
    state.operator_token.clone_from(&config.operator_token);
    state.experiment = config.experiment.clone().map(Arc::new);
    state.queries_per_day = config.discovery_queries_per_day;
    let rounds = Router::new()
        .route("/v1/rounds", post(rounds::start))
        .route("/v1/rounds/current", get(rounds::current))
        .route("/v1/rounds/{round}/join", post(rounds::join))
        .route("/v1/rounds/{round}/keys", post(rounds::keys))
        .route("/v1/rounds/{round}/roster", get(rounds::roster))
        .route("/v1/rounds/{round}/shares", post(rounds::shares))
        .route("/v1/rounds/{round}/mailbox/{client}", get(rounds::mailbox))
        .route("/v1/rounds/{round}/input", post(rounds::input))
        .route("/v1/rounds/{round}/survivors", get(rounds::survivors))
        .route("/v1/rounds/{round}/signature", post(rounds::signature))
        .route("/v1/rounds/{round}/signatures", get(rounds::signatures))
        .route("/v1/rounds/{round}/unmask", post(rounds::unmask))
        .route("/v1/rounds/{round}/result", get(rounds::result))
        .layer(DefaultBodyLimit::max(
            ROUND_BODY_LIMIT.max(config.body_limit),
        ))
        .with_state(state.clone());
    let api = Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route(
            "/v1/openapi.json",
            get(|| async { axum::Json(crate::openapi_document()) }),
        )
        .route("/v1/model", get(model::get_model))
        .route("/v1/identities", post(identities::register))
        .route(
            "/v1/profiles/{id}",
            put(profiles::put_profile).delete(profiles::delete_profile),
        )
        .route("/v1/discovery/candidates", post(discovery::candidates))
        .route("/v1/blocks", post(social::block))
        .route("/v1/reports", post(social::report))
        .route("/v1/snoozes", post(social::snooze))
        .route("/v1/intents", put(social::intents))
        .route("/v1/feedback", post(social::feedback))
        .route("/v1/introductions", post(social::introduce))
        .route("/v1/messages", post(social::message))
        .route("/v1/introductions/{from}/accept", post(social::accept))
        .route("/v1/rooms/{room}/presence", post(social::presence))
        .route("/v1/rooms/{room}/candidates", post(social::room_candidates))
        .route(
            "/v1/psi/{peer}/{round}",
            put(psi::put_message).get(psi::get_message),
        )
        .route(
            "/v1/admin/flags",
            get(admin::get_flags).put(admin::put_flags),
        )
        .route("/v1/admin/fairness", get(admin::fairness))
        .route("/v1/admin/metrics", get(admin::metrics))
        .route("/v1/admin/models", get(admin::models))
        .route("/v1/admin/ranker/train", post(admin::train_ranker))
        .route("/metrics", get(admin::prometheus))
        .route("/dashboard", get(admin::dashboard))
        .with_state(state)
        .merge(rounds);
    let router = match &config.web_dir {
        Some(dir) => api.fallback_service(ServeDir::new(dir)),
        None => api,
    };
    // Outermost first: trace every request (with its matched path), bound its time, then
    // bound its body before any handler buffers it.
    router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}
