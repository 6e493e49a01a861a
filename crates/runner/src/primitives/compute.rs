//! CPU-bound work of a fixed size, for demos that measure parallelism.
//!
//! It mirrors the classic Python GIL benchmark `while n > 0: n -= 1`. The
//! counter goes through `black_box` on every step so the optimiser can neither
//! fold the loop into a constant nor vectorise it: a step costs the same in
//! every thread and process, which is what makes wall times comparable.
//!
//! Wall time alone cannot tell "no parallelism" from "a busy machine lent us
//! one core", so this module also reads CPU time: CPU seconds over wall
//! seconds is how many CPUs the work really had on average.

use std::hint::black_box;
use std::time::Duration;

/// Steps between two calls of the `between` hook of [`countdown_checked`]:
/// small enough that a request to hand over a lock is seen within
/// microseconds, large enough that checking costs nothing measurable.
pub const CHECK_EVERY: u64 = 1024;

/// Counts `n` down to zero.
pub fn countdown(n: u64) {
    countdown_checked(n, || {});
}

/// Counts `n` down to zero, calling `between` every [`CHECK_EVERY`] steps, the
/// way CPython's eval loop looks at its "eval breaker" between bytecodes.
pub fn countdown_checked(mut n: u64, mut between: impl FnMut()) {
    while n > 0 {
        let chunk = n.min(CHECK_EVERY);
        let mut left = chunk;
        while left > 0 {
            left = black_box(left) - 1;
        }
        n -= chunk;
        between();
    }
}

/// Splits `total` steps into `parts` shares that add up to `total` exactly.
pub fn shares(total: u64, parts: u64) -> Vec<u64> {
    let parts = parts.max(1);
    (0..parts).map(|i| total / parts + u64::from(i < total % parts)).collect()
}

/// CPU time used so far by every thread of the calling process
/// (CLOCK_PROCESS_CPUTIME_ID); children are not included.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only into the timespec we own; this clock
    // always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time used by the calling process's children that have been reaped
/// (getrusage RUSAGE_CHILDREN), user and system together.
pub fn reaped_children_cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value to pass for output.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into `usage`.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(10, 3).iter().sum::<u64>(), 10);
        assert_eq!(shares(5, 0), vec![5]);
    }

    #[test]
    fn the_hook_runs_once_per_chunk() {
        let mut calls = 0;
        countdown_checked(CHECK_EVERY * 3 + 1, || calls += 1);
        assert_eq!(calls, 4);
    }
}
