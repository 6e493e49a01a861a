//! The JSON API: the catalog, starting runs, their status, cancelling them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::client::ClientAddr;
use super::error::{ApiError, Result};
use super::json::ApiJson;
use super::AppState;
use crate::demos::{self, params, Demo};
use crate::runs::{Run, RunId, Summary};
use crate::store::Found;

/// A demo as `/api/demos` lists it.
#[derive(Serialize)]
pub struct DemoInfo {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    notes: &'static str,
    source: &'static str,
    source_lines: BTreeMap<&'static str, u32>,
    lesson_output: &'static str,
    /// The demo's own parameters, then the common ones (sampler).
    params: Vec<params::Spec>,
}

impl From<&'static Demo> for DemoInfo {
    fn from(d: &'static Demo) -> Self {
        DemoInfo {
            name: d.name,
            title: d.title,
            summary: d.summary,
            notes: d.notes,
            source: d.source,
            source_lines: d.source_lines.iter().copied().collect(),
            lesson_output: d.lesson_output,
            params: d.all_params(),
        }
    }
}

pub async fn list_demos(State(state): State<AppState>) -> Json<Vec<DemoInfo>> {
    let with_hidden = state.runs.config().hidden_demos;
    Json(demos::all().filter(|d| !d.hidden || with_hidden).map(DemoInfo::from).collect())
}

/// `POST /api/runs` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    demo: String,
    #[serde(default)]
    params: serde_json::Value,
}

#[derive(Serialize)]
struct Created {
    id: String,
    events_url: String,
    status_url: String,
    page_url: String,
    /// The run's permalink: the full page replaying it, also after a restart.
    permalink_url: String,
    #[serde(flatten)]
    summary: Summary,
}

pub async fn create_run(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<Response> {
    let demo = demos::find(&body.demo)
        .filter(|d| !d.hidden || state.runs.config().hidden_demos)
        .ok_or_else(|| ApiError::unknown_demo(&body.demo))?;
    let params = demo.validate(&body.params)?;
    let run = state.runs.start(demo, params, client)?;
    let created = Created {
        id: run.id.to_string(),
        events_url: format!("/api/runs/{}/events", run.id),
        status_url: format!("/api/runs/{}", run.id),
        page_url: format!("/demos/{}?run={}", demo.name, run.id),
        permalink_url: format!("/runs/{}", run.id),
        summary: run.summary(),
    };
    let location = created.status_url.clone();
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(created)).into_response())
}

pub async fn get_run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Summary>> {
    Ok(Json(find_any(&state, &id).await?.summary()))
}

/// `DELETE /api/runs/{id}`: stops a run; its stream ends with `run.end`
/// (outcome cancelled). Cancelling a finished run changes nothing.
pub async fn cancel_run(State(state): State<AppState>, Path(id): Path<String>) -> Result<(StatusCode, Json<Summary>)> {
    let run = find_run(&state, &id)?;
    run.cancel();
    Ok((StatusCode::ACCEPTED, Json(run.summary())))
}

pub fn find_run(state: &AppState, id: &str) -> Result<std::sync::Arc<Run>> {
    RunId::parse(id).and_then(|id| state.runs.get(&id)).ok_or_else(|| ApiError::not_found("run"))
}

/// A run in memory, or else in the store.
pub async fn find_any(state: &AppState, id: &str) -> Result<Found> {
    let id = RunId::parse(id).ok_or_else(|| ApiError::not_found("run"))?;
    Found::lookup(&state.runs, state.store.as_deref(), &id).await?.ok_or_else(|| ApiError::not_found("run"))
}
