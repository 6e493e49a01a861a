//! The HTML pages, rendered from askama templates in `templates/`.
//!
//! A demo page (and an embed, see `embed.rs`) shows one of two engines: the
//! CPython engine (a real interpreter runs the demo's Python program) where
//! this server offers it, else the native one (forkline's Rust demos). The
//! query's `engine=` and `python=` choose; what they ask for that cannot be
//! had falls back to the default with a sentence saying so, never an error
//! page. The page's modules read the choice from `data-*` on `<body>`.
//!
//! `/play` is the scratch demo's page: no lesson, only the program someone
//! writes in the editor, always under CPython.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;

use super::api::no_python_reason;
use super::error::{ApiError, Result};
use super::AppState;
use crate::config::Config;
use crate::demos::{self, cpython};

struct Card {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    demos: Vec<Card>,
    /// The scratch page's card (`/play`), when the server has the scratch demo.
    scratch: Option<Card>,
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    /// The notes and program of the chosen engine.
    notes: &'static str,
    source: String,
    /// The source panel's heading for that engine.
    source_heading: String,
    /// `cpython` or `native`; empty on a permalink, where the run decides.
    engine: &'static str,
    /// The interpreter the query chose (an offered id), or empty for the default.
    python: String,
    /// Why the query's engine or interpreter was not taken.
    engine_notice: Option<String>,
    /// The run this page replays (a permalink, or `?run=`), if any.
    run: Option<String>,
}

/// The engine a page shows, chosen from the query.
pub struct EngineChoice {
    pub engine: &'static str,
    /// An offered interpreter's id, when the query named one.
    pub python: Option<String>,
    /// Why what the query asked for was not taken, in words for the page.
    pub notice: Option<String>,
    /// The query named this engine (an embed without one may fall back, see `embed.rs`).
    pub explicit: bool,
}

impl EngineChoice {
    pub fn program(&self, d: &demos::Demo) -> Option<&'static cpython::Program> {
        if self.engine == "cpython" { cpython::program(d.name) } else { None }
    }

    /// Notes and program text (at its defaults) of the chosen engine.
    pub fn texts(&self, d: &'static demos::Demo) -> (&'static str, String) {
        match self.program(d) {
            Some(p) => (p.notes, p.template.to_owned()),
            None => (d.notes, d.source_at_defaults()),
        }
    }

    pub fn source_heading(&self, d: &demos::Demo) -> String {
        match self.program(d) {
            Some(p) => format!("The Python program CPython runs · {}", p.file),
            None => "The Python program this demo mirrors".to_owned(),
        }
    }
}

/// User text quoted back in a notice, kept short.
fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    if cut.len() < s.len() { format!("“{cut}…”") } else { format!("“{cut}”") }
}

/// Chooses the engine for `engine=` and `python=` (each `None` when absent).
pub fn choose_engine(d: &demos::Demo, config: &Config, engine: Option<&str>, python: Option<&str>) -> EngineChoice {
    let program = cpython::program(d.name);
    let offered = program.is_some() && !config.pythons.is_empty();
    let default = if offered { "cpython" } else { "native" };
    let default_label = if offered { "CPython" } else { "Native" };
    let why_not = || match program {
        None => format!("{} has no Python program for it", d.name),
        Some(_) => no_python_reason(config),
    };
    let mut choice = EngineChoice { engine: default, python: None, notice: None, explicit: false };
    match engine.map(str::trim) {
        None | Some("") => {}
        Some("native") => {
            choice.engine = "native";
            choice.explicit = true;
        }
        Some("cpython") if offered => {
            choice.engine = "cpython";
            choice.explicit = true;
        }
        Some("cpython") => {
            choice.engine = "native";
            choice.explicit = true;
            choice.notice = Some(format!("The CPython engine is not offered here ({}), so this page shows the Native engine.", why_not()));
        }
        Some(other) => {
            choice.notice = Some(format!(
                "{} is not an engine forkline knows (cpython or native), so this page shows {default_label}, the default.",
                quoted(other)
            ));
        }
    }
    if choice.engine == "cpython" {
        match python.map(str::trim) {
            None | Some("") => {}
            Some(id) if config.pythons.iter().any(|p| p.id == id) => choice.python = Some(id.to_owned()),
            Some(id) => {
                let first = &config.pythons[0].label;
                let sentence = format!("No interpreter called {} is offered here, so runs use {first}, the default.", quoted(id));
                choice.notice = Some(match choice.notice.take() {
                    Some(n) => format!("{n} {sentence}"),
                    None => sentence,
                });
            }
        }
    }
    choice
}

pub async fn catalog(State(state): State<AppState>) -> Result<Html<String>> {
    let card = |d: &'static demos::Demo| Card { name: d.name, title: d.title, summary: d.summary };
    let catalog = &state.runs.config().catalog;
    // Scratch is no lesson: it gets a card of its own, to `/play`.
    let demos = catalog.listed().filter(|d| d.name != demos::scratch::NAME).map(card).collect();
    let scratch = catalog.find(demos::scratch::NAME).map(card);
    render(&CatalogPage { demos, scratch })
}

/// `GET /play`: the scratch demo's page, an editor with the starting program
/// under the CPython engine (the only one scratch has).
pub async fn play(State(state): State<AppState>) -> Result<Html<String>> {
    let d = state.demo(demos::scratch::NAME)?;
    let choice = EngineChoice { engine: "cpython", python: None, notice: None, explicit: true };
    render(&DemoPage { title: "Scratch", ..page_of(d, None, Some(&choice)) })
}

pub async fn demo(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Html<String>> {
    let d = state.demo(&name)?;
    let get = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let choice = choose_engine(d, state.runs.config(), get("engine"), get("python"));
    // The run API's `page_url` names a run this way: the page replays it.
    let run = get("run").map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    page(d, run, Some(&choice))
}

/// A demo's full page; with `run`, the page replays that run (whose engine
/// the page learns from the run itself).
pub fn demo_page(d: &'static demos::Demo, run: Option<String>) -> Result<Html<String>> {
    page(d, run, None)
}

/// A recorded run's page (a permalink) rendered for the engine it ran on
/// (`cpython` or `native`, as its summary says), so the notes and program
/// are that engine's before the page's modules load.
pub fn recorded_run_page(d: &'static demos::Demo, run: String, engine: &str) -> Result<Html<String>> {
    let choice = EngineChoice {
        engine: if engine == "cpython" && cpython::program(d.name).is_some() { "cpython" } else { "native" },
        python: None,
        notice: None,
        explicit: true,
    };
    page(d, Some(run), Some(&choice))
}

fn page(d: &'static demos::Demo, run: Option<String>, choice: Option<&EngineChoice>) -> Result<Html<String>> {
    render(&page_of(d, run, choice))
}

fn page_of(d: &'static demos::Demo, run: Option<String>, choice: Option<&EngineChoice>) -> DemoPage {
    let native = EngineChoice { engine: "native", python: None, notice: None, explicit: false };
    let shown = choice.unwrap_or(&native);
    let (notes, source) = shown.texts(d);
    DemoPage {
        name: d.name,
        title: d.title,
        summary: d.summary,
        notes,
        source,
        source_heading: shown.source_heading(d),
        // A recorded run names its own engine; the query's choice only
        // matters for what the page runs next.
        engine: if run.is_some() && choice.is_none() { "" } else { shown.engine },
        python: shown.python.clone().unwrap_or_default(),
        engine_notice: shown.notice.clone(),
        run,
    }
}

pub fn render(page: &impl Template) -> Result<Html<String>> {
    page.render()
        .map(Html)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "render_failed", e.to_string()))
}
