//! The lesson's catalog: every lesson concept as a demo, one file each.
//!
//! A demo is a description ([`Demo`]: name, title, the Python program it
//! mirrors, its parameters with bounds) plus a `run` function that executes
//! inside the runner process as the lesson's `MainProcess`, forking and
//! threading for real through [`crate::primitives::process`] and reporting
//! through [`crate::primitives::emit`]; the two together are a [`Runnable`].
//! [`LESSON`] is what the product runner runs; another runner binary may run
//! more (crates/testkit adds the fault and benchmark demos), and the server
//! offers whatever its runner describes ([`catalog`]).

pub mod catalog;
pub mod cpython;
pub mod params;
pub mod predict;
pub mod readings;

mod address_space;
mod cpu_count;
mod fork;
mod gil;
mod join_zombie;
mod lock;
mod pipe;
mod process;
mod queue;
mod queue_vs_thread_queue;
pub mod scratch;
mod system;
mod threads;

pub use params::{ParamError, Params};

/// What a demo's `run` may fail with; shown as the run's failure reason.
pub type DemoError = Box<dyn std::error::Error + Send + Sync>;

/// What a demo is, as the server and the page know it: everything but its
/// code. A runner describes its demos to the server in this form
/// ([`catalog`]), so it is also the wire form (serde).
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Demo {
    pub name: &'static str,
    pub title: &'static str,
    /// One sentence for the catalog.
    pub summary: &'static str,
    /// What to look for when it runs: where the lesson is imprecise, the truth.
    pub notes: &'static str,
    /// The Python program the demo mirrors: the lesson's program file, the
    /// one the CPython engine runs (`python/programs/`, included), shown with
    /// this demo's values written in. Only `gil` shows a program of its own:
    /// natively it runs four modes (the fourth, free threads) under a GIL it
    /// models, and counts its work in millions.
    pub source: &'static str,
    /// The 1-based line of `source` that produces each kind of event
    /// (`"kind"`, `"kind:phase"`, or `"kind:op"` for `queue`, `pipe` and
    /// `value`), so a replay can highlight it.
    pub source_lines: &'static [(&'static str, u32)],
    /// The output the lesson shows for the default parameters.
    pub lesson_output: &'static str,
    pub params: &'static [params::Spec],
    /// Hidden demos (the testkit's) run, but the index page does not list them.
    pub hidden: bool,
}

impl Demo {
    /// The demo's own parameters followed by the [`params::COMMON`] ones
    /// every demo has: what `/api/demos` lists and requests are checked against.
    pub fn all_params(&self) -> Vec<params::Spec> {
        self.params.iter().chain(params::COMMON).copied().collect()
    }

    /// [`Demo::source`] with this demo's defaults written in: what its page
    /// shows before a run (a run's `run.start` carries its own values).
    pub fn source_at_defaults(&self) -> String {
        let defaults = self.validate(&serde_json::Value::Null).expect("every default is within its bounds");
        cpython::render(self.source, self.params, &defaults)
    }

    /// Checks a request's parameters against [`Demo::all_params`].
    pub fn validate(&self, raw: &serde_json::Value) -> Result<Params, ParamError> {
        params::validate(&self.all_params(), raw)
    }
}

/// A demo with its main program: what a runner's catalog holds.
#[derive(Debug, Clone, Copy)]
pub struct Runnable {
    pub demo: &'static Demo,
    /// The demo's main program; runs in the runner, single-threaded at entry.
    pub run: fn(&Params) -> Result<(), DemoError>,
}

/// The lesson's demos, in the index page's order: what the product runner runs.
pub static LESSON: &[Runnable] = &[
    Runnable { demo: &cpu_count::DEMO, run: cpu_count::run },
    Runnable { demo: &process::DEMO, run: process::run },
    Runnable { demo: &queue::DEMO, run: queue::run },
    Runnable { demo: &queue_vs_thread_queue::DEMO, run: queue_vs_thread_queue::run },
    Runnable { demo: &lock::DEMO, run: lock::run },
    Runnable { demo: &threads::DEMO, run: threads::run },
    Runnable { demo: &gil::DEMO, run: gil::run },
    Runnable { demo: &pipe::DEMO, run: pipe::run },
    Runnable { demo: &fork::DEMO, run: fork::run },
    Runnable { demo: &system::DEMO, run: system::run },
    Runnable { demo: &address_space::DEMO, run: address_space::run },
    Runnable { demo: &join_zombie::DEMO, run: join_zombie::run },
    Runnable { demo: &scratch::DEMO, run: scratch::run },
];

