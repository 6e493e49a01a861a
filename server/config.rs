//! The server's settings, read once from flags and environment (clap), with
//! the defaults in one place. The README's settings table mirrors this file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::interpreters::Interpreter;

/// Where forkline listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Wall-clock bound of one run, from runner start to `run.end`.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// A stepped run moves at a student's pace: the lock demo's lost update by
/// hand is a few dozen clicks, with thinking between them.
pub const DEFAULT_STEP_RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A stepped run nobody stepped for this long is cancelled: its slot goes
/// back to the line.
pub const DEFAULT_STEP_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Longest run timeout a configuration may ask for.
pub const MAX_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a timed-out or cancelled run's processes get between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(200);
/// Events one run may emit before it is stopped as failed.
pub const DEFAULT_MAX_EVENTS: usize = 2_000_000;
/// Runs waiting in line for a slot; past that, 429 with Retry-After.
pub const DEFAULT_MAX_QUEUED_RUNS: usize = 100;
/// Runs one client (peer address) may have running or waiting at once.
pub const DEFAULT_PER_CLIENT_RUNS: usize = 2;
/// Runs one client may start back to back, then per minute.
pub const DEFAULT_CLIENT_RUN_RATE: crate::runs::rate::RunRate = crate::runs::rate::RunRate { burst: 30, per_minute: 30 };
/// Exports written at once: each streams, and costs a few chunks of memory.
pub const DEFAULT_MAX_EXPORTS: usize = 8;
/// How long a request's headers may take.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request's body may take after its headers.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection silent both ways this long is closed (event streams send a
/// keep-alive comment every 15 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections one client may hold: a classroom of 40 behind one NAT
/// address, each page holding up to six.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;
/// How long a run may wait in line before it is dropped.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of events one run may emit before it is stopped.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 256 * 1024 * 1024;
/// Finished runs kept in memory for late subscribers and permalinks.
pub const DEFAULT_KEEP_FINISHED_RUNS: usize = 500;
/// Bytes of finished runs' events kept in memory; older runs are served
/// from the store.
pub const DEFAULT_KEEP_FINISHED_BYTES: usize = 256 * 1024 * 1024;
/// Largest request body accepted: a run request is a few hundred bytes, one
/// with an edited program up to `--max-source-kb`, escaped.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest edited program accepted.
pub const DEFAULT_MAX_SOURCE_BYTES: usize = 64 * 1024;
/// The sandbox edited programs run in.
pub const DEFAULT_BWRAP: &str = "/usr/bin/bwrap";
/// The interpreter edited programs run on: the system's, whose files the
/// sandbox's unprivileged user can read (an interpreter under a private
/// home, as pyenv's under /root, cannot be bound into the sandbox).
pub const DEFAULT_SANDBOX_PYTHON: &str = "/usr/bin/python3";
/// Where finished runs are saved unless told otherwise (relative to the
/// working directory; its folder is created when missing).
pub const DEFAULT_DB: &str = "data/forkline.sqlite3";
/// Saved runs older than this are deleted.
pub const DEFAULT_RETAIN_DAYS: u64 = 7;
/// At most this many saved runs are kept; the oldest go first.
pub const DEFAULT_RETAIN_RUNS: usize = 10_000;
/// The saved event logs together stay under this many megabytes.
pub const DEFAULT_RETAIN_MB: u64 = 1024;

/// Everything the server needs to know, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Folder the page's static files (JS, CSS) are served from.
    pub web_dir: PathBuf,
    /// The executable started as each run's runner (`forkline-runner`).
    pub runner_exe: PathBuf,
    /// The demos runs may use: the ones `runner_exe` described at start.
    pub catalog: crate::catalog::Catalog,
    /// Wall-clock bound of one run.
    pub run_timeout: Duration,
    /// Wall-clock bound of one stepped run.
    pub step_run_timeout: Duration,
    /// A stepped run with no step for this long is cancelled.
    pub step_idle_timeout: Duration,
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
    /// Slots one client may hold at once; None: half of them, at least 1.
    pub per_client_active_runs: Option<usize>,
    /// How fast one client may start runs.
    pub client_run_rate: crate::runs::rate::RunRate,
    /// Longest wait in line.
    pub queue_timeout: Duration,
    /// A reverse proxy whose `X-Forwarded-For` names the real client. Only
    /// from this peer address is the header believed.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Finished runs kept in memory.
    pub keep_finished_runs: usize,
    /// Bytes of finished runs' events kept in memory.
    pub keep_finished_bytes: usize,
    /// Where finished runs are saved for permalinks and exports.
    pub store: StoreLocation,
    /// This server's name among several behind one address: every run id
    /// it makes starts with it, so a proxy can route a run's requests here.
    pub instance: crate::runs::Instance,
    /// How much the store keeps.
    pub retention: Retention,
    /// Origins (besides this server) allowed to frame the pages; `["*"]`
    /// allows any. Empty: only this server.
    pub frame_ancestors: Vec<Origin>,
    /// Origins allowed to call `/api/*` from their pages (CORS). `None`:
    /// the same list as `frame_ancestors`.
    pub cors_origins: Option<Vec<Origin>>,
    /// How long a request's headers may take to arrive (also: how long a
    /// kept-alive connection may wait for its next request).
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, after its headers.
    pub body_timeout: Duration,
    /// A connection that moves no byte for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; None: from the descriptor limit.
    pub max_connections: Option<usize>,
    /// Connections one client may hold open.
    pub max_connections_per_client: usize,
    /// Exports (trace.json, events.jsonl, replay.html) written at once.
    pub max_exports: usize,
    /// Host names requests may name; None: loopback names when listening
    /// on loopback, any otherwise. `*` allows any.
    pub allowed_hosts: Option<Vec<String>>,
    /// The interpreters the CPython engine may run, found at start
    /// (`--python`); empty: the CPython engine is not offered.
    pub pythons: Vec<Interpreter>,
    /// Why interpreters that were asked for are not offered (shown on the
    /// page when none is).
    pub python_problems: Vec<String>,
    /// Where the Python tracer lives (`forkline_boot.py`, `forkline_trace/`).
    pub tracer_dir: PathBuf,
    /// Whether edited programs can run (in the sandbox), and why not.
    pub editing: crate::sandbox::Editing,
    /// Longest edited program accepted.
    pub max_source_bytes: usize,
}

