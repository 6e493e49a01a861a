//! `forkline-bench`: measures the event pipeline against Python on this
//! machine and reports figures and ratios, never pass/fail.
//!
//! Shared machines drift by ±30%, so every comparison (Python's
//! `multiprocessing` baselines included) is measured in the same invocation,
//! and each case runs several times and reports median (min/max). One file
//! per case; `report` prints the table and writes the JSON for tracking.
//!
//! The server under test runs in this process on 127.0.0.1:0 (the forkline
//! library's `app`) and starts its runs with a runner binary, exactly as
//! `forkline serve` does: the testkit's (crates/testkit), the product's
//! runner with the benchmark's `bench_emit` demo added. Only the
//! idle-server case execs the `forkline` binary as a separate server (with
//! that runner). None of this ships in the product: it is a crate of its own.

mod client;
mod cpython;
mod emit_cost;
mod fanout;
mod idle;
mod instrumented_queue;
mod overhead;
mod python;
mod report;
mod run_start;
mod sandbox;
mod sampler_cost;
mod server;
mod stats;
mod throughput;
mod viztracer;
mod worker;

use std::path::PathBuf;

pub use report::{Report, Row};
pub use stats::Stats;

/// What `forkline-bench` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// A few seconds in all: small sizes, few repetitions (CI's smoke run).
    pub quick: bool,
    /// Where the JSON report goes.
    pub json: PathBuf,
    /// The forkline server binary: the idle-server case execs it.
    pub exe: PathBuf,
    /// The runner binary runs are started with: one with `bench_emit`.
    pub runner: PathBuf,
    /// The Python interpreter for the baselines.
    pub python: String,
    /// Folder of the Python baseline scripts.
    pub python_dir: PathBuf,
    /// The venv that has (or gets, in a full run) VizTracer.
    pub venv: PathBuf,
    /// Only these cases (names from [`CASES`]); empty means all.
    pub cases: Vec<String>,
}

/// The cases by the names `--case` takes, in table order.
pub const CASES: &[&str] = &["emit", "throughput", "run-start", "worker", "queue", "overhead", "sampler", "fanout", "cpython", "sandbox", "idle"];

impl Options {
    pub fn new(exe: PathBuf, runner: PathBuf, quick: bool) -> Self {
        Options {
            quick,
            json: default_json_path(),
            exe,
            runner,
            python: "python3".into(),
            python_dir: default_python_dir(),
            venv: default_venv_path(),
            cases: Vec::new(),
        }
    }

    fn wants(&self, case: &str) -> bool {
        self.cases.is_empty() || self.cases.iter().any(|c| c == case)
    }

    /// `full` in a full run, `quick` in a quick one.
    fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// The repository this crate is built in (crates/bench's grandparent).
pub(crate) const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

pub fn default_json_path() -> PathBuf {
    PathBuf::from(REPOSITORY).join("target/bench.json")
}

pub fn default_venv_path() -> PathBuf {
    PathBuf::from(REPOSITORY).join("target/bench-venv")
}

fn default_python_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
}

/// `forkline` beside this executable, where cargo puts both (`scripts/bench`
/// builds both; `cargo test` builds the debug one).
pub fn default_server_exe() -> PathBuf {
    let beside = |exe: PathBuf| {
        // A test binary sits one folder further down, in deps/.
        let dir = exe.parent().map(|d| if d.ends_with("deps") { d.parent().unwrap_or(d) } else { d }).map(PathBuf::from);
        dir.unwrap_or_default().join("forkline")
    };
    std::env::current_exe().map(beside).unwrap_or_else(|_| PathBuf::from("forkline"))
}

/// Runs every case and returns the rows, in table order.
pub async fn run(options: &Options) -> Report {
    raise_open_files();
    let python = python::Python::find(options).await;
    let mut report = Report::new(options.quick);
    // First, before any server thread exists: it borrows this process's stdout.
    if options.wants("emit") {
        report.extend(emit_cost::measure(options));
    }
    let needs_server = CASES[1..CASES.len() - 1].iter().any(|case| options.wants(case));
    if needs_server {
        let server = match server::Server::start(options).await {
            Ok(s) => s,
            Err(e) => {
                report.push(Row::skipped("pipeline", "in-process server", &format!("could not start: {e}")));
                return report;
            }
        };
        if options.wants("throughput") {
            report.extend(throughput::measure(options, &server, &python).await);
        }
        if options.wants("run-start") {
            report.extend(run_start::measure(options, &server, &python).await);
        }
        if options.wants("worker") {
            report.extend(worker::measure(options, &server, &python).await);
        }
        if options.wants("queue") {
            report.extend(instrumented_queue::measure(options, &server, &python).await);
        }
        if options.wants("overhead") {
            report.extend(overhead::measure(options, &server).await);
        }
        if options.wants("sampler") {
            report.extend(sampler_cost::measure(options, &server).await);
        }
        if options.wants("fanout") {
            report.extend(fanout::measure(options, &server).await);
        }
        if options.wants("cpython") {
            report.extend(cpython::measure(options, &server).await);
        }
        if options.wants("sandbox") {
            report.extend(sandbox::measure(options, &server).await);
        }
    }
    if options.wants("idle") {
        report.extend(idle::measure(options).await);
    }
    report.push(Row::skipped("browser / page weight", "draw time, frame time, gzip weight", "measured by the browser tests, not here"));
    report
}

/// `forkline-bench`'s main: run, print the table, write the JSON.
pub fn main(options: Options) -> std::process::ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let report = runtime.block_on(run(&options));
    println!("{}", report.table());
    match report.write_json(&options.json) {
        Ok(()) => {
            println!("JSON: {}", options.json.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("forkline-bench: writing {}: {e}", options.json.display());
            std::process::ExitCode::FAILURE
        }
    }
}

/// 1,000 subscribers need 2,000 sockets in this one process (both ends).
fn raise_open_files() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
