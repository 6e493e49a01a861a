//! What runs inside the runner process: `forkline-runner runner …`, and
//! what a runner binary answers on its command line ([`cli`]).
//!
//! The server never forks (tokio has threads; fork in a threaded process is
//! only safe up to exec). Instead it execs the small `forkline-runner`
//! binary, which starts single-threaded and may fork freely, like CPython's
//! forkserver. The
//! runner is the lesson's `MainProcess`: it runs the demo's main program,
//! forking children as the demo says, and writes events to the run's event
//! ring (shared memory from the server), with its stdout as the ring's
//! doorbell.
//!
//! A runner is started before it has a run (a spare, so exec and start-up are
//! paid ahead of time) and learns its run from one message on stdin: a
//! [`RunSpec`] line and the event ring (see [`forkline_core::handoff`]); then its
//! stdin is closed for good.

pub mod cpython;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::unistd::Pid;

use crate::demos::{self, Runnable};
use crate::primitives::{emit, huge_code, idle_cpus, limits, process, sampler, step};
use forkline_core::spec::RunSpec;
use forkline_core::event::Body;

/// A runner binary's `main`: `runner --server-pid N` runs one run with a
/// demo of `catalog`; `catalog` prints the catalog's descriptions for the
/// server (see [`demos::catalog`]). Parsed by hand: two forms, and the
/// runner is kept to what a run needs.
pub fn cli(catalog: &[Runnable]) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server_pid = match args.as_slice() {
        [command] if command == "catalog" => {
            println!("{}", demos::catalog::describe(catalog));
            return std::process::ExitCode::SUCCESS;
        }
        [runner, flag, pid] if runner == "runner" && flag == "--server-pid" => pid.parse::<i32>().ok(),
        _ => None,
    };
    let Some(server_pid) = server_pid.filter(|pid| *pid > 0) else {
        eprintln!("usage: forkline-runner runner --server-pid <pid>  (started by the forkline server)\n       forkline-runner catalog  (its demos, as JSON)");
        return std::process::ExitCode::from(2);
    };
    let code = main(RunnerArgs { server_pid }, catalog);
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}

/// What the server tells a runner on its command line: only who to die with.
#[derive(Debug, Clone)]
pub struct RunnerArgs {
    /// The server's pid: the runner dies with it.
    pub server_pid: i32,
}

/// How long a spare watches the CPUs before it decides they are idle enough
/// to move its next stretch of code. A run that arrives first gets a runner
/// that skipped the rest.
const IDLE_CHECK: Duration = Duration::from_millis(10);

/// Whether the server writes to our stdin within `wait` (the run, or
/// end-of-file when this spare is not needed after all).
fn run_arrives_within(wait: Duration) -> bool {
    let mut stdin = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd we own.
    unsafe { libc::poll(&mut stdin, 1, wait.as_millis() as libc::c_int) != 0 }
}

/// Longest spec line a runner reads: parameters are a few hundred bytes, an
/// edited program at most `--max-source-kb` (escaped, up to six bytes a byte).
const MAX_SPEC_BYTES: usize = 4 << 20;

/// Waits for the run on stdin (a unix socket; see [`forkline_core::handoff`]), then
/// points stdin at /dev/null, so nothing the demo starts can read from the
/// server. None when the socket closed first (the server no longer needs
/// this spare) or the message is not a spec.
fn read_spec() -> Option<(RunSpec, Vec<OwnedFd>)> {
    let stdin = std::io::stdin();
    let received = forkline_core::handoff::receive(stdin.as_fd(), MAX_SPEC_BYTES);
    let devnull = std::fs::File::open("/dev/null").ok()?;
    // SAFETY: dup2 onto our own fd 0; the File stays open until after the call.
    unsafe { libc::dup2(devnull.as_raw_fd(), 0) };
    match received {
        Ok((line, fds)) if !line.is_empty() => serde_json::from_slice(&line)
            .map_err(|e| eprintln!("the run spec is not valid: {e}"))
            .ok()
            .map(|spec| (spec, fds)),
        Ok(_) => None,
        Err(e) => {
            eprintln!("reading the run spec failed: {e}");
            None
        }
    }
}

/// Biggest event pipe we ask for: room for bursts while the server catches up.
const EVENT_PIPE_BYTES: i32 = 1 << 20;

