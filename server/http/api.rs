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
use crate::config::Config;
use crate::demos::{self, cpython, params, Demo, Params};
use crate::interpreters::Interpreter;
use crate::runs::step::{Schedule, StepError, MAX_SCHEDULE, STEPPABLE};
use crate::runs::{EditedProgram, Engine, Run, RunId, Summary};
use crate::sandbox::Editing;
use crate::store::Found;

/// A demo as `/api/demos` lists it.
#[derive(Serialize)]
pub struct DemoInfo {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    notes: &'static str,
    /// The native program, at this demo's defaults.
    source: String,
    source_lines: BTreeMap<&'static str, u32>,
    lesson_output: &'static str,
    /// The demo's own parameters, then the common ones (sampler).
    params: Vec<params::Spec>,
    /// The engines that can run it, the page's default first.
    engines: Vec<&'static str>,
    /// The demo under the CPython engine, where this server offers one.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpython: Option<CpythonInfo>,
    /// Why the CPython engine is not offered for a demo that has a program.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpython_missing: Option<String>,
    /// The question a `?predict=1` page asks before a run, on either engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    predict: Option<&'static demos::predict::Question>,
    /// Whether its native runs can be stepped (`"mode": "step"`).
    steppable: bool,
}

/// A demo's Python program as the CPython engine runs it.
#[derive(Serialize)]
pub struct CpythonInfo {
    file: &'static str,
    /// The program with its default parameters written in.
    source: &'static str,
    notes: &'static str,
    /// This engine's parameters, then the common ones.
    params: Vec<params::Spec>,
    /// The interpreters offered, the default first.
    interpreters: Vec<Interpreter>,
    /// Whether its program may be edited and run, in the sandbox.
    editing: EditingInfo,
}

/// What the page needs to know to offer the editor.
#[derive(Serialize)]
pub struct EditingInfo {
    enabled: bool,
    /// Why editing is off on this server.
    reason: Option<String>,
    max_source_bytes: usize,
    /// The interpreter edited programs run on (`CPython 3.11.2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    interpreter: Option<String>,
}

impl EditingInfo {
    fn of(config: &Config) -> Self {
        match &config.editing {
            Editing::On(_, python) => EditingInfo { enabled: true, reason: None, max_source_bytes: config.max_source_bytes, interpreter: Some(python.label.clone()) },
            Editing::Off(why) => EditingInfo { enabled: false, reason: Some(why.clone()), max_source_bytes: config.max_source_bytes, interpreter: None },
        }
    }
}

impl DemoInfo {
    pub fn new(d: &'static Demo, config: &Config) -> Self {
        let program = cpython::program(d.name);
        // Scratch needs only the sandbox's interpreter, the others one of --python.
        let scratch = d.name == demos::scratch::NAME;
        let offered = program.filter(|_| !config.pythons.is_empty() || scratch);
        let cpython_missing = match (program, offered) {
            (Some(_), None) => Some(no_python_reason(config)),
            _ => None,
        };
        let mut info = DemoInfo::from(d);
        if scratch {
            info.engines.clear();
        }
        if let Some(p) = offered {
            info.engines.insert(0, "cpython");
            info.cpython = Some(CpythonInfo {
                file: p.file,
                source: p.template,
                notes: p.notes,
                params: p.all_params(),
                interpreters: config.pythons.clone(),
                editing: EditingInfo::of(config),
            });
        }
        info.cpython_missing = cpython_missing;
        info
    }
}

/// Why no interpreter is offered, in words for the page.
pub fn no_python_reason(config: &Config) -> String {
    if config.python_problems.is_empty() {
        "no Python interpreter was found on this server (see --python)".to_owned()
    } else {
        format!("no Python interpreter is offered: {}", config.python_problems.join("; "))
    }
}

impl From<&'static Demo> for DemoInfo {
    fn from(d: &'static Demo) -> Self {
        DemoInfo {
            name: d.name,
            title: d.title,
            summary: d.summary,
            notes: d.notes,
            source: d.source_at_defaults(),
            source_lines: d.source_lines.iter().copied().collect(),
            lesson_output: d.lesson_output,
            params: d.all_params(),
            engines: vec!["native"],
            cpython: None,
            cpython_missing: None,
            predict: demos::predict::question(d.name),
            steppable: STEPPABLE.contains(&d.name),
        }
    }
}

