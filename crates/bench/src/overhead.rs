//! Instrumentation overhead: a demo's wall time with events on and with
//! `emit` switched off in the runner, measured inside the runner so runner
//! start and delivery are left out. Two demos: the real `lock` lesson demo
//! (the densest in events), run through `bench_emit`'s `lock` mode because
//! lesson demos have no switch for their events, which the target is for;
//! and a synthetic stress case (2 workers on the 2 CPUs, one event every few
//! µs of work, far denser than any lesson), which with both CPUs busy pays
//! the whole pipeline's CPU, server and subscriber included, out of the
//! demo's time.

use serde_json::{json, Value};

use super::client;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "instrumentation overhead";
/// Countdown steps between two events: about 10 µs of work here, far denser
/// than any lesson demo (they sleep for milliseconds between events).
const WORK: u64 = 10_000;

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let events = options.pick(500, 20_000);
    let synthetic = json!({ "processes": 2, "events": events, "work": WORK });
    let (on, off) = on_and_off(server, &synthetic, options.pick(2, 5)).await;
    let per_event = off.stats.map(|s| s.min * 1e3 / events as f64).unwrap_or(0.0);
    let mut rows = vec![
        on.named(&format!("2 workers × {events} events, events on")),
        off.named(&format!("same, emit off (≈{per_event:.1} µs of work per event)")),
    ];
    rows.push(overhead(
        &rows[0],
        &rows[1],
        "overhead, fastest on / fastest off − 1",
        "stress case: every CPU busy, so the pipeline's own CPU shows; not a lesson demo",
    ));

    // Short runs (tens of ms): more of them, for a steadier fastest.
    let lock = json!({ "mode": "lock", "sample": false });
    let (on, off) = on_and_off(server, &lock, options.pick(3, 40)).await;
    rows.push(on.named("lock demo (lesson; use_lock, 2 × 1000 updates, 5 events each), events on"));
    rows.push(off.named("same lock demo, emit off"));
    let n = rows.len();
    rows.push(overhead(&rows[n - 2], &rows[n - 1], "lock demo overhead, fastest on / fastest off − 1", "target ≤ 5%"));
    rows
}

/// Wall times in ms of `params` with `trace` on and off, alternated so drift
/// in the machine's load hits both alike.
async fn on_and_off(server: &Server, params: &Value, reps: usize) -> (Row, Row) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut note = String::new();
    for _ in 0..reps {
        for (trace, samples) in [(true, &mut on), (false, &mut off)] {
            let mut params = params.clone();
            params["trace"] = trace.into();
            match wall_ms(server, params).await {
                Ok(ms) => samples.push(ms),
                Err(e) => note = format!("failed: {e}"),
            }
        }
    }
    (Row::new(CASE, "", "ms", &on, &note), Row::new(CASE, "", "ms", &off, &note))
}

/// Other load on the host only ever adds time, so the fastest of each side
/// is the least disturbed figure to compare.
fn overhead(on: &Row, off: &Row, metric: &str, note: &str) -> Row {
    let best = |row: &Row| row.stats.map(|s| s.min);
    let value = match (best(on), best(off)) {
        (Some(on), Some(off)) if off > 0.0 => vec![(on / off - 1.0) * 100.0],
        _ => Vec::new(),
    };
    Row::new(CASE, metric, "%", &value, note)
}

async fn wall_ms(server: &Server, params: Value) -> std::io::Result<f64> {
    let (data, _) = client::run_result(server.addr, "bench_emit", params, false).await?;
    data["wall_ns"].as_f64().map(|ns| ns / 1e6).ok_or_else(|| std::io::Error::other("no wall_ns"))
}
