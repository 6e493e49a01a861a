//! Emit cost: what one event costs at its source (timestamp, CPU number,
//! serialise, one write()), next to a bare write() of a line as long.
//!
//! Measured in this process with its stdout (the event fd, as in a runner)
//! pointed at a pipe that a thread drains, as the server drains a runner's.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use crate::event::{Body, Phase};
use crate::runner::emit;

use super::{Options, Row};

const CASE: &str = "emit cost";

pub fn measure(options: &Options) -> Vec<Row> {
    let events = options.pick(20_000, 500_000);
    let reps = options.pick(3, 7);
    let result = with_stdout_drained(|| {
        let mut emit_ns = Vec::new();
        let mut write_ns = Vec::new();
        let line = sample_line();
        for rep in 0..reps {
            // Alternate which goes first: the second starts with a pipe the
            // first left full, which the drain thread is still emptying.
            for emit_first in if rep % 2 == 0 { [true, false] } else { [false, true] } {
                let started = Instant::now();
                if emit_first {
                    for n in 0..events {
                        emit::emit(Body::Compute { phase: Phase::Begin, work: Some(n) });
                    }
                } else {
                    for _ in 0..events {
                        // SAFETY: writes from a live buffer to our own stdout.
                        unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
                    }
                }
                let ns = started.elapsed().as_nanos() as f64 / events as f64;
                if emit_first { emit_ns.push(ns) } else { write_ns.push(ns) }
            }
        }
        (emit_ns, write_ns)
    });
    let (emit_ns, write_ns) = match result {
        Ok(r) => r,
        Err(e) => return vec![Row::skipped(CASE, "emit() to a pipe", &format!("could not redirect stdout: {e}"))],
    };
    let emit_row = Row::new(CASE, "emit() of one event to a pipe", "ns/event", &emit_ns, "target ≤ 1,000 ns");
    let write_row = Row::new(CASE, "bare write() of an equal line", "ns/event", &write_ns, "the floor");
    let ratio = Row::ratio(CASE, "emit / bare write", Some(&emit_row), Some(&write_row), "what tracing adds to the write");
    vec![emit_row, write_row, ratio]
}

/// A line exactly as long as the events emitted above.
fn sample_line() -> Vec<u8> {
    let event = crate::event::Event {
        seq: None,
        t: crate::clock::monotonic_ns(),
        pid: std::process::id() as i32,
        tid: crate::clock::current_tid(),
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
