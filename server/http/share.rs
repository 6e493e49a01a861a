//! Sharing a finished run: its permalink page and its exports (the raw log,
//! a Chrome trace, a self-contained replay file). Runs are found in memory or
//! in the store, so all of these outlive a restart.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bytes::{BufMut, BytesMut};

use super::api::{find_any, DemoInfo};
use super::error::{ApiError, Result};
use super::pages::recorded_run_page;
use super::AppState;
use crate::store::Found;
use crate::{replay, trace};

/// `GET /runs/{id}`: the demo's full page, replaying this run.
pub async fn permalink(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>> {
    let run = find_any(&state, &id).await?;
    let summary = run.summary();
    recorded_run_page(run.demo(), summary.id, summary.engine)
}

/// Exports need the whole log.
async fn finished(state: &AppState, id: &str) -> Result<Found> {
    let run = find_any(state, id).await?;
    if !run.is_finished() {
        return Err(ApiError::new(StatusCode::CONFLICT, "run_not_finished", "the run is still running; export it once it has ended"));
    }
    Ok(run)
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

/// `GET /api/runs/{id}/events.jsonl`: the log, one event per line, the same
/// bytes the event stream sends.
pub async fn events_jsonl(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let run = finished(&state, &id).await?;
    let events = run.log().snapshot();
    let mut body = BytesMut::with_capacity(events.iter().map(|e| e.len() + 1).sum());
    for event in &events {
        body.put_slice(event);
        body.put_u8(b'\n');
    }
    let name = format!("forkline-{}-{}.jsonl", run.demo().name, run.summary().id);
    Ok(download(body.freeze().into_response(), "application/jsonl; charset=utf-8", name, false))
}

/// `GET /api/runs/{id}/trace.json`: the run in the Chrome Trace Event Format.
pub async fn trace_json(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let run = finished(&state, &id).await?;
    let events = run.log().snapshot();
    // A long run is millions of events: convert off the async workers.
    let body = tokio::task::spawn_blocking(move || serde_json::to_vec(&trace::chrome_trace(&events)))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", e.to_string()))?;
    let name = format!("forkline-{}-{}.trace.json", run.demo().name, run.summary().id);
    Ok(download(body.into_response(), "application/json", name, true))
}

/// `GET /api/runs/{id}/replay.html`: one file that replays the run with no
/// server. It carries inline scripts, which this server's own CSP forbids, so
/// it is only ever a download: it runs where it is opened (file:// or a
/// static host), never as a page of this origin.
pub async fn replay_html(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let run = finished(&state, &id).await?;
    let demo = run.demo();
    let demo_json = serde_json::to_value(DemoInfo::new(demo, state.runs.config())).unwrap_or_default();
    let cpython = (run.summary().engine == "cpython").then(|| crate::demos::cpython::program(demo.name)).flatten();
    let summary = serde_json::to_value(run.summary()).unwrap_or_default();
    let events = run.log().snapshot();
    let web_dir = state.runs.config().web_dir.clone();
    let html = tokio::task::spawn_blocking(move || {
        replay::build(&replay::Replay { web_dir: &web_dir, demo, cpython, demo_json: &demo_json, summary: &summary, events: &events })
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", e.to_string()))?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", e.to_string()))?;
    let name = format!("forkline-{}-{}.html", demo.name, run.summary().id);
    let mut response = download(html.into_response(), "text/html; charset=utf-8", name, true);
    // Never a page of this origin, even if a browser ignores the attachment.
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    Ok(response)
}
