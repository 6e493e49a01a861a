//! The `forkline` command: serves the playground (`forkline-bench`, in
//! crates/bench, measures it).
//! Runs themselves are the `forkline-runner` binary's (crates/runner).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use forkline::config::{self, Config};

#[derive(Parser)]
#[command(name = "forkline", version, about = "See Python multiprocessing at work: real processes and threads, drawn live")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the playground (the default).
    Serve(Box<ServeArgs>),
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "FORKLINE_LISTEN", default_value = config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The runner binary each run is started with (default: the one built
    /// with this server, or `forkline-runner` beside it).
    #[arg(long, env = "FORKLINE_RUNNER", default_value_os_t = config::default_runner_exe())]
    runner: PathBuf,
    /// Folder the page's JS and CSS are served from.
    #[arg(long, env = "FORKLINE_WEB_DIR", default_value_os_t = config::default_web_dir())]
    web_dir: PathBuf,
    /// Wall-clock limit of one run, in seconds (1 to 600).
    #[arg(long, env = "FORKLINE_RUN_TIMEOUT", default_value_t = config::DEFAULT_RUN_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=config::MAX_RUN_TIMEOUT.as_secs()))]
    run_timeout: u64,
    /// Wall-clock limit of one stepped run ("mode": "step"), in seconds.
    #[arg(long, env = "FORKLINE_STEP_TIMEOUT", default_value_t = config::DEFAULT_STEP_RUN_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=24 * 3600))]
    step_timeout: u64,
    /// A stepped run nobody stepped for this many seconds is cancelled.
    #[arg(long, env = "FORKLINE_STEP_IDLE_TIMEOUT", default_value_t = config::DEFAULT_STEP_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=24 * 3600))]
    step_idle_timeout: u64,
    /// Events one run may emit before it is stopped.
    #[arg(long, env = "FORKLINE_MAX_EVENTS", default_value_t = config::DEFAULT_MAX_EVENTS)]
    max_events: usize,
    /// Bytes of events one run may emit before it is stopped.
    #[arg(long, env = "FORKLINE_MAX_EVENT_BYTES", default_value_t = config::DEFAULT_MAX_EVENT_BYTES)]
    max_event_bytes: usize,
    /// Runs executing at once (default: the number of CPUs); more wait in line.
    #[arg(long, env = "FORKLINE_MAX_ACTIVE_RUNS", default_value_t = config::default_max_active_runs())]
    max_active_runs: usize,
    /// Runs waiting in line; past that, 429 with Retry-After.
    #[arg(long, env = "FORKLINE_MAX_QUEUED_RUNS", default_value_t = config::DEFAULT_MAX_QUEUED_RUNS)]
    max_queued_runs: usize,
    /// Runs one client (peer address) may have running or waiting; raise it
    /// when a whole classroom shares one NAT address.
    #[arg(long, env = "FORKLINE_PER_CLIENT_RUNS", default_value_t = config::DEFAULT_PER_CLIENT_RUNS)]
    per_client_runs: usize,
    /// Slots one client may hold at once (default: half of --max-active-runs,
    /// at least 1); its other runs wait while other clients' runs go first.
    #[arg(long, env = "FORKLINE_PER_CLIENT_ACTIVE_RUNS")]
    per_client_active_runs: Option<usize>,
    /// Runs one client may start back to back before the per-minute rate applies.
    #[arg(long, env = "FORKLINE_CLIENT_RUN_BURST", default_value_t = config::DEFAULT_CLIENT_RUN_RATE.burst)]
    client_run_burst: u32,
    /// Runs one client may start per minute once its burst is spent; past
    /// it, 429 with Retry-After (0: no limit).
    #[arg(long, env = "FORKLINE_CLIENT_RUNS_PER_MINUTE", default_value_t = config::DEFAULT_CLIENT_RUN_RATE.per_minute)]
    client_runs_per_minute: u32,
    /// Longest wait in line, in seconds.
    #[arg(long, env = "FORKLINE_QUEUE_TIMEOUT", default_value_t = config::DEFAULT_QUEUE_TIMEOUT.as_secs())]
    queue_timeout: u64,
    /// Address of a reverse proxy whose X-Forwarded-For is believed.
    #[arg(long, env = "FORKLINE_TRUSTED_PROXY")]
    trusted_proxy: Option<std::net::IpAddr>,
    /// Finished runs kept in memory.
    #[arg(long, env = "FORKLINE_KEEP_RUNS", default_value_t = config::DEFAULT_KEEP_FINISHED_RUNS)]
    keep_runs: usize,
    /// MiB of finished runs' events kept in memory (older ones come from the store).
    #[arg(long, env = "FORKLINE_KEEP_MB", default_value_t = config::DEFAULT_KEEP_FINISHED_BYTES / (1024 * 1024))]
    keep_mb: usize,
    /// Where finished runs are saved: an SQLite file (its folder is
    /// created), `:memory:`, or a `postgres://` URL that several instances
    /// share.
    // Parsed in `serve`, not by clap: clap's own message would repeat the
    // value, password and all.
    #[arg(long, env = "FORKLINE_DB", default_value = config::DEFAULT_DB)]
    db: String,
    /// This instance's name among several behind one address (1 to 20 of
    /// a-z, 0-9, '-'); every run id it makes starts with it. Default: the
    /// host name.
    #[arg(long, env = "FORKLINE_INSTANCE", value_parser = forkline::runs::Instance::parse)]
    instance: Option<forkline::runs::Instance>,
    /// Saved runs older than this many days are deleted.
    #[arg(long, env = "FORKLINE_RETAIN_DAYS", default_value_t = config::DEFAULT_RETAIN_DAYS)]
    retain_days: u64,
    /// At most this many saved runs are kept.
    #[arg(long, env = "FORKLINE_RETAIN_RUNS", default_value_t = config::DEFAULT_RETAIN_RUNS)]
    retain_runs: usize,
    /// The saved event logs together stay under this many megabytes.
    #[arg(long, env = "FORKLINE_RETAIN_MB", default_value_t = config::DEFAULT_RETAIN_MB)]
    retain_mb: u64,
    /// Origins allowed to embed the pages in an iframe, comma-separated
    /// (e.g. https://course.example); `*` allows any site.
    #[arg(long, env = "FORKLINE_FRAME_ANCESTORS", default_value = "", value_parser = config::parse_origin_list)]
    frame_ancestors: config::OriginList,
    /// Origins allowed to call /api/* from their pages (CORS), comma-separated;
    /// defaults to the --frame-ancestors list.
    #[arg(long, env = "FORKLINE_CORS_ORIGINS", value_parser = config::parse_origin_list)]
    cors_origins: Option<config::OriginList>,
    /// Seconds a request's headers may take to arrive (also how long a
    /// kept-alive connection may wait for its next request).
    #[arg(long, env = "FORKLINE_HEADER_TIMEOUT", default_value_t = config::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a request's body may take to arrive after its headers.
    #[arg(long, env = "FORKLINE_BODY_TIMEOUT", default_value_t = config::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Seconds a connection may move no byte before it is closed (event
    /// streams send a keep-alive comment at least twice in that time).
    #[arg(long, env = "FORKLINE_IDLE_TIMEOUT", default_value_t = config::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(2..=3600))]
    idle_timeout: u64,
    /// Connections open at once (default: three quarters of the open file
    /// limit, which is raised to its hard limit at start).
    #[arg(long, env = "FORKLINE_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Connections one client (IPv4 address or IPv6 /64) may hold open; behind a
    /// reverse proxy every client is the proxy: raise it, or cap at the proxy.
    #[arg(long, env = "FORKLINE_MAX_CONNECTIONS_PER_CLIENT", default_value_t = config::DEFAULT_MAX_CONNECTIONS_PER_CLIENT)]
    max_connections_per_client: usize,
    /// Exports (trace.json, events.jsonl, replay.html) written at once; past
    /// it, 429 with Retry-After.
    #[arg(long, env = "FORKLINE_MAX_EXPORTS", default_value_t = config::DEFAULT_MAX_EXPORTS)]
    max_exports: usize,
    /// Host names the server answers for, comma-separated (`*`: any); by
    /// default only loopback names while listening on loopback (against DNS
    /// rebinding), any name otherwise.
    #[arg(long, env = "FORKLINE_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Option<Vec<String>>,
    /// Python interpreters the CPython engine offers, paths or names on PATH
    /// (repeatable, or comma-separated); the first is the default.
    #[arg(long = "python", env = "FORKLINE_PYTHON", value_delimiter = ',', default_value = forkline::interpreters::DEFAULT_PYTHON)]
    pythons: Vec<String>,
    /// Folder holding the Python tracer (forkline_boot.py, forkline_trace/).
    #[arg(long, env = "FORKLINE_TRACER_DIR", default_value_os_t = config::default_tracer_dir())]
    tracer_dir: PathBuf,
    /// Whether students may edit a demo's program and run it (in the
    /// sandbox): `on` where the sandbox works on this host, `off` always.
    #[arg(long, env = "FORKLINE_EDIT", default_value = "on", value_parser = ["on", "off"])]
    edit: String,
    /// bubblewrap, the sandbox edited programs run in.
    #[arg(long, env = "FORKLINE_BWRAP", default_value = config::DEFAULT_BWRAP)]
    bwrap: PathBuf,
    /// The interpreter edited programs run on (its files must be readable
    /// by an unprivileged user: they are bound into the sandbox).
    #[arg(long, env = "FORKLINE_SANDBOX_PYTHON", default_value = config::DEFAULT_SANDBOX_PYTHON)]
    sandbox_python: String,
    /// Longest edited program accepted, in KiB (413 beyond).
    #[arg(long, env = "FORKLINE_MAX_SOURCE_KB", default_value_t = (config::DEFAULT_MAX_SOURCE_BYTES / 1024) as u64,
          value_parser = clap::value_parser!(u64).range(1..=512))]
    max_source_kb: u64,
    /// CPU seconds each process of an edited program may use.
    #[arg(long, env = "FORKLINE_SANDBOX_CPU_SECONDS", default_value_t = forkline::sandbox::Limits::default().cpu_seconds)]
    sandbox_cpu_seconds: u64,
    /// MiB of address space each process of an edited program may map.
    #[arg(long, env = "FORKLINE_SANDBOX_MEMORY_MB", default_value_t = forkline::sandbox::Limits::default().address_space_bytes >> 20)]
    sandbox_memory_mb: u64,
    /// Processes and threads an edited program may have at once, together.
    #[arg(long, env = "FORKLINE_SANDBOX_PROCESSES", default_value_t = forkline::sandbox::Limits::default().processes)]
    sandbox_processes: u64,
    /// Open descriptors per process of an edited program.
    #[arg(long, env = "FORKLINE_SANDBOX_OPEN_FILES", default_value_t = forkline::sandbox::Limits::default().open_files)]
    sandbox_open_files: u64,
    /// MiB an edited program may write to one file.
    #[arg(long, env = "FORKLINE_SANDBOX_FILE_MB", default_value_t = forkline::sandbox::Limits::default().file_bytes >> 20)]
    sandbox_file_mb: u64,
    /// MiB of each of the sandbox's tmpfs (/tmp, /dev/shm).
    #[arg(long, env = "FORKLINE_SANDBOX_TMPFS_MB", default_value_t = forkline::sandbox::Limits::default().tmpfs_bytes >> 20)]
    sandbox_tmpfs_mb: u64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(*args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FORKLINE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    if !args.runner.is_file() {
        eprintln!("forkline: no runner at {} (set --runner to the forkline-runner binary)", args.runner.display());
        return std::process::ExitCode::FAILURE;
    }
    let store = match config::StoreLocation::parse(&args.db) {
        Ok(store) => store,
        Err(why) => {
            eprintln!("forkline: {why}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runner_exe = args.runner;
    let catalog = match forkline::catalog::Catalog::of_runner(&runner_exe) {
        Ok(catalog) => catalog,
        Err(why) => {
            eprintln!("forkline: {why} (set --runner to the forkline-runner binary)");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Before the runtime starts its threads: each probe starts an interpreter.
    let (pythons, problems) = forkline::interpreters::discover(&args.pythons);
    for python in &pythons {
        tracing::info!(python = %python.path.display(), "the CPython engine offers {}", python.label);
    }
    for problem in &problems {
        tracing::warn!("{problem}");
    }
    if pythons.is_empty() {
        tracing::warn!("no Python interpreter found: only the native engine is offered");
    }
    let editing = if args.edit == "off" {
        forkline::sandbox::Editing::Off("editing is turned off on this server (--edit off)".into())
    } else {
        let limits = forkline::sandbox::Limits {
            cpu_seconds: args.sandbox_cpu_seconds.max(1),
            address_space_bytes: args.sandbox_memory_mb.max(64) << 20,
            processes: args.sandbox_processes.max(4),
            open_files: args.sandbox_open_files.max(16),
            file_bytes: args.sandbox_file_mb << 20,
            tmpfs_bytes: args.sandbox_tmpfs_mb.max(1) << 20,
        };
        forkline::sandbox::prepare(&args.bwrap, &args.sandbox_python, &args.tracer_dir, limits)
    };
    match &editing {
        forkline::sandbox::Editing::On(_, python) => tracing::info!("edited programs run on {} in the sandbox", python.label),
        forkline::sandbox::Editing::Off(why) => tracing::warn!("editing is off: {why}"),
    }
    let config = Config {
        listen: args.listen,
        web_dir: args.web_dir,
        runner_exe,
        catalog,
        run_timeout: Duration::from_secs(args.run_timeout),
        step_run_timeout: Duration::from_secs(args.step_timeout),
        step_idle_timeout: Duration::from_secs(args.step_idle_timeout),
        max_events: args.max_events,
        max_event_bytes: args.max_event_bytes,
        max_active_runs: args.max_active_runs.max(1),
        max_queued_runs: args.max_queued_runs,
        per_client_runs: args.per_client_runs.max(1),
        per_client_active_runs: args.per_client_active_runs,
        client_run_rate: forkline::runs::rate::RunRate { burst: args.client_run_burst, per_minute: args.client_runs_per_minute },
        queue_timeout: Duration::from_secs(args.queue_timeout),
        trusted_proxy: args.trusted_proxy,
        keep_finished_runs: args.keep_runs,
        keep_finished_bytes: args.keep_mb.saturating_mul(1024 * 1024),
        store,
        instance: args.instance.unwrap_or_else(forkline::runs::Instance::from_host),
        retention: config::Retention {
            max_age: Duration::from_secs(args.retain_days.saturating_mul(24 * 3600)),
            max_runs: args.retain_runs,
            max_bytes: args.retain_mb.saturating_mul(1024 * 1024),
        },
        frame_ancestors: args.frame_ancestors.0,
        cors_origins: args.cors_origins.map(|l| l.0),
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: args.max_connections,
        max_connections_per_client: args.max_connections_per_client,
        max_exports: args.max_exports,
        allowed_hosts: args.allowed_hosts.map(|list| list.into_iter().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()).collect()),
        pythons,
        python_problems: problems.iter().map(ToString::to_string).collect(),
        tracer_dir: args.tracer_dir,
        editing,
        max_source_bytes: args.max_source_kb as usize * 1024,
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(forkline::serve(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forkline: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
