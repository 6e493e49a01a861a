//! Instrumentation overhead: the same CPU-bound demo (2 workers, one event
//! per slice of work) with events on and with `emit` switched off in the
//! runner; its wall time is measured inside the runner, so runner start and
//! delivery are left out.

use serde_json::json;

use super::client;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "instrumentation overhead";
/// Countdown steps between two events: about 10 µs of work here, far denser
/// than any lesson demo (they sleep for milliseconds between events).
const WORK: u64 = 10_000;

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let events = options.pick(500, 20_000);
    let reps = options.pick(2, 5);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut note = String::new();
    for _ in 0..reps {
        // Alternate, so drift in the machine's load hits both alike.
        for (trace, samples) in [(true, &mut on), (false, &mut off)] {
            match wall_ms(server, events, trace).await {
                Ok(ms) => samples.push(ms),
                Err(e) => note = format!("failed: {e}"),
            }
        }
    }
    let per_event = off.first().map(|ms| ms * 1e3 / events as f64).unwrap_or(0.0);
    let on_row = Row::new(CASE, &format!("2 workers × {events} events, events on"), "ms", &on, &note);
    let off_row = Row::new(CASE, &format!("same, emit off (≈{per_event:.1} µs of work per event)"), "ms", &off, &note);
    // Other load on the host only ever adds time, so the fastest of each
    // side is the least disturbed figure to compare.
    let best = |rows: &Row| rows.stats.map(|s| s.min);
    let overhead = match (best(&on_row), best(&off_row)) {
        (Some(on), Some(off)) if off > 0.0 => vec![(on / off - 1.0) * 100.0],
        _ => Vec::new(),
    };
    let ratio = Row::new(CASE, "overhead, fastest on / fastest off − 1", "%", &overhead, "target ≤ 5%");
    vec![on_row, off_row, ratio]
}

async fn wall_ms(server: &Server, events: u64, trace: bool) -> std::io::Result<f64> {
    let params = json!({ "processes": 2, "events": events, "work": WORK, "trace": trace });
    let id = client::start_run(server.addr, "bench_emit", params).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], true).await?;
    let data = seen.result_data().filter(|_| seen.ok).ok_or_else(|| std::io::Error::other("no result"))?;
    data["wall_ns"].as_f64().map(|ns| ns / 1e6).ok_or_else(|| std::io::Error::other("no wall_ns"))
}
