//! Request bodies: refused before they are read when declared too large, and
//! read whole within a deadline.
//!
//! The only bodies the API takes are small JSON objects. Checking the
//! declared `Content-Length` first means `Expect: 100-continue` with a body
//! over the limit gets 413 at once (hyper sends `100 Continue` only when the
//! body is first read); reading the body here, under a deadline, means a
//! body that never arrives (a declared length not sent, a chunked body with
//! no last chunk) costs its connection no more than that deadline.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::config::MAX_BODY_BYTES;

fn too_large() -> Response {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large").with_connection_close()
}

/// Reads the body (if any) within `deadline`, then hands the request on.
pub async fn read_whole(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let has_body = declared.is_some_and(|n| n > 0) || request.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // One byte over the limit is enough to know it is too large.
    let bytes = match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_BODY_BYTES + 1)).await {
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the request body did not arrive within {} s", deadline.as_secs_f64()),
            )
            .with_connection_close();
        }
        Ok(Err(_)) => return too_large(),
        Ok(Ok(bytes)) if bytes.len() > MAX_BODY_BYTES => return too_large(),
        Ok(Ok(bytes)) => bytes,
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

trait CloseAfter {
    fn with_connection_close(self) -> Response;
}

impl CloseAfter for ApiError {
    /// The client may still be sending: keep nothing of its connection.
    fn with_connection_close(self) -> Response {
        let mut response = self.into_response();
        response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        response
    }
}
