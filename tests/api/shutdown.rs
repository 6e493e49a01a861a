//! Graceful shutdown of the real binary: SIGTERM cancels every run, kills its
//! processes, ends every open stream with run.end, and the server exits in
//! bounded time even with hundreds of streams open.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

const STREAMS: usize = 300;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_cancels_runs_ends_every_stream_and_exits() {
    bounded(async {
        let server = ServerProcess::start(&["--per-client-runs", "10", "--max-connections-per-client", "1000"]);
        let base = server.base.clone();
        let client = reqwest::Client::new();

        let created = server.create_run(&client, "process", json!({"numbers": [1, 2, 3], "delay_ms": 5000})).await;
        let events_url = format!("{base}{}", created["events_url"].as_str().unwrap());

        let mut streams = Vec::new();
        for _ in 0..STREAMS {
            let response = client.get(&events_url).send().await.unwrap();
            streams.push(tokio::spawn(async move {
                let mut events = Vec::new();
                let mut stream = response.bytes_stream().eventsource();
                while let Some(message) = stream.next().await {
                    match message {
                        // A place in line is not an event of the run.
                        Ok(message) if message.event == "queue" => {}
                        Ok(message) => events.push(serde_json::from_str::<Value>(&message.data).unwrap()),
                        Err(e) => panic!("stream broke after {} events: {e}", events.len()),
                    }
                }
                events
            }));
        }
        // Let both children start before pulling the plug.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let health: Value = client.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
        let spare = health["spare_runner_pid"].as_i64();

        let sent = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid()), nix::sys::signal::Signal::SIGTERM).unwrap();
        let mut all = Vec::new();
        for stream in streams {
            all.push(stream.await.unwrap());
        }
        let mut server = server;
        let status = tokio::task::spawn_blocking(move || server.child.wait()).await.unwrap().unwrap();
        let took = sent.elapsed();
        println!("shutdown with {STREAMS} open streams took {took:?}");
        assert!(status.success(), "{status:?}");
        assert!(took < Duration::from_secs(10), "shutdown took {took:?}");

        let first = &all[0];
        let end = first.last().unwrap();
        assert_eq!(end["kind"], "run.end");
        assert_eq!(end["outcome"], "cancelled");
        let lengths: Vec<usize> = all.iter().map(Vec::len).collect();
        assert!(all.iter().all(|events| events == first), "every stream saw the same run, to its end: lengths {lengths:?}");
        let run = FinishedRun { id: created["id"].as_str().unwrap().to_owned(), events: first.clone() };
        assert_eq!(run.of_kind("proc.spawn").count(), 2);
        assert_no_process_left(&run);
        if let Some(spare) = spare {
            assert_eq!(wait_gone(&[spare], Duration::from_secs(5)).await, Vec::<i64>::new(), "the spare runner outlived the server");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_takes_its_runs_processes_with_it() {
    bounded(async {
        let server = ServerProcess::start(&[]);
        let client = reqwest::Client::new();
        let created = server.create_run(&client, "process", json!({"numbers": [1, 2, 3], "delay_ms": 5000})).await;
        // Read the live stream until both children have started.
        let response = client.get(format!("{}{}", server.base, created["events_url"].as_str().unwrap())).send().await.unwrap();
        let mut stream = response.bytes_stream().eventsource();
        let mut pids = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let event: Value = serde_json::from_str(&message.data).unwrap();
            if event["kind"] == "proc.start" || event["kind"] == "run.start" {
                pids.push(event["pid"].as_i64().unwrap());
            }
            if pids.len() == 4 {
                break; // run.start (runner), MainProcess (runner), p1, p2
            }
        }
        assert_eq!(pids.len(), 4);
        // No graceful shutdown here: the server dies at once.
        let mut server = server;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let left = wait_gone(&pids, Duration::from_secs(5)).await;
        assert!(left.is_empty(), "processes outlived the server: {left:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_takes_the_processes_a_program_forked_itself_with_it() {
    bounded(async {
        // CPython forks the program's children itself, and the kernel does not
        // pass PDEATHSIG on to a fork child: only the run's process group
        // going down with the runner takes them.
        let server = ServerProcess::start(&[]);
        let client = reqwest::Client::new();
        let health: Value = client.get(format!("{}/healthz", server.base)).send().await.unwrap().json().await.unwrap();
        if health["pythons"].as_array().is_none_or(Vec::is_empty) {
            eprintln!("skipped: no Python interpreter on this machine");
            return;
        }
        let response = client
            .post(format!("{}/api/runs", server.base))
            .json(&json!({"demo": "process", "engine": "cpython", "params": {"numbers": [1, 2], "delay_ms": 4000, "start_method": "fork"}}))
            .send()
            .await
            .unwrap();
        let created: Value = response.json().await.unwrap();
        let events = client.get(format!("{}{}", server.base, created["events_url"].as_str().unwrap())).send().await.unwrap();
        let mut stream = events.bytes_stream().eventsource();
        let mut children = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let event: Value = serde_json::from_str(&message.data).unwrap();
            if event["kind"] == "proc.start" && event["name"].as_str().is_some_and(|n| n.starts_with("Process-")) {
                children.push(event["pid"].as_i64().unwrap());
            }
            if children.len() == 2 {
                break;
            }
        }
        assert_eq!(children.len(), 2, "both children started");
        let mut server = server;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        // Each child sleeps 4 s in its loop: gone well before that, or it was
        // left to finish on its own.
        let left = wait_gone(&children, Duration::from_secs(2)).await;
        assert!(left.is_empty(), "the program's own children outlived the server: {left:?}");
    })
    .await;
}