pub async fn list_demos(State(state): State<AppState>) -> Json<Vec<DemoInfo>> {
    let config = state.runs.config();
    Json(config.catalog.iter().map(|d| DemoInfo::new(d, config)).collect())
}

/// `POST /api/runs` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    demo: String,
    #[serde(default)]
    params: serde_json::Value,
    /// `native` (the default, as before engines existed) or `cpython`.
    #[serde(default)]
    engine: Option<String>,
    /// Which offered interpreter (its id, e.g. `3.11.7`); the first by default.
    #[serde(default)]
    python: Option<String>,
    /// An edited program to run instead of the demo's (CPython engine only,
    /// in the sandbox; `params` then do not apply).
    #[serde(default)]
    source: Option<String>,
    /// `run` (the default) or `step`: every traced operation then waits
    /// for `POST /api/runs/{id}/step`.
    #[serde(default)]
    mode: Option<String>,
    /// A stepped run's schedule to play first (a finished stepped run's
    /// `step.schedule`).
    #[serde(default)]
    schedule: Option<Schedule>,
}

impl CreateRun {
    /// A run request for the lesson's program (no edited source), as an
    /// experiment makes one for each of its runs.
    pub(super) fn of(demo: &str, params: serde_json::Value, engine: Option<String>, python: Option<String>) -> Self {
        CreateRun { demo: demo.to_owned(), params, engine, python, source: None, mode: None, schedule: None }
    }
}

/// The summary (which carries the id) with where to find the run, once.
#[derive(Serialize)]
struct Created {
    events_url: String,
    status_url: String,
    page_url: String,
    /// The run's permalink: the full page replaying it, also after a restart.
    permalink_url: String,
    /// Needed to cancel the run (`Authorization: Bearer <token>`); given
    /// only here, never in a status, a stream or an export.
    cancel_token: String,
    #[serde(flatten)]
    summary: Summary,
}

pub async fn create_run(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<Response> {
    let demo = state.demo(&body.demo)?;
    let stepped = wants_steps(demo, &body)?;
    let (engine, params) = choose_engine(demo, &body, state.runs.config())?;
    let run = if stepped {
        state.runs.start_stepped(demo, params, engine, client, body.schedule).await?
    } else {
        state.runs.start(demo, params, engine, client).await?
    };
    let created = Created {
        events_url: format!("/api/runs/{}/events", run.id),
        status_url: format!("/api/runs/{}", run.id),
        page_url: format!("/demos/{}?run={}", demo.name, run.id),
        permalink_url: format!("/runs/{}", run.id),
        cancel_token: run.cancel_token.reveal().to_owned(),
        summary: run.summary(),
    };
    let location = created.status_url.clone();
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(created)).into_response())
}

/// Whether a request asks for a stepped run, checked: the demos whose
/// operations are traced, on either engine, or an edited program; a
/// schedule needs a stepped run.
fn wants_steps(demo: &'static Demo, body: &CreateRun) -> Result<bool> {
    let invalid = |field: &str, message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", message).with_field(field);
    let stepped = match body.mode.as_deref() {
        None | Some("run") => false,
        Some("step") => true,
        Some(_) => return Err(invalid("mode", "mode must be run or step".into())),
    };
    if !stepped {
        return match body.schedule {
            Some(_) => Err(invalid("schedule", "a schedule is played only in a stepped run (\"mode\": \"step\")".into())),
            None => Ok(false),
        };
    }
    // An edited program is the student's own: whatever it does with the
    // traced operations can be stepped.
    if body.source.is_none() && !STEPPABLE.contains(&demo.name) {
        return Err(invalid("mode", format!("{} cannot be stepped; these can: {}", demo.name, STEPPABLE.join(", "))));
    }
    if let Some(schedule) = &body.schedule {
        if schedule.steps.len() > MAX_SCHEDULE {
            return Err(invalid("schedule", format!("a schedule has at most {MAX_SCHEDULE} steps, not {}", schedule.steps.len())));
        }
        if let Some(lane) = schedule.steps.iter().find(|lane| lane.is_empty() || lane.len() > MAX_LANE_NAME) {
            return Err(invalid("schedule", format!("a lane name is 1 to {MAX_LANE_NAME} bytes, not {}", lane.len())));
        }
    }
    Ok(true)
}

