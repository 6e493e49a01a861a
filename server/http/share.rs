//! Sharing a finished run: its permalink page and its exports (the raw log,
//! a Chrome trace, a self-contained replay file). Runs are found in memory or
//! in the store, so all of these outlive a restart.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::io::Write;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::OwnedSemaphorePermit;

use super::api::{find_any, DemoInfo};
use super::client::ClientAddr;
use super::error::{ApiError, Result};
use super::pages::recorded_run_page;
use super::AppState;
use crate::store::Found;
use crate::{replay, trace};

/// `GET /runs/{id}`: the demo's full page, replaying this run.
pub async fn permalink(State(state): State<AppState>, Path(id): Path<String>, viewer: ClientAddr) -> Result<Html<String>> {
    let run = find_any(&state, &id, &viewer).await?;
    let summary = run.summary();
    recorded_run_page(run.demo(), summary.id, summary.engine)
}

/// Exports need the whole log, and one of the export permits: at most
/// `--max-exports` are written at once, and each is streamed, so an export
/// costs a chunk of memory, not a copy of the run.
async fn finished(state: &AppState, id: &str, viewer: &ClientAddr) -> Result<(Found, OwnedSemaphorePermit)> {
    let run = find_any(state, id, viewer).await?;
    if !run.is_finished() {
        return Err(ApiError::new(StatusCode::CONFLICT, "run_not_finished", "the run is still running; export it once it has ended"));
    }
    let permit = state.exports.clone().try_acquire_owned().map_err(|_| {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_exports",
            "the server is writing as many exports as it allows at once; try again shortly",
        );
        err.retry_after = Some(2);
        err
    })?;
    Ok((run, permit))
}

fn download(mut response: Response, content_type: &'static str, filename: String, attachment: bool) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("{}; filename=\"{filename}\"", if attachment { "attachment" } else { "inline" });
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Bytes gathered before a chunk goes to the socket.
const CHUNK: usize = 64 * 1024;
/// Chunks written ahead of a slow reader.
const CHUNKS_AHEAD: usize = 2;

/// A body written by `produce` on a blocking thread, a chunk at a time, as
/// fast as the client reads. The permit is held until `produce` ends, which
/// it does early when the client leaves (its next write fails).
fn streamed<F>(permit: OwnedSemaphorePermit, produce: F) -> Body
where
    F: FnOnce(&mut ChunkWriter) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = ChunkWriter { tx, buf: BytesMut::with_capacity(CHUNK) };
        if produce(&mut out).and_then(|()| out.send()).is_err() {
            // The client left, or an export failed midway: the body ends
            // short, and the client sees a truncated download.
            tracing::debug!("an export ended early");
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    }))
}

/// Collects writes into chunks and hands each to the response body.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: BytesMut,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx.blocking_send(chunk).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.put_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A finished run's log, read a batch at a time (never copied whole).
fn lines(run: &Found) -> impl Iterator<Item = Bytes> + '_ {
    const BATCH: usize = 1024;
    let mut next = 0;
    std::iter::from_fn(move || {
        let (batch, _) = run.log().read(next, BATCH);
        next += batch.len();
        (!batch.is_empty()).then_some(batch)
    })
    .flatten()
}

/// `GET /api/runs/{id}/events.jsonl`: the log, one event per line, the same
/// bytes the event stream sends.
pub async fn events_jsonl(State(state): State<AppState>, Path(id): Path<String>, viewer: ClientAddr) -> Result<Response> {
    let (run, permit) = finished(&state, &id, &viewer).await?;
    let name = format!("forkline-{}-{}.jsonl", run.demo().name, run.summary().id);
    let body = streamed(permit, move |out| {
        for event in lines(&run) {
            out.write_all(&event)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    });
    Ok(download(body.into_response(), "application/jsonl; charset=utf-8", name, false))
}

/// `GET /api/runs/{id}/trace.json`: the run in the Chrome Trace Event Format.
pub async fn trace_json(State(state): State<AppState>, Path(id): Path<String>, viewer: ClientAddr) -> Result<Response> {
    let (run, permit) = finished(&state, &id, &viewer).await?;
    let name = format!("forkline-{}-{}.trace.json", run.demo().name, run.summary().id);
    let body = streamed(permit, move |out| trace::write_chrome_trace(|| lines(&run), out));
    Ok(download(body.into_response(), "application/json", name, true))
}

/// `GET /api/runs/{id}/replay.html`: one file that replays the run with no
/// server. It carries inline scripts, which this server's own CSP forbids, so
/// it is only ever a download: it runs where it is opened (file:// or a
/// static host), never as a page of this origin.
pub async fn replay_html(State(state): State<AppState>, Path(id): Path<String>, viewer: ClientAddr) -> Result<Response> {
    let (run, permit) = finished(&state, &id, &viewer).await?;
    let demo = run.demo();
    let demo_json = serde_json::to_value(DemoInfo::new(demo, state.runs.config())).unwrap_or_default();
    let cpython = (run.summary().engine == "cpython").then(|| crate::demos::cpython::program(demo.name)).flatten();
    let summary = serde_json::to_value(run.summary()).unwrap_or_default();
    let web_dir = state.runs.config().web_dir.clone();
    let name = format!("forkline-{}-{}.html", demo.name, run.summary().id);
    let body = streamed(permit, move |out| {
        let replay = replay::Replay { web_dir: &web_dir, demo, cpython, demo_json: &demo_json, summary: &summary };
        replay::write(&replay, lines(&run), out)
    });
    let mut response = download(body.into_response(), "text/html; charset=utf-8", name, true);
    // Never a page of this origin, even if a browser ignores the attachment.
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok(response)
}
