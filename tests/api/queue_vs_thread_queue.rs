//! `queue_vs_thread_queue`: what the parent receives through a queue.Queue
//! from a thread, through a queue.Queue from a child process, and through a
//! multiprocessing.Queue from a child process.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn only_the_thread_and_the_cross_process_queue_reach_the_parent() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("queue_vs_thread_queue", json!({"numbers": [2, 3, 5]})).await;
        run.assert_ok();
        assert_eq!(
            run.prints(),
            [
                "thread -> queue.Queue: [4, 9, 25]",
                "process -> queue.Queue: []",
                "process -> multiprocessing.Queue: [4, 9, 25]",
            ]
        );
        let data = &run.result()["data"];
        assert_eq!(data["thread_queue"], json!([4, 9, 25]));
        assert_eq!(data["process_thread_queue"], json!([]));
        assert_eq!(data["process_mp_queue"], json!([4, 9, 25]));

        let runner = run.events[0]["pid"].as_i64().unwrap();
        let queue_ops = |queue: &str, op: &str| run.of_kind("queue").filter(|e| e["queue"] == queue && e["op"] == op).count();
        // The thread's puts come from the runner's own process, another thread.
        let thread = run.of_kind("thread.spawn").next().unwrap()["child"].as_i64().unwrap();
        assert!(run.of_kind("queue").filter(|e| e["queue"] == "tq" && e["op"] == "put").all(|e| e["pid"] == runner && e["tid"] == thread));
        assert_eq!((queue_ops("tq", "put"), queue_ops("tq", "get")), (3, 3));
        // The child really put three items into its copy; none was ever got.
        let children: Vec<i64> = run.of_kind("proc.spawn").map(|e| e["child"].as_i64().unwrap()).collect();
        assert_eq!(children.len(), 2);
        assert!(run.of_kind("queue").filter(|e| e["queue"] == "pq").all(|e| e["pid"] == children[0] && e["op"] == "put"));
        assert_eq!((queue_ops("pq", "put"), queue_ops("pq", "get")), (3, 0));
        assert_eq!((queue_ops("mq", "put"), queue_ops("mq", "get")), (3, 3));
        // The thread was joined before the first fork.
        let thread_join = run.of_kind("thread.join").find(|e| e["phase"] == "end").unwrap()["seq"].as_u64().unwrap();
        let first_fork = run.of_kind("proc.spawn").next().unwrap()["seq"].as_u64().unwrap();
        assert!(thread_join < first_fork);
        assert_no_process_left(&run);
    })
    .await;
}
