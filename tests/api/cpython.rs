//! The CPython engine through the API: choosing it, what is refused, what a
//! run says about itself, and a misbehaving program's channel failing only
//! its own run (a stand-in tracer in tests/fixtures/hostile_tracer).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// Skips (loudly) where this machine has no CPython: the engine is then
/// honestly absent, which `the_engine_is_absent_without_an_interpreter` tests.
pub fn has_python(app: &TestApp) -> bool {
    let found = !app.runs.config().pythons.is_empty();
    if !found {
        eprintln!("skipped: no python3 on this machine, so no CPython engine");
    }
    found
}

impl TestApp {
    /// Starts a CPython run of `demo` and reads it to its end.
    pub async fn run_cpython(&self, demo: &str, params: Value) -> FinishedRun {
        let response = self.post_json("/api/runs", &json!({ "demo": demo, "engine": "cpython", "params": params })).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["engine"], "cpython", "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let events = self.events(&id).await;
        FinishedRun { id, events }
    }
}

impl FinishedRun {
    /// The traced processes: pid → the name its `proc.start` gave.
    pub fn process_names(&self) -> Vec<(i64, String)> {
        self.of_kind("proc.start").map(|e| (e["pid"].as_i64().unwrap(), e["name"].as_str().unwrap().to_owned())).collect()
    }

    pub fn pid_named(&self, name: &str) -> i64 {
        self.process_names().into_iter().find(|(_, n)| n == name).unwrap_or_else(|| panic!("no process {name}: {:?}", self.process_names())).0
    }

    /// `print` lines on stdout, in order.
    pub fn stdout(&self) -> Vec<String> {
        self.of_kind("print").filter(|e| e.get("stream").is_none()).map(|e| e["text"].as_str().unwrap().to_owned()).collect()
    }
}

/// Processes whose process group is `pgid` (a run's runner pid).
pub fn group_members(pgid: i64) -> Vec<i64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i64>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        if after.split(' ').nth(2).and_then(|g| g.parse::<i64>().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn the_catalog_offers_cpython_first_with_its_interpreters_and_programs() {
    bounded(async {
        let app = spawn_app().await;
        if !has_python(&app) {
            return;
        }
        let demos: Value = app.client.get(app.url("/api/demos")).send().await.unwrap().json().await.unwrap();
        let lock = demos.as_array().unwrap().iter().find(|d| d["name"] == "lock").unwrap();
        assert_eq!(lock["engines"], json!(["cpython", "native"]));
        let cpython = &lock["cpython"];
        assert_eq!(cpython["file"], "lock.py");
        assert!(cpython["source"].as_str().unwrap().contains("ITERATIONS = 1000"), "{cpython}");
        let names: Vec<&str> = cpython["params"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["start_method", "iterations", "use_lock", "sample", "sample_interval_us"]);
        let interpreter = &cpython["interpreters"][0];
        assert!(interpreter["label"].as_str().unwrap().starts_with("CPython 3."), "{interpreter}");
        assert!(interpreter.get("path").is_none(), "the server's paths are not published");
        // The native engine's view is the one published before engines existed.
        assert!(lock["source"].as_str().unwrap().contains("ITERATIONS = 100 "));
        let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["pythons"][0]["id"], interpreter["id"]);
    })
    .await;
}

#[tokio::test]
async fn the_engine_is_absent_without_an_interpreter() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.pythons.clear();
            c.python_problems = vec!["python9 is not on PATH".into()];
        })
        .await;
        let demos: Value = app.client.get(app.url("/api/demos")).send().await.unwrap().json().await.unwrap();
        let process = demos.as_array().unwrap().iter().find(|d| d["name"] == "process").unwrap();
        assert_eq!(process["engines"], json!(["native"]));
        assert!(process["cpython_missing"].as_str().unwrap().contains("python9 is not on PATH"), "{process}");
        let response = app.post_json("/api/runs", &json!({"demo": "process", "engine": "cpython"})).await;
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "engine", "{body}");
        // Everything else works as before.
        app.run("cpu_count", json!({})).await.assert_ok();
    })
    .await;
}

