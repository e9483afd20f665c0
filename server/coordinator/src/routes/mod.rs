use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
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
/// Largest body of a masked round input (4 bytes per coordinate; each input is also checked
/// against the current round's dimension from its `Content-Length`, before it is read).
const ROUND_INPUT_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Largest body of the other round messages (keys, shares, signatures, unmasking shares).
const ROUND_MESSAGE_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// `GET /v1/health`: "ok" while the store writes; 503 `store_unwritable` after a write failed
/// for a storage reason and none has succeeded since, so a load balancer takes the replica
/// out of rotation instead of sending it writes that fail.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.store_write_failure() {
        None => "ok".into_response(),
        Some(failure) => crate::api_error::ApiError::StoreUnwritable(failure).into_response(),
    }
}

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
    /// Requests per peer IP address (`None`: no limit). Needs the peer address of each
    /// connection, as [`crate::serve`] provides it.
    pub per_ip_rate: Option<RateLimit>,
}

/// A token bucket per peer IP address: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second (0: no limit).
    pub per_second: u32,
    /// Requests allowed at once.
    pub burst: u32,
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
            per_ip_rate: None,
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
        .route(
            "/v1/rounds/{round}/input",
            post(rounds::input)
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    rounds::input_size_check,
                ))
                .route_layer(DefaultBodyLimit::max(
                    ROUND_INPUT_BODY_LIMIT.max(config.body_limit),
                )),
        )
        .route("/v1/rounds/{round}/survivors", get(rounds::survivors))
        .route("/v1/rounds/{round}/signature", post(rounds::signature))
        .route("/v1/rounds/{round}/signatures", get(rounds::signatures))
        .route("/v1/rounds/{round}/unmask", post(rounds::unmask))
        .route("/v1/rounds/{round}/result", get(rounds::result))
        .layer(DefaultBodyLimit::max(
            ROUND_MESSAGE_BODY_LIMIT.max(config.body_limit),
        ))
        .with_state(state.clone());
    let api = Router::new()
        .route("/v1/health", get(health))
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
    let api = api.method_not_allowed_fallback(method_not_allowed);
    let router = match &config.web_dir {
        Some(dir) => api.fallback_service(
            ServeDir::new(dir).not_found_service(axum::routing::any(not_found).with_state(())),
        ),
        None => api.fallback(not_found),
    };
    // Outermost first: trace every request (with its matched path), answer a panic with a
    // JSON 500 (the connection stays up), set the security headers, bound the request's time,
    // then bound its body before any handler buffers it.
    let router = router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ));
    let router = with_per_ip_limit(router, config.per_ip_rate);
    security_headers(router)
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                crate::ApiError::from(crate::Error::Storage("a handler panicked".to_owned()))
                    .into_response()
            },
        ))
        .layer(TraceLayer::new_for_http())
}

/// `router` behind a token bucket per peer IP address (tower_governor over the peer address
/// [`crate::serve`] records); unchanged for no rate or a rate of 0.
fn with_per_ip_limit(router: Router, rate: Option<RateLimit>) -> Router {
    let Some(rate) = rate.filter(|r| r.per_second > 0) else {
        return router;
    };
    let period = Duration::from_nanos(1_000_000_000 / u64::from(rate.per_second));
    let Some(config) = tower_governor::governor::GovernorConfigBuilder::default()
        .period(period)
        .burst_size(rate.burst.max(1))
        .finish()
    else {
        return router;
    };
    router.layer(
        tower_governor::GovernorLayer::new(config).error_handler(|error| {
            let message = match error {
                tower_governor::GovernorError::TooManyRequests { wait_time, .. } => {
                    format!("too many requests from this address; retry in {wait_time} s")
                }
                other @ (tower_governor::GovernorError::UnableToExtractKey
                | tower_governor::GovernorError::Other { .. }) => other.to_string(),
            };
            crate::ApiError::RateLimited(message).into_response()
        }),
    )
}

/// `nosniff`, no referrer, and no framing by other sites, on every answer.
fn security_headers(router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Unknown paths: `404` in the API's JSON shape.
async fn not_found(uri: axum::http::Uri) -> Response {
    crate::ApiError::NotFound(format!("nothing at {}", uri.path())).into_response()
}

/// A known path with another method: `405` in the API's JSON shape.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let body = mesh_shared::ApiErrorBody {
        error: "method_not_allowed".to_owned(),
        message: format!("{} does not answer {method}", uri.path()),
        field: None,
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
