//! For forkline's tests and bench, never the product: the real services a
//! test of several instances needs, started on this machine and always
//! stopped.
//!
//! * [`postgres`]: one throwaway PostgreSQL cluster per test process, a fresh
//!   database per test;
//! * [`nginx`]: nginx with the repository's own `deploy/nginx/forkline.conf`,
//!   its addresses swapped for the test's loopback ports.
//!
//! Neither is simulated: Debian's binaries run as they would in a
//! deployment. Where they are missing, each says so and the caller skips
//! (or fails, where `FORKLINE_TEST_SERVICES=required`, as `scripts/test`
//! sets it: there `scripts/setup` installed them).

pub mod nginx;
pub mod postgres;
mod reaper;

/// Whether a missing service fails the test rather than skipping it.
pub fn required() -> bool {
    std::env::var("FORKLINE_TEST_SERVICES").is_ok_and(|v| v == "required")
}

/// Says a test is skipped, and why, where the test output shows it; panics
/// instead where the services are required.
pub fn skip(test: &str, why: &str) {
    if required() {
        panic!("{test}: {why} (FORKLINE_TEST_SERVICES=required: scripts/setup should have installed it)");
    }
    eprintln!("SKIPPED {test}: {why}");
}
