//! The event writer: how every process and thread of a run reports what it did.
//!
//! Each event is serialised into a per-thread buffer and appended to the
//! run's event ring (shared memory every process inherits; see
//! [`crate::ring`]) without a system call. The runner's stdout, which all of
//! them share, is the ring's doorbell. A runner started without a ring (by
//! hand) writes each event as one line to stdout instead, with one `write()`
//! of at most PIPE_BUF bytes, which the kernel makes atomic.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use crate::clock;
use crate::event::{clip_text, Body, MAX_LINE};
use crate::ring;

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
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        write_line(&mut line, t, pid, tid, cpu, &body);
        if line.len() > MAX_LINE {
            // Only reachable through a bug (texts are clipped): say so instead
            // of breaking the pipe's atomicity.
            let note = Body::Note { text: format!("event {} too large, dropped", body.kind()).into() };
            write_line(&mut line, t, pid, tid, cpu, &note);
        }
        send(&line);
    });
}

/// Sends one serialised line (ending in a newline): into the ring without
/// its newline, or to the pipe as it is.
fn send(line: &[u8]) {
    match RING.get() {
        Some(ring) => ring.push(&line[..line.len() - 1], EVENT_FD),
        None => write_all_once(line),
    }
}

/// Sends bytes as if they were an event, unchecked: only the fault demo
/// uses this, to prove the server refuses what is not one.
pub fn send_raw(bytes: &[u8]) {
    let mut line = bytes.to_vec();
    line.push(b'\n');
    send(&line);
}

/// Serialises one event as a line, exactly as `serde_json` writes an
/// [`Event`] without `seq`, but without going through `#[serde(flatten)]`,
/// whose map-buffering serializer was most of an event's cost: the fixed
/// fields are written by hand and the body's own object is spliced after them.
fn write_line(line: &mut Vec<u8>, t: u64, pid: i32, tid: i32, cpu: i32, body: &Body) {
    let mut digits = itoa::Buffer::new();
    line.clear();
    line.extend_from_slice(b"{\"t\":");
    line.extend_from_slice(digits.format(t).as_bytes());
    line.extend_from_slice(b",\"pid\":");
    line.extend_from_slice(digits.format(pid).as_bytes());
    line.extend_from_slice(b",\"tid\":");
    line.extend_from_slice(digits.format(tid).as_bytes());
    line.extend_from_slice(b",\"cpu\":");
    line.extend_from_slice(digits.format(cpu).as_bytes());
    if !write_hot_body(line, body) {
        let body_at = line.len();
        // Serialising our own types into a Vec cannot fail.
        crate::event::write_body(line, body).expect("event serialises");
        // The body is an object that always has `kind`: its '{' becomes our ','.
        line[body_at] = b',';
    }
    line.push(b'\n');
}

