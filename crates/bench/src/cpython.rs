//! The CPython engine: what the tracer costs each lesson program (the same
//! program by the same interpreter, untraced against traced), its cost per
//! event, how tracing changes the unlocked `lock` program's race, and run
//! start under CPython against `python3` started by hand. The timing of the
//! programs themselves is done by `crates/bench/python/trace_overhead.py`, so both
//! sides are started the same way.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

use super::client;
use super::server::Server;
use super::{Options, Row, Stats};
use forkline_runner::demos::cpython;
use forkline_runner::interpreters::{self, Interpreter};

const CASE: &str = "CPython engine";
/// Longest one call of the Python driver may take.
const DRIVER_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Each lesson program with the parameters it is measured at: the engine's
/// defaults, with sleeps shortened where they would only add idle time, the
/// `gil` countdown shortened, and the `pipe` writers locked (unlocked, real
/// CPython may hang until the run's timeout).
const PROGRAMS: &[(&str, &str)] = &[
    ("lock", r#"{}"#),
    ("process", r#"{"delay_ms": 100}"#),
    ("queue", r#"{}"#),
    ("queue_vs_thread_queue", r#"{}"#),
    ("threads", r#"{"sleep_ms": 100}"#),
    ("gil", r#"{"work": 5000000}"#),
    ("pipe", r#"{"use_lock": true, "messages": 10}"#),
    ("fork", r#"{}"#),
    ("system", r#"{}"#),
    ("address_space", r#"{}"#),
    ("join_zombie", r#"{"wait_ms": 200}"#),
    ("cpu_count", r#"{}"#),
];

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let Some(python) = interpreters::default_interpreters().into_iter().next() else {
        return vec![Row::skipped(CASE, "every row", "no python3: the CPython engine is not offered")];
    };
    let mut rows = vec![Row::skipped(CASE, &format!("interpreter: {}", python.label), "every row below is this interpreter")];
    match overhead(options, &python).await {
        Ok(mut measured) => rows.append(&mut measured),
        Err(e) => rows.push(Row::skipped(CASE, "tracing overhead", &e)),
    }
    match race(options, &python).await {
        Ok(mut measured) => rows.append(&mut measured),
        Err(e) => rows.push(Row::skipped(CASE, "lost updates, traced and untraced", &e)),
    }
    rows.append(&mut run_start(options, server, &python).await);
    rows
}

/// Writes `demo`'s program, rendered with `params`, where the driver can
/// read it (as `saved_as`, or its own file name).
fn program_file(demo: &str, params: &Value, saved_as: Option<&str>) -> Result<(&'static str, PathBuf), String> {
    let program = cpython::program(demo).ok_or(format!("{demo} has no program"))?;
    let params = program.validate(params).map_err(|e| e.to_string())?;
    let dir = PathBuf::from(crate::REPOSITORY).join("target/bench-programs");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(saved_as.unwrap_or(program.file));
    std::fs::write(&path, program.render(&params)).map_err(|e| e.to_string())?;
    Ok((program.file, path))
}

async fn driver(python: &Interpreter, args: &[String]) -> Result<Value, String> {
    let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python/trace_overhead.py"));
    let run = tokio::process::Command::new(&python.path).arg("-I").arg(script).args(args).kill_on_drop(true).output();
    // The driver's own waits have no timeout (see its docstring): this is its bound.
    let output = tokio::time::timeout(DRIVER_LIMIT, run)
        .await
        .map_err(|_| format!("the driver took longer than {} s", DRIVER_LIMIT.as_secs()))?
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("the driver failed").to_owned());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).map_err(|e| e.to_string())
}

fn tracer_dir() -> String {
    forkline::config::default_tracer_dir().display().to_string()
}

fn ms(samples: &Value) -> Vec<f64> {
    samples.as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e6).collect()).unwrap_or_default()
}

fn fastest(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

/// One derived figure (a percentage, a count) with its note.
fn figure(metric: &str, unit: &str, value: f64, note: &str) -> Row {
    Row { stats: Some(Stats::single(value)), unit: unit.into(), ..Row::skipped(CASE, metric, note) }
}

async fn overhead(options: &Options, python: &Interpreter) -> Result<Vec<Row>, String> {
    let chosen: &[(&str, &str)] = if options.quick { &PROGRAMS[..2] } else { PROGRAMS };
    let mut args = vec![tracer_dir(), options.pick(1, 7).to_string()];
    for (demo, params) in chosen {
        let (file, path) = program_file(demo, &serde_json::from_str(params).expect("bench params are JSON"), None)?;
        args.extend([file.to_owned(), path.display().to_string()]);
    }
    let out = driver(python, &args).await?;
    let measured = out["programs"].as_array().ok_or("the driver measured nothing")?;
    let mut rows = Vec::new();
    for ((demo, _), m) in chosen.iter().zip(measured) {
        let (plain, traced) = (ms(&m["untraced_ns"]), ms(&m["traced_ns"]));
        let file = m["file"].as_str().unwrap_or(demo);
        if *demo == "lock" {
            rows.push(Row::new(CASE, "lock.py traced (defaults: 2 × 1000 updates, 5 events each)", "ms", &traced, ""));
            rows.push(Row::new(CASE, "lock.py untraced, same interpreter", "ms", &plain, "python -I -S -B lock.py"));
        }
        let target = if *demo == "lock" { "target ≤ 10%" } else { "target ≤ 5%" };
        let note = format!("{target}; fastest {:.1} ms untraced, {:.1} ms traced; {} events", fastest(&plain), fastest(&traced), m["events"]);
        rows.push(figure(&format!("overhead, {file}, fastest traced / fastest untraced − 1"), "%", (fastest(&traced) / fastest(&plain) - 1.0) * 100.0, &note));
    }
    let n = options.pick(2_000, 50_000);
    let per = driver(python, &["--per-event".into(), tracer_dir(), options.pick(1, 5).to_string(), n.to_string()]).await?;
    let (plain, traced) = (ms(&per["untraced_ns"]), ms(&per["traced_ns"]));
    let per_event_us = (fastest(&traced) - fastest(&plain)) * 1e3 / n as f64;
    let note = format!("a loop of {n} Value reads, timed inside the program, traced − untraced; prototype ≈ 2.5 µs");
    rows.push(figure("tracer cost per event, in the program", "µs", per_event_us, &note));
    let untraced_op_us = fastest(&plain) * 1e3 / n as f64;
    rows.push(figure("the same read, untraced", "µs", untraced_op_us, "what the program's own operation costs"));
    Ok(rows)
}

async fn race(options: &Options, python: &Interpreter) -> Result<Vec<Row>, String> {
    let runs = options.pick(3, 20);
    let (_, path) = program_file("lock", &json!({"use_lock": false}), Some("lock_unlocked.py"))?;
    let out = driver(python, &["--race".into(), tracer_dir(), runs.to_string(), path.display().to_string()]).await?;
    let count = |key: &str| out[key].as_f64().unwrap_or(f64::NAN);
    let note = format!("of {runs} runs of lock.py, use_lock off, 2 × 1000 updates");
    Ok(vec![
        figure("runs that lost an update, untraced", "runs", count("untraced_lost"), &note),
        figure("runs that lost an update, traced", "runs", count("traced_lost"), "tracing slows each update, so the workers overlap more"),
    ])
}

async fn run_start(options: &Options, server: &Server, python: &Interpreter) -> Vec<Row> {
    let count = options.pick(3, 20);
    let mut rows = Vec::new();
    for method in ["fork", "spawn"] {
        let mut samples = Vec::new();
        let mut note = String::new();
        for _ in 0..count {
            match one_start(server, method).await {
                Ok(us) => samples.push(us),
                Err(e) => note = format!("failed: {e}"),
            }
        }
        let ours = Row::new(CASE, &format!("run start, {method}: POST → Process-1's proc.start at SSE"), "µs", &samples, &note);
        let by_hand = match driver(python, &["--first-child".into(), count.to_string(), method.into()]).await {
            Ok(out) => Row::new(
                CASE,
                &format!("python3 started by hand, {method}: exec → child running"),
                "µs",
                &ms(&out["ns"]).iter().map(|m| m * 1e3).collect::<Vec<_>>(),
                "untraced, the same interpreter",
            ),
            Err(e) => Row::skipped(CASE, &format!("python3 started by hand, {method}"), &e),
        };
        rows.push(Row::ratio(CASE, &format!("run start {method}, forkline / by hand"), Some(&ours), Some(&by_hand), "≈1× means the pipeline adds nothing"));
        rows.insert(rows.len() - 1, ours);
        rows.insert(rows.len() - 1, by_hand);
    }
    rows
}

const FIRST_CHILD: &[u8] = br#""kind":"proc.start","name":"Process-1""#;

async fn one_start(server: &Server, method: &str) -> std::io::Result<f64> {
    let started = Instant::now();
    let body = json!({"demo": "process", "engine": "cpython", "params": {"delay_ms": 0, "numbers": [2], "start_method": method, "sample": false}});
    let id = client::start_run_with(server.addr, &body).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[FIRST_CHILD], false).await?;
    match seen.marks[0] {
        Some(at) if seen.ok => Ok(at.duration_since(started).as_nanos() as f64 / 1e3),
        _ => Err(std::io::Error::other("no proc.start of Process-1 in a run that ended ok")),
    }
}
