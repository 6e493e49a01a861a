//! The server's settings, read once from flags and environment (clap), with
//! the defaults in one place. The README's settings table mirrors this file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where forkline listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Wall-clock bound of one run, from runner start to `run.end`.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest run timeout a configuration may ask for.
pub const MAX_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a timed-out or cancelled run's processes get between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(200);
/// Events one run may emit before it is stopped as failed.
pub const DEFAULT_MAX_EVENTS: usize = 2_000_000;
/// Runs waiting in line for a slot; past that, 503 with Retry-After.
pub const DEFAULT_MAX_QUEUED_RUNS: usize = 100;
/// Runs one client (peer address) may have running or waiting at once.
pub const DEFAULT_PER_CLIENT_RUNS: usize = 2;
/// How long a run may wait in line before it is dropped.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of events one run may emit before it is stopped.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 256 * 1024 * 1024;
/// Finished runs kept in memory for late subscribers and permalinks.
pub const DEFAULT_KEEP_FINISHED_RUNS: usize = 500;
/// Largest request body accepted (a run request is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Everything the server needs to know, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Folder the page's static files (JS, CSS) are served from.
    pub web_dir: PathBuf,
    /// The executable started as each run's runner: forkline itself.
    pub runner_exe: PathBuf,
    /// Wall-clock bound of one run.
    pub run_timeout: Duration,
    /// Events one run may emit.
    pub max_events: usize,
    /// Bytes of events one run may emit.
    pub max_event_bytes: usize,
    /// Runs executing at once (default: the number of CPUs).
    pub max_active_runs: usize,
    /// Runs waiting in line for a slot.
    pub max_queued_runs: usize,
    /// Runs one client may have running or waiting.
    pub per_client_runs: usize,
    /// Longest wait in line.
    pub queue_timeout: Duration,
    /// A reverse proxy whose `X-Forwarded-For` names the real client. Only
    /// from this peer address is the header believed.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Lets the API start hidden demos (fault injection and benchmarks):
    /// for tests and the benchmark, never needed by people.
    pub hidden_demos: bool,
    /// Finished runs kept in memory.
    pub keep_finished_runs: usize,
}

impl Config {
    /// Defaults for everything, with the given runner executable; what tests
    /// start from.
    pub fn with_runner(runner_exe: PathBuf) -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("default address parses"),
            web_dir: default_web_dir(),
            runner_exe,
            run_timeout: DEFAULT_RUN_TIMEOUT,
            max_events: DEFAULT_MAX_EVENTS,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_active_runs: default_max_active_runs(),
            max_queued_runs: DEFAULT_MAX_QUEUED_RUNS,
            per_client_runs: DEFAULT_PER_CLIENT_RUNS,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            trusted_proxy: None,
            hidden_demos: false,
            keep_finished_runs: DEFAULT_KEEP_FINISHED_RUNS,
        }
    }
}

/// One run per CPU: demos are about cores, so more would only slow each other.
pub fn default_max_active_runs() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// The `web/` folder of this source tree, so `cargo run` serves the page as it
/// is on disk (edit and reload, no rebuild).
pub fn default_web_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
}
