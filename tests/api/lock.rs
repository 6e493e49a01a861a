//! The `lock` demo: a shared balance updated by deposit and withdraw
//! processes, with the lesson's Lock (200) and without it (lost updates that
//! account for the whole difference).

use serde_json::{json, Value};

use crate::helpers::*;

/// Checks what must hold with or without the lock and returns the result data.
fn assert_consistent(run: &FinishedRun, workers: u64, iterations: u64) -> Value {
    run.assert_ok();
    let data = run.result()["data"].clone();
    let balance = data["balance"].as_i64().unwrap();
    let lost_d = data["lost_deposits"].as_i64().unwrap();
    let lost_w = data["lost_withdrawals"].as_i64().unwrap();
    let expected = 200 + ((workers as i64 + 1) / 2 - workers as i64 / 2) * iterations as i64;
    assert_eq!(data["expected"], expected);
    // Every unit of difference from the expected balance is a lost update.
    assert_eq!(balance, expected - lost_d + lost_w, "{data}");
    assert_eq!(data["lost_updates"], lost_d + lost_w);
    assert_eq!(run.prints(), [balance.to_string()], "the parent prints balance.value");
    // Every process really read and wrote the shared value `iterations` times.
    let children: Vec<i64> = run.of_kind("proc.spawn").map(|e| e["child"].as_i64().unwrap()).collect();
    assert_eq!(children.len() as u64, workers);
    for child in &children {
        for op in ["read", "write"] {
            let n = run.of_kind("value").filter(|e| e["pid"] == *child && e["op"] == op).count() as u64;
            assert_eq!(n, iterations, "{op}s by {child}");
        }
        let exit = run.of_kind("proc.exit").find(|e| e["pid"] == *child).expect("worker exited");
        assert_eq!(exit["code"], 0);
    }
    assert_no_process_left(run);
    data
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_lock_the_balance_ends_at_200_and_holds_never_overlap() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("lock", json!({"use_lock": true, "iterations": 100, "workers": 2})).await;
        let data = assert_consistent(&run, 2, 100);
        assert_eq!(data["balance"], 200);
        assert_eq!(data["lost_updates"], 0);
        assert_eq!(run.result()["text"], "balance 200, no update lost");

        // In event order the lock passes strictly from one holder to the next,
        // every value access happens while its process holds the lock, and
        // every read is followed by that same process's write.
        let mut holder: Option<i64> = None;
        let mut pending_read: Option<i64> = None;
        let mut waits = 0;
        for e in run.events.iter().filter(|e| e["kind"] == "lock" || e["kind"] == "value") {
            let pid = e["pid"].as_i64().unwrap();
            match (e["kind"].as_str().unwrap(), e["phase"].as_str().or(e["op"].as_str()).unwrap()) {
                ("lock", "wait") => waits += 1,
                ("lock", "acquire") => {
                    assert_eq!(holder, None, "acquired while held");
                    holder = Some(pid);
                }
                ("lock", "release") => {
                    assert_eq!(holder, Some(pid));
                    holder = None;
                }
                ("value", "read") => {
                    assert_eq!(holder, Some(pid));
                    pending_read = Some(e["value"].as_i64().unwrap());
                }
                ("value", "write") => {
                    assert_eq!(holder, Some(pid));
                    let read = pending_read.take().expect("a write follows a read");
                    assert_eq!((e["value"].as_i64().unwrap() - read).abs(), 1);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(waits, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_lock_the_lost_updates_account_for_the_balance() {
    bounded(async {
        let app = spawn_app().await;
        // Consistency must hold on every run; losing updates is a race, so
        // it is only required to show up within a few generous attempts.
        let mut lost_seen = Vec::new();
        for _ in 0..4 {
            let run = app.run("lock", json!({"use_lock": false, "iterations": 1000, "workers": 2, "gap_us": 20})).await;
            let data = assert_consistent(&run, 2, 1000);
            assert_eq!(run.of_kind("lock").count(), 0, "no lock is taken");
            lost_seen.push(data["lost_updates"].as_i64().unwrap());
            if lost_seen.last() > Some(&0) {
                break;
            }
        }
        assert!(lost_seen.iter().any(|&n| n > 0), "no update lost in {lost_seen:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn more_workers_without_the_lock_still_add_up() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("lock", json!({"use_lock": false, "iterations": 200, "workers": 5, "gap_us": 5})).await;
        assert_consistent(&run, 5, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_lock_the_defaults_lose_an_update_in_nearly_every_run() {
    bounded(async {
        let app = spawn_app().await;
        let mut lost_in = 0;
        let mut overlaps = Vec::new();
        for _ in 0..20 {
            let run = app.run("lock", json!({"use_lock": false})).await;
            run.assert_ok();
            let data = &run.result()["data"];
            overlaps.push(data["overlap_us"].as_u64().unwrap());
            if data["lost_updates"].as_u64().unwrap() > 0 {
                lost_in += 1;
            } else {
                let text = run.result()["text"].as_str().unwrap();
                assert!(text.contains("by luck"), "a run that lost nothing says why: {text}");
            }
        }
        println!("lock at its defaults without the lock: {lost_in} of 20 runs lost an update; workers overlapped {overlaps:?} µs");
        assert!(lost_in >= 19, "{lost_in} of 20 runs lost an update (overlaps {overlaps:?} µs)");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_start_carries_the_python_with_this_runs_values() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("lock", json!({"use_lock": false, "iterations": 150})).await;
        let source = run.events[0]["source"].as_str().expect("run.start carries the program");
        assert!(source.contains("USE_LOCK = False") && source.contains("ITERATIONS = 150"), "{source}");
    })
    .await;
}
