//! One clock for the whole run: CLOCK_MONOTONIC in nanoseconds.
//!
//! The server reads it just before it starts a runner and passes the reading
//! down as the run's origin; every process of the run (they all share the
//! system-wide monotonic clock) subtracts that origin, so `t` is comparable
//! across processes, threads and the server's own `run.end`.

/// Nanoseconds on CLOCK_MONOTONIC.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only into the timespec we own; CLOCK_MONOTONIC
    // always exists on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The CPU the calling thread is running on, or -1 when the kernel won't say.
pub fn current_cpu() -> i32 {
    // SAFETY: sched_getcpu has no arguments and no preconditions.
    unsafe { libc::sched_getcpu() }
}

/// The calling thread's kernel id.
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}
