//! The race lab's experiments: many real runs of one demo, one parameter
//! varied, every run's outcome kept beside its id.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

async fn finished(client: &reqwest::Client, base: &str, id: &str) -> Value {
    for _ in 0..600 {
        let report: Value = client.get(format!("{base}/api/experiments/{id}")).send().await.unwrap().json().await.unwrap();
        if report["done"] == true {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("experiment {id} did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_with_and_without_ten_times_each_counts_what_every_run_reported() {
    bounded(async {
        let app = spawn_app().await;
        let response = app.post_json("/api/experiments", &json!({"demo": "lock", "engine": "native", "params": {"sample": false}, "vary": "use_lock", "runs_each": 10})).await;
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["planned"], 20);
        let base = format!("http://{}", app.addr);
        let report = finished(&app.client, &base, created["id"].as_str().unwrap()).await;
        let runs = report["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 20, "{report}");
        assert!(report.get("stopped").is_none(), "{report}");
        // Values alternate, so load elsewhere touches both alike.
        let values: Vec<bool> = runs.iter().map(|r| r["value"].as_bool().unwrap()).collect();
        assert_eq!(&values[..4], [true, false, true, false]);
        let with: Vec<&Value> = runs.iter().filter(|r| r["value"] == true).collect();
        let without: Vec<&Value> = runs.iter().filter(|r| r["value"] == false).collect();
        assert!(with.iter().all(|r| r["result"]["balance"] == 200 && r["outcome"] == "ok"), "{with:?}");
        let lost = without.iter().filter(|r| r["result"]["lost_updates"].as_u64().unwrap() > 0).count();
        assert!(lost >= 9, "{lost} of 10 runs without the lock lost an update");
        // Each entry is the run's own report: its stream says the same.
        for entry in [with[0], without[0], without[9]] {
            let events = app.events(entry["id"].as_str().unwrap()).await;
            let result = events.iter().rev().find(|e| e["kind"] == "result").unwrap();
            assert_eq!(result["data"], entry["result"]);
            assert_eq!(events[0]["params"]["use_lock"], entry["value"]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_experiments_run_nothing_and_one_client_runs_one_at_a_time() {
    bounded(async {
        let app = spawn_app().await;
        for (body, field) in [
            (json!({"demo": "lock", "vary": "nope", "runs_each": 5}), "vary"),
            (json!({"demo": "lock", "vary": "use_lock", "runs_each": 0}), "runs_each"),
            (json!({"demo": "lock", "vary": "use_lock", "runs_each": 101}), "runs_each"),
            (json!({"demo": "lock", "vary": "iterations", "runs_each": 5}), "values"),
            (json!({"demo": "lock", "vary": "iterations", "values": [10, 99999], "runs_each": 5}), "params.iterations"),
            (json!({"demo": "lock", "engine": "native", "vary": "iterations", "values": [1, 2, 3, 4], "runs_each": 51}), "runs_each"),
            (json!({"demo": "gil", "engine": "native", "vary": "workers", "values": [1, 2, 3, 4, 5, 6, 7, 8, 9], "runs_each": 1}), "values"),
            (json!({"demo": "gil", "engine": "native", "vary": "workers", "values": [1, 9], "runs_each": 1}), "params.workers"),
        ] {
            let response = app.post_json("/api/experiments", &body).await;
            assert_eq!(response.status(), 422, "{body}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["field"], field, "{body}: {error}");
        }
        let unknown = app.post_json("/api/experiments", &json!({"demo": "scratch", "vary": "x", "runs_each": 1})).await;
        assert_eq!(unknown.status(), 404);
        assert_eq!(app.runs.active() + app.runs.waiting(), 0, "nothing ran");
        let first = app.post_json("/api/experiments", &json!({"demo": "lock", "engine": "native", "vary": "use_lock", "runs_each": 5})).await;
        assert_eq!(first.status(), 201);
        let second = app.post_json("/api/experiments", &json!({"demo": "pipe", "engine": "native", "vary": "use_lock", "runs_each": 1})).await;
        assert_eq!(second.status(), 429);
        assert_eq!(second.json::<Value>().await.unwrap()["error"]["code"], "experiment_running");
        let id = first.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        finished(&app.client, &format!("http://{}", app.addr), &id).await;
        let again = app.post_json("/api/experiments", &json!({"demo": "pipe", "engine": "native", "vary": "use_lock", "runs_each": 1})).await;
        assert_eq!(again.status(), 201, "once done, the client may start another");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_experiment_outlives_a_restart() {
    bounded(async {
        let db = std::env::temp_dir().join(format!("forkline-experiments-{}", forkline::runs::RunId::random())).join("runs.sqlite3");
        let db_arg = db.to_str().unwrap().to_owned();
        let client = reqwest::Client::new();
        let report = {
            let server = ServerProcess::start_on(&db_arg, &[]);
            let created: Value = client
                .post(format!("{}/api/experiments", server.base))
                .json(&json!({"demo": "lock", "engine": "native", "vary": "use_lock", "runs_each": 2}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let report = finished(&client, &server.base, created["id"].as_str().unwrap()).await;
            // The save is written without the experiment waiting for it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            report
        };
        let server = ServerProcess::start_on(&db_arg, &[]);
        let again: Value = client.get(format!("{}/api/experiments/{}", server.base, report["id"].as_str().unwrap())).send().await.unwrap().json().await.unwrap();
        assert_eq!(again, report);
        drop(server);
        let _ = std::fs::remove_dir_all(db.parent().unwrap());
    })
    .await;
}
