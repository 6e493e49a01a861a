//! The `process` demo: the lesson's calc_square/calc_cube as two children.

use serde_json::json;

use crate::helpers::*;

fn prints_of(run: &FinishedRun, pid: i64) -> Vec<(u64, String)> {
    run.of_kind("print")
        .filter(|e| e["pid"] == pid)
        .map(|e| (e["seq"].as_u64().unwrap(), e["text"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn process_runs_two_real_children_in_the_lessons_order() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("process", json!({"numbers": [2, 3, 8, 9], "delay_ms": 20})).await;
        run.assert_ok();
        let events = &run.events;

        // seq is 1, 2, 3, … with no gaps; run.start first and run.end last.
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["seq"], (i + 1) as u64);
        }
        assert_eq!(events[0]["kind"], "run.start");
        assert_eq!(run.of_kind("run.end").count(), 1);

        let runner = events[0]["pid"].as_i64().unwrap();
        let spawns: Vec<_> = run.of_kind("proc.spawn").collect();
        assert_eq!(spawns.len(), 2);
        let (p1, p2) = (spawns[0]["child"].as_i64().unwrap(), spawns[1]["child"].as_i64().unwrap());
        let server = std::process::id() as i64;
        assert_eq!(spawns[0]["name"], "p1");
        assert_eq!(spawns[1]["name"], "p2");
        for pid in [p1, p2] {
            assert!(pid != runner && pid != server, "child pid {pid} must be its own process");
        }
        assert_ne!(p1, p2);
        assert_ne!(runner, server);

        // Each child announces itself with its own pid and the runner as parent.
        for (pid, target) in [(p1, "calc_square"), (p2, "calc_cube")] {
            let start = run.of_kind("proc.start").find(|e| e["pid"] == pid).expect("child started");
            assert_eq!(start["ppid"], runner);
            assert_eq!(start["target"], target);
        }

        // Each child's prints are the lesson's lines, in order, before its own exit.
        for (pid, expected) in [
            (p1, ["square 4", "square 9", "square 64", "square 81"]),
            (p2, ["cube 8", "cube 27", "cube 512", "cube 729"]),
        ] {
            let prints = prints_of(&run, pid);
            assert_eq!(prints.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(), expected);
            let exit = run.of_kind("proc.exit").find(|e| e["pid"] == pid).expect("child exited");
            assert_eq!(exit["code"], 0);
            let exit_seq = exit["seq"].as_u64().unwrap();
            assert!(prints.iter().all(|(seq, _)| *seq < exit_seq));
            // The parent's join of this child ends after the child exited.
            let join_end = run
                .of_kind("proc.join")
                .find(|e| e["child"] == pid && e["phase"] == "end")
                .expect("child joined");
            assert_eq!(join_end["pid"], runner);
            assert!(join_end["seq"].as_u64().unwrap() > exit_seq);
            assert!(join_end["t"].as_u64().unwrap() >= exit["t"].as_u64().unwrap());
            assert_eq!(join_end["code"], 0);
        }

        // p1 is joined before p2, and "Done!" is the main process's last print.
        let join_begins: Vec<_> =
            run.of_kind("proc.join").filter(|e| e["phase"] == "begin").map(|e| e["child"].as_i64().unwrap()).collect();
        assert_eq!(join_begins, vec![p1, p2]);
        let prints = run.prints();
        assert_eq!(prints.last().unwrap(), "Done!");
        let done = run.of_kind("print").last().unwrap();
        assert_eq!(done["pid"], runner);

        // Sleeps really happened: each child slept about 4 × 20 ms.
        for pid in [p1, p2] {
            let starts: Vec<_> = run.of_kind("proc.start").filter(|e| e["pid"] == pid).collect();
            let exit = run.of_kind("proc.exit").find(|e| e["pid"] == pid).unwrap();
            let lived_ns = exit["t"].as_u64().unwrap() - starts[0]["t"].as_u64().unwrap();
            assert!(lived_ns >= 80_000_000, "child {pid} lived {lived_ns} ns, less than its sleeps");
        }

        assert_no_process_left(&run);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn process_uses_the_numbers_it_is_given() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("process", json!({"numbers": [-3, 5], "delay_ms": 0})).await;
        run.assert_ok();
        let mut prints = run.prints();
        assert_eq!(prints.pop().unwrap(), "Done!");
        prints.sort();
        assert_eq!(prints, vec!["cube -27", "cube 125", "square 25", "square 9"]);
        assert_no_process_left(&run);
    })
    .await;
}
