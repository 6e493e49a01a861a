//! `GET /embed/{demo}`: a demo without the site around it, for an iframe in a
//! course page. The query presets the demo's parameters (validated by the same
//! code as the API) and chooses theme, autorun and panels; the page's modules
//! read those settings from `data-*` attributes on `<body>`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Result};
use super::pages::render;
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
    source: &'static str,
    /// The preset parameters, every default filled in, as JSON.
    params_json: String,
    theme: &'static str,
    autorun: bool,
    /// Comma-separated subset of [`PANELS`].
    panels: String,
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
}

fn settings(pairs: &mut Vec<(String, String)>) -> Result<Settings, String> {
    let mut out = Settings { theme: "auto", autorun: false, panels: PANELS.join(",") };
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
    let demo = demos::find(&name)
        .filter(|d| !d.hidden || state.runs.config().hidden_demos)
        .ok_or_else(|| ApiError::unknown_demo(&name))?;
    let ancestors = &state.runs.config().frame_ancestors;
    let parent_origins = if ancestors.iter().any(Origin::is_any) {
        "*".to_owned()
    } else {
        ancestors.iter().map(Origin::as_str).collect::<Vec<_>>().join(" ")
    };
    let mut page = EmbedPage {
        name: demo.name,
        title: demo.title,
        summary: demo.summary,
        source: demo.source,
        params_json: "{}".into(),
        theme: "auto",
        autorun: false,
        panels: PANELS.join(","),
        parent_origins,
        error: None,
    };
    let checked = settings(&mut pairs).and_then(|s| {
        params::from_text(demo.params, &pairs).map(|p| (s, p)).map_err(|e| e.to_string())
    });
    match checked {
        Ok((settings, params)) => {
            page.params_json = params.to_json().to_string();
            page.theme = settings.theme;
            page.autorun = settings.autorun;
            page.panels = settings.panels;
            Ok(render(&page)?.into_response())
        }
        Err(message) => {
            page.error = Some(message);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
    }
}
