//! The sandbox's price: the interpreter started inside bubblewrap (its own
//! user, limits, namespaces and seccomp filters, as an edited run starts it)
//! against the same interpreter started bare, and an edited program's run
//! start against the same lesson program unedited, on the same interpreter.

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;

use super::client;
use super::server::Server;
use super::{Options, Row};
use forkline_runner::sandbox::{Editing, SandboxSpec};

const CASE: &str = "sandbox";

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let Editing::On(spec, python) = forkline::config::default_editing() else {
        let why = forkline::config::default_editing().reason_off().unwrap_or_default().to_owned();
        return vec![Row::skipped(CASE, "every row", &format!("editing is off here: {why}"))];
    };
    let count = options.pick(5, 40);
    let mut rows = vec![Row::skipped(CASE, &format!("interpreter: {} ({})", python.label, spec.python.display()), "every row below is this interpreter")];
    let bare = starts(count, || {
        let mut command = Command::new(&spec.python);
        command.args(forkline_runner::start::cpython::INTERPRETER_FLAGS).env_clear().env("PATH", "/usr/bin:/bin");
        Ok((command, Vec::new()))
    });
    let boxed = starts(count, || sandboxed(&spec));
    let bare = Row::new(CASE, "interpreter start, bare: exec → exit of `-c pass`", "ms", &bare, "");
    let boxed = Row::new(CASE, "interpreter start in the sandbox: fork → exit", "ms", &boxed, "bubblewrap, namespaces, uid, rlimits, seccomp");
    let ratio = Row::ratio(CASE, "sandboxed / bare interpreter start", Some(&boxed), Some(&bare), "target: the sandbox adds ≤ 10 ms");
    rows.extend([bare, boxed, ratio]);

    let lesson = run_starts(server, count, false).await;
    let edited = run_starts(server, count, true).await;
    let lesson = Row::new(CASE, "run start, lesson program: POST → MainProcess's proc.start", "ms", &lesson, "process.py unedited, not sandboxed");
    let edited = Row::new(CASE, "run start, edited program: POST → MainProcess's proc.start", "ms", &edited, "the same program sent as source, sandboxed");
    let ratio = Row::ratio(CASE, "edited / lesson run start", Some(&edited), Some(&lesson), "");
    rows.extend([lesson, edited, ratio]);
    rows
}

/// The interpreter in the sandbox as an edited run starts it, filters included.
fn sandboxed(spec: &SandboxSpec) -> std::io::Result<(Command, Vec<std::os::fd::OwnedFd>)> {
    let filters = forkline_runner::sandbox::limits::seccomp_pipes()?;
    let fds: Vec<i32> = filters.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    Ok((forkline_runner::sandbox::interpreter(&spec, forkline_runner::sandbox::run_uid(std::process::id()), &fds), filters))
}

/// Milliseconds from start to exit of `-c pass`, `count` times.
fn starts(count: usize, make: impl Fn() -> std::io::Result<(Command, Vec<std::os::fd::OwnedFd>)>) -> Vec<f64> {
    (0..count)
        .filter_map(|_| {
            let started = Instant::now();
            let (mut command, filters) = make().ok()?;
            let mut child = command.args(["-c", "pass"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
            drop(filters);
            child.wait().ok()?.success().then(|| started.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

const MAIN_PROCESS: &[u8] = br#""kind":"proc.start","name":"MainProcess""#;

/// POST → MainProcess's `proc.start` at the event stream, for `process.py`
/// as the lesson has it or sent as an edited program (the same text).
async fn run_starts(server: &Server, count: usize, edited: bool) -> Vec<f64> {
    let Editing::On(_, python) = forkline::config::default_editing() else { return Vec::new() };
    let Some(program) = forkline_runner::demos::cpython::program("process") else { return Vec::new() };
    let params = json!({"delay_ms": 0, "numbers": [2], "sample": false});
    let body = if edited {
        let params = program.validate(&params).expect("the bench's parameters are valid");
        json!({"demo": "process", "engine": "cpython", "source": program.render(&params)})
    } else {
        json!({"demo": "process", "engine": "cpython", "python": python.id, "params": params})
    };
    let mut samples = Vec::new();
    for _ in 0..count {
        let started = Instant::now();
        let Ok(id) = client::start_run_with(server.addr, &body).await else { continue };
        let Ok(stream) = client::subscribe(server.addr, &id).await else { continue };
        if let Ok(seen) = client::read_events(stream, &[MAIN_PROCESS], false).await {
            if let (Some(at), true) = (seen.marks[0], seen.ok) {
                samples.push(at.duration_since(started).as_secs_f64() * 1e3);
            }
        }
    }
    samples
}
