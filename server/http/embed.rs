//! `GET /embed/{demo}`: a demo without the site around it, for an iframe in a
//! course page. The query presets the demo's parameters (validated by the same
//! code as the API) and chooses engine, theme, autorun and panels; the page's
//! modules read those settings from `data-*` attributes on `<body>`.
//!
//! `engine=` and `python=` choose as on a demo page (`pages::choose_engine`).
//! An embed that names no engine and whose parameters the default engine
//! refuses but the native one takes was written before engines existed (the
//! native demos have parameters of their own, e.g. `lock`'s `workers`): it
//! keeps running natively rather than turning into an error page.
//!
//! `editable=0` shows the CPython program read-only; by default (`1`) it is
//! an editor wherever the server allows editing. `predict=1` asks the demo's
//! question before each run (for instructors; see `demos::predict`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::Result;
use super::pages::{choose_engine, render, EngineChoice};
use super::AppState;
use crate::config::Origin;
use crate::demos::{self, params};

/// The panels an embed can show; all by default.
const PANELS: [&str; 3] = ["timeline", "console", "source"];

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    source: String,
    source_heading: String,
    /// `cpython` or `native`.
    engine: &'static str,
    /// The interpreter the query chose (an offered id), or empty for the default.
    python: String,
    /// Why the query's engine or interpreter was not taken.
    engine_notice: Option<String>,
    /// The preset parameters, every default filled in, as JSON.
    params_json: String,
    theme: &'static str,
    autorun: bool,
    /// Comma-separated subset of [`PANELS`].
    panels: String,
    /// The program may be edited (where the server allows editing at all).
    editable: bool,
    /// Ask the demo's question before each run (`predict=1`).
    predict: bool,
    /// Origins the height message may be posted to: `*` or a space-separated list.
    parent_origins: String,
    /// Why the query was refused; the frame shows it instead of the demo.
    error: Option<String>,
}

/// The embed settings read from the query, apart from the demo's parameters.
struct Settings {
    theme: &'static str,
    autorun: bool,
    panels: String,
    editable: bool,
    predict: bool,
    engine: Option<String>,
    python: Option<String>,
}

fn settings(pairs: &mut Vec<(String, String)>) -> Result<Settings, String> {
    let mut out = Settings { theme: "auto", autorun: false, panels: PANELS.join(","), editable: true, predict: false, engine: None, python: None };
    let mut rest = Vec::new();
    for (key, value) in pairs.drain(..) {
        match key.as_str() {
            "theme" => {
                out.theme = match value.as_str() {
                    "light" => "light",
                    "dark" => "dark",
                    "auto" => "auto",
                    _ => return Err("theme must be one of light, dark, auto".into()),
                }
            }
            "autorun" => {
                out.autorun = match value.as_str() {
                    "1" | "true" | "" => true,
                    "0" | "false" => false,
                    _ => return Err("autorun must be 1 or 0".into()),
                }
            }
            "editable" => {
                out.editable = match value.as_str() {
                    "1" | "true" | "" => true,
                    "0" | "false" => false,
                    _ => return Err("editable must be 1 or 0".into()),
                }
            }
            "predict" => {
                out.predict = match value.as_str() {
                    "1" | "true" | "" => true,
                    "0" | "false" => false,
                    _ => return Err("predict must be 1 or 0".into()),
                }
            }
            "engine" => out.engine = Some(value),
            "python" => out.python = Some(value),
            "panels" => {
                let chosen: Vec<&str> = value.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
                if chosen.is_empty() || chosen.iter().any(|p| !PANELS.contains(p)) {
                    return Err(format!("panels must be a comma-separated list of {}", PANELS.join(", ")));
                }
                out.panels = chosen.join(",");
            }
            _ => rest.push((key, value)),
        }
    }
    *pairs = rest;
    Ok(out)
}

pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Result<Response> {
    let demo = state.demo(&name)?;
    let ancestors = &state.runs.config().frame_ancestors;
    let parent_origins = if ancestors.iter().any(Origin::is_any) {
        "*".to_owned()
    } else {
        ancestors.iter().map(Origin::as_str).collect::<Vec<_>>().join(" ")
    };
    let config = state.runs.config();
    let checked = settings(&mut pairs).and_then(|s| {
        let mut choice = choose_engine(demo, config, s.engine.as_deref(), s.python.as_deref());
        let mut params = validate(demo, &choice, &pairs);
        if params.is_err() && !choice.explicit && choice.engine != "native" {
            // An embed older than engines (or with an engine we do not know)
            // whose parameters are the native demo's.
            let notice = choice.notice.as_ref().map(|_| {
                "This embed names an engine forkline does not know (cpython or native); its parameters are the native demo's, so it runs on the Native engine.".to_owned()
            });
            let native = EngineChoice { engine: "native", python: None, notice, explicit: false };
            if let Ok(p) = validate(demo, &native, &pairs) {
                choice = native;
                params = Ok(p);
            }
        }
        params.map(|p| (s, choice, p))
    });
    let fallback = choose_engine(demo, config, None, None);
    let (notes_engine, error) = match &checked {
        Ok((_, choice, _)) => (choice, None),
        Err(message) => (&fallback, Some(message.clone())),
    };
    let mut page = EmbedPage {
        name: demo.name,
        title: demo.title,
        summary: demo.summary,
        source: notes_engine.texts(demo).1,
        source_heading: notes_engine.source_heading(demo),
        engine: notes_engine.engine,
        python: notes_engine.python.clone().unwrap_or_default(),
        engine_notice: notes_engine.notice.clone(),
        params_json: "{}".into(),
        theme: "auto",
        autorun: false,
        panels: PANELS.join(","),
        editable: false,
        predict: false,
        parent_origins,
        error,
    };
    match checked {
        Ok((settings, _, params)) => {
            page.params_json = params.to_json().to_string();
            page.theme = settings.theme;
            page.autorun = settings.autorun;
            page.panels = settings.panels;
            page.editable = settings.editable;
            page.predict = settings.predict;
            Ok(render(&page)?.into_response())
        }
        Err(_) => Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response()),
    }
}

/// The query's parameters checked against the chosen engine's, the common
/// ones (`sample`, `sample_interval_us`) included, as `POST /api/runs` does.
fn validate(demo: &'static demos::Demo, choice: &EngineChoice, pairs: &[(String, String)]) -> Result<params::Params, String> {
    let specs = match choice.program(demo) {
        Some(p) => p.all_params(),
        None => demo.all_params(),
    };
    params::from_text(&specs, pairs).map_err(|e| e.to_string())
}
