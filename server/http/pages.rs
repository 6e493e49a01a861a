//! The HTML pages, rendered from askama templates in `templates/`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;

use super::error::{ApiError, Result};
use super::AppState;
use crate::demos;

struct Card {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    demos: Vec<Card>,
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    notes: &'static str,
    source: &'static str,
    /// The run this page replays (a permalink), if any.
    run: Option<String>,
}

pub async fn catalog() -> Result<Html<String>> {
    let demos = demos::listed().map(|d| Card { name: d.name, title: d.title, summary: d.summary }).collect();
    render(&CatalogPage { demos })
}

pub async fn demo(State(state): State<AppState>, Path(name): Path<String>) -> Result<Html<String>> {
    let d = demos::find(&name)
        .filter(|d| !d.hidden || state.runs.config().hidden_demos)
        .ok_or_else(|| ApiError::unknown_demo(&name))?;
    demo_page(d, None)
}

/// A demo's full page; with `run`, the page replays that run.
pub fn demo_page(d: &'static demos::Demo, run: Option<String>) -> Result<Html<String>> {
    render(&DemoPage { name: d.name, title: d.title, summary: d.summary, notes: d.notes, source: d.source, run })
}

pub fn render(page: &impl Template) -> Result<Html<String>> {
    page.render()
        .map(Html)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "render_failed", e.to_string()))
}
