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
    let mut ratio = Row::ratio(CASE, "overhead (on / off − 1)", Some(&on_row), Some(&off_row), "target ≤ 5%");
    if let Some(s) = ratio.stats.as_mut() {
        let pct = (s.median - 1.0) * 100.0;
        *s = super::Stats::single(pct);
        ratio.unit = "%".into();
    }
    vec![on_row, off_row, ratio]
}

async fn wall_ms(server: &Server, events: u64, trace: bool) -> std::io::Result<f64> {
    let params = json!({ "processes": 2, "events": events, "work": WORK, "trace": trace });
    let id = client::start_run(server.addr, "bench_emit", params).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], true).await?;
    let data = seen.result_data().filter(|_| seen.ok).ok_or_else(|| std::io::Error::other("no result"))?;
    data["wall_ns"].as_f64().map(|ns| ns / 1e6).ok_or_else(|| std::io::Error::other("no wall_ns"))
}
