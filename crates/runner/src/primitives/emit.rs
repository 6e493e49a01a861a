//! The event writer: how every process and thread of a run reports what it did.
//!
//! Each event is appended to the run's event ring (shared memory every
//! process inherits; see [`forkline_core::ring`]) without a system call: the kinds
//! demos emit in their tight loops as compact records
//! ([`forkline_core::event::compact`]), the rest as JSON lines serialised into a
//! per-thread buffer. The runner's stdout, which all of them share, is the
//! ring's doorbell. A runner started without a ring (by hand) writes each
//! event as one JSON line to stdout instead, with one `write()` of at most
//! PIPE_BUF bytes, which the kernel makes atomic.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use forkline_core::clock;
use forkline_core::event::{clip_text, compact, write_line, Body, MAX_LINE};
use forkline_core::ring;

/// The run's time origin (CLOCK_MONOTONIC ns), set once by the runner before
/// it forks anything, so every child inherits it.
static ORIGIN_NS: AtomicU64 = AtomicU64::new(0);

/// When false, `emit` returns at once: the benchmark's way to measure what
/// instrumentation costs a demo, and the unit tests' way to stay quiet.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The doorbell (or, without a ring, the event pipe) in every process of the run.
const EVENT_FD: i32 = 1;

/// The run's event ring, mapped once by the runner before it forks.
static RING: OnceLock<ring::Writer> = OnceLock::new();

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(MAX_LINE));
    /// (fork generation it was read in, pid, tid); see [`ids`].
    static IDS: Cell<(u64, i32, i32)> = const { Cell::new((u64::MAX, 0, 0)) };
}

/// Sends every later event through `writer`. Called once, in the runner,
/// before any fork or thread.
pub fn use_ring(writer: ring::Writer) {
    let _ = RING.set(writer);
}

/// The run's event ring, where the runner was handed one: for a demo that
/// must write below [`emit`] (the testkit's fault demo leaves a record torn).
pub fn ring() -> Option<&'static ring::Writer> {
    RING.get()
}

/// Sets the run's time origin. Called once, in the runner, before any fork.
pub fn set_origin(origin_ns: u64) {
    ORIGIN_NS.store(origin_ns, Ordering::Relaxed);
}

/// The run's time origin (CLOCK_MONOTONIC ns), for a program that stamps
/// its own events (the CPython tracer).
pub fn origin_ns() -> u64 {
    ORIGIN_NS.load(Ordering::Relaxed)
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
    emit_at(now(), body)
}

/// Emits one event stamped with an earlier reading of [`now`]: the kernel
/// sampler stamps a sample with the moment it read `/proc`, not the moment it
/// got round to writing the line.
pub fn emit_at(t: u64, body: Body) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let (pid, tid) = ids();
    let cpu = clock::current_cpu();
    if let Some(ring) = RING.get() {
        let mut record = compact::Record::new();
        if compact::encode(&mut record, t, pid, tid, cpu, &body) {
            ring.push(record.as_bytes(), EVENT_FD);
            return;
        }
    }
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        write_line(&mut line, t, pid, tid, cpu, &body);
        // The newline a pipe write adds must fit too.
        if line.len() >= MAX_LINE {
            // Only reachable through a bug (texts are clipped): say so instead
            // of breaking the pipe's atomicity.
            let note = Body::Note { text: format!("event {} too large, dropped", body.kind()).into() };
            write_line(&mut line, t, pid, tid, cpu, &note);
        }
        send(&mut line);
    });
}

/// Sends one serialised event: into the ring as it is, or to the pipe as a
/// line (with its newline added).
fn send(line: &mut Vec<u8>) {
    match RING.get() {
        Some(ring) => ring.push(line, EVENT_FD),
        None => {
            line.push(b'\n');
            write_all_once(line);
        }
    }
}

/// Passes on one line another program wrote as an event (the CPython
/// tracer's, see [`crate::start::cpython`]), unchecked: the server checks
/// it exactly as it checks ours. Empty lines carry nothing and are dropped.
pub fn relay(line: &[u8]) {
    if line.is_empty() {
        return;
    }
    match RING.get() {
        Some(ring) => ring.push(line, EVENT_FD),
        None => {
            let mut with_newline = Vec::with_capacity(line.len() + 1);
            with_newline.extend_from_slice(line);
            with_newline.push(b'\n');
            write_all_once(&with_newline);
        }
    }
}

/// Bumped in a child after every fork, so cached ids are read afresh there.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCH_FORKS: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// This thread's (pid, tid). getpid() and gettid() are real system calls
/// (glibc stopped caching the pid), a third of an event's cost, so they are
/// read once per thread and again only after a fork, which changes both in
/// the child while the forking thread's cache comes along unchanged.
pub fn ids() -> (i32, i32) {
    WATCH_FORKS.call_once(|| {
        // SAFETY: registers a handler that only bumps an atomic, which is
        // async-signal-safe and so fine in a child of a threaded process.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    IDS.with(|cached| {
        let (seen, pid, tid) = cached.get();
        if seen == generation {
            return (pid, tid);
        }
        let (pid, tid) = (std::process::id() as i32, clock::current_tid());
        cached.set((generation, pid, tid));
        (pid, tid)
    })
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
    super::step::before("print", || format!("print {:?}", text.as_ref()));
    emit(Body::Print { text: clip_text(text.as_ref()).into(), stream: None });
}

/// A teaching remark shown on the timeline.
pub fn note(text: impl AsRef<str>) {
    emit(Body::Note { text: clip_text(text.as_ref()).into() });
}

/// The demo's outcome in words and figures; the page shows `text` at the end.
pub fn result(text: impl AsRef<str>, data: serde_json::Value) {
    emit(Body::Result { text: clip_text(text.as_ref()).into(), data });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_reports_its_own_pid() {
        assert_eq!(ids().0, std::process::id() as i32);
        let (mut read, write) = nix::unistd::pipe().unwrap();
        let _ = &mut read;
        // SAFETY: the child only computes, writes to a pipe and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = ids() == (std::process::id() as i32, clock::current_tid());
                let _ = nix::unistd::write(&write, &[u8::from(ok)]);
                // SAFETY: leave without running the test harness's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(write);
                let mut byte = [0u8; 1];
                let n = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&read), &mut byte).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!((n, byte[0]), (1, 1), "the child saw its parent's cached pid");
            }
        }
    }
}
