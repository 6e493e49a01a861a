//! The event writer: how every process and thread of a run reports what it did.
//!
//! All of a run's processes inherit the runner's stdout, which is the run's
//! event pipe. Each event is serialised into a per-thread buffer and written
//! with exactly one `write()` of at most PIPE_BUF bytes, which the kernel makes
//! atomic, so lines from concurrent writers never interleave and no lock is
//! needed between processes.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::clock;
use crate::event::{clip_text, Body, Event, MAX_LINE};

/// The run's time origin (CLOCK_MONOTONIC ns), set once by the runner before
/// it forks anything, so every child inherits it.
static ORIGIN_NS: AtomicU64 = AtomicU64::new(0);

/// When false, `emit` returns at once: the benchmark's way to measure what
/// instrumentation costs a demo, and the unit tests' way to stay quiet.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The event pipe's file descriptor in every process of the run.
const EVENT_FD: i32 = 1;

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(MAX_LINE));
}

/// Sets the run's time origin. Called once, in the runner, before any fork.
pub fn set_origin(origin_ns: u64) {
    ORIGIN_NS.store(origin_ns, Ordering::Relaxed);
}

/// Turns writing events on or off (off: the benchmark's "events discarded").
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Nanoseconds since the run started.
pub fn now() -> u64 {
    clock::monotonic_ns().saturating_sub(ORIGIN_NS.load(Ordering::Relaxed))
}

/// Emits one event from the calling process and thread.
pub fn emit(body: Body) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let event = Event {
        seq: None,
        t: now(),
        pid: std::process::id() as i32,
        tid: clock::current_tid(),
        cpu: clock::current_cpu(),
        body,
    };
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        // Serialising our own types into a Vec cannot fail.
        serde_json::to_writer(&mut *line, &event).expect("event serialises");
        line.push(b'\n');
        if line.len() > MAX_LINE {
            // Only reachable through a bug (texts are clipped): say so instead
            // of breaking the pipe's atomicity.
            line.clear();
            let note = Event { body: Body::Note { text: format!("event {} too large, dropped", event.body.kind()) }, ..event };
            serde_json::to_writer(&mut *line, &note).expect("event serialises");
            line.push(b'\n');
        }
        write_all_once(&line);
    });
}

/// Writes one line with a single `write()`; a pipe write of ≤ PIPE_BUF bytes is
/// all-or-nothing, so only EINTR needs a retry.
fn write_all_once(bytes: &[u8]) {
    loop {
        // SAFETY: the pointer and length come from a live slice.
        let n = unsafe { libc::write(EVENT_FD, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // EPIPE: the server is gone, and with it anyone to tell. Leave now
            // rather than run a demo nobody can see.
            _ => {
                let _ = std::io::stderr().write_all(b"forkline: event pipe closed\n");
                // SAFETY: _exit ends the process without running destructors,
                // which is what a forked child must do.
                unsafe { libc::_exit(3) }
            }
        }
    }
}

/// `print(text)` in the lesson's programs.
pub fn print(text: impl AsRef<str>) {
    emit(Body::Print { text: clip_text(text.as_ref()) });
}

/// A teaching remark shown on the timeline.
pub fn note(text: impl AsRef<str>) {
    emit(Body::Note { text: clip_text(text.as_ref()) });
}

/// The demo's outcome in words and figures; the page shows `text` at the end.
pub fn result(text: impl AsRef<str>, data: serde_json::Value) {
    emit(Body::Result { text: clip_text(text.as_ref()), data });
}
