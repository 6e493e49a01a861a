//! The one error type of the HTTP layer and its JSON body:
//! `{"error": {"code", "message", "field"?}}` with a fitting status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::demos::ParamError;
use crate::runs::admission::Refusal;
use crate::runs::StartError;
use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, for 429/503.
    pub retry_after: Option<u32>,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, retry_after: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn unknown_demo(name: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "unknown_demo", format!("there is no demo named {name:?}")).with_field("demo")
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code = self.code, message = %self.message, "server fault");
        }
        let body = Body { error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        let field = e.field().map(str::to_owned);
        let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", e.to_string());
        err.field = field.map(|f| format!("params.{f}"));
        err
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        let (status, code, retry_after) = match &e {
            // 429, not 503: the server is healthy and says so; the line is full.
            StartError::Refused(Refusal::QueueFull { .. }) => (StatusCode::TOO_MANY_REQUESTS, "busy", 5),
            StartError::Refused(Refusal::ClientBusy { .. }) => (StatusCode::TOO_MANY_REQUESTS, "too_many_runs", 2),
            StartError::Refused(Refusal::TooFast { retry_after_secs }) => (StatusCode::TOO_MANY_REQUESTS, "too_fast", *retry_after_secs),
            StartError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down", 10),
            // Out of memory or descriptors: the server's trouble, briefly.
            StartError::Gates(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_gates", 5),
        };
        let mut err = ApiError::new(status, code, e.to_string());
        err.retry_after = Some(retry_after);
        err
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // A database that cannot be reached is not this server's fault, and
        // the request may well succeed shortly.
        if e.is_unavailable() {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string());
        }
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", e.to_string())
    }
}
