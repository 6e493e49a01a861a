//! Stepping ("You are the scheduler"): in a stepped run, each traced
//! operation of every process and thread first says what it is about to do
//! (`step.pending`) and then waits at its gate until the student lets that
//! one thread through (see [`forkline_core::gates`]).
//!
//! The primitives call [`before`] ahead of each operation the lesson talks
//! about: starting and joining processes and threads, taking and releasing a
//! lock, reading and writing a shared value, putting and getting, sending
//! and receiving, sleeping and printing. Nothing the page does not show runs
//! between two gates of one thread. Outside a stepped run `before` is one
//! load of an empty cell.

use std::cell::Cell;
use std::sync::OnceLock;

use forkline_core::event::{clip_text, Body, Text};
use forkline_core::gates::Gates;

use super::emit::{self, emit};

/// The run's gate page, mapped once by the runner before it forks, when the
/// run is stepped.
static GATES: OnceLock<Gates> = OnceLock::new();

thread_local! {
    /// (tid it was claimed for, slot): a forked child's thread inherits its
    /// parent's cell, and its other tid makes it claim a slot of its own.
    static SLOT: Cell<(i32, Option<usize>)> = const { Cell::new((0, None)) };
}

/// Makes every later traced operation wait at `gates`. Called once, in the
/// runner, before any fork or thread.
pub fn use_gates(gates: Gates) {
    let _ = GATES.set(gates);
}

/// The gate page's descriptor, for an interpreter whose tracer waits at
/// the same gates (the CPython engine).
pub fn gates_fd() -> Option<std::os::fd::RawFd> {
    GATES.get().map(Gates::fd)
}

/// Whether this is a stepped run (even one the student has since let go).
/// Demos use it to drop what only makes sense at full speed, such as a
/// spinning start line.
pub fn is_stepped_run() -> bool {
    GATES.get().is_some()
}

/// Before a traced operation: in a stepped run, reports it as `at` (the
/// demo's `source_lines` key) and `op` (made only then: words such as
/// `write balance 201`), and waits for the student's go.
pub fn before(at: &'static str, op: impl FnOnce() -> String) {
    let Some(gates) = GATES.get() else { return };
    if gates.is_free() {
        return;
    }
    let tid = emit::ids().1;
    let slot = SLOT.with(|cell| match cell.get() {
        (owner, slot) if owner == tid => slot,
        _ => {
            let slot = gates.claim(tid);
            cell.set((tid, slot));
            if slot.is_none() {
                emit::note("this thread found no free gate, so it runs without waiting for steps");
            }
            slot
        }
    });
    let Some(slot) = slot else { return };
    emit(Body::StepPending { gate: slot as u32, op: Text::Owned(clip_text(&op())), at: Text::Borrowed(at), line: None });
    gates.wait(slot);
}
