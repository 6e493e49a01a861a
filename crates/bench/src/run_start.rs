//! Run start: `POST /api/runs` → the first worker's `proc.start` at an SSE
//! client (runner exec, demo start, one fork), p50 and p99, against Python's
//! `Process.start()+join()` with the spawn and the fork start methods.

use std::time::Instant;

use serde_json::json;

use super::client;
use super::python::Python;
use super::server::Server;
use super::stats::percentile;
use super::{Options, Row, Stats};

const CASE: &str = "run start";
const FIRST_WORKER: &[u8] = br#""kind":"proc.start","name":"worker-0""#;

pub async fn measure(options: &Options, server: &Server, python: &Python) -> Vec<Row> {
    let count = options.pick(5, 50);
    // Unmeasured: the case before leaves two runs of half a million events
    // in memory, and the next runs to finish push them out; freeing them
    // takes a CPU for a while. Let that happen first.
    for _ in 0..options.pick(1, 3) {
        let _ = one_start(server).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(options.pick(0, 500))).await;
    let mut samples = Vec::new();
    let mut note = "target p50 ≤ 3 ms".to_owned();
    for _ in 0..count {
        match one_start(server).await {
            Ok(us) => samples.push(us),
            Err(e) => note = format!("failed: {e}"),
        }
    }
    let p50 = Row::new(CASE, "forkline POST → first proc.start at SSE, p50", "µs", &samples, &note);
    let p99 = Row {
        stats: percentile(&samples, 99.0).map(Stats::single),
        ..Row::skipped(CASE, "forkline POST → first proc.start at SSE, p99", "")
    };
    let p99 = Row { unit: "µs".into(), note: format!("of {} runs, after 3 unmeasured", samples.len()), ..p99 };
    let py_count = options.pick(3, 20);
    let mut rows = vec![p50.clone(), p99];
    for method in ["spawn", "fork"] {
        let (py, why) = match python.process_start_us(method, py_count).await {
            Ok(s) => (s, String::new()),
            Err(e) => (Vec::new(), e),
        };
        let py_row = Row::new(CASE, &format!("Python Process.start()+join(), {method}"), "µs", &py, &why);
        let target = if method == "spawn" { "target ≥ 10×" } else { "target ≥ 1×" };
        rows.push(Row::ratio(CASE, &format!("Python {method} / forkline p50"), Some(&py_row), Some(&p50), target));
        rows.insert(rows.len() - 1, py_row);
    }
    rows
}

async fn one_start(server: &Server) -> std::io::Result<f64> {
    let started = Instant::now();
    let id = client::start_run(server.addr, "bench_emit", json!({ "processes": 1, "events": 0 })).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[FIRST_WORKER], false).await?;
    match seen.marks[0] {
        Some(at) if seen.ok => Ok(at.duration_since(started).as_nanos() as f64 / 1e3),
        _ => Err(std::io::Error::other("no proc.start of worker-0 in a run that ended ok")),
    }
}
