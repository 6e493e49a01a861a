//! The self-contained replay file: one HTML document holding the page's CSS,
//! its JS modules and the run's events, so a finished run replays with the
//! same timeline from `file://` or a static host, with no server and no
//! network (course sites that only serve static files).
//!
//! The page's modules import each other as `./x.js`, which a lone file cannot
//! resolve. Each module becomes a `data:` URL in an import map, and its
//! relative imports are rewritten to the map's keys (`forkline/x.js`); no
//! build step, the same sources. `api.js` is mapped to `offline-api.js`, which
//! answers the page's requests from the events inlined in the file (and
//! re-exports the real one, renamed `api-online.js`, for anything else).

use std::path::Path;

use askama::Template;
use bytes::Bytes;
use serde_json::Value;

use crate::demos::Demo;

/// Everything one replay file is made of.
pub struct Replay<'a> {
    /// Where the page's static files are.
    pub web_dir: &'a Path,
    pub demo: &'static Demo,
    /// The demo's Python program, when a real interpreter ran it: the file
    /// then shows that engine's notes and program.
    pub cpython: Option<&'static crate::demos::cpython::Program>,
    /// The demo as `/api/demos` lists it.
    pub demo_json: &'a Value,
    /// The run's summary as `/api/runs/{id}` reports it.
    pub summary: &'a Value,
}

#[derive(Template)]
#[template(path = "replay.html")]
struct Page<'a> {
    title: &'a str,
    name: &'a str,
    summary: &'a str,
    notes: &'a str,
    source: &'a str,
    run: &'a str,
    css: String,
    demo_json: String,
    run_json: String,
    events_json: String,
    import_map: String,
}

/// The page's modules, by the name other modules import them as. `api.js`
/// is the offline one; the real one stays reachable as `api-online.js`, so
/// any name it exports still resolves.
fn modules(web_dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(web_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let plain = name.strip_suffix(".js").is_some_and(|stem| {
            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !plain {
            continue;
        }
        let text = std::fs::read_to_string(web_dir.join(&name))?;
        let key = match name.as_str() {
            "offline-api.js" => "api.js".to_owned(),
            "api.js" => "api-online.js".to_owned(),
            _ => name,
        };
        out.push((key, text));
    }
    out.sort();
    Ok(out)
}

/// `./x.js` imports become the import map's `forkline/x.js`.
fn rewrite_imports(js: &str) -> String {
    let mut out = js.to_owned();
    for (from, to) in [
        ("from './", "from 'forkline/"),
        ("from \"./", "from \"forkline/"),
        ("import './", "import 'forkline/"),
        ("import \"./", "import \"forkline/"),
        ("import('./", "import('forkline/"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// JSON that may sit inside `<script>`: no `<` can close the element.
fn inline_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into()).replace('<', "\\u003c")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The replay file.
pub fn write(replay: &Replay, events: impl Iterator<Item = Bytes>, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut imports = serde_json::Map::new();
    for (name, text) in modules(replay.web_dir)? {
        let url = format!("data:text/javascript;base64,{}", base64(rewrite_imports(&text).as_bytes()));
        imports.insert(format!("forkline/{name}"), Value::String(url));
    }
    let mut css = std::fs::read_to_string(replay.web_dir.join("style.css"))?;
    if let Ok(embed_css) = std::fs::read_to_string(replay.web_dir.join("embed.css")) {
        css.push_str(&embed_css);
    }
    // The events are stored serialised; splice them in as they are.
    let run = replay.summary["id"].as_str().unwrap_or_default();
    let page = Page {
        title: replay.demo.title,
        name: replay.demo.name,
        summary: replay.demo.summary,
        notes: replay.cpython.map_or(replay.demo.notes, |p| p.notes),
        source: replay.cpython.map_or(replay.demo.source, |p| p.template),
        run,
        css: css.replace("</", "<\\/"),
        demo_json: inline_json(replay.demo_json),
        run_json: inline_json(replay.summary),
        events_json: EVENTS_GO_HERE.to_owned(),
        import_map: inline_json(&serde_json::json!({ "imports": imports })),
    };
    let html = page.render().map_err(std::io::Error::other)?;
    let (head, tail) = html.split_once(EVENTS_GO_HERE).ok_or_else(|| std::io::Error::other("the replay template lost its events"))?;
    out.write_all(head.as_bytes())?;
    out.write_all(b"[")?;
    for (i, event) in events.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        // Inside a <script> element: no `<` may close it.
        let mut rest = &event[..];
        while let Some(at) = memchr::memchr(b'<', rest) {
            out.write_all(&rest[..at])?;
            out.write_all(b"\\u003c")?;
            rest = &rest[at + 1..];
        }
        out.write_all(rest)?;
    }
    out.write_all(b"]")?;
    out.write_all(tail.as_bytes())
}

/// Where the events are streamed into the rendered page: nothing the page's
/// own code or text contains.
const EVENTS_GO_HERE: &str = "\u{0}forkline-events\u{0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar!"), "Zm9vYmFyIQ==");
    }

    #[test]
    fn relative_imports_point_into_the_import_map() {
        let js = "import { a } from './api.js';\nimport \"./x.js\";\nconst m = import('./y.js');";
        assert_eq!(
            rewrite_imports(js),
            "import { a } from 'forkline/api.js';\nimport \"forkline/x.js\";\nconst m = import('forkline/y.js');"
        );
    }

    #[test]
    fn inline_json_cannot_close_its_script_element() {
        assert_eq!(inline_json(&"</script><b>"), r#""\u003c/script>\u003cb>""#);
    }
}
