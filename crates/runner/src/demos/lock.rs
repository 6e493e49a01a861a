//! `multiprocessing.Lock` guarding a shared `Value('i', 200)`: deposit and
//! withdraw 100 times each. With the lock the balance ends at 200; without it
//! the read-modify-writes really race on shared memory and updates are lost.
//!
//! Lost updates are counted exactly, not estimated: every write records which
//! write its read saw (the balance word carries the id of the write that
//! stored it). The final balance descends from a chain of writes; every write
//! off that chain was overwritten, i.e. lost. So
//! `final = expected - lost_deposits + lost_withdrawals` holds by construction,
//! and the run checks it.
//!
//! The workers start their loops together, as behind a barrier: forking the
//! second takes the parent longer than the first needs for its 100 updates
//! on a busy machine, so without it the lanes often did not overlap at all
//! and the race the demo is about did not happen (5 of 10 runs lost nothing).
//! Each worker also records when its loop ran, so a run that lost nothing
//! can say whether the workers overlapped.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use forkline_core::event::{Body, ValueOp};
use crate::primitives::emit::{self, emit};
use crate::primitives::lock::Lock;
use crate::primitives::process;
use crate::primitives::shm::Shared;
use crate::primitives::step;

pub static DEMO: Demo = Demo {
    name: "lock",
    title: "Lock: a shared balance, with and without a lock",
    summary: "deposit and withdraw change a shared Value in two processes; with a Lock it ends at 200, without one updates are lost.",
    notes: "balance.value = balance.value + 1 is two steps: read the value, then write the value plus one. \
            With the lock, each process holds it across both steps, so the lanes take turns (wait, \
            acquire, read, write, release) and the balance ends at 200. Without it (use_lock off) both \
            processes run the steps at the same time on real shared memory: look for read A, read B, \
            write A, write B — B writes a value computed from a stale read and A's update is lost. The \
            result counts every lost update exactly, and they account for the whole difference from 200. \
            CPython's Value('i') has a lock of its own, but it is taken separately for the read and for \
            the write, so it does not make += safe: that is why the lesson needs the explicit Lock. \
            The workers start their loops together, as if behind a multiprocessing.Barrier: in the \
            lesson's program d often finishes its 100 updates before w has even started, and then \
            nothing can race, which would teach the opposite of the point.",
    source: include_str!("../../../../python/programs/lock.py"),
    source_lines: &[
        ("proc.spawn", 27),
        ("lock:wait", 10),
        ("lock:acquire", 10),
        ("value:read", 11),
        ("value:write", 11),
        ("lock:release", 12),
        ("proc.join:begin", 29),
        ("proc.join:end", 30),
        ("print", 31),
    ],
    lesson_output: "200",
    params: &[
        Spec {
            name: "use_lock",
            help: "take the lock around each update (the lesson does); off shows lost updates",
            kind: Kind::Bool { default: true },
        },
        Spec {
            name: "iterations",
            help: "updates per process (the lesson does 100)",
            kind: Kind::Int { default: 100, min: 1, max: 1000 },
        },
        Spec {
            name: "workers",
            help: "processes, alternately deposit and withdraw (the lesson has 2: d and w)",
            kind: Kind::Int { default: 2, min: 2, max: 8 },
        },
        Spec {
            name: "gap_us",
            help: "microseconds between reading the balance and writing it back, to widen the race \
                   (100 makes each worker's loop 10 ms: long enough to overlap on a busy machine)",
            kind: Kind::Int { default: 100, min: 0, max: 200 },
        },
    ],
    hidden: false,
};

const INITIAL: i32 = 200;

/// `Value('i', 200)` plus the bookkeeping that makes lost updates countable.
/// Write ids start at 1; id 0 is the initial value.
struct Account {
    /// The balance as the processes see it (low 32 bits) and the id of the
    /// write that stored it (high 32 bits): one word, read and written whole.
    word: Shared<AtomicU64>,
    next_write: Shared<AtomicU64>,
    /// For each write id: the id of the write its read saw, and whether it
    /// was a deposit (bit 0).
    history: Shared<AtomicU64>,
}

fn pack(write: u64, value: i32) -> u64 {
    (write << 32) | u64::from(value as u32)
}

fn unpack(word: u64) -> (u64, i32) {
    (word >> 32, word as u32 as i32)
}