/// The kinds demos emit most, written field by field: serde's path for an
/// internally tagged enum was half an event's cost (48–68 ns of about 190).
/// Leaf values (names, texts, enum words, JSON values) still go through
/// serde_json, so escaping is its own; the test below holds every kind here
/// to the bytes serde writes. Returns false, having written nothing, for any
/// other kind.
fn write_hot_body(line: &mut Vec<u8>, body: &Body) -> bool {
    let hot = matches!(
        body,
        Body::Value { .. }
            | Body::Lock { .. }
            | Body::Gil { .. }
            | Body::Compute { .. }
            | Body::Sleep { .. }
            | Body::Queue { .. }
            | Body::Print { .. }
            | Body::KernelSample { .. }
    );
    if !hot {
        return false;
    }
    fn key(line: &mut Vec<u8>, name: &str) {
        line.extend_from_slice(b",\"");
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b"\":");
    }
    fn leaf(line: &mut Vec<u8>, value: &impl serde::Serialize) {
        serde_json::to_writer(&mut *line, value).expect("event serialises");
    }
    fn int(line: &mut Vec<u8>, n: impl itoa::Integer) {
        line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    key(line, "kind");
    line.push(b'"');
    line.extend_from_slice(body.kind().as_bytes());
    line.push(b'"');
    match body {
        Body::Value { op, name, value } => {
            key(line, "op");
            leaf(line, op);
            key(line, "name");
            leaf(line, name);
            key(line, "value");
            int(line, *value);
        }
        Body::Lock { phase, lock } => {
            key(line, "phase");
            leaf(line, phase);
            key(line, "lock");
            leaf(line, lock);
        }
        Body::Gil { phase } => {
            key(line, "phase");
            leaf(line, phase);
        }
        Body::Compute { phase, work } => {
            key(line, "phase");
            leaf(line, phase);
            if let Some(work) = work {
                key(line, "work");
                int(line, *work);
            }
        }
        Body::Sleep { phase, ms } => {
            key(line, "phase");
            leaf(line, phase);
            if let Some(ms) = ms {
                key(line, "ms");
                int(line, *ms);
            }
        }
        Body::Queue { op, queue, msg, value } => {
            key(line, "op");
            leaf(line, op);
            key(line, "queue");
            leaf(line, queue);
            key(line, "msg");
            int(line, *msg);
            key(line, "value");
            leaf(line, value);
        }
        Body::Print { text } => {
            key(line, "text");
            leaf(line, text);
        }
        Body::KernelSample { of_pid, of_tid, of_ppid, name, state, on_cpu, utime, stime } => {
            key(line, "of_pid");
            int(line, *of_pid);
            key(line, "of_tid");
            int(line, *of_tid);
            if let Some(ppid) = of_ppid {
                key(line, "of_ppid");
                int(line, *ppid);
            }
            if let Some(name) = name {
                key(line, "name");
                leaf(line, name);
            }
            key(line, "state");
            leaf(line, state);
            key(line, "on_cpu");
            int(line, *on_cpu);
            if let Some(utime) = utime {
                key(line, "utime");
                int(line, *utime);
            }
            if let Some(stime) = stime {
                key(line, "stime");
                int(line, *stime);
            }
        }
        _ => unreachable!("only the kinds matched above"),
    }
    line.push(b'}');
    true
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
fn ids() -> (i32, i32) {
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

/// Leaves a reserved, never committed record in the ring, as a process
/// killed in the middle of an emit would. Only the fault demo uses this.
pub fn abandon_a_record() {
    if let Some(ring) = RING.get() {
        ring.abandon_a_record();
    }
}

/// `print(text)` in the lesson's programs.
pub fn print(text: impl AsRef<str>) {
    emit(Body::Print { text: clip_text(text.as_ref()).into() });
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
    use crate::event::{Event, Phase};

    #[test]
    fn lines_are_exactly_what_serde_writes_for_an_event() {
        use crate::event::{GilPhase, LockPhase, QueueOp, ValueOp};
        let odd = "a \"quoted\"\nline\\ \u{1} \u{7f} é ✓ </script>";
        let bodies = [
            Body::Compute { phase: Phase::Begin, work: Some(7) },
            Body::Compute { phase: Phase::End, work: None },
            Body::Sleep { phase: Phase::Begin, ms: Some(500) },
            Body::Sleep { phase: Phase::End, ms: None },
            Body::ThreadExit {},
            Body::Print { text: odd.into() },
            Body::Result { text: "r".into(), data: serde_json::json!({ "x": [1, 2] }) },
            Body::Value { op: ValueOp::Read, name: odd.into(), value: -200 },
            Body::Value { op: ValueOp::Write, name: "balance".into(), value: i64::MAX },
            Body::Lock { phase: LockPhase::Acquire, lock: "lock".into() },
            Body::Lock { phase: LockPhase::Wait, lock: odd.into() },
            Body::Gil { phase: GilPhase::DropRequest },
            Body::Queue { op: QueueOp::Put, queue: "q".into(), msg: 3, value: serde_json::json!(9) },
            Body::Queue { op: QueueOp::Get, queue: odd.into(), msg: u64::MAX, value: serde_json::json!({"a": [1, "b", null]}) },
            Body::Queue { op: QueueOp::Get, queue: "q".into(), msg: 0, value: serde_json::Value::Null },
            Body::KernelSample { of_pid: 1, of_tid: 2, of_ppid: None, name: None, state: "R".into(), on_cpu: -1, utime: None, stime: None },
            Body::KernelSample {
                of_pid: 1,
                of_tid: 2,
                of_ppid: Some(9),
                name: Some(odd.into()),
                state: "Z".into(),
                on_cpu: 1,
                utime: Some(5),
                stime: Some(u64::MAX),
            },
        ];
        let mut line = Vec::new();
        for body in bodies {
            write_line(&mut line, 12, 34, 56, -1, &body);
            let event = Event { seq: None, t: 12, pid: 34, tid: 56, cpu: -1, body };
            let mut expected = serde_json::to_vec(&event).unwrap();
            expected.push(b'\n');
            assert_eq!(String::from_utf8_lossy(&line), String::from_utf8_lossy(&expected));
        }
    }

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