#[tokio::test]
async fn bad_engine_choices_are_422s_naming_their_field_and_nothing_runs() {
    bounded(async {
        let app = spawn_app().await;
        if !has_python(&app) {
            return;
        }
        let cases = [
            (json!({"demo": "lock", "engine": "cobol"}), "engine"),
            (json!({"demo": "lock", "engine": "cpython", "python": "9.9.9"}), "python"),
            (json!({"demo": "lock", "python": "3.11"}), "python"),
            (json!({"demo": "fault", "engine": "cpython"}), "engine"),
            (json!({"demo": "lock", "engine": "cpython", "params": {"iterations": 10_000_000}}), "params.iterations"),
            (json!({"demo": "lock", "engine": "cpython", "params": {"gap_us": 5}}), "params.gap_us"),
            (json!({"demo": "lock", "engine": "cpython", "params": {"start_method": "exec"}}), "params.start_method"),
            (json!({"demo": "system", "engine": "cpython", "params": {"command": "echo '; import os"}}), "params.command"),
        ];
        for (body, field) in cases {
            let response = app.post_json("/api/runs", &body).await;
            assert_eq!(response.status(), 422, "{body}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["field"], field, "{body} → {error}");
        }
        assert_eq!(app.runs.active() + app.runs.waiting(), 0, "nothing was started");
    })
    .await;
}

#[tokio::test]
async fn a_run_names_its_interpreter_and_carries_the_exact_program_that_ran() {
    bounded(async {
        let app = spawn_app().await;
        if !has_python(&app) {
            return;
        }
        let run = app.run_cpython("lock", json!({"use_lock": false, "iterations": 300})).await;
        run.assert_ok();
        let start = &run.events[0];
        assert_eq!((start["kind"].as_str(), start["engine"].as_str(), start["file"].as_str()), (Some("run.start"), Some("cpython"), Some("lock.py")));
        assert!(start["interpreter"].as_str().unwrap().starts_with("CPython 3."));
        let source = start["source"].as_str().unwrap();
        assert!(source.contains("USE_LOCK = False        # (use_lock)"), "{source}");
        assert!(source.contains("ITERATIONS = 300      # (iterations)"), "{source}");
        assert_eq!(start["params"]["iterations"], 300);
        let status = app.status(&run.id).await;
        assert_eq!((status["engine"].as_str(), status["python"].is_string()), (Some("cpython"), true), "{status}");
        // Without the lock, no lock events; with 300 updates each, 600 writes.
        assert_eq!(run.of_kind("lock").count(), 0);
        assert_eq!(run.of_kind("value").filter(|e| e["op"] == "write").count(), 600);
        assert_eq!(run.of_kind("value").filter(|e| e["op"] == "read").count(), 601, "and the final print reads it once more");
        // The result is the program's own print, read: the balance, as the native demo reports it.
        assert_eq!(run.result()["data"]["exit_code"], 0, "{}", run.result());
        assert_eq!(run.result()["data"]["balance"].as_i64().map(|b| b.to_string()), run.prints().last().cloned(), "{}", run.result());
        assert_no_process_left(&run);
    })
    .await;
}

/// Runs `demo` against the hostile stand-in tracer and returns the run's end.
async fn hostile(demo: &str, adjust: impl FnOnce(&mut forkline::Config)) -> (FinishedRun, TestApp) {
    let app = spawn_app_with(|c| {
        c.tracer_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile_tracer"));
        adjust(c);
    })
    .await;
    let run = app.run_cpython(demo, json!({"sample": false})).await;
    (run, app)
}

#[tokio::test]
async fn garbage_on_the_channel_fails_only_its_own_run_with_a_reason() {
    bounded(async {
        let probe = spawn_app().await;
        if !has_python(&probe) {
            return;
        }
        for (demo, reason) in [
            ("cpu_count", "malformed event"),
            ("fork", "longer than 4096 bytes"),
            ("queue", "only the server may write"),
            ("system", "closed forkline's event channel"),
        ] {
            let (run, app) = hostile(demo, |_| {}).await;
            let end = run.end();
            assert_eq!(end["outcome"], "failed", "{demo}: {end}");
            assert!(end["reason"].as_str().unwrap().contains(reason), "{demo}: {end}");
            let runner = app.status(&run.id).await["runner_pid"].as_i64().unwrap();
            assert!(group_members(runner).is_empty(), "{demo}: processes left in the run's group");
            // The same server runs the real thing correctly right after.
            let app_ok = spawn_app().await;
            app_ok.run_cpython("cpu_count", json!({"sample": false})).await.assert_ok();
        }
    })
    .await;
}

#[tokio::test]
async fn a_flooding_program_is_stopped_at_the_event_cap() {
    bounded(async {
        let probe = spawn_app().await;
        if !has_python(&probe) {
            return;
        }
        let (run, app) = hostile("threads", |c| c.max_events = 5_000).await;
        let end = run.end();
        assert_eq!(end["outcome"], "failed", "{end}");
        assert!(end["reason"].as_str().unwrap().contains("events"), "{end}");
        assert!(run.events.len() <= 5_002, "{} events", run.events.len());
        let runner = app.status(&run.id).await["runner_pid"].as_i64().unwrap();
        assert!(group_members(runner).is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_process_that_outlives_the_interpreter_is_killed_at_the_timeout() {
    bounded(async {
        let probe = spawn_app().await;
        if !has_python(&probe) {
            return;
        }
        let (run, app) = hostile("lock", |c| c.run_timeout = Duration::from_secs(2)).await;
        assert_eq!(run.end()["outcome"], "timeout", "{}", run.end());
        let runner = app.status(&run.id).await["runner_pid"].as_i64().unwrap();
        assert!(group_members(runner).is_empty(), "the grandchild holding the channel is gone");
    })
    .await;
}

#[tokio::test]
async fn cancelling_a_cpython_run_kills_every_interpreter_process() {
    bounded(async {
        let app = spawn_app().await;
        if !has_python(&app) {
            return;
        }
        let response = app.post_json("/api/runs", &json!({"demo": "process", "engine": "cpython", "params": {"delay_ms": 2000, "start_method": "spawn"}})).await;
        let body: Value = response.json().await.unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        // Wait until both children are running, then stop the run.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let status = app.status(&id).await;
            if status["events"].as_u64().unwrap_or(0) > 0 {
                let run = app.runs.get(&forkline::runs::RunId::parse(&id).unwrap()).unwrap();
                let starts = run.log.snapshot().iter().filter(|e| std::str::from_utf8(e).unwrap().contains("\"kind\":\"proc.start\"")).count();
                if starts >= 3 {
                    break;
                }
            }
            assert!(std::time::Instant::now() < deadline, "the children never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let runner = app.status(&id).await["runner_pid"].as_i64().unwrap();
        app.cancel(&id).await;
        let events = app.events(&id).await;
        let run = FinishedRun { id, events };
        assert_eq!(run.end()["outcome"], "cancelled");
        assert!(group_members(runner).is_empty(), "nothing of the run's group is left");
        assert_no_process_left(&run);
    })
    .await;
}

#[tokio::test]
async fn a_cpython_run_exports_and_permalinks_like_any_run() {
    bounded(async {
        let app = spawn_app().await;
        if !has_python(&app) {
            return;
        }
        let run = app.run_cpython("queue", json!({})).await;
        run.assert_ok();
        let get = |path: String| {
            let client = app.client.clone();
            let url = app.url(&path);
            async move { client.get(url).send().await.unwrap() }
        };
        let jsonl = get(format!("/api/runs/{}/events.jsonl", run.id)).await.text().await.unwrap();
        let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines, run.events, "the raw log is the stream");
        let trace: Value = get(format!("/api/runs/{}/trace.json", run.id)).await.json().await.unwrap();
        forkline::trace::check(&trace).unwrap();
        let events = trace["traceEvents"].as_array().unwrap();
        let names: Vec<&str> = events.iter().filter(|e| e["name"] == "process_name").filter_map(|e| e["args"]["name"].as_str()).collect();
        assert!(names.iter().any(|n| n.starts_with("MainProcess (pid")) && names.iter().any(|n| n.starts_with("Process-1 (pid")), "{names:?}");
        let messages = events.iter().filter(|e| e["ph"] == "s" && e["name"] == "message").count();
        assert_eq!(messages, 3, "one arrow per put → get, as on the page");
        let page = get(format!("/runs/{}", run.id)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("QueueFeederThread") || html.contains("queue.py"), "the permalink is the CPython view of the demo");
        let replay = get(format!("/api/runs/{}/replay.html", run.id)).await;
        assert_eq!(replay.status(), 200);
        assert!(replay.text().await.unwrap().contains("feeder thread"), "the replay carries this engine's notes");
    })
    .await;
}
