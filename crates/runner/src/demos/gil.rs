//! The lesson's GIL section made measurable: the same CPU-bound work in one
//! thread, in N threads that share a (modelled) interpreter lock, in N
//! processes with a lock each, and in N threads with no lock at all.
//!
//! ```text
//! runner (MainProcess)
//!   (a) countdown(WORK) on the main thread, holding its own lock
//!   (b) ─thread─▶ b1 … bN   one shared Gil: compute only while holding it
//!   (c) ─fork──▶  p1 … pN   a Gil each (forked once the threads of (b) are gone)
//!   (d) ─thread─▶ d1 … dN   no lock
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use forkline_core::event::{Body, Phase};
use crate::primitives::compute::{self, CHECK_EVERY};
use crate::primitives::emit::{self, emit};
use crate::primitives::gil::{Gil, GilStats};
use crate::primitives::process::{self, ExitStatus};
use crate::primitives::procfs;

pub static DEMO: Demo = Demo {
    name: "gil",
    title: "The GIL: threads vs processes for CPU-bound work",
    summary: "The same countdown in one thread, N threads under one interpreter lock, N processes, and N free threads.",
    notes: "Mode (a) is the baseline: one thread does all the work. In (b) N threads split it but \
            must hold one interpreter lock to compute, as CPython's threads must hold the GIL: a \
            waiting thread asks for the lock after the switch interval (5 ms), the holder hands it \
            over at its next check, and so only one thread computes at any moment. The gil marks \
            show every wait, drop request, release and acquire. (b) is CPython's mechanism rebuilt \
            on real threads, not CPython itself. In (c) each of N processes has its own \
            interpreter and its own lock, so they compute at the same time on different cores. \
            In (d) N threads compute with no lock at all, as in a free-threaded build or a C \
            extension that releases the GIL. With two or more cores, (c) and (d) finish in \
            about 1/N of (a)'s time while (b) takes as long as (a) or longer; on one core \
            nothing can beat (a). The result also says how many CPUs each mode had on average \
            (CPU time over wall time): about 1 for (a) and (b), about N for (c) and (d) when the \
            machine has cores to spare.",
    source: SOURCE,
    source_lines: &[
        ("compute", 8),
        ("gil", 8),
        ("thread.spawn", 22),
        ("proc.spawn", 22),
        ("print", 18),
        ("result", 30),
    ],
    lesson_output: "(a) one thread: 0.20 s on 1.0 CPUs\n\
                    (b) 2 threads, one GIL: 0.21 s on 1.0 CPUs\n\
                    (c) 2 processes, a GIL each: 0.11 s on 1.98 CPUs\n\
                    (d) 2 threads, no GIL: 0.10 s on 1.97 CPUs",
    params: &[
        Spec {
            name: "workers",
            help: "N: threads or processes that share the work",
            kind: Kind::Int { default: 2, min: 1, max: 8 },
        },
        Spec {
            name: "work",
            help: "the countdown's length, in millions of steps (the same total in every mode)",
            kind: Kind::Int { default: 400, min: 1, max: 1500 },
        },
        Spec {
            name: "repeat",
            help: "rounds of all four modes; each mode's best round is reported, as timeit does",
            kind: Kind::Int { default: 1, min: 1, max: 3 },
        },
        Spec {
            name: "switch_interval_ms",
            help: "how long a waiting thread waits before asking for the lock (sys.setswitchinterval)",
            kind: Kind::Int { default: 5, min: 1, max: 100 },
        },
        Spec {
            name: "io_ms",
            help: "a sleep (think I/O) before each share of work; under the GIL sleeping releases the lock",
            kind: Kind::Int { default: 0, min: 0, max: 200 },
        },
    ],
    hidden: false,
};

const SOURCE: &str = r#"import os, time, threading
from multiprocessing import Process
WORK = 400_000_000   # countdown steps (work, in millions)
N = 2                # (workers); sys.setswitchinterval(0.005)

def countdown(n):
    while n > 0:
        n -= 1           # bytecodes: the thread must hold the GIL

def cpu_seconds():       # this process's CPU time and its joined children's
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system

