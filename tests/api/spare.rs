//! The spare runner: started ahead of time, handed the next run, and never a
//! leftover of any run.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

async fn spare_pid(app: &TestApp) -> Option<i64> {
    for _ in 0..200 {
        let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        if let Some(pid) = health["spare_runner_pid"].as_i64() {
            return Some(pid);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_run_starts_in_the_spare_runner_made_ready_for_it() {
    bounded(async {
        let app = spawn_app().await;
        app.run("cpu_count", json!({})).await.assert_ok();
        let spare = spare_pid(&app).await.expect("a spare runner is waiting after the first run");
        assert!(pid_exists(spare));

        let run = app.run("process", json!({"numbers": [2], "delay_ms": 0})).await;
        run.assert_ok();
        assert_eq!(run.events[0]["kind"], "run.start");
        assert_eq!(run.events[0]["pid"], spare, "the run was handed to the spare");
        // The spare learnt its run after it started: t counts from the hand-over.
        assert!(run.events[0]["t"].as_u64().unwrap() < 50_000_000);
        assert_no_process_left(&run);

        let next = spare_pid(&app).await.expect("a new spare replaces the one taken");
        assert_ne!(next, spare);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spare_killed_while_idle_is_replaced_and_the_run_still_starts() {
    bounded(async {
        let app = spawn_app().await;
        app.run("cpu_count", json!({})).await.assert_ok();
        let spare = spare_pid(&app).await.expect("a spare runner");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(spare as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let run = app.run("cpu_count", json!({})).await;
        run.assert_ok();
        assert_ne!(run.events[0]["pid"], spare);
        assert!(!pid_exists(spare), "the dead spare was reaped");
    })
    .await;
}
