//! Fan-out: N SSE subscribers to one run, every one of which must receive
//! every event; deliveries/s across all of them.

use std::time::Instant;

use serde_json::json;

use super::client;
use super::server::Server;
use super::{Options, Row};

const CASE: &str = "fan-out";

pub async fn measure(options: &Options, server: &Server) -> Vec<Row> {
    let subscribers = options.pick(20, 1_000);
    let events = options.pick(2_000, 100_000);
    let reps = options.pick(1, 3);
    let (mut rates, mut complete) = (Vec::new(), Vec::new());
    let mut note = format!("target: all delivered ({subscribers} of {subscribers})");
    for _ in 0..reps {
        match one_run(server, subscribers, events).await {
            Ok((rate, full)) => {
                rates.push(rate);
                complete.push(full as f64);
            }
            Err(e) => note = format!("failed: {e}"),
        }
    }
    vec![
        Row::new(CASE, &format!("{subscribers} subscribers × {events}-event run"), "subscribers complete", &complete, &note),
        Row::new(CASE, "events delivered, all subscribers together", "events/s", &rates, ""),
    ]
}

/// Returns deliveries/s and how many subscribers saw the whole run.
async fn one_run(server: &Server, subscribers: usize, events: u64) -> std::io::Result<(f64, usize)> {
    let started = Instant::now();
    let id = client::start_run(server.addr, "bench_emit", json!({ "processes": 1, "events": events })).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        let (addr, id) = (server.addr, id.clone());
        tasks.spawn(async move { client::read_events(client::subscribe(addr, &id).await?, &[], false).await });
    }
    let (mut delivered, mut complete) = (0u64, 0usize);
    while let Some(joined) = tasks.join_next().await {
        let seen = joined.map_err(std::io::Error::other)??;
        delivered += seen.events;
        complete += usize::from(seen.complete() && seen.events > events);
    }
    Ok((delivered as f64 / started.elapsed().as_secs_f64(), complete))
}
