//! The event stream: late subscribers, simultaneous subscribers, resuming.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_late_subscriber_receives_the_identical_sequence() {
    bounded(async {
        let app = spawn_app().await;
        let live = app.run("process", json!({"numbers": [1, 2], "delay_ms": 5})).await;
        live.assert_ok();
        let late = app.events(&live.id).await;
        assert_eq!(late, live.events);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_simultaneous_subscribers_receive_identical_sequences() {
    bounded(async {
        let app = spawn_app().await;
        let id = app.start("process", json!({"numbers": [1, 2, 3], "delay_ms": 30})).await;
        let (a, b) = tokio::join!(app.events(&id), app.events(&id));
        assert!(a.len() > 10);
        assert_eq!(a, b);
        assert_eq!(a.last().unwrap()["kind"], "run.end");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn last_event_id_resumes_after_that_event_exactly_once() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("process", json!({"numbers": [1], "delay_ms": 0})).await;
        let resumed = app.events_after(&run.id, Some(5)).await;
        assert_eq!(resumed, run.events[5..]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_the_finished_run() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("cpu_count", json!({})).await;
        let status = app.status(&run.id).await;
        assert_eq!(status["status"], "finished");
        assert_eq!(status["outcome"], "ok");
        assert_eq!(status["demo"], "cpu_count");
        assert_eq!(status["events"], run.events.len());
        assert_eq!(status["runner_pid"], run.events[0]["pid"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_its_time_limit_ends_as_timeout_and_leaves_no_process() {
    bounded(async {
        let app = spawn_app_with(|c| c.run_timeout = std::time::Duration::from_millis(300)).await;
        let run = app.run("process", json!({"numbers": [1, 2, 3], "delay_ms": 2000})).await;
        assert_eq!(run.end()["outcome"], "timeout");
        assert!(run.end()["reason"].as_str().unwrap().contains("longer than"));
        assert_no_process_left(&run);
    })
    .await;
}

/// Each field of the answer to a new run comes once: `id` once came twice
/// (the answer's own and its summary's), which strict JSON readers refuse.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_runs_answer_names_each_field_once() {
    bounded(async {
        let app = spawn_app().await;
        let text = app.post_json("/api/runs", &json!({"demo": "cpu_count"})).await.text().await.unwrap();
        assert_eq!(text.matches("\"id\":").count(), 1, "{text}");
        let created: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(created["status_url"], format!("/api/runs/{}", created["id"].as_str().unwrap()));
        assert_eq!(created["demo"], "cpu_count");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_with_the_cancel_token_cancels_a_run_and_kills_its_processes() {
    bounded(async {
        let app = spawn_app().await;
        let response = app.post_json("/api/runs", &json!({"demo": "process", "params": {"numbers": [1, 2, 3], "delay_ms": 3000}})).await;
        let created: serde_json::Value = response.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let token = created["cancel_token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 32);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let delete = |auth: Option<String>| {
            let request = app.client.delete(app.url(&format!("/api/runs/{id}")));
            let request = match auth {
                Some(value) => request.header("authorization", value),
                None => request,
            };
            async move { request.send().await.unwrap() }
        };
        // Whoever knows only the id (it is in every shared link) cannot.
        for refused in [None, Some("Bearer ".to_owned()), Some(format!("Bearer {}", "0".repeat(32))), Some(token.clone())] {
            let response = delete(refused.clone()).await;
            assert_eq!(response.status(), 403, "{refused:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden");
        }
        assert_eq!(app.status(&id).await["status"], "running", "a refused cancel did nothing");
        // The token is never in what anyone can read.
        assert!(!app.status(&id).await.to_string().contains(&token));

        let response = delete(Some(format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 202);
        let run = FinishedRun { id: id.clone(), events: app.events(&id).await };
        assert_eq!(run.end()["outcome"], "cancelled");
        assert!(run.of_kind("proc.spawn").count() == 2, "both children had started");
        assert!(!run.events.iter().any(|e| e.to_string().contains(&token)), "nor in the stream");
        let jsonl = app.client.get(app.url(&format!("/api/runs/{id}/events.jsonl"))).send().await.unwrap().text().await.unwrap();
        assert!(!jsonl.contains(&token), "nor in an export");
        assert_no_process_left(&run);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_runs_in_memory_stay_within_their_byte_budget() {
    bounded(async {
        // Room for about one process run's events: the older run must go.
        let app = spawn_app_with(|c| c.keep_finished_bytes = 6_000).await;
        let older = app.run("process", json!({"numbers": [1, 2], "delay_ms": 0})).await;
        older.assert_ok();
        let newer = app.run("process", json!({"numbers": [1, 2], "delay_ms": 0})).await;
        newer.assert_ok();
        let bytes: usize = newer.events.iter().map(|e| e.to_string().len()).sum();
        assert!(bytes > 3_000, "each run is a good part of the budget ({bytes} bytes)");
        // Without a store, a run memory let go of is gone; the newest stays.
        let response = app.client.get(app.url(&format!("/api/runs/{}", older.id))).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(app.status(&newer.id).await["status"], "finished");
    })
    .await;
}
