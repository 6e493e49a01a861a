//! `threads` mode: the load the bench's "sampler overhead" row watches.
//!
//! T threads of the runner each do R rounds of a little CPU work and a
//! sleep, as the lesson's thread demos do, so the kernel sampler has T+1
//! threads to read every pass and sees them change state now and then. The
//! wall time, measured here, is what sampling may slow down.

use std::time::{Duration, Instant};

use serde_json::json;

use forkline_runner::demos::{DemoError, Params};
use forkline_core::event::{Body, Phase};
use forkline_runner::primitives::{compute, emit, process};

pub fn run(params: &Params) -> Result<(), DemoError> {
    let threads = params.int("threads") as usize;
    let rounds = params.int("events") as u64;
    let work = params.int("work") as u64;
    let sleep = Duration::from_micros(params.int("sleep_us") as u64);
    emit::set_enabled(params.bool("trace"));
    let started = Instant::now();
    let handles = (0..threads)
        .map(|i| {
            process::spawn_thread(format!("t{i}"), move || {
                for n in 0..rounds {
                    compute::countdown(work);
                    emit::emit(Body::Compute { phase: Phase::Begin, work: Some(n) });
                    std::thread::sleep(sleep);
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for handle in handles {
        handle.join();
    }
    let wall_ns = started.elapsed().as_nanos() as u64;
    emit::set_enabled(true);
    emit::result(format!("{threads} threads did {rounds} rounds each"), json!({ "wall_ns": wall_ns, "threads": threads }));
    Ok(())
}
