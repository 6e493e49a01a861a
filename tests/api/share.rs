//! Sharing and exporting runs: the store across a restart, the permalink, and
//! the exports (events.jsonl, trace.json, replay.html).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use forkline::config::StoreLocation;
use forkline::runs::Runs;
use forkline::store::Store;
use forkline::Config;
use serde_json::{json, Value};

use crate::helpers::*;

/// A server with a run store; the handle of its serving task, to stop it.
pub struct StoredApp {
    pub app: TestApp,
    pub store: Arc<Store>,
    server: tokio::task::JoinHandle<()>,
}

impl StoredApp {
    /// Stops serving and lets go of everything, like a process that exits.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    /// Waits until the store has the run (it is saved right after run.end).
    pub async fn saved(&self, id: &str) {
        for _ in 0..200 {
            // A run is noted (interrupted) at its start; saved is its real end.
            if self.store.load(id).await.unwrap().is_some_and(|r| r.outcome != forkline::event::Outcome::Interrupted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {id} was never saved");
    }
}

pub async fn spawn_stored(location: StoreLocation, adjust: impl FnOnce(&mut Config)) -> StoredApp {
    let mut config = Config::with_runner(runner_exe());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.store = location.clone();
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let store = Store::open(&location, config.retention).await.expect("store opens");
    let runs = Runs::new(Arc::new(config));
    let app = forkline::app_with_store(runs.clone(), Some(store.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
    StoredApp { app: TestApp { addr, client: reqwest::Client::new(), runs }, store, server }
}

fn temp_db() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("forkline-test-{}", forkline::runs::RunId::random())).join("runs.sqlite3")
}

async fn get_text(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("each line is one event")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_replays_identically_from_the_store_after_a_restart() {
    bounded(async {
        let db = temp_db();
        let first = spawn_stored(StoreLocation::File(db.clone()), |_| {}).await;
        let run = first.app.run("process", json!({"numbers": [2, 3], "delay_ms": 5})).await;
        run.assert_ok();
        first.saved(&run.id).await;
        first.stop().await;

        let second = spawn_stored(StoreLocation::File(db.clone()), |_| {}).await;
        assert!(second.app.runs.get(&forkline::runs::RunId::parse(&run.id).unwrap()).is_none(), "not in memory");
        let replayed = second.app.events(&run.id).await;
        assert_eq!(replayed, run.events, "the stored log replays the same events");
        let status = second.app.status(&run.id).await;
        assert_eq!(status["status"], "finished");
        assert_eq!(status["outcome"], "ok");
        assert_eq!(status["events"], run.events.len());

        let (code, _, page) = get_text(&second.app, &format!("/runs/{}", run.id)).await;
        assert_eq!(code, 200);
        assert!(page.contains(&format!(r#"data-run="{}""#, run.id)), "the permalink names its run");
        assert!(page.contains(r#"data-demo="process""#));
        let (code, _, lines) = get_text(&second.app, &format!("/api/runs/{}/events.jsonl", run.id)).await;
        assert_eq!(code, 200);
        assert_eq!(jsonl(&lines), run.events);
        second.stop().await;
        let _ = std::fs::remove_dir_all(db.parent().unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_jsonl_holds_exactly_the_streamed_events_one_per_line() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("process", json!({"numbers": [1, 2], "delay_ms": 0})).await;
        let (code, headers, text) = get_text(&app, &format!("/api/runs/{}/events.jsonl", run.id)).await;
        assert_eq!(code, 200);
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/jsonl"));
        assert_eq!(text.lines().count(), run.events.len());
        assert_eq!(jsonl(&text), run.events);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_of_a_missing_run_are_404_and_of_a_running_one_409() {
    bounded(async {
        let app = spawn_app().await;
        for path in ["events.jsonl", "trace.json", "replay.html"] {
            let (code, _, body) = get_text(&app, &format!("/api/runs/{}/{path}", "0".repeat(32))).await;
            assert_eq!(code, 404, "{path}: {body}");
        }
        assert_eq!(get_text(&app, &format!("/runs/{}", "0".repeat(32))).await.0, 404);
        let id = app.start("process", json!({"numbers": [1], "delay_ms": 2000})).await;
        let (code, _, body) = get_text(&app, &format!("/api/runs/{id}/trace.json")).await;
        assert_eq!(code, 409, "{body}");
        assert!(body.contains("run_not_finished"));
        app.cancel(&id).await;
    })
    .await;
}

/// What Perfetto and chrome://tracing need of a trace, checked independently
/// of the exporter's own checker.
fn assert_valid_trace(trace: &Value) {
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let mut open: HashMap<(i64, i64), usize> = HashMap::new();
    let mut flows: HashMap<u64, (usize, usize)> = HashMap::new();
    let mut process_names = HashSet::new();
    let mut thread_names = HashSet::new();
    let mut threads = HashSet::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        let (pid, tid) = (e["pid"].as_i64().expect("pid"), e["tid"].as_i64().expect("tid"));
        assert!(e["ts"].is_number(), "ts: {e}");
        match ph {
            "M" => {
                assert!(e["args"]["name"].is_string() || e["args"]["sort_index"].is_number(), "{e}");
                if e["name"] == "process_name" {
                    process_names.insert(pid);
                }
                if e["name"] == "thread_name" {
                    thread_names.insert((pid, tid));
                }
            }
            "B" => {
                assert!(e["name"].is_string(), "{e}");
                *open.entry((pid, tid)).or_default() += 1;
            }
            "E" => {
                let depth = open.entry((pid, tid)).or_default();
                assert!(*depth > 0, "E with no B on the same pid/tid: {e}");
                *depth -= 1;
            }
            "i" => assert!(e["name"].is_string() && e["s"].is_string(), "{e}"),
            "s" | "f" => {
                let id = e["id"].as_u64().expect("flow id");
                let counts = flows.entry(id).or_default();
                if ph == "s" {
                    counts.0 += 1
                } else {
                    counts.1 += 1
                }
            }
            other => panic!("unexpected phase {other}"),
        }
        if ph != "M" {
            threads.insert((pid, tid));
        }
    }
    assert!(open.values().all(|d| *d == 0), "every B has its E: {open:?}");
    assert!(flows.values().all(|c| *c == (1, 1)), "every flow s has exactly one f with its id: {flows:?}");
    for (pid, tid) in threads {
        assert!(process_names.contains(&pid), "process {pid} has a name");
        assert!(thread_names.contains(&(pid, tid)), "thread {pid}/{tid} has a name");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_json_names_every_process_and_links_spawns_and_joins() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("process", json!({"numbers": [2, 3], "delay_ms": 5})).await;
        run.assert_ok();
        let response = app.client.get(app.url(&format!("/api/runs/{}/trace.json", run.id))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let trace: Value = response.json().await.unwrap();
        assert_valid_trace(&trace);
        forkline::trace::check(&trace).unwrap();

        let events = trace["traceEvents"].as_array().unwrap();
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        for (name, pid) in run.of_kind("proc.start").map(|e| (e["name"].as_str().unwrap(), e["pid"].clone())) {
            assert!(names.contains(&format!("{name} (pid {pid})").as_str()), "{name} named in {names:?}");
        }
        let flows = |name: &str| events.iter().filter(|e| e["ph"] == "s" && e["name"] == name).count();
        assert_eq!(flows("spawn"), run.of_kind("proc.spawn").count(), "one spawn arrow per child");
        assert_eq!(flows("join"), run.of_kind("proc.exit").count() - 1, "one join arrow per joined child");
        let prints = events.iter().filter(|e| e["ph"] == "i" && e["name"].as_str().unwrap().starts_with("print: ")).count();
        assert_eq!(prints, run.prints().len());
        // ts is in microseconds: the last event sits at run.end's t / 1000
        let last_t = run.end()["t"].as_f64().unwrap() / 1000.0;
        assert!(events.iter().any(|e| e["ph"] == "i" && e["ts"].as_f64() == Some(last_t)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_html_is_one_file_with_the_page_and_the_events_inside() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("cpu_count", json!({})).await;
        let (code, headers, html) = get_text(&app, &format!("/api/runs/{}/replay.html", run.id)).await;
        assert_eq!(code, 200);
        assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert!(html.contains(r#"<script type="importmap">"#));
        assert!(html.contains("forkline/app.js"));
        assert!(html.contains(&format!(r#"data-run="{}""#, run.id)));
        for needle in [r#"src="http"#, r#"href="http"#, r#"src="/"#, r#"href="/"#] {
            assert!(!html.contains(needle), "the file refers to {needle}");
        }
        let start = html.find(r#"id="forkline-events">"#).unwrap() + r#"id="forkline-events">"#.len();
        let end = start + html[start..].find("</script>").unwrap();
        let events: Vec<Value> = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(events, run.events);
    })
    .await;
}
