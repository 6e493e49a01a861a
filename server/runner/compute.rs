//! CPU-bound work of a fixed size, for demos that measure parallelism.
//!
//! It mirrors the classic Python GIL benchmark `while n > 0: n -= 1`. The
//! counter goes through `black_box` on every step so the optimiser can neither
//! fold the loop into a constant nor vectorise it: a step costs the same in
//! every thread and process, which is what makes wall times comparable.

use std::hint::black_box;

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