impl Account {
    fn new(writes: usize) -> std::io::Result<Account> {
        let account = Account {
            word: Shared::zeroed()?,
            next_write: Shared::zeroed()?,
            history: Shared::zeroed_slice(writes + 1)?,
        };
        account.word.store(pack(0, INITIAL), Ordering::SeqCst);
        account.next_write.store(1, Ordering::SeqCst);
        Ok(account)
    }
}

/// The start line all workers wait at, and when each one's loop ran.
struct Start {
    ready: Shared<AtomicU32>,
    go: Shared<AtomicU32>,
    /// Per worker: first and last update, CLOCK_MONOTONIC ns.
    spans: Shared<AtomicU64>,
}

impl Start {
    fn new(workers: usize) -> std::io::Result<Start> {
        Ok(Start { ready: Shared::zeroed()?, go: Shared::zeroed()?, spans: Shared::zeroed_slice(2 * workers)? })
    }

    /// In a worker: says it is ready, then waits for the word.
    fn wait(&self) {
        // Stepped, the student is the start line: spinning here would burn
        // a CPU while the page waits for a click.
        if step::is_stepped_run() {
            return;
        }
        self.ready.fetch_add(1, Ordering::SeqCst);
        let mut spins = 0u32;
        while self.go.load(Ordering::SeqCst) == 0 {
            spins += 1;
            // Spinning keeps the worker on its CPU for a start within
            // microseconds; past a while, let the others run.
            if spins % 1024 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// In the parent: once every worker waits, lets them all go.
    fn release_when_ready(&self, workers: u32) {
        if step::is_stepped_run() {
            return;
        }
        let deadline = forkline_core::clock::monotonic_ns() + 2_000_000_000;
        while self.ready.load(Ordering::SeqCst) < workers && forkline_core::clock::monotonic_ns() < deadline {
            std::thread::yield_now();
        }
        self.go.store(1, Ordering::SeqCst);
    }

    fn record(&self, worker: usize, first: u64, last: u64) {
        let spans = self.spans.as_slice();
        spans[2 * worker].store(first, Ordering::SeqCst);
        spans[2 * worker + 1].store(last, Ordering::SeqCst);
    }

    /// How long at least two workers were updating at once, in µs.
    fn overlap_us(&self, workers: usize) -> u64 {
        let spans = self.spans.as_slice();
        let span = |w: usize| (spans[2 * w].load(Ordering::SeqCst), spans[2 * w + 1].load(Ordering::SeqCst));
        let mut events: Vec<(u64, i32)> = (0..workers).flat_map(|w| [(span(w).0, 1), (span(w).1, -1)]).collect();
        events.sort_unstable();
        let (mut running, mut since, mut total) = (0, 0, 0);
        for (t, step) in events {
            if running >= 2 {
                total += t - since;
            }
            running += step;
            since = t;
        }
        total / 1000
    }
}

/// One process's loop: `balance.value = balance.value + delta`, `iterations` times.
fn update(account: &Account, lock: Option<&Lock>, delta: i32, iterations: i64, gap_us: u64) -> i32 {
    for _ in 0..iterations {
        if let Some(lock) = lock {
            lock.acquire();
        }
        step::before("value:read", || "read balance".to_owned());
        let (seen, value) = unpack(account.word.load(Ordering::SeqCst));
        emit(Body::Value { op: ValueOp::Read, name: "balance".into(), value: value.into() });
        spin_for(gap_us);
        step::before("value:write", || format!("write balance {}", value + delta));
        let id = account.next_write.fetch_add(1, Ordering::SeqCst);
        let Some(slot) = account.history.as_slice().get(id as usize) else { return 1 };
        slot.store((seen << 1) | u64::from(delta > 0), Ordering::SeqCst);
        // The unsynchronised part: nothing stops another process from having
        // written since our read; this store silently replaces its update.
        account.word.store(pack(id, value + delta), Ordering::SeqCst);
        emit(Body::Value { op: ValueOp::Write, name: "balance".into(), value: (value + delta).into() });
        if let Some(lock) = lock {
            lock.release();
        }
    }
    0
}

/// Busy-waits: a sleep this short would cost far more than asked and take
/// the process off its CPU, which is not the race we want to show.
fn spin_for(us: u64) {
    if us == 0 {
        return;
    }
    let until = forkline_core::clock::monotonic_ns() + us * 1000;
    while forkline_core::clock::monotonic_ns() < until {
        std::hint::spin_loop();
    }
}

/// Lost deposits and withdrawals: the writes not on the final value's chain.
fn lost_updates(account: &Account, writes: u64) -> (u64, u64, i64) {
    let history = account.history.as_slice();
    let (mut last, final_value) = unpack(account.word.load(Ordering::SeqCst));
    let mut on_chain = vec![false; writes as usize + 1];
    let mut chain_sum = 0i64;
    // Parents always have smaller ids (allocated before the read), so this ends.
    while last != 0 {
        on_chain[last as usize] = true;
        let entry = history[last as usize].load(Ordering::SeqCst);
        chain_sum += if entry & 1 == 1 { 1 } else { -1 };
        last = entry >> 1;
    }
    let (mut deposits, mut withdrawals) = (0, 0);
    for id in 1..=writes as usize {
        if !on_chain[id] {
            if history[id].load(Ordering::SeqCst) & 1 == 1 {
                deposits += 1;
            } else {
                withdrawals += 1;
            }
        }
    }
    (deposits, withdrawals, i64::from(final_value) - i64::from(INITIAL) - chain_sum)
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let use_lock = params.bool("use_lock");
    let iterations = params.int("iterations");
    let workers = params.int("workers");
    let gap_us = params.int("gap_us") as u64;
    let writes = (iterations * workers) as u64;

    let account = Account::new(writes as usize)?;
    let lock = Lock::new("lock")?;
    let lock = use_lock.then_some(&lock);
    let start = Start::new(workers as usize)?;

    let mut children = Vec::new();
    for i in 0..workers {
        let (target, delta) = if i % 2 == 0 { ("deposit", 1) } else { ("withdraw", -1) };
        let name = if workers == 2 { target[..1].to_owned() } else { format!("{}{}", &target[..1], i / 2 + 1) };
        let start = &start;
        let account = &account;
        children.push(process::spawn(name, Some(target), move || {
            start.wait();
            let first = forkline_core::clock::monotonic_ns();
            let code = update(account, lock, delta, iterations, gap_us);
            start.record(i as usize, first, forkline_core::clock::monotonic_ns());
            code
        })?);
    }
    start.release_when_ready(workers as u32);
    let failed = process::join_all(children)?;
    if !failed.is_empty() {
        return Err(format!("workers failed: {}", failed.join(", ")).into());
    }

    let (_, balance) = unpack(account.word.load(Ordering::SeqCst));
    emit::print(balance.to_string());

    let deposits = (workers + 1) / 2;
    let expected = i64::from(INITIAL) + (deposits - (workers - deposits)) * iterations;
    let (lost_deposits, lost_withdrawals, mismatch) = lost_updates(&account, writes);
    if mismatch != 0 {
        return Err(format!("the write history does not add up to the balance (off by {mismatch})").into());
    }
    let lost = lost_deposits + lost_withdrawals;
    if lost > 0 {
        emit::note(format!(
            "{lost} of {writes} updates were overwritten by a process that had read the balance before them: \
             {lost_deposits} deposits (each makes the balance 1 lower) and {lost_withdrawals} withdrawals \
             (each makes it 1 higher)."
        ));
    }
    let overlap_us = start.overlap_us(workers as usize);
    let text = if lost == 0 && use_lock {
        format!("balance {balance}, no update lost")
    } else if lost == 0 {
        // Not a success: without the lock nothing stopped the race; it just did not happen this time.
        let why = if overlap_us == 0 {
            "the workers never ran at the same time (one finished before the other began), so nothing could race: run it again, or raise iterations or gap_us".to_owned()
        } else {
            format!("the workers ran together for {overlap_us} µs but no read fell between another's read and write this time: run it again, or raise gap_us")
        };
        format!("balance {balance}, no update lost, by luck: {why}")
    } else {
        format!("balance {balance}, expected {expected}: {lost} updates lost ({lost_deposits} deposits, {lost_withdrawals} withdrawals)")
    };
    emit::result(
        text,
        json!({
            "balance": balance,
            "expected": expected,
            "lost_updates": lost,
            "lost_deposits": lost_deposits,
            "lost_withdrawals": lost_withdrawals,
            "writes": writes,
            "use_lock": use_lock,
            "overlap_us": overlap_us,
        }),
    );
    Ok(())
}
