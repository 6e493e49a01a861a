//! Emit cost: what one event costs at its source (timestamp, CPU number,
//! serialise, append to the event ring), next to one bare write() of a line
//! as long to a pipe: the system call each event cost before the ring.
//!
//! Measured in this process: the ring's reader is a thread that drains it as
//! the server's drain thread does while events flow, everything there is
//! every millisecond (a reader spinning right behind the writer would pull
//! each cache line of the ring back and forth, which the server never does);
//! the pipe is fd 1, drained by a thread as well.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use forkline_core::event::{Body, Phase};
use forkline_core::ring;
use forkline_runner::primitives::emit;

use super::{Options, Row};

const CASE: &str = "emit cost";

pub fn measure(options: &Options) -> Vec<Row> {
    let events = options.pick(20_000, 500_000);
    let reps = options.pick(3, 7);
    let (emit_row, json_row) = match emit_into_ring(events, reps) {
        Ok((compact, json)) => (
            Row::new(CASE, "emit() of one event into the event ring", "ns/event", &compact, "target ≤ 1,000 ns; a compute event (a compact record)"),
            Row::new(CASE, "emit() of a print event (written as JSON)", "ns/event", &json, "the kinds without a compact record"),
        ),
        Err(e) => {
            let skipped = Row::skipped(CASE, "emit() into the event ring", &format!("could not make a ring: {e}"));
            (skipped.clone(), skipped)
        }
    };
    let line = sample_line();
    let writes = with_stdout_drained(|| {
        (0..reps)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..events {
                    // SAFETY: writes from a live buffer to our own stdout.
                    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
                }
                started.elapsed().as_nanos() as f64 / events as f64
            })
            .collect::<Vec<_>>()
    });
    let write_row = match writes {
        Ok(ns) => Row::new(CASE, "one write() of an equal line to a pipe", "ns/event", &ns, "an event's cost before the ring: a system call"),
        Err(e) => Row::skipped(CASE, "write() to a pipe", &format!("could not redirect stdout: {e}")),
    };
    let ratio = Row::ratio(CASE, "emit / bare write", Some(&emit_row), Some(&write_row), "below 1: cheaper than the system call alone");
    vec![emit_row, json_row, write_row, ratio]
}

/// ns per emit, `reps` times over `events` events, into a ring a thread
/// drains: of an event the ring takes as a compact record, then of one it
/// takes as a JSON line. The ring stays this process's for good (emit's ring
/// is set once): the benchmark emits nothing else.
fn emit_into_ring(events: u64, reps: usize) -> std::io::Result<(Vec<f64>, Vec<f64>)> {
    let mut reader = ring::Reader::create()?;
    // SAFETY: dup of a descriptor we own, owned from here on.
    let copy = unsafe { libc::dup(reader.fd()) };
    if copy < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // As a runner does, so emit commits as it does there (and without the
    // barrier where a runner is built without it: forkline_without).
    let joined = !cfg!(forkline_without = "membarrier") && ring::join_server_barriers();
    // SAFETY: a fresh descriptor nobody else owns.
    emit::use_ring(ring::Writer::from_fd(unsafe { OwnedFd::from_raw_fd(copy) }, joined)?);
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let drain = std::thread::spawn(move || {
        let mut line = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            line.clear();
            if !matches!(reader.next(&mut line), Ok(ring::Next::Event)) {
                reader.release();
                std::thread::sleep(forkline::runs::POLL_INTERVAL);
            }
        }
    });
    let per_event = |body: &dyn Fn(u64) -> Body| -> Vec<f64> {
        (0..reps)
            .map(|_| {
                let started = Instant::now();
                for n in 0..events {
                    emit::emit(body(n));
                }
                started.elapsed().as_nanos() as f64 / events as f64
            })
            .collect()
    };
    let compact = per_event(&|n| Body::Compute { phase: Phase::Begin, work: Some(n) });
    let json = per_event(&|_| Body::Print { text: "square 4".into(), stream: None });
    done.store(true, Ordering::Relaxed);
    let _ = drain.join();
    Ok((compact, json))
}

/// A line exactly as long as the events emitted above.
fn sample_line() -> Vec<u8> {
    let event = forkline_core::event::Event {
        seq: None,
        t: forkline_core::clock::monotonic_ns(),
        pid: std::process::id() as i32,
        tid: forkline_core::clock::current_tid(),
        cpu: 0,
        body: Body::Compute { phase: Phase::Begin, work: Some(250_000) },
    };
    let mut line = serde_json::to_vec(&event).expect("event serialises");
    line.push(b'\n');
    line
}

/// Runs `f` with fd 1 pointing at a pipe drained by a thread, then restores it.
fn with_stdout_drained<T>(f: impl FnOnce() -> T) -> std::io::Result<T> {
    use std::io::Write;
    std::io::stdout().flush()?;
    let (read_end, write_end) = nix::unistd::pipe()?;
    // SAFETY: fcntl on a pipe we own; failure only leaves the default size.
    unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    // SAFETY: dup of our own stdout, owned from here on.
    let saved = unsafe { libc::dup(1) };
    if saved < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: saved is a fresh descriptor nobody else owns.
    let saved = unsafe { OwnedFd::from_raw_fd(saved) };
    let drain = std::thread::spawn(move || {
        let mut file = std::fs::File::from(read_end);
        let mut buf = vec![0u8; 1 << 20];
        while matches!(file.read(&mut buf), Ok(n) if n > 0) {}
    });
    // SAFETY: dup2 onto fd 1; the pipe's write end is then held by fd 1 alone.
    unsafe { libc::dup2(write_end.as_raw_fd(), 1) };
    drop(write_end);
    let result = f();
    // SAFETY: puts the original stdout back; this closes the pipe's last writer,
    // so the drain thread sees EOF.
    unsafe { libc::dup2(saved.as_raw_fd(), 1) };
    let _ = drain.join();
    Ok(result)
}
