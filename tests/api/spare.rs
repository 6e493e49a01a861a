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

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_reused_after_a_cancelled_flood_carries_only_the_new_runs_events() {
    bounded(async {
        let app = spawn_app().await;
        // Two processes flooding the ring when the run is cancelled: events
        // committed but never read are left in it, and its ring is kept for
        // a later run.
        // About a second and a half of flooding: long enough to be cancelled
        // mid-flood however fast the machine or the build.
        let flood = app.start("bench_emit", json!({"processes": 2, "events": 250_000, "work": 20_000})).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        app.cancel(&flood).await;
        let flooded = app.events(&flood).await;
        assert_eq!(flooded.last().unwrap()["outcome"], "cancelled");
        assert!(flooded.iter().any(|e| e["kind"] == "compute"), "the flood was flowing");
        // (run.end is the server's own event, the same pid in every run.)
        let flood_pids: Vec<i64> = flooded.iter().filter(|e| e["kind"] != "run.end").filter_map(|e| e["pid"].as_i64()).collect();

        // The next runners get rings back from finished runs (the third
        // gets the flood's): what they carry must be their own run's events,
        // numbered from 1, and nothing of the flood. (That a reader never
        // takes a length word the flood left for a record is the ring's own
        // unit test: here the timing to meet one cannot be forced.)
        for _ in 0..3 {
            let run = app.run("process", json!({"numbers": [2, 3], "delay_ms": 0})).await;
            run.assert_ok();
            for (i, e) in run.events.iter().enumerate() {
                assert_eq!(e["seq"], i as u64 + 1, "numbered without a gap");
                assert_ne!(e["kind"], "compute", "an event of the flood: {e}");
                assert!(!flood_pids.contains(&e["pid"].as_i64().unwrap()), "a pid of the flood: {e}");
            }
            // p1 and p2 run at once, so only each one's own order is fixed.
            let mut prints = run.prints();
            assert_eq!(prints.pop().as_deref(), Some("Done!"));
            prints.sort();
            assert_eq!(prints, ["cube 27", "cube 8", "square 4", "square 9"]);
            assert_no_process_left(&run);
        }
    })
    .await;
}
