//! The HTTP surface: routes, and the translation between HTTP and the domain
//! (`demos`, `runs`). This is the only module that knows about axum.

pub mod api;
pub mod body;
pub mod client;
pub mod connections;
pub mod embed;
pub mod error;
pub mod experiments;
pub mod headers;
pub mod host;
pub mod json;
pub mod listen;
pub mod pages;
pub mod share;
pub mod sse;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::MAX_BODY_BYTES;
use crate::runs::Runs;
use crate::store::Store;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub runs: Arc<Runs>,
    /// Where finished runs are saved; `None`: memory only.
    pub store: Option<Arc<Store>>,
    /// Exports being written at once (see `share`).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// The race lab's experiments (see `experiments`).
    pub experiments: Arc<crate::runs::experiment::Experiments>,
}

impl AppState {
    /// The demo a request names, as every route finds it: one of the
    /// runner's ([`crate::catalog`]).
    pub fn demo(&self, name: &str) -> std::result::Result<&'static crate::demos::Demo, ApiError> {
        self.runs.config().catalog.find(name).ok_or_else(|| ApiError::unknown_demo(name))
    }
}

pub fn router(state: AppState) -> Router {
    let config = state.runs.config();
    let web_dir = config.web_dir.clone();
    let csp = HeaderValue::from_str(&headers::content_security_policy(&config.frame_ancestors))
        .expect("origins were validated at startup");
    let api = Router::new()
        .route("/api/demos", get(api::list_demos))
        .route("/api/runs", axum::routing::post(api::create_run))
        .route("/api/experiments", axum::routing::post(experiments::create))
        .route("/api/experiments/{id}", get(experiments::get))
        .route("/api/runs/{id}", get(api::get_run).delete(api::cancel_run))
        .route("/api/runs/{id}/step", axum::routing::post(api::step_run))
        .route("/api/runs/{id}/events", get(sse::events))
        .route("/api/runs/{id}/events.jsonl", get(share::events_jsonl))
        .route("/api/runs/{id}/trace.json", get(share::trace_json))
        .route("/api/runs/{id}/replay.html", get(share::replay_html));
    Router::new()
        .route("/", get(pages::catalog))
        .route("/demos/{name}", get(pages::demo))
        .route("/play", get(pages::play))
        .route("/runs/{id}", get(share::permalink))
        .route("/embed/{name}", get(embed::page))
        .merge(api)
        .route("/healthz", get(healthz))
        .nest_service("/static", ServeDir::new(web_dir))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(config.body_timeout, body::read_whole))
        .layer(headers::cors(config.cors_origins()))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Outermost: a request for another host name gets nothing else.
        .layer(axum::middleware::from_fn_with_state(Arc::new(host::AllowedHosts::of(config)), host::check))
        .with_state(state)
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::Json<serde_json::Value> {
    let runs = &state.runs;
    axum::Json(serde_json::json!({
        "ok": true,
        // This instance's name: the first part of every run id it makes.
        "instance": runs.config().instance.as_str(),
        "active_runs": runs.active(),
        "waiting_runs": runs.waiting(),
        // A runner started ahead of the next run: a server process, not a run's.
        "spare_runner_pid": runs.spare_pid(),
        // What the CPython engine may run; empty when it is not offered.
        "pythons": runs.config().pythons,
        // Whether edited programs run here, in which sandbox, under which limits.
        "editing": crate::sandbox::health(&runs.config().editing, runs.config().max_source_bytes, runs.config().run_timeout),
        // "degraded: <why>" while the store cannot write (runs still run,
        // but are not saved); "none" when runs live only in memory.
        "store": match &state.store {
            None => "none".to_owned(),
            Some(store) => match store.health() {
                None => "ok".to_owned(),
                Some(problem) => format!("degraded: {problem}"),
            },
        },
    }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("page or endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "that method is not allowed here")
}
