//! Sampler overhead: what the kernel sampler costs at its default interval
//! while 8 threads of a demo (`bench_emit`'s `threads` mode: a little work,
//! then a sleep, round after round) run for about a second.
//!
//! The figures are the sampler's own: the cost note the runner emits after
//! reaping it (see `runner/sampler.rs`, `Report::text`), read back from the
//! stream, so the bench measures exactly what a visitor is told. Its CPU is
//! its process CPU clock (utime + stime), wake-ups included. The demo's wall
//! time with and without the sampler shows what it takes from the demo.

use serde_json::json;

use super::client;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "sampler overhead";
const THREADS: u64 = 8;
/// Per round: about 10 µs of countdown, then this sleep.
const WORK: u64 = 20_000;
const SLEEP_US: u64 = 5_000;
/// `sample_interval_us`'s default.
const INTERVAL_US: u64 = forkline_runner::demos::params::DEFAULT_SAMPLE_INTERVAL_US as u64;

/// The figures of one sampler note.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cost {
    passes: f64,
    us_per_pass: f64,
    us_per_thread: f64,
    cpu_ms: f64,
    cpu_percent: f64,
}

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let rounds = options.pick(40, 200);
    let reps = options.pick(2, 5);
    let (mut sampled, mut unsampled, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    let mut note = String::new();
    for _ in 0..reps {
        // Alternate, so drift in the machine's load hits both alike.
        for sample in [true, false] {
            match one_run(server, rounds, sample).await {
                Ok((wall_ms, cost)) => {
                    if sample {
                        sampled.push(wall_ms);
                        match cost {
                            Some(cost) => costs.push(cost),
                            None => note = "failed: no sampler cost note in the stream".into(),
                        }
                    } else {
                        unsampled.push(wall_ms);
                    }
                }
                Err(e) => note = format!("failed: {e}"),
            }
        }
    }
    let of = |f: fn(&Cost) -> f64| costs.iter().map(f).collect::<Vec<_>>();
    let load = format!("{THREADS} threads (+ the runner's), every {INTERVAL_US} µs");
    let per_pass = Row::new(CASE, &format!("time per pass over {load}"), "µs", &of(|c| c.us_per_pass), &note);
    let per_thread = Row::new(CASE, "time per thread read in a pass", "µs", &of(|c| c.us_per_thread), &note);
    let cpu_per_pass = Row::new(
        CASE,
        "sampler CPU per pass (utime+stime / passes, wake-ups included)",
        "µs",
        &of(|c| c.cpu_ms * 1e3 / c.passes.max(1.0)),
        &note,
    );
    let share = Row::new(CASE, &format!("sampler CPU, share of one core, {load}"), "%", &of(|c| c.cpu_percent), if costs.is_empty() { &note } else { "target ≤ 3%" });
    let wall = format!("{THREADS} threads × {rounds} rounds of ≈10 µs work + {} ms sleep", SLEEP_US / 1000);
    let on = Row::new(CASE, &format!("demo wall time, sampled: {wall}"), "ms", &sampled, &note);
    let off = Row::new(CASE, "same demo, unsampled", "ms", &unsampled, &note);
    let ratio = Row::ratio(CASE, "wall time sampled / unsampled", Some(&on), Some(&off), "mostly sleeping threads: ≈1× expected");
    vec![per_pass, per_thread, cpu_per_pass, share, on, off, ratio]
}

/// The demo's wall time in ms as the runner measured it, and the sampler's
/// cost note when it ran.
async fn one_run(server: &Server, rounds: u64, sample: bool) -> std::io::Result<(f64, Option<Cost>)> {
    let params = json!({
        "mode": "threads", "threads": THREADS, "events": rounds, "work": WORK, "sleep_us": SLEEP_US,
        "sample": sample, "sample_interval_us": INTERVAL_US,
    });
    let (data, seen) = client::run_result(server.addr, "bench_emit", params, true).await?;
    let wall_ms = data["wall_ns"].as_f64().ok_or_else(|| std::io::Error::other("no wall_ns"))? / 1e6;
    Ok((wall_ms, seen.notes().iter().find_map(|text| parse_note(text))))
}

/// Reads the figures out of the sampler's note (`Report::text`).
fn parse_note(text: &str) -> Option<Cost> {
    if !text.starts_with("sampler (pid") {
        return None;
    }
    // The number just before `marker`, e.g. "17.0" in "17.0 µs per pass".
    let before = |marker: &str| -> Option<f64> {
        let at = text.find(marker)?;
        text[..at].split_whitespace().last()?.parse().ok()
    };
    Some(Cost {
        passes: before(" passes,")?,
        us_per_pass: before(" µs per pass")?,
        us_per_thread: before(" µs per thread")?,
        cpu_ms: before(" ms = ")?,
        cpu_percent: before("% of one CPU")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use forkline_runner::primitives::sampler::Report;

    #[test]
    fn reads_the_figures_of_the_samplers_own_note() {
        let report = Report {
            pid: 42,
            interval_us: 1000,
            wall_ns: 1_000_000_000,
            passes: 1000,
            pass_ns: 17_000_000,
            reads: 9000,
            events: 40,
            threads_max: 9,
            threads_seen: 9,
            cpu_ns: 27_000_000,
            children_files: true,
            clean: true,
        };
        let cost = parse_note(&report.text()).expect("parses");
        assert_eq!(cost.passes, 1000.0);
        assert_eq!(cost.us_per_pass, 17.0);
        assert!((cost.us_per_thread - 1.89).abs() < 0.01, "{cost:?}");
        assert_eq!(cost.cpu_ms, 27.0);
        assert_eq!(cost.cpu_percent, 2.7);
        assert_eq!(parse_note("the demo failed"), None);
    }
}
