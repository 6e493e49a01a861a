//! The `fork` demo: fork() returns twice, the child's pid in the parent and 0
//! in the child.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn fork_returns_the_childs_pid_in_the_parent_and_zero_in_the_child() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("fork", json!({})).await;
        run.assert_ok();
        let parent = run.events[0]["pid"].as_i64().unwrap();
        let spawn = run.of_kind("proc.spawn").next().expect("the parent forked");
        let child = spawn["child"].as_i64().unwrap();
        assert_ne!(child, parent);
        let start = run.of_kind("proc.start").find(|e| e["pid"] == child).expect("the child announced itself");
        assert_eq!(start["ppid"], parent);

        let returns: Vec<_> = run.of_kind("fork.return").collect();
        assert_eq!(returns.len(), 2, "one call, two returns");
        let in_parent = returns.iter().find(|e| e["pid"] == parent).expect("fork returned in the parent");
        let in_child = returns.iter().find(|e| e["pid"] == child).expect("fork returned in the child");
        assert_eq!(in_parent["value"], child, "the parent gets the child's actual pid");
        assert_eq!(in_child["value"], 0, "the child gets 0");

        let said = |pid: i64| -> Vec<String> {
            run.of_kind("print").filter(|e| e["pid"] == pid).map(|e| e["text"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(said(parent), ["hello parent"]);
        assert_eq!(said(child), ["hello child"]);

        // The demo reaps what the lesson would leave behind, and says so.
        let joined = run.of_kind("proc.join").find(|e| e["phase"] == "end").expect("the parent reaped the child");
        assert_eq!((joined["pid"].as_i64(), joined["child"].as_i64(), joined["code"].as_i64()), (Some(parent), Some(child), Some(0)));
        assert!(run.of_kind("note").any(|e| e["text"].as_str().unwrap().contains("never waits")));
        assert_eq!(run.result()["data"]["returned_in_parent"], child);

        assert_no_process_left(&run);
    })
    .await;
}
