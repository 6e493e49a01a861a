//! Admission: a bounded number of runs at once, a FIFO line with visible
//! places, honest refusals past it, and a per-client cap.

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
            let request = format!("GET /api/runs/{second}/events HTTP/1.1\r\nhost: x\r\n\r\n");
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
