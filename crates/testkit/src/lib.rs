//! Demos for tests and the benchmark, kept out of the product: the runner
//! binary the server execs for people (`forkline-runner`) runs the lesson's
//! demos only, and this crate's `forkline-testkit-runner` runs those and
//! these. The server learns which demos a runner has by asking it (see
//! `forkline_runner::demos::catalog`), so a server started with this runner
//! (`--runner`, or `Config::with_runner` in the tests) offers them, and one
//! started with the product's does not know they exist.
//!
//! The root build.rs builds this runner beside the product's, so `cargo
//! test` always has one built from the same sources
//! (`forkline::config::testkit_runner_exe`).

pub mod bench_emit;
pub mod fault;

use forkline_runner::demos::{Runnable, LESSON};

/// The demos only this runner has; hidden from the index page.
pub static EXTRA: &[Runnable] = &[
    Runnable { demo: &fault::DEMO, run: fault::run },
    Runnable { demo: &bench_emit::DEMO, run: bench_emit::run },
];

/// This runner's catalog: the lesson's demos, then [`EXTRA`].
pub fn catalog() -> Vec<Runnable> {
    LESSON.iter().chain(EXTRA).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_unique_with_the_extra_demos() {
        let mut names: Vec<_> = catalog().iter().map(|r| r.demo.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), LESSON.len() + EXTRA.len());
    }

    #[test]
    fn the_extra_demos_are_hidden_and_their_defaults_are_valid() {
        for extra in EXTRA {
            assert!(extra.demo.hidden, "{} would be listed on the index page", extra.demo.name);
            extra.demo.validate(&serde_json::Value::Null).unwrap_or_else(|e| panic!("{}: {e}", extra.demo.name));
        }
    }
}
