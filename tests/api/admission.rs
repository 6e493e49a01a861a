//! Admission: a bounded number of runs at once, a line with visible places
//! that is fair between clients, honest refusals past it, per-client caps
//! and a per-client rate.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

const LONG: Duration = Duration::from_millis(5000);

async fn long_run(app: &TestApp) -> String {
    app.start("process", json!({"numbers": [1], "delay_ms": LONG.as_millis() as u64})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_past_the_slots_wait_in_line_and_see_their_place() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.max_active_runs = 1;
            c.max_queued_runs = 1;
            c.per_client_runs = 10;
        })
        .await;
        let first = long_run(&app).await;
        let second = app.start("cpu_count", json!({})).await;
        assert_eq!(app.status(&second).await["status"], "queued");

        // A third has no room: 429, Retry-After, JSON.
        let response = app.post_json("/api/runs", &json!({"demo": "cpu_count"})).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "busy");

        // The queued run's stream shows its place, then runs to completion.
        let response = app.client.get(app.url(&format!("/api/runs/{second}/events"))).send().await.unwrap();
        let mut stream = response.bytes_stream().eventsource();
        let mut positions = Vec::new();
        let mut kinds = Vec::new();
        while let Some(message) = stream.next().await {
            let message = message.unwrap();
            let data: Value = serde_json::from_str(&message.data).unwrap();
            if message.event == "queue" {
                positions.push(data["position"].as_u64().unwrap());
            } else {
                kinds.push(data["kind"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(positions, vec![1]);
        assert_eq!(kinds.first().map(String::as_str), Some("run.start"));
        assert_eq!(kinds.last().map(String::as_str), Some("run.end"));
        let first = FinishedRun { id: first.clone(), events: app.events(&first).await };
        let second = FinishedRun { id: second.clone(), events: app.events(&second).await };
        first.assert_ok();
        second.assert_ok();
        // FIFO: the second started only after the first ended.
        let first_end = app.status(&first.id).await["finished_at_ms"].as_u64().unwrap();
        let second_start = app.status(&second.id).await["created_at_ms"].as_u64().unwrap();
        assert!(second_start <= first_end);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_may_hold_only_its_share_of_runs() {
    bounded(async {
        let app = spawn_app_with(|c| c.per_client_runs = 1).await;
        let first = long_run(&app).await;
        let response = app.post_json("/api/runs", &json!({"demo": "cpu_count"})).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_runs");
        app.events(&first).await;
        // Once it finished, the client may run again.
        app.run("cpu_count", json!({})).await.assert_ok();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_run_everyone_left_is_dropped_before_it_takes_a_slot() {
    bounded(async {
        let app = spawn_app_with(|c| c.max_active_runs = 1).await;
        let first = long_run(&app).await;
        let second = app.start("cpu_count", json!({})).await;
        {
            // A raw connection, so leaving is a real close of the socket.
            let mut viewer = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            let request = format!("GET /api/runs/{second}/events HTTP/1.1\r\nhost: localhost\r\n\r\n");
            tokio::io::AsyncWriteExt::write_all(&mut viewer, request.as_bytes()).await.unwrap();
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("event: queue") {
                let mut buf = [0u8; 1024];
                let n = tokio::io::AsyncReadExt::read(&mut viewer, &mut buf).await.unwrap();
                assert!(n > 0, "the stream ended before showing a place in line");
                seen.extend_from_slice(&buf[..n]);
                assert!(!String::from_utf8_lossy(&seen).contains("run.start"), "the second run was not waiting");
            }
        } // the only viewer leaves: its socket closes
        // Wait without watching (a status request is not a viewer).
        while app.status(&second).await["status"] != "finished" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let events = app.events(&second).await;
        assert_eq!(events.len(), 1, "it never ran: {events:?}");
        assert_eq!(events[0]["kind"], "run.end");
        assert_eq!(events[0]["outcome"], "cancelled");
        assert!(events[0]["reason"].as_str().unwrap().contains("left"));
        app.events(&first).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_waiting_too_long_in_line_is_dropped_with_a_clear_outcome() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.max_active_runs = 1;
            c.queue_timeout = Duration::from_millis(300);
        })
        .await;
        let first = long_run(&app).await;
        let second = app.start("cpu_count", json!({})).await;
        let events = app.events(&second).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["outcome"], "timeout");
        assert!(events[0]["reason"].as_str().unwrap().contains("waited in line"));
        app.events(&first).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_the_trusted_proxy() {
    bounded(async {
        // Not trusted: two different XFF values are still one client (the peer).
        let app = spawn_app_with(|c| c.per_client_runs = 1).await;
        let first = long_run(&app).await;
        let response = app
            .client
            .post(app.url("/api/runs"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"demo": "cpu_count"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        app.events(&first).await;

        // Trusted: each forwarded address is its own client.
        let app = spawn_app_with(|c| {
            c.per_client_runs = 1;
            c.trusted_proxy = Some("127.0.0.1".parse().unwrap());
        })
        .await;
        let mut ids = Vec::new();
        for client in ["203.0.113.1", "203.0.113.2"] {
            let response = app
                .client
                .post(app.url("/api/runs"))
                .header("x-forwarded-for", format!("198.51.100.7, {client}"))
                .json(&json!({"demo": "process", "params": {"numbers": [1], "delay_ms": 300}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        for id in ids {
            app.events(&id).await;
        }
    })
    .await;
}

/// A client on another loopback address than the tests' own 127.0.0.1.
fn client_at(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().ok()).build().unwrap()
}

async fn create(app: &TestApp, client: &reqwest::Client, body: Value) -> reqwest::Response {
    client.post(app.url("/api/runs")).json(&body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_starting_runs_too_fast_is_told_when_to_come_back_and_others_are_not() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.per_client_runs = 100;
            c.client_run_rate = forkline::runs::rate::RunRate { burst: 3, per_minute: 6 };
        })
        .await;
        let flooder = client_at("127.0.0.1");
        let mut answers = Vec::new();
        for _ in 0..10 {
            answers.push(create(&app, &flooder, json!({"demo": "cpu_count"})).await);
        }
        let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429], "the burst, then refused");
        let refused = answers.pop().unwrap();
        let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry), "6 a minute: one more within 10 s, said {retry}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_fast");
        let other = create(&app, &client_at("127.0.0.2"), json!({"demo": "cpu_count"})).await;
        assert_eq!(other.status(), 201, "another client has its own rate");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_holds_at_most_half_the_slots_and_others_run_at_once() {
    bounded(async {
        // The case: two slots, and one client that would hold both
        // with long runs.
        let app = spawn_app_with(|c| {
            c.max_active_runs = 2;
            c.per_client_runs = 2;
        })
        .await;
        let hog = client_at("127.0.0.1");
        let mut long = Vec::new();
        for _ in 0..2 {
            let response = create(&app, &hog, json!({"demo": "process", "params": {"numbers": [1], "delay_ms": 3000}})).await;
            assert_eq!(response.status(), 201);
            long.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(app.status(&long[1]).await["status"], "queued", "its second run waits for its own first");
        let response = create(&app, &client_at("127.0.0.2"), json!({"demo": "cpu_count"})).await;
        let short = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        app.events(&short).await;
        let created = app.status(&short).await;
        let waited = created["finished_at_ms"].as_u64().unwrap() - created["created_at_ms"].as_u64().unwrap();
        println!("another client's short run beside a client's long ones: {waited} ms from POST to its end");
        assert_eq!(app.status(&long[0]).await["status"], "running", "it did not wait for the long run");
        for id in &long {
            app.events(id).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_freed_slot_goes_to_the_next_client_in_turn_not_to_the_longest_backlog() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.max_active_runs = 1;
            c.per_client_runs = 4;
        })
        .await;
        let (hog, other) = (client_at("127.0.0.1"), client_at("127.0.0.2"));
        let mut ids = Vec::new();
        for _ in 0..4 {
            let response = create(&app, &hog, json!({"demo": "process", "params": {"numbers": [1], "delay_ms": 200}})).await;
            ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        let response = create(&app, &other, json!({"demo": "cpu_count"})).await;
        let theirs = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        // Watched, so none is dropped as abandoned, and read to their ends.
        let all: Vec<(String, &str)> = ids.iter().map(|id| (id.clone(), "hog")).chain([(theirs, "other")]).collect();
        futures_util::future::join_all(all.iter().map(|(id, _)| app.events(id))).await;
        // One slot: runs end in the order they were given it (event times
        // are each run's own clock, so the server's finish times are used).
        let mut ends = Vec::new();
        for (id, who) in &all {
            ends.push((app.status(id).await["finished_at_ms"].as_u64().unwrap(), *who));
        }
        ends.sort();
        let order: Vec<&str> = ends.iter().map(|(_, who)| *who).collect();
        assert_eq!(order, ["hog", "other", "hog", "hog", "hog"], "the other client's run goes second, not fifth");
    })
    .await;
}
