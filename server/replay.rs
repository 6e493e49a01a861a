//! The self-contained replay file: one HTML document holding the page's CSS,
//! its JS modules and the run's events, so a finished run replays with the
//! same timeline from `file://` or a static host, with no server and no
//! network (course sites that only serve static files).
//!
//! The page's modules import each other by relative paths (`./x.js`,
//! `../sorted.js`, `./timeline/index.js`), which a lone file cannot resolve: a
//! `data:` module has no folder to resolve them from. Each module under `web/`,
//! in subfolders too, becomes a `data:` URL in an import map, keyed by its path
//! under `web/` (`forkline/timeline/view.js`), and its relative imports are
//! resolved from its own folder and rewritten to those keys; no build step, the
//! same sources. An import that would leave `web/` is left as written: in a
//! `data:` module it cannot resolve, so it fails, and fetches nothing. `api.js`
//! is mapped to `offline-api.js`, which answers the page's requests from the
//! events inlined in the file (and re-exports the real one, renamed
//! `api-online.js`, for anything else).

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

/// The page's modules, by the path other modules import them as, relative to
/// `web/` with `/` between folders (`timeline/view.js`). `api.js` is the
/// offline one; the real one stays reachable as `api-online.js`, so any name
/// it exports still resolves.
fn modules(web_dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    collect_modules(web_dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// A file or folder name a module path may hold: no dots but a module's
/// `.js`, so no `..`, no hidden folders, nothing to escape or hide with.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The modules in `dir`, which is `web/` + `prefix`, and in its folders.
/// Symbolic links to folders are not followed, so the walk ends, inside
/// `web/`.
fn collect_modules(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if plain_name(&name) {
                collect_modules(&entry.path(), &format!("{prefix}{name}/"), out)?;
            }
            continue;
        }
        if !name.strip_suffix(".js").is_some_and(plain_name) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())?;
        let key = match (prefix, name.as_str()) {
            ("", "offline-api.js") => "api.js".to_owned(),
            ("", "api.js") => "api-online.js".to_owned(),
            _ => format!("{prefix}{name}"),
        };
        out.push((key, text));
    }
    Ok(())
}

