//! `queue` mode: forkline's real cross-process queue at full speed, every put
//! and get traced, for the bench's "instrumented queue" row.
//!
//! It mirrors `crates/bench/python/mp_queue.py` so the two rates compare like for
//! like: P producer processes put N `(pid, i, ns)` messages each on one
//! [`Queue`], the main process gets them all, and the clock runs from before
//! the first fork to after the last join, as the Python script's does.

use std::time::Instant;

use serde_json::json;

use forkline_core::clock;
use forkline_runner::demos::{DemoError, Params};
use forkline_runner::primitives::queue::Queue;
use forkline_runner::primitives::{emit, process};

pub fn run(params: &Params) -> Result<(), DemoError> {
    let producers = params.int("processes") as u64;
    let messages = params.int("events") as u64;
    // Children inherit the switch; turned back on for the result.
    emit::set_enabled(params.bool("trace"));
    let queue = Queue::new("q")?;
    let started = Instant::now();
    let workers = (0..producers)
        .map(|i| {
            process::spawn(format!("producer-{i}"), Some("producer"), || {
                let pid = std::process::id();
                for n in 0..messages {
                    if queue.put(&json!([pid, n, clock::monotonic_ns()])).is_err() {
                        return 1;
                    }
                }
                0
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total = producers * messages;
    for _ in 0..total {
        queue.get()?;
    }
    for worker in workers {
        worker.join()?;
    }
    let wall_ns = started.elapsed().as_nanos() as u64;
    emit::set_enabled(true);
    let per_s = total as f64 / (wall_ns.max(1) as f64 / 1e9);
    emit::result(
        format!("{producers} producers put {messages} messages each; the main process got {total}"),
        json!({ "messages": total, "wall_ns": wall_ns, "per_s": per_s }),
    );
    Ok(())
}
