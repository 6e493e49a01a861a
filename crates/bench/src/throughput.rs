//! Pipeline throughput: P worker processes emit E events each, delivered to
//! one SSE client on loopback; events/s from `POST /api/runs` to the stream's
//! end, against Python's `multiprocessing.Queue` messages/s.

use std::time::Instant;

use serde_json::json;

use super::client;
use super::python::Python;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "pipeline throughput";

pub async fn measure(options: &Options, server: &Server, python: &Python) -> Vec<Row> {
    let processes = 2;
    let events = options.pick(5_000, 250_000);
    let reps = options.pick(2, 5);
    let mut rates = Vec::new();
    let mut note = "target ≥ 1,000,000 events/s".to_owned();
    for _ in 0..reps {
        match one_run(server, processes, events).await {
            Ok(rate) => rates.push(rate),
            Err(e) => note = format!("failed: {e}"),
        }
    }
    let ours = Row::new(CASE, &format!("forkline: {processes} processes × {events} events → SSE client"), "events/s", &rates, &note);

    let mut py_rates = Vec::new();
    let mut py_note = python.missing().unwrap_or_else(|| "fork; (pid, i, ns) tuples".into());
    for _ in 0..reps {
        match python.run("mp_queue.py", &[processes.to_string(), events.to_string()]).await {
            Ok(out) => py_rates.extend(out["per_s"].as_f64()),
            Err(e) => {
                py_note = e;
                break;
            }
        }
    }
    let theirs = Row::new(CASE, &format!("Python multiprocessing.Queue: {processes} producers × {events}"), "msgs/s", &py_rates, &py_note);
    let ratio = Row::ratio(CASE, "forkline / Python Queue", Some(&ours), Some(&theirs), "target ≥ 4×");
    vec![ours, theirs, ratio]
}

async fn one_run(server: &Server, processes: u64, events: u64) -> std::io::Result<f64> {
    let started = Instant::now();
    let id = client::start_run(server.addr, "bench_emit", json!({ "processes": processes, "events": events })).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], false).await?;
    let elapsed = started.elapsed().as_secs_f64();
    if !seen.complete() || seen.events < processes * events {
        return Err(std::io::Error::other(format!("{} of {} events, ok={}", seen.events, seen.last_id, seen.ok)));
    }
    Ok(seen.events as f64 / elapsed)
}
