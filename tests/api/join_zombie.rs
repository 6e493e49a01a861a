//! The `join_zombie` demo: an unjoined child terminates and is a zombie until
//! join reaps it.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn join_zombie_observes_state_z_until_join_and_the_pid_gone_after() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("join_zombie", json!({"child_ms": 50, "wait_ms": 400})).await;
        run.assert_ok();
        let parent = run.events[0]["pid"].as_i64().unwrap();
        let child = run.of_kind("proc.spawn").next().unwrap()["child"].as_i64().unwrap();

        // The child ran to its end by itself: it printed and exited.
        assert!(run.of_kind("print").any(|e| e["pid"] == child && e["text"] == "child: done"));
        let exit = run.of_kind("proc.exit").find(|e| e["pid"] == child).expect("the child terminated");

        // The parent saw it as a zombie, after its exit and before reaping it.
        let zombie = run
            .of_kind("kernel.sample")
            .find(|e| e["pid"] == parent && e["of_pid"] == child && e["state"] == "Z")
            .expect("the parent observed state Z");
        assert_eq!(zombie["pid"], parent);
        let join_begin = run.of_kind("proc.join").find(|e| e["phase"] == "begin" && e["child"] == child).unwrap();
        let join_end = run.of_kind("proc.join").find(|e| e["phase"] == "end" && e["child"] == child).unwrap();
        let seq = |e: &serde_json::Value| e["seq"].as_u64().unwrap();
        assert!(seq(exit) < seq(zombie) && seq(zombie) < seq(join_begin) && seq(join_begin) < seq(join_end));
        assert!(run.of_kind("note").any(|e| e["text"].as_str().unwrap().contains("zombie")));
        // After join the kernel has forgotten it: the last sample says gone (X).
        let gone = run.of_kind("kernel.sample").filter(|e| e["of_pid"] == child).last().unwrap();
        assert_eq!(gone["state"], "X");
        assert!(seq(gone) > seq(join_end));

        let data = &run.result()["data"];
        assert_eq!(data["child"], child);
        assert_eq!(data["zombie_observed"], true);
        assert_eq!(data["state_before_join"], "Z");
        assert_eq!(data["exists_after_join"], false, "waitpid removed the zombie");
        assert!(data["zombie_for_s"].as_f64().unwrap() > 0.1, "it stayed a zombie while the parent held off");
        assert!(run.prints().contains(&"child state before join: Z".to_owned()));
        assert!(run.prints().contains(&"after join, /proc/<pid> exists: False".to_owned()));

        assert_no_process_left(&run);
    })
    .await;
}
