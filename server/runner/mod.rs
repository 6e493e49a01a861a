//! What runs inside the runner process: `forkline runner …`.
//!
//! The server never forks (tokio has threads; fork in a threaded process is
//! only safe up to exec). Instead it execs its own binary as a runner, which
//! starts single-threaded and may fork freely, like CPython's forkserver. The
//! runner is the lesson's `MainProcess`: it runs the demo's main program,
//! forking children as the demo says, and writes events to its stdout, the
//! run's event pipe.

pub mod compute;
pub mod emit;
pub mod frame;
pub mod gil;
pub mod limits;
pub mod lock;
pub mod pipe;
pub mod process;
pub mod procfs;
pub mod queue;
pub mod sampler;
pub mod shell;
pub mod shm;

use nix::unistd::Pid;

use crate::demos;
use crate::event::Body;

/// What the server tells a runner, on its command line.
#[derive(Debug, Clone)]
pub struct RunnerArgs {
    pub demo: String,
    /// The validated parameters, as JSON.
    pub params: String,
    /// The run's time origin, CLOCK_MONOTONIC ns.
    pub origin_ns: u64,
    /// The server's pid: the runner dies with it.
    pub server_pid: i32,
}

/// Biggest event pipe we ask for: room for bursts while the server catches up.
const EVENT_PIPE_BYTES: i32 = 1 << 20;

/// The runner's main; returns the process exit code.
pub fn main(args: RunnerArgs) -> i32 {
    process::die_with_parent(Pid::from_raw(args.server_pid));
    limits::apply();
    emit::set_origin(args.origin_ns);
    // SAFETY: fcntl on our own stdout; failure only leaves the default size.
    unsafe { libc::fcntl(1, libc::F_SETPIPE_SZ, EVENT_PIPE_BYTES) };

    let Some(demo) = demos::find(&args.demo) else {
        eprintln!("unknown demo {:?}", args.demo);
        return 2;
    };
    let raw: serde_json::Value = match serde_json::from_str(&args.params) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("parameters are not JSON: {e}");
            return 2;
        }
    };
    // The server validated these already; validating again costs nothing and
    // means a runner started by hand can't be made to run out of bounds.
    let params = match demo.validate(&raw) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };

    emit::emit(Body::RunStart { demo: demo.name.to_owned(), params: params.to_json() });
    emit::emit(Body::ProcStart { name: "MainProcess".into(), ppid: nix::unistd::getppid().as_raw(), target: None });
    // The kernel sampler is forked now, while the runner is single-threaded
    // and before the demo runs; see sampler.rs.
    let sampler = params.bool("sample").then(|| {
        let interval = std::time::Duration::from_micros(params.int("sample_interval_us") as u64);
        sampler::start(interval).map_err(|e| emit::note(format!("the kernel sampler did not start: {e}"))).ok()
    });
    let outcome = (demo.run)(&params);
    // Stopped and reaped before the runner's last event, so its last samples
    // come before proc.exit and no process of the run outlives the runner.
    if let Some(report) = sampler.flatten().map(sampler::Sampler::stop) {
        emit::note(report.text());
    }
    match outcome {
        Ok(()) => {
            emit::emit(Body::ProcExit { code: 0 });
            0
        }
        Err(e) => {
            emit::note(format!("the demo failed: {e}"));
            emit::emit(Body::ProcExit { code: 1 });
            eprintln!("{e}");
            1
        }
    }
}
