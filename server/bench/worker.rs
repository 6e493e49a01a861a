//! Worker start+join: fork of one demo worker to its reaping, timed inside
//! the runner (events included, as a demo pays them), against Python's
//! fork `Process.start()+join()`. Two rows show what is left when the
//! instrumentation is taken away: events off, and the bare system calls
//! (`fork`, `_exit`, `waitpid`), the floor this machine's kernel sets.

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
    for _ in 0..rounds {
        for (i, (mode, trace)) in [("spawn", true), ("spawn", false), ("fork_floor", false)].into_iter().enumerate() {
            match inside_runner(server, joins, mode, trace).await {
                Ok(s) => sides[i].0.extend(s),
                Err(e) => sides[i].1 = format!("failed: {e}"),
            }
        }
        match python.process_start_us("fork", options.pick(5, joins)).await {
            Ok(s) => sides[3].0.extend(s),
            Err(e) => sides[3].1 = e,
        }
    }
    let [(on, on_note), (off, off_note), (bare, bare_note), (py, py_note)] = sides;
    let ours = Row::new(CASE, "forkline fork → proc.exit → waitpid, in the runner", "µs", &on, &on_note);
    let silent = Row::new(CASE, "same, events off", "µs", &off, &off_note);
    let floor = Row::new(CASE, "bare fork → _exit → waitpid in the same runner (the kernel's floor)", "µs", &bare, &bare_note);
    let theirs = Row::new(CASE, "Python Process.start()+join(), fork", "µs", &py, &py_note);
    let ratio = Row::ratio(CASE, "Python / forkline", Some(&theirs), Some(&ours), "target ≥ 10×");
    let ceiling = Row::ratio(CASE, "Python / bare fork", Some(&theirs), Some(&floor), "the most any worker could reach here");
    vec![ours, silent, floor, theirs, ratio, ceiling]
}

async fn inside_runner(server: &Server, joins: usize, mode: &str, trace: bool) -> std::io::Result<Vec<f64>> {
    let params = json!({ "mode": mode, "joins": joins, "trace": trace, "sample": false });
    let id = client::start_run(server.addr, "bench_emit", params).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], true).await?;
    let data = seen.result_data().filter(|_| seen.ok).ok_or_else(|| std::io::Error::other("no result"))?;
    Ok(data["join_ns"].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e3).collect()).unwrap_or_default())
}
