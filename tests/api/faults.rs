//! Faults: a runner that crashes, hangs, floods or writes garbage fails its
//! own run with a clear reason, leaves no process, and the next run is fine.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

async fn assert_next_run_is_fine(app: &TestApp) {
    let run = app.run("process", json!({"numbers": [2], "delay_ms": 0})).await;
    run.assert_ok();
    let mut prints = run.prints();
    prints.sort();
    assert_eq!(prints, vec!["Done!", "cube 8", "square 4"]);
    assert_no_process_left(&run);
}

async fn fault(app: &TestApp, mode: &str) -> FinishedRun {
    let run = app.run("fault", json!({ "mode": mode })).await;
    assert_no_process_left(&run);
    run
}

fn reason(run: &FinishedRun) -> String {
    run.end()["reason"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_runner_fails_its_run_with_the_signal() {
    bounded(async {
        let app = spawn_app().await;
        let run = fault(&app, "crash").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("signal 6"), "{}", reason(&run));
        assert_eq!(run.prints(), vec!["about to misbehave"], "events before the crash are kept");
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_runner_times_out() {
    bounded(async {
        let app = spawn_app_with(|c| c.run_timeout = Duration::from_millis(400)).await;
        let run = fault(&app, "hang").await;
        assert_eq!(run.end()["outcome"], "timeout");
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_oversized_lines_fail_the_run_with_a_reason() {
    bounded(async {
        let app = spawn_app().await;
        let run = fault(&app, "garbage").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("malformed event"), "{}", reason(&run));
        let run = fault(&app, "oversized").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("longer than 4096"), "{}", reason(&run));
        // Bytes written around the ring, straight to the runner's stdout.
        let run = fault(&app, "stdout").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("wrote to its stdout"), "{}", reason(&run));
        assert_no_process_left(&run);
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_left_unfinished_in_the_ring_fails_the_run_soon() {
    bounded(async {
        let app = spawn_app().await;
        let started = std::time::Instant::now();
        let run = fault(&app, "torn").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("died in the middle of writing an event"), "{}", reason(&run));
        // The print before the torn record arrived; the one after it is
        // behind the hole and never shown out of order.
        let prints: Vec<_> = run.of_kind("print").map(|e| e["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(prints, ["about to misbehave"]);
        assert!(started.elapsed() < Duration::from_secs(20), "failed at the hole's limit, not the run timeout");
        assert_no_process_left(&run);
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_run_is_stopped_at_the_event_cap() {
    bounded(async {
        let app = spawn_app_with(|c| c.max_events = 5_000).await;
        let run = fault(&app, "flood").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("more than 5000 events"), "{}", reason(&run));
        assert!(run.events.len() <= 5_001, "the log stops at the cap: {}", run.events.len());
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_exiting_nonzero_fails_with_its_code() {
    bounded(async {
        let app = spawn_app().await;
        let run = fault(&app, "exit_code").await;
        assert_eq!(run.end()["outcome"], "failed");
        assert!(reason(&run).contains("code 7"), "{}", reason(&run));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demo_process_killed_from_outside_shows_its_signal_and_spares_other_runs() {
    bounded(async {
        // Both runs are this test's: let them hold both slots, so they overlap.
        let app = spawn_app_with(|c| c.per_client_active_runs = Some(2)).await;
        let other = app.start("process", json!({"numbers": [1, 2], "delay_ms": 300})).await;
        let id = app.start("process", json!({"numbers": [1, 2, 3], "delay_ms": 400})).await;
        // Read the live stream until p1 has started, then kill it.
        let response = app.client.get(app.url(&format!("/api/runs/{id}/events"))).send().await.unwrap();
        let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
        let mut events = Vec::new();
        let mut killed = None;
        while let Some(message) = futures_util::StreamExt::next(&mut stream).await {
            let event: serde_json::Value = serde_json::from_str(&message.unwrap().data).unwrap();
            if killed.is_none() && event["kind"] == "proc.start" && event["name"] == "p1" {
                let pid = event["pid"].as_i64().unwrap() as i32;
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
                killed = Some(pid);
            }
            events.push(event);
        }
        let run = FinishedRun { id, events };
        let p1 = killed.expect("p1 started");
        let join = run.of_kind("proc.join").find(|e| e["child"] == p1 && e["phase"] == "end").expect("p1 joined");
        assert_eq!(join["signal"], 9);
        assert!(run.of_kind("proc.exit").all(|e| e["pid"] != p1), "a killed process reports no exit of its own");
        assert!(run.result()["text"].as_str().unwrap().contains("Signal(9)"));
        assert!(run.prints().contains(&"cube 27".to_owned()), "p2 carried on");
        assert_no_process_left(&run);

        let other = FinishedRun { id: other.clone(), events: app.events(&other).await };
        other.assert_ok();
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_exits_cleanly_without_any_event_fails_the_run() {
    bounded(async {
        // /bin/true stands in for a runner that never starts the run. It may
        // be gone before it is handed the run (a broken pipe) or right after:
        // either way the run failed and says why, never "ok".
        let app = spawn_app_with(|c| c.runner_exe = "/bin/true".into()).await;
        let run = app.run("cpu_count", json!({})).await;
        assert_eq!(run.events.len(), 1);
        assert_eq!(run.end()["outcome"], "failed");
        let why = reason(&run);
        assert!(why.contains("without starting the run") || why.contains("could not start the runner"), "{why}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_on_the_product_runner_knows_no_fault_demo() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.catalog = forkline::catalog::Catalog::of_runner(&runner_exe()).unwrap();
            c.runner_exe = runner_exe();
        })
        .await;
        for demo in ["fault", "bench_emit"] {
            let response = app.post_json("/api/runs", &json!({"demo": demo})).await;
            let status = response.status();
            let err: serde_json::Value = response.json().await.unwrap();
            assert_eq!((status.as_u16(), err["error"]["field"].as_str()), (404, Some("demo")), "{demo}: {err}");
            let page = app.client.get(app.url(&format!("/demos/{demo}"))).send().await.unwrap();
            assert_eq!(page.status(), 404, "{demo}'s page");
        }
        let listed: serde_json::Value = app.client.get(app.url("/api/demos")).send().await.unwrap().json().await.unwrap();
        assert!(listed.as_array().unwrap().iter().all(|d| d["name"] != "fault" && d["name"] != "bench_emit"), "{listed}");
        assert_next_run_is_fine(&app).await;
    })
    .await;
}

/// The product's runner binary holds none of the testkit's code: not its
/// texts, and no symbol of the fault demo's ring tampering (the ring keeps
/// `abandon_a_record` for its own tests; the linker must leave it out).
#[test]
fn the_product_runner_binary_carries_no_test_code() {
    let product = std::fs::read(runner_exe()).unwrap();
    let testkit = std::fs::read(testkit_runner_exe()).unwrap();
    let contains = |binary: &[u8], text: &str| binary.windows(text.len()).any(|w| w == text.as_bytes());
    for text in ["about to misbehave", "Fault injection (tests only)", "Pipeline load (benchmark only)"] {
        assert!(contains(&testkit, text), "the check looks for what the testkit really has: {text}");
        assert!(!contains(&product, text), "the product runner has the testkit's {text:?}");
    }
    let symbols = |exe: std::path::PathBuf| match std::process::Command::new("nm").arg(&exe).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => None,
    };
    let (Some(product), Some(testkit)) = (symbols(runner_exe()), symbols(testkit_runner_exe())) else {
        eprintln!("no nm here (binutils): the runners' symbols were not checked");
        return;
    };
    assert!(testkit.contains("abandon_a_record") && testkit.contains("forkline_testkit"), "the testkit runner has them");
    assert!(!product.contains("abandon_a_record") && !product.contains("forkline_testkit"), "the product runner links test code");
}
