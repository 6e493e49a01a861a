//! The `system` demo: a real shell, and os.system's wait-status encoding.

use serde_json::json;

use crate::helpers::*;

async fn run_command(app: &TestApp, command: &str) -> FinishedRun {
    let run = app.run("system", json!({ "command": command })).await;
    run.assert_ok();
    assert_no_process_left(&run);
    run
}

fn system_end(run: &FinishedRun) -> &serde_json::Value {
    run.of_kind("system").find(|e| e["phase"] == "end").expect("os.system returned")
}

#[tokio::test(flavor = "multi_thread")]
async fn system_returns_the_wait_status_as_os_system_encodes_it() {
    bounded(async {
        let app = spawn_app().await;
        // (command, os.system's return value, exit code or minus the signal)
        for (command, status, exit_code) in [("true", 0, 0), ("false", 256, 1), ("exit 3", 768, 3), ("kill -KILL $$", 9, -9)] {
            let run = run_command(&app, command).await;
            let end = system_end(&run);
            assert_eq!(end["command"], command);
            assert_eq!(end["status"], status, "os.system({command:?})");
            assert_eq!(run.result()["data"]["status"], status);
            let prints = run.prints();
            assert_eq!(prints[prints.len() - 2], format!("exit status {status}"));
            assert_eq!(prints[prints.len() - 1], format!("exit code {exit_code}"));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn system_runs_a_real_shell_in_its_own_lane_and_relays_its_output() {
    bounded(async {
        let app = spawn_app().await;
        let run = run_command(&app, "echo hello").await;
        let runner = run.events[0]["pid"].as_i64().unwrap();

        // The shell is a child of the main process with a lane of its own.
        let spawn = run.of_kind("proc.spawn").next().expect("the shell was forked");
        let shell = spawn["child"].as_i64().unwrap();
        assert_ne!(shell, runner);
        let start = run.of_kind("proc.start").find(|e| e["pid"] == shell).expect("the shell's lane starts");
        assert_eq!(start["name"], "sh");
        assert_eq!(start["ppid"], runner);
        assert_eq!(run.result()["data"]["shell"], shell);

        // Its output came through as prints (and not as garbage in the event stream).
        assert_eq!(run.prints()[0], "hello");
        assert_eq!(run.result()["data"]["output"], json!(["hello"]));
        let begin = run.of_kind("system").find(|e| e["phase"] == "begin").unwrap();
        let end = system_end(&run);
        assert!(begin["seq"].as_u64() < start["seq"].as_u64() && start["seq"].as_u64() < end["seq"].as_u64());
        assert_eq!(end["status"], 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn system_shows_the_programs_the_shell_starts() {
    bounded(async {
        let app = spawn_app().await;
        let run = run_command(&app, "sleep 0.2; echo slept").await;
        let shell = run.of_kind("proc.spawn").next().unwrap()["child"].as_i64().unwrap();
        let children = run.result()["data"]["children"].as_array().unwrap().clone();
        let sleeper = children.iter().find(|c| c["name"] == "sleep").unwrap_or_else(|| panic!("sleep seen among {children:?}"));
        let sleeper = sleeper["pid"].as_i64().unwrap();
        assert_ne!(sleeper, shell, "the shell forked a process for sleep");
        // It has a lane of its own, under the shell, drawn from samples alone:
        // its parent and program are named, and a last sample marks it gone.
        let samples: Vec<_> = run.of_kind("kernel.sample").filter(|e| e["of_pid"] == sleeper).collect();
        assert!(samples.iter().any(|e| e["of_ppid"] == shell && e["name"] == "sleep"), "{samples:?}");
        assert_eq!(samples.last().unwrap()["state"], "X", "{samples:?}");
        let end_seq = system_end(&run)["seq"].as_u64().unwrap();
        assert!(samples.iter().all(|e| e["seq"].as_u64().unwrap() < end_seq));
        assert_eq!(run.prints()[0], "slept");
        assert_eq!(system_end(&run)["status"], 0);
        // The program the shell started is gone too, not only the processes that emitted events.
        assert!(!pid_exists(sleeper));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn system_refuses_any_command_outside_its_fixed_list() {
    bounded(async {
        let app = spawn_app().await;
        for command in [json!("rm -rf /"), json!("true; id"), json!("TRUE"), json!(""), json!(1)] {
            let response = app.post_json("/api/runs", &json!({"demo": "system", "params": {"command": command}})).await;
            assert_eq!(response.status(), 422, "{command}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["field"], "params.command", "{body}");
        }
        assert_eq!(app.runs.active(), 0);
    })
    .await;
}
