//! `GET /api/runs/{id}/events`: a run's log as server-sent events.
//!
//! Each subscriber reads the shared log with its own cursor: first everything
//! already there (or after `Last-Event-ID`), then live appends, then the
//! stream ends after `run.end`. Frames are built straight from the stored JSON
//! and written in batches, one chunk per wake-up, not one per event.
//!
//! While a run waits in line, its stream carries `event: queue` messages with
//! its place (`{"position": 3, "waiting": 7}`). They are not part of the run's
//! log: they have no id and are not replayed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::watch;

use super::api::find_any;
use super::client::ClientAddr;
use super::error::Result;
use super::AppState;
use crate::runs::{Runs, ViewerGuard};
use crate::store::Found;

/// A comment sent on an idle stream so proxies and browsers keep it open,
/// and so the server's own idle timeout never closes a stream whose client
/// reads (it is sent at least twice per `--idle-timeout`).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn keep_alive(config: &crate::config::Config) -> Duration {
    KEEP_ALIVE.min(config.idle_timeout / 2)
}
/// How often a stream of a run waiting in line writes a comment. A write is
/// how the server learns its client left, and it takes two (the first only
/// draws the peer's reset), so a departed viewer is noticed within half a
/// second.
const QUEUED_PULSE: Duration = Duration::from_millis(250);
/// How long a browser waits before reconnecting (it resumes with Last-Event-ID).
const RETRY_MS: u32 = 1000;
/// Events per chunk written to the socket.
const BATCH: usize = 4096;
/// Bytes of events per chunk, at most (a single bigger event goes alone). A
/// stream whose client stopped reading holds one chunk it could not write,
/// so this, beside the socket's buffers, is all a stalled subscriber costs:
/// 4,096 events of a busy run are half a megabyte.
const CHUNK_BYTES: usize = 64 * 1024;

pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    viewer: ClientAddr,
    headers: HeaderMap,
) -> Result<Response> {
    let run = find_any(&state, &id, &viewer).await?;
    let cursor = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let watch = run.log().watch();
    let queue = state.runs.watch_queue();
    let first = Bytes::from(format!("retry: {RETRY_MS}\n\n"));
    let viewer = match &run {
        Found::Live(live) => Some(live.viewer()),
        Found::Saved(_) => None,
    };
    let stream = futures_util::stream::unfold(
        Subscriber { run, runs: state.runs.clone(), cursor, watch, queue, shown_position: None, greeting: Some(first), _viewer: viewer },
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
    runs: Arc<Runs>,
    /// Index of the next event to send (= the last sent seq).
    cursor: usize,
    watch: watch::Receiver<(usize, bool)>,
    queue: watch::Receiver<u64>,
    /// The last place in line this stream reported.
    shown_position: Option<usize>,
    greeting: Option<Bytes>,
    /// Counts this stream as watching the run until it is dropped (the
    /// client went away): a queued run nobody watches is dropped.
    _viewer: Option<ViewerGuard>,
}

impl Subscriber {
    /// The next bytes to send, or None when the stream is complete.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(greeting) = self.greeting.take() {
            return Some(greeting);
        }
        loop {
            self.watch.borrow_and_update();
            let (mut events, closed) = self.run.log().read(self.cursor, BATCH);
            events.truncate(fitting(&events, CHUNK_BYTES));
            if !events.is_empty() {
                let frame = frames(self.cursor, &events);
                self.cursor += events.len();
                return Some(frame);
            }
            if closed {
                return None;
            }
            self.queue.borrow_and_update();
            let position = match &self.run {
                Found::Live(live) => self.runs.queue_position(live),
                Found::Saved(_) => None,
            };
            if position.is_some() && position != self.shown_position {
                self.shown_position = position;
                let waiting = self.runs.waiting();
                return Some(Bytes::from(format!(
                    "event: queue\ndata: {{\"position\":{},\"waiting\":{waiting}}}\n\n",
                    position.unwrap_or(0)
                )));
            }
            tokio::select! {
                changed = self.watch.changed() => {
                    // The log outlives every subscriber (we hold the run), so
                    // the sender cannot be gone; end the stream if it is.
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = self.queue.changed(), if position.is_some() => {}
                // While waiting in line, write a little every QUEUED_PULSE: a write
                // is how a server learns its client left, and a queued run
                // nobody watches must give up its place promptly.
                _ = tokio::time::sleep(if position.is_some() { QUEUED_PULSE } else { keep_alive(self.runs.config()) }) => {
                    return Some(Bytes::from_static(b": keep-alive\n\n"));
                }
            }
        }
    }
}

/// How many of `events` make a chunk of at most `budget` bytes; at least one.
fn fitting(events: &[Bytes], budget: usize) -> usize {
    let mut total = 0;
    events
        .iter()
        .position(|e| {
            total += e.len();
            total > budget
        })
        .map_or(events.len(), |over| over.max(1))
}

/// SSE frames for events starting at index `first` (seq = index + 1).
fn frames(first: usize, events: &[Bytes]) -> Bytes {
    let mut out = BytesMut::with_capacity(events.iter().map(|e| e.len() + 32).sum());
    let mut digits = itoa::Buffer::new();
    for (i, event) in events.iter().enumerate() {
        out.put_slice(b"id: ");
        out.put_slice(digits.format(first + i + 1).as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(event);
        out.put_slice(b"\n\n");
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_stops_at_its_byte_budget_but_never_at_nothing() {
        let ten = Bytes::from_static(b"0123456789");
        assert_eq!(fitting(&[ten.clone(), ten.clone(), ten.clone()], 25), 2);
        assert_eq!(fitting(&[ten.clone(), ten.clone()], 100), 2);
        assert_eq!(fitting(&[ten.clone(), ten.clone()], 5), 1, "one big event goes alone");
        assert_eq!(fitting(&[], 5), 0);
    }
}