def timed(label, run):
    t, cpu = time.time(), cpu_seconds()
    run()
    wall = time.time() - t
    print(label, round(wall, 2), "s on", round((cpu_seconds() - cpu) / wall, 2), "CPUs")

def together(workers):
    for w in workers:
        w.start()
    for w in workers: w.join()

if __name__ == "__main__":
    timed("(a) one thread:", lambda: countdown(WORK))
    timed(f"(b) {N} threads, one GIL:", lambda: together([threading.Thread(target=countdown, args=(WORK // N,)) for _ in range(N)]))
    timed(f"(c) {N} processes, a GIL each:", lambda: together([Process(target=countdown, args=(WORK // N,)) for _ in range(N)]))
    # (d) only in a free-threaded build (python3.13t -X gil=0):
    timed(f"(d) {N} threads, no GIL:", lambda: together([threading.Thread(target=countdown, args=(WORK // N,)) for _ in range(N)]))
"#;

/// Longest wait for the threads of (b) and (d) to vanish before (c) forks.
const THREADS_GONE_LIMIT: Duration = Duration::from_secs(1);

/// One round of one mode: how long it took and how much CPU it used.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

impl Sample {
    /// CPUs the mode had on average: 1 means one core's worth, whatever the
    /// number of threads.
    fn cpus_used(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// One mode's samples, one per round; the best (shortest) is reported, as
/// `timeit` does, because on a shared machine noise only ever adds time.
struct Mode {
    key: &'static str,
    label: String,
    samples: Vec<Sample>,
}

impl Mode {
    fn best(&self) -> Sample {
        self.samples.iter().copied().min_by_key(|s| s.wall).unwrap_or(Sample { wall: Duration::ZERO, cpu: Duration::ZERO })
    }
}

/// The same split of the same work, for every mode.
#[derive(Clone, Copy)]
struct Setup<'a> {
    shares: &'a [u64],
    interval: Duration,
    io_ms: u64,
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let n = params.int("workers") as u64;
    let total = params.int("work") as u64 * 1_000_000;
    let rounds = params.int("repeat") as usize;
    let interval = Duration::from_millis(params.int("switch_interval_ms") as u64);
    let io_ms = params.int("io_ms") as u64;
    let shares = compute::shares(total, n);
    let setup = Setup { shares: &shares, interval, io_ms };

    emit::note(
        "Mode (b) is CPython's GIL mechanism (switch interval, drop request, forced switch) rebuilt on \
         real OS threads, not CPython itself: no Python runs here.",
    );
    // The native countdown step is a fraction of a nanosecond; CPython's is
    // 20-40 ns (about 80x slower here), so the same WORK would take it seconds.
    let cpython_s = total as f64 * CPYTHON_NS_PER_STEP / 1e9;
    emit::note(format!(
        "Real CPython would need about {cpython_s:.0} s per mode for this countdown ({} million steps at \
         about {CPYTHON_NS_PER_STEP:.0} ns a step, some 80 times the native loop's): the CPython engine's \
         gil program counts down far less for that reason.",
        total / 1_000_000
    ));
    let mut modes = [
        Mode { key: "a", label: "one thread".into(), samples: Vec::new() },
        Mode { key: "b", label: format!("{n} threads, one GIL"), samples: Vec::new() },
        Mode { key: "c", label: format!("{n} processes, a GIL each"), samples: Vec::new() },
        Mode { key: "d", label: format!("{n} threads, no GIL"), samples: Vec::new() },
    ];
    let mut stats_b = GilStats::default();
    // Rounds run the four modes in turn (not each mode `repeat` times in a
    // row), so a burst of load elsewhere hurts one round, not one mode.
    for round in 1..=rounds {
        if rounds > 1 {
            emit::note(format!("Round {round} of {rounds}."));
        }
        let a = one_thread(setup);
        report_mode(&mut modes[0], a);
        let (b, stats) = threads_one_gil(setup)?;
        stats_b = GilStats {
            acquisitions: stats_b.acquisitions + stats.acquisitions,
            handoffs: stats_b.handoffs + stats.handoffs,
            drop_requests: stats_b.drop_requests + stats.drop_requests,
            forced_drops: stats_b.forced_drops + stats.forced_drops,
        };
        report_mode(&mut modes[1], b);
        let c = processes(setup)?;
        report_mode(&mut modes[2], c);
        let d = threads_no_gil(setup)?;
        report_mode(&mut modes[3], d);
    }
    report(&modes, stats_b, n, total, setup);
    Ok(())
}

/// What one countdown step costs CPython 3.11 on this class of machine,
/// measured by `forkline-bench` (the CPython engine's `gil` program).
const CPYTHON_NS_PER_STEP: f64 = 22.0;

/// (a) one thread does every share in turn, holding an uncontended lock.
fn one_thread(setup: Setup) -> Sample {
    emit::note("(a) one thread does all the work.");
    let (t, cpu) = (Instant::now(), compute::process_cpu_time());
    let gil = Gil::new(setup.interval);
    gil.take();
    for &share in setup.shares {
        if setup.io_ms > 0 {
            gil.sleep_ms(setup.io_ms);
        }
        compute_holding(&gil, share);
    }
    gil.release();
    Sample { wall: t.elapsed(), cpu: compute::process_cpu_time() - cpu }
}

/// (b) N threads share one lock.
fn threads_one_gil(setup: Setup) -> Result<(Sample, GilStats), DemoError> {
    let n = setup.shares.len();
    emit::note(format!("(b) {n} threads split the work and take turns holding one interpreter lock."));
    let (t, cpu) = (Instant::now(), compute::process_cpu_time());
    let gil = Arc::new(Gil::new(setup.interval));
    // As in CPython, the main thread holds the lock while it starts the
    // threads and lets go only when it blocks in join(): every thread starts
    // out waiting, then they take turns. (Without this, on a busy machine the
    // first thread could finish its share before the second existed.)
    gil.take();
    let mut threads = Vec::new();
    let mut started = Ok(());
    for (i, &share) in setup.shares.iter().enumerate() {
        let gil = gil.clone();
        let io_ms = setup.io_ms;
        let thread = process::spawn_thread(format!("b{}", i + 1), move || {
            gil.take();
            if io_ms > 0 {
                gil.sleep_ms(io_ms);
            }
            compute_holding(&gil, share);
            gil.release();
        });
        match thread {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    gil.release();
    for thread in threads {
        thread.join();
    }
    started?;
    Ok((Sample { wall: t.elapsed(), cpu: compute::process_cpu_time() - cpu }, gil.stats()))
}

/// (c) N processes, each its own interpreter and lock.
fn processes(setup: Setup) -> Result<Sample, DemoError> {
    // Forking needs a single-threaded parent: the threads of (b) and (d) are
    // joined; make sure the kernel has let go of them too.
    procfs::wait_single_threaded(THREADS_GONE_LIMIT)?;
    let n = setup.shares.len();
    emit::note(format!("(c) {n} processes split the work; each has its own interpreter lock."));
    let (t, cpu) = (Instant::now(), compute::reaped_children_cpu_time());
    let mut children = Vec::new();
    for (i, &share) in setup.shares.iter().enumerate() {
        children.push(process::spawn(format!("p{}", i + 1), Some("countdown"), move || {
            let gil = Gil::new(setup.interval);
            gil.take();
            if setup.io_ms > 0 {
                gil.sleep_ms(setup.io_ms);
            }
            compute_holding(&gil, share);
            gil.release();
            0
        })?);
    }
    let mut failed = Vec::new();
    for child in children {
        let pid = child.pid();
        let status = child.join()?;
        if status != ExitStatus::Code(0) {
            failed.push(format!("{pid}: {status:?}"));
        }
    }
    if !failed.is_empty() {
        return Err(format!("worker processes failed: {}", failed.join(", ")).into());
    }
    Ok(Sample { wall: t.elapsed(), cpu: compute::reaped_children_cpu_time() - cpu })
}

/// (d) N threads, no lock.
fn threads_no_gil(setup: Setup) -> Result<Sample, DemoError> {
    let n = setup.shares.len();
    emit::note(format!("(d) {n} threads split the work with no interpreter lock at all."));
    let (t, cpu) = (Instant::now(), compute::process_cpu_time());
    let mut threads = Vec::new();
    for (i, &share) in setup.shares.iter().enumerate() {
        let io_ms = setup.io_ms;
        threads.push(process::spawn_thread(format!("d{}", i + 1), move || {
            if io_ms > 0 {
                process::sleep_ms(io_ms);
            }
            emit(Body::Compute { phase: Phase::Begin, work: None });
            compute::countdown(share);
            emit(Body::Compute { phase: Phase::End, work: Some(share) });
        })?);
    }
    for thread in threads {
        thread.join();
    }
    Ok(Sample { wall: t.elapsed(), cpu: compute::process_cpu_time() - cpu })
}

/// Counts `steps` down while holding `gil`, handing it over whenever a waiter
/// asks; `compute` spans cover only the stretches the lock was held.
fn compute_holding(gil: &Gil, steps: u64) {
    emit(Body::Compute { phase: Phase::Begin, work: None });
    let mut done = 0u64;
    compute::countdown_checked(steps, || {
        done += CHECK_EVERY;
        if gil.drop_requested() {
            emit(Body::Compute { phase: Phase::End, work: Some(done) });
            done = 0;
            gil.yield_to_waiter();
            emit(Body::Compute { phase: Phase::Begin, work: None });
        }
    });
    emit(Body::Compute { phase: Phase::End, work: Some(done) });
}

fn report_mode(mode: &mut Mode, sample: Sample) {
    emit::print(format!("({}) {}: {:.2} s on {:.2} CPUs", mode.key, mode.label, sample.wall.as_secs_f64(), sample.cpus_used()));
    mode.samples.push(sample);
}

fn report(modes: &[Mode], stats_b: GilStats, n: u64, total: u64, setup: Setup) {
    let base = modes[0].best().wall.as_secs_f64();
    let cpus = process::allowed_cpus().map_or(0, |cpus| cpus.len());
    let speedup = |m: &Mode| base / m.best().wall.as_secs_f64().max(1e-9);
    let text = modes
        .iter()
        .map(|m| {
            let best = m.best();
            format!("({}) {}: {:.2} s, {:.2}× on {:.1} CPUs", m.key, m.label, best.wall.as_secs_f64(), speedup(m), best.cpus_used())
        })
        .collect::<Vec<_>>()
        .join(" · ");
    let rounds = modes[0].samples.len();
    let best_of = if rounds > 1 { format!(", best of {rounds}") } else { String::new() };
    let data_modes: serde_json::Map<String, serde_json::Value> = modes
        .iter()
        .map(|m| {
            (
                m.key.to_owned(),
                json!({
                    "label": m.label,
                    "wall_s": m.best().wall.as_secs_f64(),
                    "wall_ns": m.best().wall.as_nanos() as u64,
                    "speedup": speedup(m),
                    "cpu_s": m.best().cpu.as_secs_f64(),
                    "cpus_used": m.best().cpus_used(),
                    "rounds_s": m.samples.iter().map(|s| s.wall.as_secs_f64()).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    // What this run measured, said plainly where it differs from the notes:
    // a baseline that did not get a whole CPU was slowed by other load, and
    // then the comparison is not the GIL's doing.
    let a_cpus = modes[0].best().cpus_used();
    let b_speedup = speedup(&modes[1]);
    let disturbed = a_cpus < 0.85;
    if disturbed {
        emit::note(format!(
            "This run was disturbed by other load: (a)'s one thread got only {a_cpus:.2} of a CPU while it ran, so \
             the times compare the machine's other work more than the modes. Run it again on a quieter machine."
        ));
    } else if b_speedup > 1.1 {
        emit::note(format!(
            "This run, (b) came out {b_speedup:.2}× as fast as (a), not slower: (b)'s threads used {:.2} CPUs on average, \
             so they did not wait for one lock as CPython's would; compare its hand-offs above.",
            modes[1].best().cpus_used()
        ));
    }
    emit::result(
        format!("{text} (speedup against (a){best_of}; {cpus} CPUs usable)"),
        json!({
            "modes": data_modes,
            "gil_b": stats_b,
            "workers": n,
            "work_steps": total,
            "rounds": rounds,
            "switch_interval_ms": setup.interval.as_millis() as u64,
            "io_ms": setup.io_ms,
            "cpus": cpus,
            "disturbed": disturbed,
        }),
    );
}