/// The lesson's demos, described.
pub fn all() -> impl Iterator<Item = &'static Demo> {
    LESSON.iter().map(|r| r.demo)
}

/// A demo's description by name: the lesson's, or one a runner described to
/// this process ([`catalog::read`]; a saved run of a testkit demo is read
/// back by name, in a server that ran it). What a server offers to run is
/// its own runner's [`catalog`], not this.
pub fn find(name: &str) -> Option<&'static Demo> {
    all().find(|d| d.name == name).or_else(|| catalog::learned(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_url_safe() {
        let mut names: Vec<_> = all().map(|d| d.name).collect();
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all().count());
    }

    #[test]
    fn every_default_is_within_its_own_bounds() {
        for demo in all() {
            demo.validate(&serde_json::Value::Null)
                .unwrap_or_else(|e| panic!("{}: default out of bounds: {e}", demo.name));
        }
    }

    #[test]
    fn no_demo_declares_a_common_parameter_itself() {
        for demo in all() {
            for spec in demo.params {
                assert!(
                    !params::COMMON.iter().any(|c| c.name == spec.name),
                    "{}: {} is a common parameter",
                    demo.name,
                    spec.name
                );
            }
        }
    }

    #[test]
    fn every_demo_gets_the_sampler_parameters() {
        let demo = find("threads").unwrap();
        let params = demo.validate(&serde_json::json!({"sample": false, "sample_interval_us": 200})).unwrap();
        assert!(!params.bool("sample"));
        assert_eq!(params.int("sample_interval_us"), 200);
        let err = demo.validate(&serde_json::json!({"sample_interval_us": 100})).unwrap_err();
        assert_eq!(err.field(), Some("sample_interval_us"));
    }

    #[test]
    fn a_native_demo_shows_the_program_the_cpython_engine_runs() {
        // Natively a different program runs (see `Demo::source`).
        const NATIVE_PROGRAMS: &[&str] = &["gil"];
        for demo in all() {
            let Some(program) = cpython::program(demo.name) else { continue };
            let own = NATIVE_PROGRAMS.contains(&demo.name);
            assert_eq!(demo.source == program.template, !own, "{}: one copy of the program, unless it is listed as its own", demo.name);
        }
    }

    #[test]
    fn a_native_demos_python_shows_its_parameters_on_the_same_lines() {
        // The lines a native demo's defaults change in its program: where
        // they differ from the CPython engine's (natively the runs are short).
        let changed_at_defaults: &[(&str, &[&str])] = &[
            ("lock", &["ITERATIONS = 100      # (iterations); the lesson does 100"]),
            ("pipe", &["SIZE = 16_384          # (message_bytes)"]),
        ];
        for demo in all() {
            let params = demo.validate(&serde_json::Value::Null).unwrap();
            let shown = cpython::render(demo.source, demo.params, &params);
            assert_eq!(shown.lines().count(), demo.source.lines().count(), "{}: the line map still holds", demo.name);
            let changed: Vec<_> = shown.lines().zip(demo.source.lines()).filter(|(a, b)| a != b).map(|(a, _)| a).collect();
            let expected = changed_at_defaults.iter().find(|(name, _)| *name == demo.name).map_or(&[][..], |(_, lines)| *lines);
            assert_eq!(changed, expected, "{}: at its defaults the program reads as written but for these", demo.name);
        }
        let lock = find("lock").unwrap();
        let shown = cpython::render(lock.source, lock.params, &lock.validate(&serde_json::json!({"use_lock": false, "iterations": 150})).unwrap());
        assert!(shown.contains("USE_LOCK = False        # (use_lock)") && shown.contains("ITERATIONS = 150      # (iterations)"), "{shown}");
        let process = find("process").unwrap();
        let shown = cpython::render(process.source, process.params, &process.validate(&serde_json::json!({"numbers": [1, 2], "delay_ms": 50})).unwrap());
        assert!(shown.contains("arr=[1, 2]   # (numbers)") && shown.contains("DELAY_MS = 50         # (delay_ms)"), "{shown}");
    }

    #[test]
    fn source_lines_point_inside_the_source() {
        for demo in all() {
            let lines = demo.source.lines().count() as u32;
            for (kind, line) in demo.source_lines {
                assert!((1..=lines).contains(line), "{}: {kind} -> line {line} of {lines}", demo.name);
            }
        }
    }
}
