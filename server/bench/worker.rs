//! Worker start+join: fork of one demo worker to its reaping, timed inside
//! the runner (events included, as a demo pays them), against Python's
//! fork `Process.start()+join()`.

use serde_json::{json, Value};

use super::client;
use super::python::Python;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "worker start+join";

pub async fn measure(options: &Options, server: &Server, python: &Python) -> Vec<Row> {
    let joins = options.pick(10, 60);
    let measured = |trace| async move {
        match inside_runner(server, joins, trace).await {
            Ok(s) => (s, String::new()),
            Err(e) => (Vec::new(), format!("failed: {e}")),
        }
    };
    let (samples, note) = measured(true).await;
    let ours = Row::new(CASE, "forkline fork → proc.exit → waitpid, in the runner", "µs", &samples, &note);
    let (samples, note) = measured(false).await;
    let silent = Row::new(CASE, "same, events off (the fork, exit and wait alone)", "µs", &samples, &note);
    let (py, why) = match python.process_start_us("fork", options.pick(5, 60)).await {
        Ok(s) => (s, String::new()),
        Err(e) => (Vec::new(), e),
    };
    let theirs = Row::new(CASE, "Python Process.start()+join(), fork", "µs", &py, &why);
    let ratio = Row::ratio(CASE, "Python / forkline", Some(&theirs), Some(&ours), "target ≥ 10×");
    vec![ours, silent, theirs, ratio]
}

async fn inside_runner(server: &Server, joins: usize, trace: bool) -> std::io::Result<Vec<f64>> {
    let params = json!({ "mode": "spawn", "joins": joins, "trace": trace, "sample": false });
    let id = client::start_run(server.addr, "bench_emit", params).await?;
    let seen = client::read_events(client::subscribe(server.addr, &id).await?, &[], true).await?;
    let data = seen.result_data().filter(|_| seen.ok).ok_or_else(|| std::io::Error::other("no result"))?;
    Ok(data["join_ns"].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e3).collect()).unwrap_or_default())
}
