//! Stepped runs ("You are the scheduler"): every traced operation of the
//! native demos waits at a gate until a step lets exactly that thread on.
//! The tests play the scheduler through the API and check what real shared
//! memory, a real lock and real processes made of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// A stepped run being driven: its events as they arrive, and its token.
struct Stepping {
    id: String,
    token: String,
    events: Arc<Mutex<Vec<Value>>>,
    /// Per tid, the `seq` of the last `step.pending` stepped: the thread
    /// waits again only at a later one.
    stepped: Mutex<std::collections::HashMap<i64, u64>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Stepping {
    async fn start(app: &TestApp, body: Value) -> Stepping {
        let response = app.post_json("/api/runs", &body).await;
        let status = response.status();
        let created: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let events = Arc::new(Mutex::new(Vec::new()));
        // A viewer for the whole run: a stepped run nobody watches is cancelled.
        let stream = app.client.get(app.url(&format!("/api/runs/{id}/events"))).send().await.unwrap();
        let seen = events.clone();
        let reader = tokio::spawn(async move {
            let mut stream = stream.bytes_stream().eventsource();
            while let Some(Ok(message)) = stream.next().await {
                // `event: queue` says where the run waits in line; events are plain messages.
                if message.event != "message" {
                    continue;
                }
                let event: Value = serde_json::from_str(&message.data).unwrap();
                let end = event["kind"] == "run.end";
                seen.lock().unwrap().push(event);
                if end {
                    return;
                }
            }
        });
        Stepping { id, token: created["cancel_token"].as_str().unwrap().to_owned(), events, stepped: Mutex::default(), reader }
    }

    fn snapshot(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// The pid of the process the program calls `name`.
    fn pid_of(events: &[Value], name: &str) -> Option<i64> {
        events.iter().find(|e| e["kind"] == "proc.start" && e["name"] == name).and_then(|e| e["pid"].as_i64())
    }

    /// Waits until process `name`'s main thread waits at its gate, and
    /// returns its tid and what it is about to do. A thread waits when its
    /// last event is a `step.pending` not yet stepped.
    async fn pending(&self, name: &str) -> (i64, String) {
        self.pending_at(name).await.0
    }

    async fn pending_at(&self, name: &str) -> ((i64, String), u64) {
        for _ in 0..500 {
            let events = self.snapshot();
            if let Some(pid) = Stepping::pid_of(&events, name) {
                let last = events.iter().rev().find(|e| e["tid"] == pid);
                let stepped = self.stepped.lock().unwrap().get(&pid).copied().unwrap_or(0);
                if let Some(e) = last.filter(|e| e["kind"] == "step.pending" && e["seq"].as_u64().unwrap() > stepped) {
                    return ((pid, e["op"].as_str().unwrap().to_owned()), e["seq"].as_u64().unwrap());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{name} never came to a gate; events: {:#?}", self.snapshot());
    }

    async fn step(&self, app: &TestApp, body: Value) -> (u16, Value) {
        let response = app.client.post(app.url(&format!("/api/runs/{}/step", self.id))).bearer_auth(&self.token).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Steps process `name` once, checking it was about to do `op`.
    async fn step_lane(&self, app: &TestApp, name: &str, op: &str) {
        let ((tid, pending), seq) = self.pending_at(name).await;
        assert_eq!(pending, op, "what {name} was about to do");
        let (status, answer) = self.step(app, json!({ "tid": tid })).await;
        assert_eq!(status, 200, "{answer}");
        self.stepped.lock().unwrap().insert(tid, seq);
        assert_eq!((answer["lane"].as_str(), answer["op"].as_str()), (Some(name), Some(op)));
    }

    async fn finish(self) -> FinishedRun {
        self.reader.await.unwrap();
        FinishedRun { id: self.id, events: self.events.lock().unwrap().clone() }
    }
}

/// utime + stime of a process, in clock ticks (proc(5)).
fn cpu_ticks(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of the line, counted from the state (field 3).
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn lost_update_run(schedule: Option<Value>) -> Value {
    let mut body = json!({ "demo": "lock", "params": { "use_lock": false, "iterations": 1 }, "mode": "step" });
    if let Some(schedule) = schedule {
        body["schedule"] = schedule;
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn the_student_makes_the_lost_update_happen_and_the_schedule_plays_it_again() {
    bounded(async {
        let app = spawn_app().await;
        let run = Stepping::start(&app, lost_update_run(None)).await;
        // The lesson's race by hand: read in d, read in w, write in d, write in w.
        run.step_lane(&app, "MainProcess", "start d").await;
        run.step_lane(&app, "MainProcess", "start w").await;
        run.step_lane(&app, "d", "read balance").await;
        run.step_lane(&app, "w", "read balance").await;
        run.step_lane(&app, "d", "write balance 201").await;
        // w read 200 before d wrote: it writes 199 over d's 201.
        run.step_lane(&app, "w", "write balance 199").await;
        run.step_lane(&app, "MainProcess", "join d").await;
        run.step_lane(&app, "MainProcess", "join w").await;
        run.step_lane(&app, "MainProcess", "print \"199\"").await;
        let finished = run.finish().await;
        finished.assert_ok();
        let data = &finished.result()["data"];
        assert_eq!((data["balance"].as_i64(), data["lost_deposits"].as_i64(), data["lost_withdrawals"].as_i64()), (Some(199), Some(1), Some(0)), "{data}");
        assert_eq!(finished.prints(), ["199"]);
        // The values really read and written, in the order stepped.
        let values: Vec<(i64, String, i64)> = finished
            .of_kind("value")
            .map(|e| (e["pid"].as_i64().unwrap(), e["op"].as_str().unwrap().to_owned(), e["value"].as_i64().unwrap()))
            .collect();
        let (d, w) = (Stepping::pid_of(&finished.events, "d").unwrap(), Stepping::pid_of(&finished.events, "w").unwrap());
        assert_eq!(values, [(d, "read".into(), 200), (w, "read".into(), 200), (d, "write".into(), 201), (w, "write".into(), 199)]);
        let schedule = finished.of_kind("step.schedule").next().expect("the steps are recorded").clone();
        let steps = json!(["MainProcess", "MainProcess", "d", "w", "d", "w", "MainProcess", "MainProcess", "MainProcess"]);
        assert_eq!((&schedule["steps"], &schedule["free"]), (&steps, &json!(false)));
        assert_no_process_left(&finished);

        // Played again as a schedule: the same interleaving, the same loss,
        // with no step from us (the last steps let it run to its end).
        let again = Stepping::start(&app, lost_update_run(Some(json!({ "steps": steps, "free": true })))).await;
        let replayed = again.finish().await;
        replayed.assert_ok();
        assert_eq!(replayed.result()["data"]["balance"], 199);
        assert_eq!(replayed.of_kind("step.schedule").next().unwrap()["steps"], steps);
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_lock_a_lane_cannot_be_stepped_past_an_acquire_another_holds() {
    bounded(async {
        let app = spawn_app().await;
        let run = Stepping::start(&app, json!({ "demo": "lock", "params": { "iterations": 1 }, "mode": "step" })).await;
        run.step_lane(&app, "MainProcess", "start d").await;
        run.step_lane(&app, "MainProcess", "start w").await;
        run.step_lane(&app, "d", "acquire lock").await;
        let (d_tid, _) = run.pending("d").await;
        // w goes for the lock d holds and really blocks on it.
        run.step_lane(&app, "w", "acquire lock").await;
        let w = Stepping::pid_of(&run.snapshot(), "w").unwrap();
        for _ in 0..200 {
            if run.snapshot().iter().any(|e| e["kind"] == "lock" && e["phase"] == "wait" && e["pid"] == w) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (status, refused) = run.step(&app, json!({ "tid": w })).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("blocked")), "{refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("w is waiting for lock, which d holds"), "{message}");
        // Nothing moved: w is still waiting, d still at its gate with the lock.
        assert!(!run.snapshot().iter().any(|e| e["kind"] == "lock" && e["phase"] == "acquire" && e["pid"] == w));
        assert_eq!(run.pending("d").await, (d_tid, "read balance".to_owned()));
        // d's update under the lock, then its release hands the lock to w.
        run.step_lane(&app, "d", "read balance").await;
        run.step_lane(&app, "d", "write balance 201").await;
        run.step_lane(&app, "d", "release lock").await;
        run.step_lane(&app, "w", "read balance").await;
        let (status, free) = run.step(&app, json!({ "free": true })).await;
        assert_eq!((status, free["free"].as_bool()), (200, Some(true)), "{free}");
        let finished = run.finish().await;
        finished.assert_ok();
        assert_eq!(finished.result()["data"]["balance"], 200, "with the lock nothing is lost");
        let w_acquired = finished.events.iter().position(|e| e["kind"] == "lock" && e["phase"] == "acquire" && e["pid"] == w).unwrap();
        let d_released = finished.events.iter().position(|e| e["kind"] == "lock" && e["phase"] == "release" && e["pid"] != w).unwrap();
        assert!(d_released < w_acquired, "w took the lock only after d released it");
        assert_eq!(finished.of_kind("step.schedule").next().unwrap()["free"], true);
        assert_no_process_left(&finished);
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stepped_run_cancelled_midway_leaves_no_process() {
    bounded(async {
        let app = spawn_app().await;
        let run = Stepping::start(&app, lost_update_run(None)).await;
        run.step_lane(&app, "MainProcess", "start d").await;
        run.step_lane(&app, "MainProcess", "start w").await;
        run.step_lane(&app, "d", "read balance").await;
        let _ = run.pending("w").await;
        let mut pids: Vec<i64> = run.snapshot().iter().filter_map(|e| e["pid"].as_i64()).collect();
        pids.sort_unstable();
        pids.dedup();
        assert!(pids.iter().all(|&p| pid_exists(p)), "the run's processes wait at their gates, alive");
        // Waiting for a click costs no CPU: in a second, the three processes
        // together gain (almost) no clock ticks of CPU time.
        let before: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        assert!(after - before <= 2, "the waiting processes used {} ticks in a second", after - before);
        let response = app.client.delete(app.url(&format!("/api/runs/{}", run.id))).bearer_auth(&run.token).send().await.unwrap();
        assert_eq!(response.status(), 202);
        let token = run.token.clone();
        let id = run.id.clone();
        let finished = run.finish().await;
        assert_eq!(finished.end()["outcome"], "cancelled");
        assert_eq!(finished.of_kind("step.schedule").next().unwrap()["steps"], json!(["MainProcess", "MainProcess", "d"]));
        assert_no_process_left(&finished);
        // A finished run takes no more steps.
        let response = app.client.post(app.url(&format!("/api/runs/{id}/step"))).bearer_auth(token).json(&json!({ "tid": 1 })).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (409, Some("run_finished")), "{body}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stepped_run_nobody_steps_times_out_and_leaves_no_process() {
    bounded(async {
        let app = spawn_app_with(|c| c.step_idle_timeout = Duration::from_millis(600)).await;
        let run = Stepping::start(&app, lost_update_run(None)).await;
        run.step_lane(&app, "MainProcess", "start d").await;
        let started = std::time::Instant::now();
        let finished = run.finish().await;
        let end = finished.end();
        assert_eq!(end["outcome"], "timeout", "{end}");
        assert!(end["reason"].as_str().unwrap().contains("nobody stepped the run for 0.6 s"), "{end}");
        assert!(started.elapsed() >= Duration::from_millis(500), "not before the idle limit");
        assert_no_process_left(&finished);
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn stepping_refuses_what_it_cannot_do_and_changes_nothing() {
    bounded(async {
        let app = spawn_app().await;
        let refused = |body: Value, field: &'static str| {
            let app = &app;
            async move {
                let response = app.post_json("/api/runs", &body).await;
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap();
                assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{body} → {answer}");
                answer["error"]["message"].as_str().unwrap().to_owned()
            }
        };
        assert!(refused(json!({ "demo": "lock", "mode": "fast" }), "mode").await.contains("run or step"));
        assert!(refused(json!({ "demo": "gil", "mode": "step" }), "mode").await.contains("gil cannot be stepped"));
        refused(json!({ "demo": "lock", "schedule": { "steps": ["d"] } }), "schedule").await;
        refused(json!({ "demo": "lock", "mode": "step", "schedule": { "steps": [""] } }), "schedule").await;
        let long: Vec<&str> = vec!["d"; 10_001];
        refused(json!({ "demo": "lock", "mode": "step", "schedule": { "steps": long } }), "schedule").await;

        // A run at full speed has no gates.
        let plain = app.post_json("/api/runs", &json!({ "demo": "fork" })).await.json::<Value>().await.unwrap();
        let url = app.url(&format!("/api/runs/{}/step", plain["id"].as_str().unwrap()));
        let response = app.client.post(&url).bearer_auth(plain["cancel_token"].as_str().unwrap()).json(&json!({ "tid": 1 })).send().await.unwrap();
        assert_eq!(response.status(), 409);
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "not_stepped");

        let run = Stepping::start(&app, lost_update_run(None)).await;
        let (main, _) = run.pending("MainProcess").await;
        let url = app.url(&format!("/api/runs/{}/step", run.id));
        // Without the token, or with another's: forbidden, and nothing moves.
        let response = app.client.post(&url).json(&json!({ "tid": main })).send().await.unwrap();
        assert_eq!(response.status(), 403);
        let response = app.client.post(&url).bearer_auth(plain["cancel_token"].as_str().unwrap()).json(&json!({ "tid": main })).send().await.unwrap();
        assert_eq!(response.status(), 403);
        for (body, status, code) in [
            (json!({ "tid": main, "free": true }), 422, "invalid_parameter"),
            (json!({}), 422, "invalid_parameter"),
            (json!({ "tid": "one" }), 422, "invalid_body"),
            (json!({ "tid": main, "speed": 2 }), 422, "invalid_body"),
            (json!({ "tid": 999_999 }), 404, "no_such_thread"),
        ] {
            let (got, answer) = run.step(&app, body.clone()).await;
            assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body} → {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!run.snapshot().iter().any(|e| e["kind"] == "proc.spawn"), "no refused step let the main process on");
        assert_eq!(run.pending("MainProcess").await, (main, "start d".to_owned()));
        run.step_lane(&app, "MainProcess", "start d").await;
        let (status, answer) = run.step(&app, json!({ "tid": main })).await;
        // d is forked; main runs on to its next gate, which may not be there yet.
        if status != 200 {
            assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("not_waiting")), "{answer}");
        }
        let (status, _) = run.step(&app, json!({ "free": true })).await;
        assert_eq!(status, 200);
        let (status, answer) = run.step(&app, json!({ "free": true })).await;
        assert!(status == 200 || answer["error"]["code"] == "run_finished", "{answer}");
        let finished = run.finish().await;
        finished.assert_ok();
        assert_no_process_left(&finished);
    })
    .await
}

/// Steps whichever thread waits (the lowest tid first) until the run ends.
async fn step_to_the_end(app: &TestApp, run: Stepping) -> (FinishedRun, usize) {
    let mut steps = 0;
    loop {
        let events = run.snapshot();
        if events.last().is_some_and(|e| e["kind"] == "run.end") {
            break;
        }
        let mut last_of: std::collections::BTreeMap<i64, &Value> = std::collections::BTreeMap::new();
        for e in &events {
            if let Some(tid) = e["tid"].as_i64() {
                last_of.insert(tid, e);
            }
        }
        let stepped = run.stepped.lock().unwrap().clone();
        let waiting = last_of.iter().find(|(tid, e)| e["kind"] == "step.pending" && e["seq"].as_u64() > stepped.get(tid).copied());
        if let Some((&tid, e)) = waiting {
            let seq = e["seq"].as_u64().unwrap();
            let (status, answer) = run.step(app, json!({ "tid": tid })).await;
            assert!(status == 200 || answer["error"]["code"] == "busy", "{answer}");
            if status == 200 {
                run.stepped.lock().unwrap().insert(tid, seq);
                steps += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (run.finish().await, steps)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_steppable_demo_steps_through_to_its_lessons_output() {
    bounded(async {
        let app = spawn_app().await;
        for (demo, params, prints) in [
            ("fork", json!({}), vec!["hello parent", "hello child"]),
            ("process", json!({ "delay_ms": 1 }), vec![]),
            ("queue", json!({}), vec![]),
            ("pipe", json!({}), vec![]),
            ("threads", json!({ "sleep_ms": 1 }), vec![]),
            ("lock", json!({ "iterations": 2 }), vec!["200"]),
        ] {
            let run = Stepping::start(&app, json!({ "demo": demo, "params": params, "mode": "step" })).await;
            let (finished, steps) = step_to_the_end(&app, run).await;
            finished.assert_ok();
            let pendings = finished.of_kind("step.pending").count();
            assert_eq!(pendings, steps, "{demo}: every operation waited for its step, and each step let one through");
            let schedule = finished.of_kind("step.schedule").next().unwrap();
            assert_eq!(schedule["steps"].as_array().unwrap().len(), steps, "{demo}");
            if !prints.is_empty() {
                assert_eq!(finished.prints(), prints, "{demo}: stepped lowest tid first");
            }
            assert!(steps >= 3, "{demo}: only {steps} steps");
            assert_no_process_left(&finished);
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn on_real_cpython_the_student_makes_the_lost_update_and_python_prints_it() {
    bounded(async {
        let app = spawn_app().await;
        if app.runs.config().pythons.is_empty() {
            eprintln!("skipped: no python3 on this machine, so no CPython engine");
            return;
        }
        let body = json!({ "demo": "lock", "engine": "cpython", "params": { "use_lock": false, "iterations": 1 }, "mode": "step" });
        let run = Stepping::start(&app, body).await;
        // The lesson's own program under CPython: its processes are Process-1 and Process-2.
        run.step_lane(&app, "MainProcess", "start Process-1").await;
        run.step_lane(&app, "MainProcess", "start Process-2").await;
        run.step_lane(&app, "Process-1", "read balance").await;
        run.step_lane(&app, "Process-2", "read balance").await;
        run.step_lane(&app, "Process-1", "write balance 201").await;
        run.step_lane(&app, "Process-2", "write balance 199").await;
        let (status, _) = run.step(&app, json!({ "free": true })).await;
        assert_eq!(status, 200);
        let finished = run.finish().await;
        finished.assert_ok();
        assert_eq!(finished.prints(), ["199"], "Python itself printed the lost update");
        let pending: Vec<_> = finished.of_kind("step.pending").filter(|e| e["op"] == "write balance 201").collect();
        assert_eq!(pending[0]["line"], 11, "the program's line of balance.value = balance.value + 1");
        let values: Vec<String> = finished.of_kind("value").take(4).map(|e| format!("{} {}", e["op"].as_str().unwrap(), e["value"])).collect();
        assert_eq!(values, ["read 200", "read 200", "write 201", "write 199"]);
        assert_no_process_left(&finished);
    })
    .await
}

const OPPOSITE_ORDERS: &str = "import multiprocessing as mp\n\ndef a(l1, l2):\n    with l1:\n        with l2:\n            pass\n\ndef b(l1, l2):\n    with l2:\n        with l1:\n            pass\n\nif __name__ == '__main__':\n    l1 = mp.Lock()\n    l2 = mp.Lock()\n    p = mp.Process(target=a, args=(l1, l2))\n    q = mp.Process(target=b, args=(l1, l2))\n    p.start()\n    q.start()\n    p.join()\n    q.join()\n";

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_program_stepped_into_a_deadlock_is_recognised_as_a_cycle() {
    bounded(async {
        let app = spawn_app().await;
        let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        if health["editing"]["enabled"] != true {
            eprintln!("skipped: editing is off here ({})", health["editing"]);
            return;
        }
        let run = Stepping::start(&app, json!({ "demo": "lock", "engine": "cpython", "source": OPPOSITE_ORDERS, "mode": "step" })).await;
        run.step_lane(&app, "MainProcess", "start Process-1").await;
        run.step_lane(&app, "MainProcess", "start Process-2").await;
        run.step_lane(&app, "Process-1", "acquire l1").await;
        run.step_lane(&app, "Process-2", "acquire l2").await;
        run.step_lane(&app, "Process-1", "acquire l2").await;
        run.step_lane(&app, "Process-2", "acquire l1").await;
        let p1 = Stepping::pid_of(&run.snapshot(), "Process-1").unwrap();
        let (status, refused) = run.step(&app, json!({ "tid": p1 })).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("deadlock")), "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().starts_with("Process-1 → Process-2 → Process-1 wait for each other's locks"), "{refused}");
        // Each really waits in the kernel for the lock the other holds.
        let waits: Vec<(i64, String)> = run.snapshot().iter().filter(|e| e["kind"] == "lock" && e["phase"] == "wait").map(|e| (e["pid"].as_i64().unwrap(), e["lock"].as_str().unwrap().to_owned())).collect();
        let p2 = Stepping::pid_of(&run.snapshot(), "Process-2").unwrap();
        assert!(waits.contains(&(p1, "l2".into())) && waits.contains(&(p2, "l1".into())), "{waits:?}");
        let response = app.client.delete(app.url(&format!("/api/runs/{}", run.id))).bearer_auth(&run.token).send().await.unwrap();
        assert_eq!(response.status(), 202);
        let finished = run.finish().await;
        assert_eq!(finished.end()["outcome"], "cancelled");
    })
    .await
}
