//! One runner started ahead of time, so a run that gets its slot does not wait
//! for exec and start-up (about a millisecond here, most of a run's start).
//!
//! ```text
//! Spare (owned by Runs)
//!   slot: Option<Child>  — `forkline runner`, own process group, env cleared,
//!                          stdin piped (it waits there for its RunSpec),
//!                          PDEATHSIG armed, idle: no demo code has run
//!   take()   → the spare if it is still alive, else a freshly started runner
//!   refill() → start the next spare (after the run that took one has begun)
//! ```
//!
//! A spare belongs to no run, so it is not a process any run created; it is
//! killed at shutdown, and dies with the server in any case (PDEATHSIG).

use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::{Child, Command};

use crate::config::Config;

#[derive(Default)]
pub struct Spare {
    slot: Mutex<Option<Child>>,
    /// Set at shutdown: no more spares.
    closed: std::sync::atomic::AtomicBool,
}

impl Spare {
    /// A runner waiting for its spec: the spare if there is a live one, else
    /// a new one.
    pub fn take(&self, config: &Config) -> std::io::Result<Child> {
        let spare = self.slot.lock().expect("spare lock").take();
        if let Some(mut child) = spare {
            // A spare that died while idle (killed from outside) is reaped
            // here and replaced.
            if matches!(child.try_wait(), Ok(None)) {
                return Ok(child);
            }
        }
        start(config)
    }

    /// Starts the next spare, unless there is one or the server is stopping.
    /// Called from a tokio worker thread (see [`start`]).
    pub fn refill(&self, config: &Config) {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut slot = self.slot.lock().expect("spare lock");
        if slot.is_none() {
            match start(config) {
                Ok(child) => *slot = Some(child),
                Err(e) => tracing::warn!("could not start a spare runner: {e}"),
            }
        }
    }

    /// The idle spare's pid, if there is one (for /healthz and leak checks).
    pub fn pid(&self) -> Option<u32> {
        self.slot.lock().expect("spare lock").as_ref().and_then(Child::id)
    }

    /// Stops making spares and ends the idle one: closing its stdin tells it
    /// there will be no run, and kill_on_drop makes sure.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let spare = self.slot.lock().expect("spare lock").take();
        if let Some(mut child) = spare {
            let _ = child.start_kill();
            // Reaped by tokio's orphan queue once dropped; it has no children.
        }
    }
}

/// Execs a runner that waits on stdin for its run.
fn start(config: &Config) -> std::io::Result<Child> {
    let mut command = Command::new(&config.runner_exe);
    command
        .arg("runner")
        .arg("--server-pid")
        .arg(std::process::id().to_string())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // The runner's PR_SET_PDEATHSIG fires when the *thread* that spawned it
    // exits. This runs on a tokio worker thread, which lives as long as the
    // server, never on a short-lived blocking-pool thread.
    command.spawn()
}
