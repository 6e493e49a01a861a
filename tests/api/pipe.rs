//! The `pipe` demo: a duplex Pipe between parent and child, and corrupted
//! messages only when several writers share one end without a lock and the
//! messages exceed PIPE_BUF.

use serde_json::{json, Value};

use crate::helpers::*;

/// Checks what holds in every mode and returns the result data.
fn assert_sound(run: &FinishedRun, writers: u64, messages: u64) -> Value {
    run.assert_ok();
    let data = run.result()["data"].clone();
    let runner = run.events[0]["pid"].as_i64().unwrap();

    // The duplex exchange: the parent sends on its end, the child receives on
    // the other and answers on that same end.
    let pipe = |op: &str, msg: u64| run.of_kind("pipe").find(|e| e["op"] == op && e["msg"] == msg).cloned().unwrap();
    let child = run.of_kind("proc.spawn").next().unwrap()["child"].as_i64().unwrap();
    let (send1, recv1, send2, recv2) = (pipe("send", 1), pipe("recv", 1), pipe("send", 2), pipe("recv", 2));
    assert_eq!((send1["pid"].as_i64(), send1["end"].as_str()), (Some(runner), Some("parent_conn")));
    assert_eq!((recv1["pid"].as_i64(), recv1["end"].as_str()), (Some(child), Some("child_conn")));
    assert_eq!((send2["pid"].as_i64(), send2["end"].as_str()), (Some(child), Some("child_conn")));
    assert_eq!((recv2["pid"].as_i64(), recv2["end"].as_str()), (Some(runner), Some("parent_conn")));
    assert_eq!(recv2["value"], json!([4, 9, 25]));
    assert_eq!(run.prints()[0], "[4, 9, 25]");

    // Every message sent was read, and the count of corrupt recv events is
    // the count the demo reports.
    let sends = run.of_kind("pipe").filter(|e| e["op"] == "send" && e["end"] == "shared_end").count() as u64;
    let recvs: Vec<&Value> = run.of_kind("pipe").filter(|e| e["op"] == "recv" && e["end"] == "reader").collect();
    assert_eq!(sends, writers * messages);
    assert_eq!(recvs.len() as u64, writers * messages);
    let corrupt = recvs.iter().filter(|e| e["corrupt"] == true).count() as u64;
    assert_eq!(data["corrupt"], corrupt);
    assert_eq!(data["sent"], writers * messages);
    assert_eq!(run.prints()[1], format!("corrupted messages: {corrupt}"));
    // An intact message is received exactly once, with the id it was sent with.
    let mut intact_ids: Vec<u64> = recvs.iter().filter(|e| e["corrupt"] == false).map(|e| e["msg"].as_u64().unwrap()).collect();
    let n = intact_ids.len();
    intact_ids.sort();
    intact_ids.dedup();
    assert_eq!(intact_ids.len(), n);
    assert!(intact_ids.iter().all(|id| run.of_kind("pipe").any(|e| e["op"] == "send" && e["msg"] == *id)));
    assert_no_process_left(run);
    data
}

#[tokio::test(flavor = "multi_thread")]
async fn pipe_is_duplex_and_safe_modes_never_corrupt_a_message() {
    bounded(async {
        let app = spawn_app().await;
        for (params, writers, messages) in [
            (json!({"writers": 4, "messages": 20, "message_bytes": 32768, "use_lock": true}), 4, 20),
            (json!({"writers": 1, "messages": 30, "message_bytes": 65536}), 1, 30),
            // 4092 bytes plus the 4-byte length: exactly PIPE_BUF, one atomic write.
            (json!({"writers": 8, "messages": 30, "message_bytes": 4092}), 8, 30),
        ] {
            let run = app.run("pipe", params.clone()).await;
            let data = assert_sound(&run, writers, messages);
            assert_eq!(data["corrupt"], 0, "{params}: {data}");
            if params["use_lock"] == true {
                assert_eq!(run.of_kind("lock").filter(|e| e["phase"] == "acquire").count() as u64, writers * messages);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn several_unlocked_writers_of_large_messages_corrupt_some() {
    bounded(async {
        let app = spawn_app().await;
        // Interleaving needs the writers to overlap: near-certain with these
        // sizes, still only required within a few attempts.
        let mut seen = Vec::new();
        for _ in 0..4 {
            let run = app.run("pipe", json!({"writers": 4, "messages": 30, "message_bytes": 65536})).await;
            let data = assert_sound(&run, 4, 30);
            assert_eq!(run.of_kind("lock").count(), 0);
            seen.push(data["corrupt"].as_u64().unwrap());
            if seen.last() > Some(&0) {
                let says = run.of_kind("note").any(|e| e["text"].as_str().unwrap().contains("Real Python would not print this count"));
                assert!(says, "the run says what CPython's reader would do instead");
                break;
            }
        }
        assert!(seen.iter().any(|&n| n > 0), "no corruption in {seen:?}");
    })
    .await;
}
