//! The `threads` demo: two real threads of one process whose sleeps overlap.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn threads_overlap_their_sleeps_in_one_process() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("threads", json!({"numbers": [2, 3, 8, 9], "sleep_ms": 200})).await;
        run.assert_ok();
        let runner = run.events[0]["pid"].as_i64().unwrap();

        // Two threads, each with its own tid, both inside the runner's process.
        let spawns: Vec<_> = run.of_kind("thread.spawn").collect();
        assert_eq!(spawns.len(), 2);
        let tids: Vec<i64> = spawns.iter().map(|e| e["child"].as_i64().unwrap()).collect();
        assert_ne!(tids[0], tids[1]);
        for &tid in &tids {
            assert_ne!(tid, runner, "a thread's tid differs from its process's pid");
            let start = run.of_kind("thread.start").find(|e| e["tid"] == tid).expect("thread started");
            assert_eq!(start["pid"], runner, "thread {tid} lives in the main process");
            assert!(run.of_kind("sleep").filter(|e| e["tid"] == tid).count() == 8, "4 sleeps (begin+end) each");
        }
        assert_eq!(run.pids(), vec![runner], "threads make no new process");

        // Each thread prints the lesson's lines in its own order.
        let texts_of = |tid: i64| -> Vec<String> {
            run.of_kind("print").filter(|e| e["tid"] == tid).map(|e| e["text"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(texts_of(tids[0]), ["Calculate square numbers", "square :  4", "square :  9", "square :  64", "square :  81"]);
        assert_eq!(texts_of(tids[1]), ["calculate cube of numbers", "cube :  8", "cube :  27", "cube :  512", "cube :  729"]);
        let prints = run.prints();
        assert!(prints[prints.len() - 2].starts_with("done in :  "));
        assert_eq!(prints.last().unwrap(), "Hah. . . I am done with all my work now!");

        // The sleeps overlap: 8 × 0.2 s of sleeping take about 0.8 s, well under 1.6 s.
        let data = &run.result()["data"];
        let wall = data["wall_s"].as_f64().unwrap();
        let serial = data["serial_s"].as_f64().unwrap();
        assert_eq!(serial, 1.6);
        assert!(wall >= 0.8, "each thread alone sleeps 0.8 s, took {wall}");
        assert!(wall < 0.8 * serial, "sleeping threads overlap: {wall} s is not well under the serial {serial} s");
        assert_eq!(data["threads"], json!(tids));
        // Their sleep spans really overlap in time.
        let span = |tid: i64| {
            let s: Vec<u64> = run.of_kind("sleep").filter(|e| e["tid"] == tid).map(|e| e["t"].as_u64().unwrap()).collect();
            (s[0], *s.last().unwrap())
        };
        let ((b1, e1), (b2, e2)) = (span(tids[0]), span(tids[1]));
        assert!(b1 < e2 && b2 < e1, "the two threads' sleeping periods overlap");
        assert!(run.result()["text"].as_str().unwrap().starts_with("done in "));

        assert_no_process_left(&run);
    })
    .await;
}