/// Where the run store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
// Read once, at start: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum StoreLocation {
    /// Nothing survives the process: for tests.
    Memory,
    /// An SQLite file: one instance's own store.
    File(PathBuf),
    /// A PostgreSQL database, which several instances share.
    Postgres(PostgresUrl),
}

impl StoreLocation {
    /// `:memory:`, a `postgres://` (or `postgresql://`) URL, or a path.
    /// A URL that does not parse is refused here, at start, with why.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == ":memory:" {
            Ok(StoreLocation::Memory)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            PostgresUrl::parse(text).map(StoreLocation::Postgres)
        } else if text.contains("://") {
            Err(format!("--db {:?}: only postgres:// and postgresql:// URLs are understood (or a file path)", redact(text)))
        } else {
            Ok(StoreLocation::File(PathBuf::from(text)))
        }
    }
}

/// A PostgreSQL connection URL, checked once; its password never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    url: String,
    config: tokio_postgres::Config,
}

impl PostgresUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: tokio_postgres::Config =
            text.parse().map_err(|e| format!("--db {:?} is not a PostgreSQL URL: {e}", redact(text)))?;
        // This build speaks to PostgreSQL without TLS (a unix socket, or a
        // private network): asked for TLS, it says so now rather than at the
        // first connection.
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(format!(
                "--db {:?} asks for sslmode=require, but forkline connects without TLS: use a unix socket \
                 (postgres:///forkline?host=/run/postgresql) or a private network with sslmode=disable",
                redact(text)
            ));
        }
        if config.get_dbname().is_none() {
            return Err(format!("--db {:?} names no database (postgres://user@host/DATABASE)", redact(text)));
        }
        Ok(PostgresUrl { url: text.to_owned(), config })
    }

    /// What the client library connects with.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", redact(&self.url))
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

/// A URL with its password (`user:password@`) replaced, for messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => url.to_owned(),
    }
}

/// Bounds on what the store keeps; whichever bites first wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_runs: usize,
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(DEFAULT_RETAIN_DAYS * 24 * 3600),
            max_runs: DEFAULT_RETAIN_RUNS,
            max_bytes: DEFAULT_RETAIN_MB * 1024 * 1024,
        }
    }
}

/// A web origin as browsers serialise it (`https://course.example:8443`), or
/// `*` for any. Checked once at startup, so what reaches a header or a
/// `postMessage` target is never arbitrary text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_any(&self) -> bool {
        self.0 == "*"
    }
}

impl std::str::FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().trim_end_matches('/');
        if text == "*" {
            return Ok(Origin(text.to_owned()));
        }
        let bad = || format!("{text:?} is not an origin like https://course.example or http://127.0.0.1:8000");
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        if !matches!(scheme, "http" | "https") || rest.is_empty() {
            return Err(bad());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
            _ => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
        if !host_ok || !port_ok {
            return Err(bad());
        }
        Ok(Origin(format!("{scheme}://{}", rest.to_ascii_lowercase())))
    }
}

/// A parsed list of origins, as one flag value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OriginList(pub Vec<Origin>);

/// For clap: the whole flag value as one list.
pub fn parse_origin_list(text: &str) -> Result<OriginList, String> {
    parse_origins(text).map(OriginList)
}

/// Parses a comma- or space-separated list of origins.
pub fn parse_origins(text: &str) -> Result<Vec<Origin>, String> {
    text.split([',', ' ']).filter(|s| !s.trim().is_empty()).map(str::parse).collect()
}

