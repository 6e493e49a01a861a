//! Instrumented queue: forkline's real cross-process queue (`bench_emit`'s
//! `queue` mode) with every put and get traced, against the same program in
//! Python — `multiprocessing.Queue` untraced, and under VizTracer.
//!
//! Both sides time themselves from before the producers start to after they
//! are joined (forkline inside the runner, Python inside the script), so
//! neither pays for starting its interpreter or for delivery to a viewer.

use serde_json::json;

use super::client;
use super::python::Python;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "instrumented queue";
const PRODUCERS: u64 = 2;

pub async fn measure(options: &Options, server: &Server, python: &Python) -> Vec<Row> {
    let messages = options.pick(2_000, 50_000);
    let reps = options.pick(2, 5);
    let args = [PRODUCERS.to_string(), messages.to_string()];
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut our_note = "every put and get traced (2 events per message); sampler off".to_owned();
    let mut py_note = python.missing().unwrap_or_else(|| "untraced; fork; (pid, i, ns) tuples".into());
    for _ in 0..reps {
        // Interleaved, so drift in the machine's load hits both sides alike.
        match inside_runner(server, messages).await {
            Ok(rate) => ours.push(rate),
            Err(e) => our_note = format!("failed: {e}"),
        }
        if python.missing().is_none() {
            match python.run("mp_queue.py", &args).await {
                Ok(out) => theirs.extend(out["per_s"].as_f64()),
                Err(e) => py_note = e,
            }
        }
    }
    let shape = format!("{PRODUCERS} producers × {messages} msgs");
    let ours = Row::new(CASE, &format!("forkline runner::queue::Queue, traced: {shape}"), "msgs/s", &ours, &our_note);
    let theirs = Row::new(CASE, &format!("Python multiprocessing.Queue, untraced: {shape}"), "msgs/s", &theirs, &py_note);
    let ratio = Row::ratio(CASE, "forkline traced / Python untraced", Some(&ours), Some(&theirs), "target ≥ 1×");

    let mut traced = Vec::new();
    let mut vz_note = python.viztracer_missing().unwrap_or_else(|| "VizTracer defaults; includes writing its trace".into());
    if python.viztracer_missing().is_none() {
        for _ in 0..options.pick(1, 3) {
            match python.run_viztracer("mp_queue.py", &args).await {
                Ok(out) => traced.extend(out["per_s"].as_f64()),
                Err(e) => vz_note = format!("VizTracer not available: {e}"),
            }
        }
    }
    let viz = Row::new(CASE, &format!("Python multiprocessing.Queue under VizTracer: {shape}"), "msgs/s", &traced, &vz_note);
    let viz_ratio = Row::ratio(CASE, "forkline traced / Python under VizTracer", Some(&ours), Some(&viz), "both traced");
    vec![ours, theirs, ratio, viz, viz_ratio]
}

/// Messages per second, as the runner measured them.
async fn inside_runner(server: &Server, messages: u64) -> std::io::Result<f64> {
    let params = json!({ "mode": "queue", "processes": PRODUCERS, "events": messages, "sample": false });
    let (data, _) = client::run_result(server.addr, "bench_emit", params, false).await?;
    data["per_s"].as_f64().ok_or_else(|| std::io::Error::other("no per_s"))
}
