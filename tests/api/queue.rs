//! The `queue` demo: a child puts squares on a real cross-process queue, the
//! parent gets them back after join, first in first out.

use serde_json::{json, Value};

use crate::helpers::*;

/// (msg, value, seq, pid) of each queue event with this op.
fn ops(run: &FinishedRun, op: &str) -> Vec<(u64, Value, u64, i64)> {
    run.of_kind("queue")
        .filter(|e| e["op"] == op)
        .map(|e| (e["msg"].as_u64().unwrap(), e["value"].clone(), e["seq"].as_u64().unwrap(), e["pid"].as_i64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_delivers_the_lessons_squares_in_fifo_order_with_each_put_paired_to_one_get() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("queue", json!({"numbers": [2, 3, 5]})).await;
        run.assert_ok();
        assert_eq!(run.prints(), ["4", "9", "25"]);

        let runner = run.events[0]["pid"].as_i64().unwrap();
        let child = run.of_kind("proc.spawn").next().unwrap()["child"].as_i64().unwrap();
        let puts = ops(&run, "put");
        let gets = ops(&run, "get");
        assert_eq!(puts.iter().map(|p| p.1.clone()).collect::<Vec<_>>(), [json!(4), json!(9), json!(25)]);
        assert!(puts.iter().all(|p| p.3 == child), "the child puts");
        assert!(gets.iter().all(|g| g.3 == runner), "the parent gets");

        // Every put's id has exactly one get, with the same value, after it;
        // gets come in the order of the puts.
        let put_ids: Vec<u64> = puts.iter().map(|p| p.0).collect();
        let get_ids: Vec<u64> = gets.iter().map(|g| g.0).collect();
        assert_eq!(get_ids, put_ids, "FIFO");
        let mut unique = put_ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), put_ids.len(), "message ids are unique");
        for (put, get) in puts.iter().zip(&gets) {
            assert_eq!(put.1, get.1);
            assert!(put.2 < get.2, "put {} before its get", put.0);
        }
        // The parent drains only after it joined the child.
        let join_end = run.of_kind("proc.join").find(|e| e["phase"] == "end").unwrap()["seq"].as_u64().unwrap();
        assert!(gets.iter().all(|g| g.2 > join_end));
        assert_eq!(run.result()["data"]["received"], json!([4, 9, 25]));
        assert_no_process_left(&run);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_with_several_producers_keeps_every_item_and_each_producers_order() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("queue", json!({"numbers": [1, 2, 3, 4, 5, 6], "producers": 4})).await;
        run.assert_ok();
        let puts = ops(&run, "put");
        let gets = ops(&run, "get");
        assert_eq!(puts.len(), 24);
        assert_eq!(gets.iter().map(|g| g.0).collect::<Vec<_>>(), puts.iter().map(|p| p.0).collect::<Vec<_>>());
        // Each producer's items come out in the order it put them.
        for producer in run.of_kind("proc.spawn").map(|e| e["child"].as_i64().unwrap()) {
            let mine: Vec<u64> = puts.iter().filter(|p| p.3 == producer).map(|p| p.0).collect();
            let values: Vec<Value> = gets.iter().filter(|g| mine.contains(&g.0)).map(|g| g.1.clone()).collect();
            assert_eq!(values, [1, 4, 9, 16, 25, 36].map(|v| json!(v)));
        }
        assert_eq!(run.prints().len(), 24);
        assert_no_process_left(&run);
    })
    .await;
}