/// Longest lane name in a schedule: a process name, a slash and a thread's.
const MAX_LANE_NAME: usize = 200;

/// The engine a request asks for, and its parameters validated for that
/// engine's program. Anything unknown is a 422 naming its field.
pub(super) fn choose_engine(demo: &'static Demo, body: &CreateRun, config: &Config) -> Result<(Engine, Params)> {
    let invalid = |field: &str, message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", message).with_field(field);
    if let Some(source) = &body.source {
        return edited(demo, body, source, config);
    }
    if demo.name == demos::scratch::NAME {
        return Err(invalid("source", "scratch runs only a program of your own: send it as source, with the cpython engine".into()));
    }
    match body.engine.as_deref() {
        None | Some("native") => {
            if body.python.is_some() {
                return Err(invalid("python", "python applies only to the cpython engine".into()));
            }
            Ok((Engine::Native, demo.validate(&body.params)?))
        }
        Some("cpython") => {
            let program = cpython::program(demo.name)
                .ok_or_else(|| invalid("engine", format!("{} has no Python program; use the native engine", demo.name)))?;
            let interpreter = match body.python.as_deref() {
                _ if config.pythons.is_empty() => return Err(invalid("engine", no_python_reason(config))),
                None => config.pythons[0].clone(),
                Some(id) => config.pythons.iter().find(|p| p.id == id).cloned().ok_or_else(|| {
                    let offered: Vec<&str> = config.pythons.iter().map(|p| p.id.as_str()).collect();
                    invalid("python", format!("python must be one of {}", offered.join(", ")))
                })?,
            };
            Ok((Engine::Cpython(interpreter), program.validate(&body.params)?))
        }
        Some(_) => Err(invalid("engine", "engine must be native or cpython".into())),
    }
}

/// An edited program's run: checked before anything starts (size, NUL
/// bytes, the tracer's own modules), then run in the sandbox. The program's
/// syntax is CPython's to judge, inside the run: a syntax error ends the run
/// with the error on its line, before any of the program ran.
fn edited(demo: &'static Demo, body: &CreateRun, source: &str, config: &Config) -> Result<(Engine, Params)> {
    let invalid = |code: &'static str, field: &str, message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field);
    if matches!(body.engine.as_deref(), Some(e) if e != "cpython") {
        return Err(invalid("invalid_parameter", "engine", "an edited program runs only on the cpython engine".into()));
    }
    let Editing::On(sandbox, interpreter) = &config.editing else {
        let why = config.editing.reason_off().unwrap_or_default();
        return Err(ApiError::new(StatusCode::FORBIDDEN, "editing_off", format!("edited programs cannot run here: {why}")).with_field("source"));
    };
    if !(body.params.is_null() || body.params.as_object().is_some_and(|o| o.is_empty())) {
        return Err(invalid("invalid_parameter", "params", "params do not apply to an edited program: write the values into it".into()));
    }
    if body.python.as_deref().is_some_and(|id| id != interpreter.id) {
        return Err(invalid("invalid_parameter", "python", format!("edited programs run on {} (python {})", interpreter.label, interpreter.id)));
    }
    if source.len() > config.max_source_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "source_too_large",
            format!("the program is {} bytes; at most {} are accepted", source.len(), config.max_source_bytes),
        )
        .with_field("source"));
    }
    if let Some(at) = source.find('\0') {
        let line = source[..at].matches('\n').count() + 1;
        return Err(invalid("invalid_source", "source", format!("the program holds a NUL byte (line {line}), which no Python source may")));
    }
    if let Some(module) = tracer_module_named(source) {
        return Err(invalid("invalid_source", "source", format!("{module} is forkline's tracer, not a module for programs")));
    }
    cpython::program(demo.name).ok_or_else(|| invalid("invalid_parameter", "demo", format!("{} has no Python program", demo.name)))?;
    let edited = EditedProgram { interpreter: interpreter.clone(), source: source.to_owned(), sandbox: sandbox.clone() };
    Ok((Engine::Edited(std::sync::Arc::new(edited)), Params::default()))
}

