//! Edited programs in the sandbox: what they may do, what is refused, and
//! that nothing they start outlives their run. Every hostile program here is
//! bounded by the sandbox's own limits and a short run timeout, so a broken
//! sandbox fails the test rather than hurting the machine: no `kill(-1)`,
//! forks and threads bounded by the run's process limit, allocations by its
//! address space, everything by the wall clock.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A server whose runs end within a few seconds.
async fn sandboxed_app() -> TestApp {
    let app = spawn_app_with(|c| {
        c.run_timeout = Duration::from_secs(6);
        c.max_events = 50_000;
    })
    .await;
    assert_eq!(app.health().await["editing"]["enabled"], true, "the sandbox works on this machine");
    app
}

impl TestApp {
    async fn health(&self) -> Value {
        let response = self.client.get(self.url("/healthz")).send().await.expect("healthz answers");
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Posts an edited program; the raw response.
    async fn post_source(&self, demo: &str, source: &str) -> reqwest::Response {
        self.post_json("/api/runs", &json!({ "demo": demo, "engine": "cpython", "source": source })).await
    }

    /// Runs an edited program to its end while asking `/healthz` every
    /// 100 ms (it must answer throughout), and checks that no process of the
    /// run's own user is left.
    async fn run_edited(&self, source: &str) -> Edited {
        let response = self.post_source("scratch", source).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let watching = async {
            loop {
                self.health().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let events = tokio::select! {
            events = self.events(&id) => events,
            _ = watching => unreachable!(),
        };
        let summary = self.status(&id).await;
        let uid = forkline::sandbox::run_uid(summary["runner_pid"].as_u64().expect("the run had a runner") as u32);
        let left = wait_for_user_gone(uid, Duration::from_secs(5)).await;
        assert!(left.is_empty(), "processes of the run's user {uid} outlived the run: {left:?}");
        Edited { run: FinishedRun { id, events }, uid }
    }
}

struct Edited {
    run: FinishedRun,
    uid: u32,
}

impl Edited {
    fn outcome(&self) -> &str {
        self.run.end()["outcome"].as_str().unwrap_or("")
    }

    fn exceptions(&self) -> Vec<String> {
        self.run.of_kind("exception").map(|e| format!("{}: {}", e["type"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or(""))).collect()
    }
}

/// Processes whose real uid is `uid`, from the host's /proc.
fn processes_of_user(uid: u32) -> Vec<i64> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some(&uid.to_string())))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits for every process of `uid` to be gone, zombies included. Servers
/// started in this test binary make it a child subreaper, so what a killed
/// server leaves may come to us: it is reaped here, as init would.
async fn wait_for_user_gone(uid: u32, limit: Duration) -> Vec<i64> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        for pid in processes_of_user(uid) {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
        let left = processes_of_user(uid);
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_lesson_program_runs_in_the_sandbox_as_its_own_user() {
    bounded(async {
        let app = sandboxed_app().await;
        let source = include_str!("../../python/programs/process.py").replace("[2, 3, 8, 9]", "[7, 8]");
        assert!(source.contains("[7, 8]"), "the lesson's numbers were edited");
        let response = app.post_source("process", &source).await;
        let body: Value = response.json().await.unwrap();
        let id = body["id"].as_str().expect("a run").to_owned();
        assert_eq!(body["source"], source.as_str(), "the summary holds the edited program");
        let run = FinishedRun { id: id.clone(), events: app.events(&id).await };
        run.assert_ok();
        let prints = run.prints();
        assert!(prints.iter().any(|p| p.contains("49")) && prints.iter().any(|p| p.contains("64")), "squares of 7 and 8: {prints:?}");
        assert!(!prints.iter().any(|p| p == "square 4"), "not the lesson's 2, 3, 8, 9: {prints:?}");
        let main = run.of_kind("proc.start").next().expect("MainProcess started");
        assert_eq!((main["name"].as_str(), main["pid"].as_i64()), (Some("MainProcess"), Some(2)), "pid 2 under the sandbox's own pid 1");
        let note = run.of_kind("note").next().expect("the sandbox is named")["text"].as_str().unwrap().to_owned();
        assert!(note.contains("sandbox") && note.contains("PID namespace"), "{note}");
        assert_eq!(app.status(&id).await["source"], source.as_str(), "the status keeps the program for its permalink");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_syntax_error_is_reported_on_its_line_before_anything_runs() {
    bounded(async {
        let app = sandboxed_app().await;
        let edited = app.run_edited("print('first')\nx = (1,\nprint('never')\n").await;
        let error = edited.run.of_kind("exception").next().expect("the SyntaxError");
        assert_eq!(error["type"], "SyntaxError");
        assert!(error["line"].as_i64().is_some_and(|l| (2..=3).contains(&l)), "{error}");
        assert!(!edited.run.prints().iter().any(|p| p == "first"), "nothing of the program ran: {:?}", edited.run.prints());
        assert!(edited.run.result()["text"].as_str().unwrap().contains("exited with code 1"), "{}", edited.run.result());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_bomb_is_held_to_the_runs_process_limit_and_ends_with_the_run() {
    bounded(async {
        let app = sandboxed_app().await;
        let limit = app.health().await["editing"]["limits"]["processes_and_threads"].as_u64().unwrap();
        let program = "import os, time\n\
            refused = 0\n\
            while True:\n    try:\n        os.fork()\n    except OSError:\n        refused += 1\n        time.sleep(0.001)\n";
        let counting = async {
            let mut most = 0;
            loop {
                // Every sandboxed run has a uid of its own at or above the
                // base: none may hold more tasks than the limit.
                most = most.max(most_tasks_of_one_sandbox());
                tokio::time::sleep(Duration::from_millis(50)).await;
                if most > 0 && app.runs.active() == 0 {
                    return most;
                }
            }
        };
        let (edited, most) = tokio::join!(app.run_edited(program), counting);
        // Its forks end it at the run's time, or sooner at its event budget.
        assert!(matches!(edited.outcome(), "timeout" | "failed"), "{}", edited.run.end());
        assert!(most as u64 <= limit + 1, "at most {limit} tasks of the run at once, saw {most}");
        println!("fork bomb: at most {most} processes at once (limit {limit}); uid {}", edited.uid);
    })
    .await;
}

/// The most tasks (processes and their threads) any one sandboxed run has
/// right now, host-wide.
fn most_tasks_of_one_sandbox() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let mut per_uid = std::collections::HashMap::<u32, usize>::new();
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok()) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok());
        if let (Some(uid), Some(threads)) = (field("Uid:"), field("Threads:")) {
            if uid >= forkline::sandbox::RUN_UID_BASE {
                *per_uid.entry(uid).or_default() += threads as usize;
            }
        }
    }
    per_uid.into_values().max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_gets_a_memory_error() {
    bounded(async {
        let app = sandboxed_app().await;
        let edited = app.run_edited("hog = []\nwhile True:\n    hog.append(bytearray(64 << 20))\n").await;
        assert_eq!(edited.outcome(), "ok", "{}", edited.run.end());
        assert!(edited.exceptions().iter().any(|e| e.starts_with("MemoryError")), "{:?}", edited.exceptions());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_threads_stop_at_the_runs_limit() {
    bounded(async {
        let app = sandboxed_app().await;
        let program = "import threading\n\
            stop = threading.Event()\n\
            started = 0\n\
            try:\n    for _ in range(10_000):\n        threading.Thread(target=stop.wait).start()\n        started += 1\n\
            except RuntimeError as e:\n    print('refused after', started, 'threads:', e)\n\
            stop.set()\n";
        let edited = app.run_edited(program).await;
        edited.run.assert_ok();
        let line = edited.run.prints().into_iter().find(|p| p.starts_with("refused after")).expect("the limit was reached");
        let started: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(started < 64, "{line}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_and_an_infinite_print_are_stopped() {
    bounded(async {
        let app = sandboxed_app().await;
        let spinning = app.run_edited("while True:\n    pass\n").await;
        assert_eq!(spinning.outcome(), "timeout", "{}", spinning.run.end());
        let printing = app.run_edited("while True:\n    print('spam ' * 20)\n").await;
        assert_eq!(printing.outcome(), "failed", "{}", printing.run.end());
        assert!(printing.run.end()["reason"].as_str().unwrap().contains("events"), "{}", printing.run.end());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filling_tmp_stops_at_its_size() {
    bounded(async {
        let app = sandboxed_app().await;
        let program = "import os\n\
            written = 0\n\
            try:\n    for i in range(1000):\n        with open(f'/tmp/fill{i}', 'wb') as f:\n            f.write(b'x' * (4 << 20))\n            written += 4\n\
            except OSError as e:\n    print('stopped after', written, 'MiB:', e.errno)\n";
        let edited = app.run_edited(program).await;
        edited.run.assert_ok();
        let line = edited.run.prints().into_iter().find(|p| p.starts_with("stopped after")).expect("the tmpfs filled up");
        assert!(line.ends_with(&libc::ENOSPC.to_string()), "{line}");
        let mib: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(mib <= 16, "{line}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_socket_reaches_anything_outside() {
    bounded(async {
        let app = sandboxed_app().await;
        let port = app.addr.port();
        let program = format!(
            "import socket\n\
            def attempt(what, f):\n    try:\n        f()\n        print(what, 'REACHED')\n    except OSError as e:\n        print(what, 'refused', type(e).__name__)\n\
            attempt('tcp server', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))\n\
            attempt('tcp outside', lambda: socket.create_connection(('1.1.1.1', 80), timeout=2))\n\
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
            attempt('udp outside', lambda: u.sendto(b'x', ('8.8.8.8', 53)))\n\
            attempt('unix abstract', lambda: socket.socket(socket.AF_UNIX).connect('\\0/tmp/.X11-unix/X0'))\n\
            attempt('unix path', lambda: socket.socket(socket.AF_UNIX).connect('/run/systemd/private'))\n"
        );
        let edited = app.run_edited(&program).await;
        edited.run.assert_ok();
        let prints = edited.run.prints();
        assert_eq!(prints.len(), 5, "{prints:?}");
        assert!(prints.iter().all(|p| p.contains("refused")), "{prints:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_files_are_out_of_sight_and_nothing_outside_tmp_is_writable() {
    bounded(async {
        let store = std::env::temp_dir().join(format!("forkline-sandbox-store-{}.sqlite3", std::process::id()));
        std::fs::write(&store, b"secret store").unwrap();
        let app = sandboxed_app().await;
        let project = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let server = std::process::id();
        let program = format!(
            "def attempt(what, f):\n    try:\n        f()\n        print(what, 'REACHED')\n    except OSError as e:\n        print(what, 'refused', type(e).__name__)\n\
            for path in ['/etc/shadow', '/etc/passwd', '/root/.bashrc', {project:?}, {store:?}, '/proc/{server}/environ', '/sys/kernel/notes']:\n    attempt('read ' + path, lambda: open(path, 'rb').read())\n\
            for path in ['/usr/evil', '/forkline/evil.py', '/evil', '/etc/evil', '/dev/evil']:\n    attempt('write ' + path, lambda: open(path, 'w').write('x'))\n\
            open('/tmp/mine', 'w').write('mine')\n\
            print('tmp', open('/tmp/mine').read())\n"
        );
        let edited = app.run_edited(&program).await;
        edited.run.assert_ok();
        let prints = edited.run.prints();
        assert_eq!(prints.len(), 13, "{prints:?}");
        assert!(prints[..12].iter().all(|p| p.contains("refused")), "{prints:?}");
        assert_eq!(prints[12], "tmp mine");
        let _ = std::fs::remove_file(store);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_to_host_pids_reach_nothing() {
    bounded(async {
        let app = sandboxed_app().await;
        let server = std::process::id();
        // Host pids by number (never -1: a broken sandbox must not take the machine with it).
        let parent = std::os::unix::process::parent_id();
        let program = format!(
            "import os, signal\n\
            for pid in [{server}, {parent}, {server} + 1]:\n    try:\n        os.kill(pid, signal.SIGTERM)\n        print(pid, 'SIGNALLED')\n    except OSError as e:\n        print(pid, 'refused', type(e).__name__)\n"
        );
        let edited = app.run_edited(&program).await;
        edited.run.assert_ok();
        let prints = edited.run.prints();
        assert_eq!(prints.len(), 3, "{prints:?}");
        assert!(prints.iter().all(|p| p.contains("refused ProcessLookupError")), "{prints:?}");
        assert_eq!(app.health().await["ok"], true, "the server is still here");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn privileged_and_refused_system_calls_fail() {
    bounded(async {
        let app = sandboxed_app().await;
        // Each call made through ctypes, straight to the kernel; the answer is its errno.
        let program = "import ctypes, os\n\
            libc = ctypes.CDLL(None, use_errno=True)\n\
            def call(what, *args):\n    r = libc.syscall(*[ctypes.c_long(a) for a in args])\n    print(what, 'ok' if r >= 0 else 'errno %d' % ctypes.get_errno())\n\
            call('ptrace', 101, 0, 0, 0)\n\
            call('mount', 165, 0, 0, 0, 0)\n\
            call('unshare', 272, 0x10000000)\n\
            call('bpf', 321, 0, 0, 0)\n\
            call('io_uring_setup', 425, 1, 0)\n\
            call('userfaultfd', 323, 0)\n\
            call('perf_event_open', 298, 0, 0, -1, -1, 0)\n\
            call('keyctl', 250, 0, 0)\n\
            call('x32 getpid', 0x40000000 + 39)\n\
            try:\n    os.setuid(0)\n    print('setuid ok')\n\
            except OSError as e:\n    print('setuid errno %d' % e.errno)\n";
        let edited = app.run_edited(program).await;
        edited.run.assert_ok();
        let prints = edited.run.prints();
        assert_eq!(prints.len(), 10, "{prints:?}");
        for line in &prints[..9] {
            assert!(line.ends_with(&format!("errno {}", libc::EPERM)), "refused with EPERM: {line} (all: {prints:?})");
        }
        // Root is not even a user of the sandbox's namespace.
        assert_eq!(prints[9], format!("setuid errno {}", libc::EINVAL));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orphaned_child_and_running_threads_end_with_the_program() {
    bounded(async {
        let app = sandboxed_app().await;
        let orphan = "import os, time\n\
            if os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n\
            print('parent leaves its child behind')\n";
        let started = std::time::Instant::now();
        let edited = app.run_edited(orphan).await;
        edited.run.assert_ok();
        assert!(started.elapsed() < Duration::from_secs(5), "the run ended with its program, not its orphan");
        let threads = "import threading, time, os\n\
            for _ in range(4):\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
            print('leaving with threads running')\n";
        let edited = app.run_edited(threads).await;
        edited.run.assert_ok();
        assert_eq!(edited.run.prints(), ["leaving with threads running"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_programs_are_refused_before_anything_runs() {
    bounded(async {
        let app = sandboxed_app().await;
        let refuse = |status: u16, code: &'static str| move |response: (u16, Value)| {
            assert_eq!((response.0, response.1["error"]["code"].as_str()), (status, Some(code)), "{}", response.1);
        };
        let post = |body: Value| {
            let app = &app;
            async move {
                let response = app.post_json("/api/runs", &body).await;
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let big = "#".repeat(1 << 20);
        let big_status = post(json!({"demo": "scratch", "engine": "cpython", "source": big})).await;
        assert_eq!(big_status.0, 413, "{}", big_status.1);
        refuse(413, "source_too_large")(post(json!({"demo": "scratch", "engine": "cpython", "source": "x = 1\n".repeat(12_000)})).await);
        refuse(422, "invalid_source")(post(json!({"demo": "scratch", "engine": "cpython", "source": "print(1)\n\u{0}\n"})).await);
        refuse(422, "invalid_source")(post(json!({"demo": "lock", "engine": "cpython", "source": "import forkline_trace.emit\n"})).await);
        refuse(422, "invalid_parameter")(post(json!({"demo": "lock", "engine": "native", "source": "print(1)\n"})).await);
        refuse(422, "invalid_parameter")(post(json!({"demo": "lock", "engine": "cpython", "source": "print(1)\n", "params": {"workers": 2}})).await);
        refuse(422, "invalid_parameter")(post(json!({"demo": "scratch", "engine": "cpython"})).await);
        // Invalid UTF-8 cannot be a JSON string: the body is refused whole.
        let mut raw = br#"{"demo": "scratch", "engine": "cpython", "source": "print('"#.to_vec();
        raw.extend_from_slice(&[0xff, 0xfe]);
        raw.extend_from_slice(br#"')"}"#);
        let response = app.client.post(app.url("/api/runs")).header("content-type", "application/json").body(raw).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert!((400..500).contains(&status) && body["error"]["code"].is_string(), "{status} {body}");
        assert_eq!(app.runs.active() + app.runs.waiting(), 0, "nothing was started");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_editing_off_the_page_is_told_why_and_edits_are_refused() {
    bounded(async {
        let app = spawn_app_with(|c| c.editing = forkline::sandbox::Editing::Off("editing is turned off on this server (--edit off)".into())).await;
        let response = app.post_source("process", "print('hi')\n").await;
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "editing_off");
        let demos: Value = app.client.get(app.url("/api/demos")).send().await.unwrap().json().await.unwrap();
        let process = demos.as_array().unwrap().iter().find(|d| d["name"] == "process").unwrap();
        assert_eq!(process["cpython"]["editing"]["enabled"], false);
        assert!(process["cpython"]["editing"]["reason"].as_str().unwrap().contains("--edit off"));
        // The lesson's own program still runs under CPython.
        let response = app.post_json("/api/runs", &json!({"demo": "process", "engine": "cpython"})).await;
        assert_eq!(response.status(), 201);
        let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        FinishedRun { events: app.events(&id).await, id }.assert_ok();
        let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["editing"]["enabled"], false);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_dies_with_a_server_killed_outright() {
    bounded(async {
        let server = ServerProcess::start(&[]);
        let client = reqwest::Client::new();
        let program = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('waiting', flush=True)\ntime.sleep(60)\n";
        let response = client
            .post(format!("{}/api/runs", server.base))
            .json(&json!({"demo": "scratch", "engine": "cpython", "source": program}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        let status_url = format!("{}{}", server.base, created["status_url"].as_str().unwrap());
        let mut uid = None;
        for _ in 0..200 {
            let status: Value = client.get(&status_url).send().await.unwrap().json().await.unwrap();
            if let Some(runner) = status["runner_pid"].as_u64() {
                let candidate = forkline::sandbox::run_uid(runner as u32);
                // Bubblewrap, its pid 1, the program and its child.
                if processes_of_user(candidate).len() >= 4 {
                    uid = Some(candidate);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let uid = uid.expect("the sandbox started");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid()), nix::sys::signal::Signal::SIGKILL).unwrap();
        let left = wait_for_user_gone(uid, Duration::from_secs(5)).await;
        assert!(left.is_empty(), "the sandbox of user {uid} outlived its server: {left:?}");
        drop(server);
    })
    .await;
}
