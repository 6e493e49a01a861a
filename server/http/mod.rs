//! The HTTP surface: routes, and the translation between HTTP and the domain
//! (`demos`, `runs`). This is the only module that knows about axum.

pub mod api;
pub mod client;
pub mod error;
pub mod json;
pub mod pages;
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
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub runs: Arc<Runs>,
}

/// The page may load only from this server, may be framed only by it, and runs
/// no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

pub fn router(state: AppState) -> Router {
    let web_dir = state.runs.config().web_dir.clone();
    Router::new()
        .route("/", get(pages::catalog))
        .route("/demos/{name}", get(pages::demo))
        .route("/api/demos", get(api::list_demos))
        .route("/api/runs", axum::routing::post(api::create_run))
        .route("/api/runs/{id}", get(api::get_run).delete(api::cancel_run))
        .route("/api/runs/{id}/events", get(sse::events))
        .route("/healthz", get(healthz))
        .nest_service("/static", ServeDir::new(web_dir))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .with_state(state)
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "ok": true, "active_runs": state.runs.active() }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("page or endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "that method is not allowed here")
}