/// The tracer's own module, when a line imports it.
fn tracer_module_named(source: &str) -> Option<&'static str> {
    source.lines().find_map(|line| {
        let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|w| !w.is_empty()).collect();
        let imports = words.windows(2).any(|w| matches!(w[0], "import" | "from") && w[1].split('.').next().is_some_and(|m| m.starts_with("forkline_")));
        imports.then_some("forkline_trace")
    })
}

/// `GET /api/runs/{id}`: the summary only, so a saved run's log is not read.
pub async fn get_run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Summary>> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::not_found("run"))?;
    let summary = Found::summary_of(&state.runs, state.store.as_deref(), &id).await?;
    Ok(Json(summary.ok_or_else(|| ApiError::not_found("run"))?))
}

/// `DELETE /api/runs/{id}`: stops a run; its stream ends with `run.end`
/// (outcome cancelled). Cancelling a finished run changes nothing. Only the
/// run's creator may: the request carries its cancel token.
pub async fn cancel_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<(StatusCode, Json<Summary>)> {
    let run = find_run(&state, &id)?;
    creator_only(&run, &headers, "cancelling")?;
    run.cancel();
    Ok((StatusCode::ACCEPTED, Json(run.summary())))
}

/// Refuses a request that does not carry the run's cancel token, which
/// only its creator was given.
fn creator_only(run: &Run, headers: &axum::http::HeaderMap, doing: &str) -> Result<()> {
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if offered.is_some_and(|token| run.cancel_token.matches(token)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("{doing} a run takes the cancel_token its creator was given, as Authorization: Bearer <token>"),
    ))
}

/// `POST /api/runs/{id}/step` body: one thread's next operation, or all of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    #[serde(default)]
    tid: Option<i32>,
    #[serde(default)]
    free: Option<bool>,
}

/// What a step did.
#[derive(Serialize)]
pub struct StepAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    lane: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    op: Option<String>,
    /// Steps taken so far.
    steps: usize,
    free: bool,
}

/// `POST /api/runs/{id}/step`: lets one waiting thread of a stepped run
/// perform its next operation (`{"tid": N}`), or lets the run go on freely
/// (`{"free": true}`). Only the run's creator may.
pub async fn step_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<StepRequest>,
) -> Result<Json<StepAnswer>> {
    let run = find_run(&state, &id)?;
    creator_only(&run, &headers, "stepping")?;
    let Some(stepper) = &run.stepper else {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_stepped", "this run was not started in step mode (\"mode\": \"step\")"));
    };
    let refused = |e: StepError| {
        let code = match e {
            StepError::Finished => "run_finished",
            StepError::Free => "running_freely",
            StepError::Unknown(_) => "no_such_thread",
            StepError::Blocked { .. } => "blocked",
            StepError::Deadlock { .. } => "deadlock",
            StepError::NotWaiting(_) => "not_waiting",
            StepError::Busy(_) => "busy",
        };
        let status = if code == "no_such_thread" { StatusCode::NOT_FOUND } else { StatusCode::CONFLICT };
        ApiError::new(status, code, e.to_string())
    };
    match (body.tid, body.free) {
        (Some(tid), None | Some(false)) => {
            let stepped = stepper.step(tid).map_err(refused)?;
            // Answered once the operation is done, so a client that steps
            // after each answer gets exactly the order it asked for.
            stepper.settled().await;
            Ok(Json(StepAnswer { lane: Some(stepped.lane), op: Some(stepped.op), steps: stepped.steps, free: false }))
        }
        (None, Some(true)) => {
            let steps = stepper.free().map_err(refused)?;
            Ok(Json(StepAnswer { lane: None, op: None, steps, free: true }))
        }
        _ => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", "send either {\"tid\": N} or {\"free\": true}")),
    }
}

pub fn find_run(state: &AppState, id: &str) -> Result<std::sync::Arc<Run>> {
    RunId::parse(id).and_then(|id| state.runs.get(&id)).ok_or_else(|| ApiError::not_found("run"))
}

/// A run in memory, or else in the store, opened by `viewer`.
pub async fn find_any(state: &AppState, id: &str, viewer: &ClientAddr) -> Result<Found> {
    let id = RunId::parse(id).ok_or_else(|| ApiError::not_found("run"))?;
    Found::lookup(&state.runs, state.store.as_deref(), &id, viewer.0).await?.ok_or_else(|| ApiError::not_found("run"))
}
