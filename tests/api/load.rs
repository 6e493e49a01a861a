//! Load, fan-out and leak checks, bounded in count and time, loopback only.
//! The figures they print go in docs/internals.md, Reliability; the long
//! soak (`soak_*`, ignored by default) is run by hand with
//! `cargo test --release --test api soak -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// Children of `parent` still present, zombies included.
fn children_of(parent: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command (which may contain spaces) start after ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == parent {
            found.push(pid);
        }
    }
    found
}

/// (open fds, threads, resident KiB) of a process.
fn footprint(pid: i32) -> (usize, usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (fds, threads, rss)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_students_press_run_at_once() {
    bounded(async {
        let app = spawn_app_with(|c| c.per_client_runs = 1000).await;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let client = app.client.clone();
            let url = app.url("/api/runs");
            let base = app.url("");
            tasks.push(tokio::spawn(async move {
                let response = client.post(url).json(&json!({"demo": "cpu_count"})).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                if status != 201 {
                    return (status, body, Vec::new());
                }
                let response = client.get(format!("{base}{}", body["events_url"].as_str().unwrap())).send().await.unwrap();
                let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
                let mut events = Vec::new();
                while let Some(message) = futures_util::StreamExt::next(&mut stream).await {
                    let message = message.unwrap();
                    if message.event != "queue" {
                        events.push(serde_json::from_str::<Value>(&message.data).unwrap());
                    }
                }
                (status, body, events)
            }));
        }
        // /healthz keeps answering while the line drains.
        let mut health_worst = Duration::ZERO;
        for _ in 0..10 {
            let t = Instant::now();
            assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
            health_worst = health_worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (mut accepted, mut refused) = (0, 0);
        for task in tasks {
            let (status, body, events) = task.await.unwrap();
            assert!(status < 500, "no 5xx: {status} {body}");
            if status == 201 {
                accepted += 1;
                let run = FinishedRun { id: body["id"].as_str().unwrap().to_owned(), events };
                run.assert_ok();
                assert_eq!(run.events[0]["kind"], "run.start");
                assert!(run.events.iter().enumerate().all(|(i, e)| e["seq"] == (i + 1) as u64));
                assert_no_process_left(&run);
            } else {
                assert_eq!(status, 429, "{body}");
                assert_eq!(body["error"]["code"], "busy");
                refused += 1;
            }
        }
        println!(
            "200 concurrent runs: {accepted} accepted and completed ok, {refused} refused with 429, \
             worst /healthz {health_worst:?}, all done in {:?}",
            started.elapsed()
        );
        assert_eq!(accepted + refused, 200);
        assert!(accepted >= 100, "the slots plus the line hold at least 100");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_subscribers_to_one_run_all_receive_every_event_in_order() {
    bounded(async {
        let app = spawn_app().await;
        let id = app.start("process", json!({"numbers": [1, 2, 3], "delay_ms": 200})).await;
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let client = reqwest::Client::new();
            let url = app.url(&format!("/api/runs/{id}/events"));
            tasks.push(tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
                let mut seqs = Vec::new();
                while let Some(message) = futures_util::StreamExt::next(&mut stream).await {
                    seqs.push(message.unwrap().id.parse::<u64>().unwrap());
                }
                seqs
            }));
        }
        let expected = app.events(&id).await.len() as u64;
        for task in tasks {
            let seqs = task.await.unwrap();
            assert_eq!(seqs, (1..=expected).collect::<Vec<_>>());
        }
        println!("1000 subscribers each received all {expected} events in order");
    })
    .await;
}

/// Runs `count` demos one after another against a real forkline process and
/// checks it is back where it started: no child left, no fd, thread or much
/// memory gained.
async fn sequential_runs_leave_nothing_behind(count: usize) {
    // Hundreds of runs from one address, faster than a student would.
    let server = ServerProcess::start(&["--per-client-runs", "4", "--client-runs-per-minute", "0"]);
    let client = reqwest::Client::new();
    let run_once = |demo: &'static str, params: Value| {
        let (client, server) = (&client, &server);
        async move {
            let created = server.create_run(client, demo, params).await;
            let url = format!("{}{}", server.base, created["events_url"].as_str().unwrap());
            let text = client.get(url).send().await.unwrap().text().await.unwrap();
            assert!(text.contains(r#""kind":"run.end","outcome":"ok""#), "{text}");
        }
    };
    run_once("cpu_count", json!({})).await;
    let before = footprint(server.pid());
    let started = Instant::now();
    for i in 0..count {
        if i % 10 == 0 {
            run_once("process", json!({"numbers": [2, 3], "delay_ms": 0})).await;
        } else {
            run_once("cpu_count", json!({})).await;
        }
    }
    let took = started.elapsed();
    // Idle worker threads of the runtime's blocking pool retire after 10 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The spare runner waiting for the next run belongs to no run.
    let health: Value = client.get(format!("{}/healthz", server.base)).send().await.unwrap().json().await.unwrap();
    let spare = health["spare_runner_pid"].as_i64().map(|p| p as i32);
    let children: Vec<i32> = children_of(server.pid()).into_iter().filter(|&c| Some(c) != spare).collect();
    let after = footprint(server.pid());
    println!(
        "{count} sequential runs in {took:?}: {} processes left; fds {} -> {}, threads {} -> {}, RSS {} KiB -> {} KiB",
        children.len(), before.0, after.0, before.1, after.1, before.2, after.2
    );
    assert!(children.is_empty(), "leftover children: {children:?}");
    // A leak grows with the runs (one per run would be +150 here); a few fds
    // come and go with the spare runner's three pipes being replaced.
    assert!(after.0 <= before.0 + 5, "fds grew from {} to {}", before.0, after.0);
    assert!(after.1 <= before.1 + 16, "threads grew from {} to {}", before.1, after.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_runs_leave_no_process_and_no_file_descriptor_behind() {
    bounded(sequential_runs_leave_nothing_behind(150)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "soak: run by hand, see docs/internals.md, Reliability"]
async fn soak_a_thousand_sequential_runs() {
    tokio::time::timeout(Duration::from_secs(1800), sequential_runs_leave_nothing_behind(1000)).await.unwrap();
}