/// The module path a relative import names, from a module in `dir` (`""`
/// for `web/` itself, `"timeline"`): `./x.js` and `../x.js` resolved as a
/// browser would. `None` for anything else, and for a path that would leave
/// `web/`.
fn resolve(dir: &str, spec: &str) -> Option<String> {
    if !(spec.starts_with("./") || spec.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in spec.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop()?;
            }
            "" => return None,
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// A module's relative imports (`from './x.js'`, `import "../x.js"`,
/// `import('./timeline/view.js')`) become the import map's keys
/// (`forkline/x.js`), resolved from `dir`, the module's own folder under
/// `web/`. One pass: each quote is looked at once, and only where `from `,
/// `import ` or `import(` comes just before it.
fn rewrite_imports(js: &str, dir: &str) -> String {
    let mut out = String::with_capacity(js.len() + js.len() / 32);
    let mut copied = 0;
    let mut from = 0;
    while let Some(open) = js[from..].find(['\'', '"']).map(|at| from + at) {
        from = open + 1;
        if !["from ", "import ", "import("].iter().any(|o| js[..open].ends_with(o)) {
            continue;
        }
        let quote = char::from(js.as_bytes()[open]);
        let Some(close) = js[from..].find([quote, '\n']).map(|at| from + at) else {
            break;
        };
        if let Some(path) = resolve(dir, &js[from..close]) {
            out.push_str(&js[copied..from]);
            out.push_str("forkline/");
            out.push_str(&path);
            copied = close;
        }
        from = close + 1;
    }
    out.push_str(&js[copied..]);
    out
}

/// Every module as the file carries it: its import map key and its text,
/// imports rewritten.
fn inlined_modules(web_dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let modules = modules(web_dir)?;
    Ok(modules
        .into_iter()
        .map(|(key, text)| {
            let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
            let text = rewrite_imports(&text, dir);
            (format!("forkline/{key}"), text)
        })
        .collect())
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
    for (key, text) in inlined_modules(replay.web_dir)? {
        let url = format!("data:text/javascript;base64,{}", base64(text.as_bytes()));
        imports.insert(key, Value::String(url));
    }
    let mut css = std::fs::read_to_string(replay.web_dir.join("style.css"))?;
    if let Ok(embed_css) = std::fs::read_to_string(replay.web_dir.join("embed.css")) {
        css.push_str(&embed_css);
    }
    // The events are stored serialised; splice them in as they are.
    let run = replay.summary["id"].as_str().unwrap_or_default();
    let native_source = replay.demo.source_at_defaults();
    let page = Page {
        title: replay.demo.title,
        name: replay.demo.name,
        summary: replay.demo.summary,
        notes: replay.cpython.map_or(replay.demo.notes, |p| p.notes),
        source: replay.cpython.map_or(native_source.as_str(), |p| p.template),
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
        let js = "import { a } from './api.js';\nimport \"./x.js\";\nconst m = import('./y.js');\nexport * from \"./z.js\";";
        assert_eq!(
            rewrite_imports(js, ""),
            "import { a } from 'forkline/api.js';\nimport \"forkline/x.js\";\nconst m = import('forkline/y.js');\nexport * from \"forkline/z.js\";"
        );
    }

    #[test]
    fn a_module_in_a_folder_resolves_its_imports_from_that_folder() {
        let js = "import { lowerBound } from '../sorted.js';\nimport { fitView } from './view.js';\n/** @typedef {import('../model/run.js').Lane} Lane */";
        assert_eq!(
            rewrite_imports(js, "timeline"),
            "import { lowerBound } from 'forkline/sorted.js';\nimport { fitView } from 'forkline/timeline/view.js';\n/** @typedef {import('forkline/model/run.js').Lane} Lane */"
        );
        assert_eq!(rewrite_imports("import './a/../b/./c.js';", "x/y"), "import 'forkline/x/y/b/c.js';");
    }

    #[test]
    fn a_top_level_module_reaches_into_folders() {
        assert_eq!(
            rewrite_imports("import { Timeline } from './timeline/index.js';", ""),
            "import { Timeline } from 'forkline/timeline/index.js';"
        );
    }

    #[test]
    fn imports_that_leave_web_or_are_not_relative_are_left_as_written() {
        // In a data: module none of these resolves, so none is fetched.
        for (js, dir) in [
            ("import { x } from '../x.js';", ""),
            ("import { x } from '../../x.js';", "timeline"),
            ("import './a/../../x.js';", ""),
            ("import('./timeline/../../../etc/x.js');", "timeline"),
            ("import { x } from '/static/x.js';", ""),
            ("import { x } from 'https://example.com/x.js';", "timeline"),
            ("import { x } from './';", ""),
            ("import { x } from './a//x.js';", ""),
            ("const s = 'copied ./x.js';", ""),
        ] {
            assert_eq!(rewrite_imports(js, dir), js, "{js} from {dir:?}");
        }
        assert_eq!(resolve("", "../x.js"), None);
        assert_eq!(resolve("timeline", "../x.js").as_deref(), Some("x.js"));
    }

    /// A scratch `web/` folder, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn modules_in_folders_are_keyed_by_their_path_and_nothing_else_is_taken() {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let web = Scratch(std::env::temp_dir().join(format!("forkline-replay-{}-{n}", std::process::id())));
        let file = |path: &str, text: &str| {
            let path = web.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        file("app.js", "import { Timeline } from './timeline/index.js';");
        file("api.js", "export const online = 1;");
        file("offline-api.js", "export * from './api-online.js';");
        file("sorted.js", "export const s = 1;");
        file("timeline/index.js", "import { s } from '../sorted.js';\nimport { v } from './view.js';");
        file("timeline/view.js", "import { fetchDemos } from '../api.js';");
        file("timeline/notes.txt", "not a module");
        file("timeline/.hidden/x.js", "a hidden folder's module");
        file("timeline/a.b/x.js", "a dotted folder's module");
        file("timeline/x.min.js", "a dotted name");
        std::os::unix::fs::symlink(&web.0, web.0.join("timeline/loop")).unwrap();

        let modules = inlined_modules(&web.0).unwrap();
        let keys: Vec<&str> = modules.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "forkline/api-online.js",
                "forkline/api.js",
                "forkline/app.js",
                "forkline/sorted.js",
                "forkline/timeline/index.js",
                "forkline/timeline/view.js"
            ]
        );
        let text = |key: &str| modules.iter().find(|(k, _)| k == key).map(|(_, text)| text.as_str()).unwrap();
        assert_eq!(text("forkline/app.js"), "import { Timeline } from 'forkline/timeline/index.js';");
        assert_eq!(text("forkline/api.js"), "export * from 'forkline/api-online.js';");
        assert_eq!(text("forkline/timeline/index.js"), "import { s } from 'forkline/sorted.js';\nimport { v } from 'forkline/timeline/view.js';");
        // A folder's module gets the offline api, as a top-level one does.
        assert_eq!(text("forkline/timeline/view.js"), "import { fetchDemos } from 'forkline/api.js';");
    }

    /// The specifiers after `from `, `import ` and `import(` in `js`.
    fn specifiers(js: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for opener in ["from '", "from \"", "import '", "import \"", "import('", "import(\""] {
            let quote = opener.chars().last().unwrap();
            for (at, _) in js.match_indices(opener) {
                let rest = &js[at + opener.len()..];
                out.push(&rest[..rest.find([quote, '\n']).unwrap_or(rest.len())]);
            }
        }
        out
    }

    #[test]
    fn every_import_of_the_real_page_resolves_to_a_module_in_the_file() {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let modules = inlined_modules(&web).unwrap();
        let keys: std::collections::HashSet<&str> = modules.iter().map(|(key, _)| key.as_str()).collect();
        assert!(keys.contains("forkline/app.js") && keys.contains("forkline/api-online.js"));
        for (key, text) in &modules {
            for spec in specifiers(text) {
                if spec.starts_with("forkline/") {
                    assert!(keys.contains(spec), "{key} imports {spec}, which the file does not carry");
                }
                assert!(!spec.starts_with("./") && !spec.starts_with("../"), "{key} keeps the relative import {spec}");
            }
        }
    }

    #[test]
    fn inline_json_cannot_close_its_script_element() {
        assert_eq!(inline_json(&"</script><b>"), r#""\u003c/script>\u003cb>""#);
    }
}
