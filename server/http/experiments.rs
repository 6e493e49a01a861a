//! `POST /api/experiments` and `GET /api/experiments/{id}`: the surface of
//! the race lab and the speedup curve. The request names a demo, its engine and parameters, the
//! parameter to vary and how many runs each value gets; every run is checked
//! up front exactly as `POST /api/runs` checks one, so a bad request runs
//! nothing. The report lists every run with its id, value, outcome and
//! result; once done it is saved, so its permalink outlives a restart.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::api::{choose_engine, CreateRun};
use super::client::ClientAddr;
use super::error::{ApiError, Result};
use super::json::ApiJson;
use super::AppState;
use crate::demos;
use crate::runs::experiment::{Plan, Refused, MAX_EXPERIMENT_RUNS, MAX_RUNS_EACH, MAX_VALUES};
use crate::runs::RunId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    demo: String,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    python: Option<String>,
    /// The parameter that varies (`use_lock`).
    vary: String,
    /// Its values; a boolean parameter's are `[true, false]` by default.
    #[serde(default)]
    values: Option<Vec<Value>>,
    runs_each: usize,
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", message).with_field(field)
}

pub async fn create(State(state): State<AppState>, ClientAddr(client): ClientAddr, ApiJson(body): ApiJson<CreateExperiment>) -> Result<Response> {
    let config = state.runs.config();
    let demo = state.demo(&body.demo)?;
    if demo.name == demos::scratch::NAME {
        return Err(ApiError::unknown_demo(&body.demo));
    }
    if !(1..=MAX_RUNS_EACH).contains(&body.runs_each) {
        return Err(invalid("runs_each", format!("runs_each must be from 1 to {MAX_RUNS_EACH}")));
    }
    let mut base = match &body.params {
        Value::Null => serde_json::Map::new(),
        Value::Object(map) => map.clone(),
        _ => return Err(invalid("params", "params must be an object".into())),
    };
    base.remove(&body.vary);
    // The varied parameter must be one the chosen engine has.
    let probe = CreateRun::of(demo.name, Value::Object(base.clone()), body.engine.clone(), body.python.clone());
    let (engine, defaults) = choose_engine(demo, &probe, config)?;
    let Some(default) = defaults.to_json().get(&body.vary).cloned() else {
        return Err(invalid("vary", format!("{} has no parameter {:?} on this engine", demo.name, body.vary)));
    };
    let values = match (&body.values, &default) {
        (Some(values), _) => values.clone(),
        (None, Value::Bool(_)) => vec![Value::Bool(true), Value::Bool(false)],
        (None, _) => return Err(invalid("values", format!("name the values of {} to compare", body.vary))),
    };
    if values.is_empty() || values.len() > MAX_VALUES {
        return Err(invalid("values", format!("values must list 1 to {MAX_VALUES} values")));
    }
    if values.len() * body.runs_each > MAX_EXPERIMENT_RUNS {
        return Err(invalid("runs_each", format!("at most {MAX_EXPERIMENT_RUNS} runs in all ({} values × runs_each)", values.len())));
    }
    let mut checked = Vec::new();
    for value in &values {
        let mut params = base.clone();
        params.insert(body.vary.clone(), value.clone());
        let request = CreateRun::of(demo.name, Value::Object(params), body.engine.clone(), body.python.clone());
        let (_, params) = choose_engine(demo, &request, config)?;
        checked.push((value.clone(), params));
    }
    let runs = (0..body.runs_each).flat_map(|_| checked.iter().cloned()).collect();
    let plan = Plan { demo, engine, params: Value::Object(base), vary: body.vary, values, runs_each: body.runs_each, runs };
    let store = state.store.clone();
    let done = store.map(|store| std::sync::Arc::new(Box::new(move |report| store.save_experiment(&report)) as crate::runs::experiment::DoneHook));
    let experiment = state.experiments.start(&state.runs, plan, client, done).await.map_err(|e| match e {
        Refused::ClientBusy => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "experiment_running", e.to_string()),
        Refused::Start(e) => e.into(),
    })?;
    let url = format!("/api/experiments/{}", experiment.id);
    let mut report = serde_json::to_value(experiment.report()).unwrap_or_default();
    report["status_url"] = Value::String(url.clone());
    report["page_url"] = Value::String(format!("/demos/{}?experiment={}", demo.name, experiment.id));
    Ok((StatusCode::CREATED, [(header::LOCATION, url)], Json(report)).into_response())
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::not_found("experiment"))?;
    if let Some(experiment) = state.experiments.get(&id) {
        return Ok(Json(experiment.report()).into_response());
    }
    let Some(store) = &state.store else { return Err(ApiError::not_found("experiment")) };
    let report = store.load_experiment(id.as_str()).await?.ok_or_else(|| ApiError::not_found("experiment"))?;
    Ok(Json(report).into_response())
}
