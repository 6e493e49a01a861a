//! `GET /api/runs/{id}/events`: a run's log as server-sent events.
//!
//! Each subscriber reads the shared log with its own cursor: first everything
//! already there (or after `Last-Event-ID`), then live appends, then the
//! stream ends after `run.end`. Frames are built straight from the stored JSON
//! and written in batches, one chunk per wake-up, not one per event.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::watch;

use super::api::find_any;
use super::error::Result;
use super::AppState;
use crate::store::Found;

/// A comment sent on an idle stream so proxies and browsers keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting (it resumes with Last-Event-ID).
const RETRY_MS: u32 = 1000;
/// Events per chunk written to the socket.
const BATCH: usize = 4096;

pub async fn events(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response> {
    let run = find_any(&state, &id).await?;
    let cursor = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let watch = run.log().watch();
    let first = Bytes::from(format!("retry: {RETRY_MS}\n\n"));
    let stream = futures_util::stream::unfold(
        Subscriber { run, cursor, watch, greeting: Some(first) },
        |mut sub| async move { sub.next_chunk().await.map(|chunk| (Ok::<_, Infallible>(chunk), sub)) },
    );
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

struct Subscriber {
    run: Found,
    /// Index of the next event to send (= the last sent seq).
    cursor: usize,
    watch: watch::Receiver<(usize, bool)>,
    greeting: Option<Bytes>,
}

impl Subscriber {
    /// The next bytes to send, or None when the stream is complete.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(greeting) = self.greeting.take() {
            return Some(greeting);
        }
        loop {
            self.watch.borrow_and_update();
            let (events, closed) = self.run.log().read(self.cursor, BATCH);
            if !events.is_empty() {
                let frame = frames(self.cursor, &events);
                self.cursor += events.len();
                return Some(frame);
            }
            if closed {
                return None;
            }
            match tokio::time::timeout(KEEP_ALIVE, self.watch.changed()).await {
                Ok(Ok(())) => continue,
                // The log outlives every subscriber (we hold the run), so the
                // sender cannot be gone; end the stream if it somehow is.
                Ok(Err(_)) => return None,
                Err(_) => return Some(Bytes::from_static(b": keep-alive\n\n")),
            }
        }
    }
}

/// SSE frames for events starting at index `first` (seq = index + 1).
fn frames(first: usize, events: &[Bytes]) -> Bytes {
    let mut out = BytesMut::with_capacity(events.iter().map(|e| e.len() + 32).sum());
    for (i, event) in events.iter().enumerate() {
        out.put_slice(b"id: ");
        out.put_slice((first + i + 1).to_string().as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(event);
        out.put_slice(b"\n\n");
    }
    out.freeze()
}
