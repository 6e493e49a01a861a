//! A demo for `forkline-bench` only: the pipeline's load generator.
//!
//! It is not a lesson concept, so it stays out of the product. `emit` mode has
//! P worker processes emit E events each (optionally after some CPU work per
//! event, with tracing on or off) and reports the workers' wall time as
//! measured inside the runner; `spawn` mode forks and joins one worker at a
//! time and reports each start+join in nanoseconds; `fork_floor` does the same
//! with bare `fork`, `_exit` and `waitpid`, the floor under any worker. `queue`, `threads` and
//! `lock` live in their own files below `bench_emit/`. `hold_ms` keeps the run
//! open afterwards so a benchmark can hold idle subscribers on it.

use std::time::Instant;

use serde_json::json;

mod lesson;
mod queue;
mod threads;

use forkline_core::event::{Body, Phase};
use forkline_runner::demos::params::{Kind, Spec};
use forkline_runner::demos::{Demo, DemoError, Params};
use forkline_runner::primitives::limits::MAX_CHILDREN;
use forkline_runner::primitives::{compute, emit, huge_code, process};

pub static DEMO: Demo = Demo {
    name: "bench_emit",
    title: "Pipeline load (benchmark only)",
    summary: "Worker processes emit events as fast as they can.",
    notes: "",
    source: "# not a lesson demo\n",
    source_lines: &[],
    lesson_output: "",
    params: &[
        Spec { name: "mode", help: "emit events, or time worker start+join", kind: Kind::Choice { default: "emit", options: &["emit", "spawn", "fork_floor", "queue", "threads", "lock"] } },
        Spec { name: "processes", help: "worker processes", kind: Kind::Int { default: 2, min: 1, max: 8 } },
        // 8 × 250,000 stays within the server's default 2,000,000 events per run.
        Spec { name: "events", help: "events per worker", kind: Kind::Int { default: 10_000, min: 0, max: 250_000 } },
        Spec { name: "work", help: "countdown steps of CPU work before each event", kind: Kind::Int { default: 0, min: 0, max: 1_000_000 } },
        Spec { name: "trace", help: "write the workers' events (off: measure what tracing costs)", kind: Kind::Bool { default: true } },
        Spec { name: "joins", help: "spawn mode: workers started and joined one after another", kind: Kind::Int { default: 20, min: 1, max: MAX_CHILDREN as i64 } },
        Spec { name: "threads", help: "threads mode: threads in the runner", kind: Kind::Int { default: 8, min: 1, max: 16 } },
        Spec { name: "sleep_us", help: "threads mode: sleep after each round of work", kind: Kind::Int { default: 5000, min: 0, max: 100_000 } },
        Spec { name: "hold_ms", help: "stay open this long after the workers are done", kind: Kind::Int { default: 0, min: 0, max: 20_000 } },
    ],
    hidden: true,
};

pub fn run(params: &Params) -> Result<(), DemoError> {
    match params.choice("mode") {
        "spawn" => spawn_and_join(params.int("joins") as usize, params.bool("trace"))?,
        "fork_floor" => fork_floor(params.int("joins") as usize)?,
        "queue" => queue::run(params)?,
        "threads" => threads::run(params)?,
        "lock" => lesson::lock(params)?,
        _ => emit_events(params)?,
    }
    let hold = params.int("hold_ms") as u64;
    if hold > 0 {
        process::sleep_ms(hold);
    }
    Ok(())
}

fn emit_events(params: &Params) -> Result<(), DemoError> {
    let processes = params.int("processes") as usize;
    let events = params.int("events") as u64;
    let work = params.int("work") as u64;
    let trace = params.bool("trace");
    let started = Instant::now();
    // Children inherit the switch; the runner turns it back on for the result.
    emit::set_enabled(trace);
    let workers = (0..processes)
        .map(|i| {
            process::spawn(format!("worker-{i}"), Some("emit_events"), move || {
                for n in 0..events {
                    if work > 0 {
                        compute::countdown(work);
                    }
                    emit::emit(Body::Compute { phase: Phase::Begin, work: Some(n) });
                }
                0
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for worker in workers {
        worker.join()?;
    }
    let wall_ns = started.elapsed().as_nanos() as u64;
    emit::set_enabled(true);
    emit::result(format!("{processes} workers emitted {events} events each"), json!({ "wall_ns": wall_ns, "events": processes as u64 * events }));
    Ok(())
}

/// What the kernel alone charges this runner for a worker: `fork`, `_exit`
/// in the child at once, `waitpid`. No bookkeeping, no events, no
/// `die_with_parent`: the floor under [`spawn_and_join`], and so under any
/// instrumented worker, on this machine.
fn fork_floor(joins: usize) -> Result<(), DemoError> {
    let mut samples = Vec::with_capacity(joins);
    for _ in 0..joins {
        let started = Instant::now();
        // SAFETY: the child calls only _exit, which is async-signal-safe, so
        // this is sound even while the sampler's thread runs. `joins` is
        // bounded by MAX_CHILDREN like every other way to fork.
        match unsafe { libc::fork() } {
            -1 => return Err(std::io::Error::last_os_error().into()),
            // SAFETY: see above.
            0 => unsafe { libc::_exit(0) },
            child => {
                process::wait_for(nix::unistd::Pid::from_raw(child))?;
            }
        }
        samples.push(started.elapsed().as_nanos() as u64);
    }
    emit::result(format!("{joins} bare forks waited for"), json!({ "join_ns": samples, "huge_code": huge_code::moved_chunks() }));
    Ok(())
}

fn spawn_and_join(joins: usize, trace: bool) -> Result<(), DemoError> {
    let mut samples = Vec::with_capacity(joins);
    // Children inherit the switch; turned back on for our result.
    emit::set_enabled(trace);
    for _ in 0..joins {
        let started = Instant::now();
        process::spawn("worker", Some("noop"), || 0)?.join()?;
        samples.push(started.elapsed().as_nanos() as u64);
    }
    emit::set_enabled(true);
    emit::result(format!("{joins} workers started and joined"), json!({ "join_ns": samples, "huge_code": huge_code::moved_chunks() }));
    Ok(())
}