impl Config {
    /// Defaults for everything, with the given runner executable and the
    /// demos it describes; what tests start from. Panics if it describes
    /// none (it is not a runner).
    pub fn with_runner(runner_exe: PathBuf) -> Self {
        let catalog = crate::catalog::Catalog::of_runner(&runner_exe).unwrap_or_else(|why| panic!("{why}"));
        Config {
            listen: DEFAULT_LISTEN.parse().expect("default address parses"),
            web_dir: default_web_dir(),
            runner_exe,
            catalog,
            run_timeout: DEFAULT_RUN_TIMEOUT,
            step_run_timeout: DEFAULT_STEP_RUN_TIMEOUT,
            step_idle_timeout: DEFAULT_STEP_IDLE_TIMEOUT,
            max_events: DEFAULT_MAX_EVENTS,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_active_runs: default_max_active_runs(),
            max_queued_runs: DEFAULT_MAX_QUEUED_RUNS,
            per_client_runs: DEFAULT_PER_CLIENT_RUNS,
            per_client_active_runs: None,
            client_run_rate: DEFAULT_CLIENT_RUN_RATE,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            trusted_proxy: None,
            keep_finished_runs: DEFAULT_KEEP_FINISHED_RUNS,
            keep_finished_bytes: DEFAULT_KEEP_FINISHED_BYTES,
            store: StoreLocation::Memory,
            instance: crate::runs::Instance::from_host(),
            retention: Retention::default(),
            frame_ancestors: Vec::new(),
            cors_origins: None,
            allowed_hosts: None,
            max_exports: DEFAULT_MAX_EXPORTS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            pythons: crate::interpreters::default_interpreters(),
            python_problems: Vec::new(),
            tracer_dir: default_tracer_dir(),
            editing: default_editing(),
            max_source_bytes: DEFAULT_MAX_SOURCE_BYTES,
        }
    }

    /// The origins allowed to call the API cross-origin.
    pub fn cors_origins(&self) -> &[Origin] {
        self.cors_origins.as_deref().unwrap_or(&self.frame_ancestors)
    }
}

/// The sandbox with its default settings, prepared once per process (tests
/// start many servers).
pub fn default_editing() -> crate::sandbox::Editing {
    static PREPARED: std::sync::OnceLock<crate::sandbox::Editing> = std::sync::OnceLock::new();
    PREPARED
        .get_or_init(|| {
            crate::sandbox::prepare(
                std::path::Path::new(DEFAULT_BWRAP),
                DEFAULT_SANDBOX_PYTHON,
                &default_tracer_dir(),
                crate::sandbox::Limits::default(),
            )
        })
        .clone()
}

/// One run per CPU: demos are about cores, so more would only slow each other.
pub fn default_max_active_runs() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// The runner binary built with this server (see build.rs), or, where that
/// build folder is gone (an installed copy), the `forkline-runner` beside
/// the running executable.
pub fn default_runner_exe() -> PathBuf {
    let built = PathBuf::from(env!("FORKLINE_RUNNER_EXE"));
    if built.is_file() {
        return built;
    }
    std::env::current_exe().map(|exe| exe.with_file_name("forkline-runner")).unwrap_or(built)
}

/// The testkit's runner, built with this server (build.rs): the lesson's
/// demos and the fault and benchmark ones (crates/testkit). What the tests
/// and the benchmark start runs with; this server never does unless
/// `--runner` names it.
pub fn testkit_runner_exe() -> PathBuf {
    PathBuf::from(env!("FORKLINE_TESTKIT_RUNNER_EXE"))
}

/// The `python/` folder of this source tree: the tracer every CPython run
/// loads, read from disk like the page.
pub fn default_tracer_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
}

/// The `web/` folder of this source tree, so `cargo run` serves the page as it
/// is on disk (edit and reload, no rebuild).
pub fn default_web_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_locations_are_files_memory_or_postgres_urls_and_bad_urls_say_why() {
        assert_eq!(StoreLocation::parse(":memory:"), Ok(StoreLocation::Memory));
        assert_eq!(StoreLocation::parse("data/x.sqlite3"), Ok(StoreLocation::File("data/x.sqlite3".into())));
        for good in ["postgres://forkline@127.0.0.1:5432/forkline", "postgresql:///forkline?host=/run/postgresql"] {
            assert!(matches!(StoreLocation::parse(good), Ok(StoreLocation::Postgres(_))), "{good}");
        }
        let bad = |text: &str| StoreLocation::parse(text).unwrap_err();
        assert!(bad("postgres://u:secret@host:notaport/db").contains("is not a PostgreSQL URL"));
        assert!(!bad("postgres://u:secret@host:notaport/db").contains("secret"), "the password never prints");
        assert!(bad("postgres://host/db?sslmode=require").contains("without TLS"));
        assert!(bad("postgres://host").contains("names no database"));
        assert!(bad("mysql://host/db").contains("only postgres://"));
        let url = PostgresUrl::parse("postgres://u:secret@host/db").unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@host/db");
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn origins_are_normalised_and_anything_else_is_refused() {
        assert_eq!(parse_origins("https://Course.example/, http://127.0.0.1:8000").unwrap(), vec![
            Origin("https://course.example".into()),
            Origin("http://127.0.0.1:8000".into())
        ]);
        assert!(parse_origins("*").unwrap()[0].is_any());
        for bad in ["course.example", "ftp://x", "https://a.example/path", "https://a b", "https://x:99999", "https://a\"b", "https://a\r\nb"] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
    }
}
