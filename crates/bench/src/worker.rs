//! Worker start+join: fork of one demo worker to its reaping, timed inside
//! the runner (events included, as a demo pays them), against Python's
//! fork `Process.start()+join()`. Two rows show what is left when the
//! instrumentation is taken away: events off, and the bare system calls
//! (`fork`, `_exit`, `waitpid`), the floor this machine's kernel sets.
//!
//! Each run is started after a pause, as a user's runs are, in which the
//! spare runner moves its code into huge pages (it does that only while
//! the CPUs are idle; see `runner::huge_code`). The note says in how many
//! runs that was done: a runner taken in a burst forks more slowly.

use serde_json::{json, Value};

use super::client;
use super::python::Python;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "worker start+join";

pub async fn measure(options: &Options, server: &Server, python: &Python) -> Vec<Row> {
    let joins = options.pick(10, 60);
    // Rounds alternate the four sides, so a slow minute of the shared host
    // falls on all of them alike instead of on whichever ran then.
    let rounds = options.pick(1, 4);
    let mut sides: [(Vec<f64>, String); 4] = Default::default();
    let (mut runs, mut prepared) = (0, 0);
    for _ in 0..rounds {
        for (i, (mode, trace)) in [("spawn", true), ("spawn", false), ("fork_floor", false)].into_iter().enumerate() {
            tokio::time::sleep(PAUSE).await;
            match inside_runner(server, joins, mode, trace).await {
                Ok((s, huge_code)) => {
                    sides[i].0.extend(s);
                    runs += 1;
                    prepared += usize::from(huge_code);
                }
                Err(e) => sides[i].1 = format!("failed: {e}"),
            }
        }
        match python.process_start_us("fork", options.pick(5, joins)).await {
            Ok(s) => sides[3].0.extend(s),
            Err(e) => sides[3].1 = e,
        }
    }
    let [(on, on_note), (off, off_note), (bare, bare_note), (py, py_note)] = sides;
    let on_note = if on_note.is_empty() { format!("runner code in huge pages in {prepared} of {runs} runs") } else { on_note };
    let ours = Row::new(CASE, "forkline fork → proc.exit → waitpid, in the runner", "µs", &on, &on_note);
    let silent = Row::new(CASE, "same, events off", "µs", &off, &off_note);
    let floor = Row::new(CASE, "bare fork → _exit → waitpid in the same runner (the kernel's floor)", "µs", &bare, &bare_note);
    let theirs = Row::new(CASE, "Python Process.start()+join(), fork", "µs", &py, &py_note);
    let ratio = Row::ratio(CASE, "Python / forkline", Some(&theirs), Some(&ours), "target ≥ 10×");
    let ceiling = Row::ratio(CASE, "Python / bare fork", Some(&theirs), Some(&floor), "the most any worker could reach here");
    vec![ours, silent, floor, theirs, ratio, ceiling]
}

/// Between two runs, as between a user's: time for the spare to get ready.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

/// The start+join times of one run, in µs, and whether its runner had its
/// code in huge pages.
async fn inside_runner(server: &Server, joins: usize, mode: &str, trace: bool) -> std::io::Result<(Vec<f64>, bool)> {
    let params = json!({ "mode": mode, "joins": joins, "trace": trace, "sample": false });
    let id = client::start_run(server.addr, "bench_emit", params).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], true).await?;
    let data = seen.result_data().filter(|_| seen.ok).ok_or_else(|| std::io::Error::other("no result"))?;
    let samples = data["join_ns"].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e3).collect()).unwrap_or_default();
    Ok((samples, data["huge_code"].as_u64().unwrap_or(0) > 0))
}
