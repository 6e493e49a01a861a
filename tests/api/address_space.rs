//! The `address_space` demo: same virtual address, different contents.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn address_space_shows_the_same_address_holding_different_values() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("address_space", json!({"value": 100, "child_value": 200})).await;
        run.assert_ok();
        let parent = run.events[0]["pid"].as_i64().unwrap();
        let child = run.of_kind("proc.spawn").next().unwrap()["child"].as_i64().unwrap();

        let data = &run.result()["data"];
        assert_eq!(data["parent"]["pid"], parent);
        assert_eq!(data["child"]["pid"], child);
        assert_eq!(data["parent"]["value"], 100, "the child's write did not reach the parent");
        assert_eq!(data["child"]["value"], 200);
        let address = data["parent"]["address"].as_u64().unwrap();
        assert_ne!(address, 0);
        assert_eq!(data["child"]["address"], address, "the same virtual address in both processes");
        assert_eq!(data["same_address"], true);

        // The prints say it as a student would read it.
        let hex = format!("{address:#x}");
        let said = |pid: i64| -> Vec<String> {
            run.of_kind("print").filter(|e| e["pid"] == pid).map(|e| e["text"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(said(parent), [format!("parent: x = 100 at {hex}"), format!("parent: x = 100 at {hex}")]);
        assert_eq!(said(child), [format!("child: x = 200 at {hex}")]);

        // The value events: the child writes 200, the parent reads 100 after the child is gone.
        assert!(run.of_kind("value").any(|e| e["pid"] == child && e["op"] == "write" && e["value"] == 200));
        let join_end = run.of_kind("proc.join").find(|e| e["phase"] == "end").unwrap()["seq"].as_u64().unwrap();
        let last_read = run.of_kind("value").filter(|e| e["pid"] == parent && e["op"] == "read").last().unwrap();
        assert!(last_read["seq"].as_u64().unwrap() > join_end);
        assert_eq!(last_read["value"], 100);

        assert_no_process_left(&run);
    })
    .await;
}