/// The runner's main, running a demo of `catalog`; returns the process exit code.
pub fn main(args: RunnerArgs, catalog: &[Runnable]) -> i32 {
    process::take_group_down_with_parent(Pid::from_raw(args.server_pid));
    limits::apply();
    // Off the run's path: registering takes the kernel a fifth of a millisecond.
    // (`forkline_without` compiles a mechanism out, for the bench's A/B runs:
    // docs/performance.md, "What each mechanism buys".)
    let joined_barriers = !cfg!(forkline_without = "membarrier") && forkline_core::ring::join_server_barriers();
    // Before any fork or thread, while this is still a spare runner waiting
    // for its run, and only while the machine is otherwise idle: each stretch
    // of code takes half a millisecond of CPU, which a run in progress must
    // not lose. It stops as soon as the run arrives.
    let mut cpus = idle_cpus::IdleMeter::default();
    if !cfg!(forkline_without = "huge_code") {
        huge_code::move_into_huge_pages(|| loop {
            if run_arrives_within(IDLE_CHECK) {
                return true;
            }
            if cpus.idle_since_last() {
                return false;
            }
        });
    }

    let Some((spec, fds)) = read_spec() else {
        return 0;
    };
    let mut fds = fds.into_iter();
    let ring = fds.next();
    if spec.stepped {
        // A stepped run's gates come after its ring; a runner started by
        // hand has neither and cannot be stepped.
        match fds.next().map(forkline_core::gates::Gates::from_fd) {
            Some(Ok(gates)) => step::use_gates(gates),
            Some(Err(e)) => {
                eprintln!("the run's gates are not usable: {e}");
                return 2;
            }
            None => {
                eprintln!("a stepped run came without its gates");
                return 2;
            }
        }
    }
    match ring.map(|fd| forkline_core::ring::Writer::from_fd(fd, joined_barriers)) {
        Some(Ok(ring)) => emit::use_ring(ring),
        Some(Err(e)) => {
            eprintln!("the event ring is not usable: {e}");
            return 2;
        }
        // Handed no ring (a runner started by hand): events go to stdout as lines.
        // SAFETY: fcntl on our own stdout; failure only leaves the default size.
        None => unsafe {
            libc::fcntl(1, libc::F_SETPIPE_SZ, EVENT_PIPE_BYTES);
        },
    }
    emit::set_origin(spec.origin_ns);
    let Some(&Runnable { demo, run }) = catalog.iter().find(|r| r.demo.name == spec.demo) else {
        eprintln!("unknown demo {:?}", spec.demo);
        return 2;
    };
    if let Some(cpython) = &spec.cpython {
        let Some(program) = demos::cpython::program(demo.name) else {
            eprintln!("{} has no Python program", demo.name);
            return 2;
        };
        return match program.validate(&spec.params) {
            Ok(params) => self::cpython::main(demo, program, &params, cpython),
            Err(e) => {
                eprintln!("{e}");
                2
            }
        };
    }
    // The server validated these already; validating again costs nothing and
    // means a runner started by hand can't be made to run out of bounds.
    let params = match demo.validate(&spec.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };

    // The Python the demo mirrors, with this run's values written in, so the
    // page shows the program as this run would have had it.
    let source = demos::cpython::render(demo.source, demo.params, &params);
    let source = (source.len() <= self::cpython::MAX_SOURCE_IN_EVENT).then(|| source.into());
    emit::emit(Body::RunStart { demo: demo.name.into(), params: params.to_json(), engine: None, interpreter: None, file: None, source });
    emit::emit(Body::ProcStart { name: "MainProcess".into(), ppid: nix::unistd::getppid().as_raw(), target: None });
    // The kernel sampler is forked now, while the runner is single-threaded
    // and before the demo runs; see sampler.rs.
    // Not in a stepped run: its processes wait for clicks, and a sampler
    // polling them would be the only thing on the CPU, saying nothing new.
    let sampler = (params.bool("sample") && !spec.stepped).then(|| {
        let interval = std::time::Duration::from_micros(params.int("sample_interval_us") as u64);
        sampler::start(interval).map_err(|e| emit::note(format!("the kernel sampler did not start: {e}"))).ok()
    });
    let outcome = run(&params);
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
