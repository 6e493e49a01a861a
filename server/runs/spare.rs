//! One runner started ahead of time, so a run that gets its slot does not wait
//! for exec and start-up (about a millisecond here, most of a run's start).
//!
//! ```text
//! Spare (owned by Runs)
//!   slot: Option<Runner> — `forkline-runner runner`, own process group, env cleared,
//!                          stdin a unix socket (it waits there for its
//!                          RunSpec and event ring; see crate::handoff),
//!                          PDEATHSIG armed, idle: no demo code has run
//!   take()   → the spare if it is still alive, else a freshly started runner
//!   refill() → start the next spare (after the run that took one has begun)
//!   rings: event rings of finished runs, reset, for the next runners
//!   recycle(ring) → keep a finished run's ring (all its writers gone)
//! ```
//!
//! A spare belongs to no run, so it is not a process any run created; it is
//! killed at shutdown, and dies with the server in any case (PDEATHSIG).

use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::{Child, Command};

use crate::config::Config;
use crate::ring;

/// A started runner, the event ring made for it, and the server's end of
/// its stdin socket, over which the run and the ring are handed.
pub struct Runner {
    pub child: Child,
    pub ring: ring::Reader,
    pub handoff: UnixStream,
    /// The read end of the runner's stdout: the ring's doorbell.
    pub doorbell: std::os::fd::OwnedFd,
}

/// Rings kept for reuse: enough for the runs of a burst, 2 MiB each.
const RINGS_KEPT: usize = 4;

#[derive(Default)]
pub struct Spare {
    slot: Mutex<Option<Runner>>,
    /// A new ring's pages cost half a millisecond of CPU to allocate and
    /// zero, a reused one's nothing.
    rings: Mutex<Vec<ring::Reader>>,
    /// Set at shutdown: no more spares.
    closed: std::sync::atomic::AtomicBool,
}

impl Spare {
    /// A runner waiting for its spec: the spare if there is a live one, else
    /// a new one.
    pub fn take(&self, config: &Config) -> std::io::Result<Runner> {
        let spare = self.slot.lock().expect("spare lock").take();
        if let Some(mut runner) = spare {
            // A spare that died while idle (killed from outside) is reaped
            // here and replaced.
            if matches!(runner.child.try_wait(), Ok(None)) {
                return Ok(runner);
            }
        }
        self.ring().and_then(|ring| start(config, ring))
    }

    /// Keeps the ring of a run whose processes are all gone, for a later run.
    pub fn recycle(&self, mut ring: ring::Reader) {
        ring.reset();
        let mut rings = self.rings.lock().expect("rings lock");
        if rings.len() < RINGS_KEPT {
            rings.push(ring);
        }
    }

    /// A ring for a new runner: a reused one if there is one, else a new one
    /// whose pages are allocated on a thread of their own.
    fn ring(&self) -> std::io::Result<ring::Reader> {
        if let Some(ring) = self.rings.lock().expect("rings lock").pop() {
            return Ok(ring);
        }
        let ring = ring::Reader::create()?;
        allocate_off_the_run(ring.page_allocator()?);
        Ok(ring)
    }

    /// Starts the next spare, unless there is one or the server is stopping.
    /// Called from a tokio worker thread (see [`start`]).
    pub fn refill(&self, config: &Config) {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut slot = self.slot.lock().expect("spare lock");
        if slot.is_none() {
            match self.ring().and_then(|ring| start(config, ring)) {
                Ok(runner) => *slot = Some(runner),
                Err(e) => tracing::warn!("could not start a spare runner: {e}"),
            }
        }
    }

    /// The idle spare's pid, if there is one (for /healthz and leak checks).
    pub fn pid(&self) -> Option<u32> {
        self.slot.lock().expect("spare lock").as_ref().and_then(|runner| runner.child.id())
    }

    /// Stops making spares and ends the idle one: closing its socket tells it
    /// there will be no run, and kill_on_drop makes sure.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let spare = self.slot.lock().expect("spare lock").take();
        if let Some(mut runner) = spare {
            let _ = runner.child.start_kill();
            // Reaped by tokio's orphan queue once dropped; it has no children.
        }
    }
}

/// Execs a runner that waits on stdin for its run, which will come with `ring`.
fn start(config: &Config, ring: ring::Reader) -> std::io::Result<Runner> {
    let (handoff, runner_end) = UnixStream::pair()?;
    // Close-on-exec both: the runner gets the write end as its stdout only.
    let (doorbell, runner_stdout) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&doorbell), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))?;
    let mut command = Command::new(&config.runner_exe);
    command
        .arg("runner")
        .arg("--server-pid")
        .arg(std::process::id().to_string())
        .env_clear()
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(runner_end)))
        .stdout(Stdio::from(runner_stdout))
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // The runner's PR_SET_PDEATHSIG fires when the *thread* that spawned it
    // exits. This runs on a tokio worker thread, which lives as long as the
    // server, never on a short-lived blocking-pool thread.
    let child = command.spawn()?;
    // `command` still holds the write end; dropping it leaves the runner's
    // processes as its only holders, so end-of-file means they are all gone.
    drop(command);
    Ok(Runner { child, ring, handoff, doorbell })
}

/// Runs `allocate` on a thread of its own, off the path of the run that
/// took the last spare: zeroing a new ring's pages takes half a millisecond
/// of CPU. (It also ran at SCHED_IDLE priority until an A/B run of the bench
/// showed no gain: rings are reused, so a new one is allocated only in a
/// server's first runs; docs/performance.md, "What each mechanism buys".)
fn allocate_off_the_run(allocate: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new().name("forkline-ring".into()).spawn(allocate);
    if let Err(e) = spawned {
        tracing::warn!("could not start a thread to allocate a ring: {e}");
    }
}
