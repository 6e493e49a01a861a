//! `lock` mode: a real lesson demo, timed with its events on or discarded,
//! for the bench's "instrumentation overhead" row.
//!
//! The lesson demos have no switch for their events, and must not get one:
//! a visitor has no use for a demo that reports nothing. So the switch lives
//! here, in the bench demo, which calls the `lock` demo's own `run`
//! with `emit` turned off (or not) around it. The `lock` demo is the densest
//! lesson demo in events (five per update, inside the critical section), so
//! it is where tracing could cost the most.

use std::time::Instant;

use serde_json::json;

use forkline_runner::demos::{DemoError, Params};
use forkline_runner::primitives::emit;

/// Updates per process: the `lock` demo's upper bound (the lesson does 100),
/// long enough that fork and join do not dominate the wall time.
const ITERATIONS: i64 = 1000;

pub fn lock(params: &Params) -> Result<(), DemoError> {
    let lock = forkline_runner::demos::LESSON.iter().find(|r| r.demo.name == "lock").expect("the lesson has a lock demo");
    let lesson = lock.demo.validate(&json!({ "iterations": ITERATIONS }))?;
    // Children inherit the switch; turned back on for our result.
    emit::set_enabled(params.bool("trace"));
    let started = Instant::now();
    let outcome = (lock.run)(&lesson);
    let wall_ns = started.elapsed().as_nanos() as u64;
    emit::set_enabled(true);
    outcome?;
    emit::result(
        format!("the lock demo, 2 × {ITERATIONS} updates under the lock"),
        json!({ "wall_ns": wall_ns, "iterations": ITERATIONS }),
    );
    Ok(())
}
