//! The server side of one run: start the runner, read its events, enforce the
//! bounds, and make sure that when the run ends every process of it is gone.
//!
//! ```text
//! supervise task (tokio)
//!   owns ── GroupKiller(pgid) ── Drop: SIGKILL to the whole process group
//!   owns ── runner Child (the spare, or a new one: own process group, env
//!           cleared; stdin brings its RunSpec and event ring, then is closed)
//!             event ring + stdout (its doorbell) ─▶ drain thread (drain.rs)
//!                                                    ─▶ Numberer ─▶ EventLog
//!             stderr ─▶ last words, kept for the failure reason
//!   waits for: the drain thread's end-of-file | run timeout | cancel
//! ```
//!
//! The runner is killed as a group, never as a single pid: `kill_on_drop` only
//! reaches the direct child, and a demo's children are grandchildren. The
//! runner is reaped only *after* its group was killed, so its pid (which is
//! the group's id) cannot have been reused by then.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use super::drain;
use super::ingest::Numberer;
use super::spare::{Runner, Spare};
use super::Run;
use crate::clock;
use crate::config::{Config, KILL_GRACE};
use crate::handoff;
use crate::ring;
use crate::event::{clip_text, Body, Event, Outcome};
use crate::spec::{CpythonSpec, RunSpec};

/// How much of the runner's stderr is kept to explain a failure.
const STDERR_KEEP: usize = 4096;
/// Longest wait for a killed run's processes to disappear.
const REAP_LIMIT: Duration = Duration::from_secs(2);
/// Why the run is ending, before the runner's exit status is known.
enum Ending {
    /// The doorbell closed: every process of the run let go of it.
    /// `cut_off`: one of them left an event half-written.
    Eof { cut_off: bool },
    Failed(String),
    Timeout(Duration),
    Cancelled(&'static str),
    /// A stepped run nobody stepped for this long.
    Idle(Duration),
}

/// Runs `run` to its end and closes its log with `run.end`. Never panics on
/// anything a runner does.
pub(super) async fn supervise(
    run: Arc<Run>,
    config: Arc<Config>,
    spare: Arc<Spare>,
    shutdown: CancellationToken,
) -> (Outcome, Option<String>) {
    let origin = clock::monotonic_ns();
    let mut numberer = Numberer::default().watched_by(run.stepper.clone());
    let started = start_runner(&run, &config, &spare, origin).await;
    // The next run's runner starts now, off this run's critical path.
    let refill = (spare.clone(), config.clone());
    tokio::spawn(async move { refill.0.refill(&refill.1) });
    let (outcome, reason) = match started {
        Ok(runner) => drive(&run, &config, &spare, &shutdown, runner, &mut numberer).await,
        Err(e) => (Outcome::Failed, Some(format!("could not start the runner: {e}"))),
    };
    if let Some(stepper) = &run.stepper {
        // The steps taken, so the finished run can be played again as it was stepped.
        let schedule = stepper.finish();
        let steps = schedule.steps.into_iter().map(|lane| clip_text(&lane).into()).collect();
        run.log.append([numberer.server_event(server_event(origin, Body::StepSchedule { steps, free: schedule.free }))]);
    }
    let end = server_event(origin, Body::RunEnd { outcome, reason: reason.as_deref().map(|r| clip_text(r).into()) });
    run.log.append([numberer.server_event(end)]);
    run.log.close();
    (outcome, reason)
}

/// An event the server writes into a run's log, stamped now.
fn server_event(origin: u64, body: Body) -> Event {
    Event {
        seq: None,
        t: clock::monotonic_ns().saturating_sub(origin),
        pid: std::process::id() as i32,
        tid: clock::current_tid(),
        cpu: clock::current_cpu(),
        body,
    }
}

/// Ends a run that never started (dropped from the line): its log holds
/// only `run.end`, written by the server.
pub(super) fn end_unstarted(run: &Run, outcome: Outcome, reason: String) -> (Outcome, Option<String>) {
    let end = Event {
        seq: None,
        t: 0,
        pid: std::process::id() as i32,
        tid: clock::current_tid(),
        cpu: clock::current_cpu(),
        body: Body::RunEnd { outcome, reason: Some(clip_text(&reason).into()) },
    };
    run.log.append([Numberer::default().server_event(end)]);
    run.log.close();
    (outcome, Some(reason))
}

/// Hands the run to a runner (the spare, or a new one): its spec and its
/// event ring, in one message on the runner's stdin, which is then closed.
async fn start_runner(run: &Run, config: &Config, spare: &Spare, origin: u64) -> std::io::Result<Runner> {
    let mut runner = spare.take(config)?;
    let cpython = match &run.engine {
        super::Engine::Native => None,
        super::Engine::Cpython(interpreter) => Some(CpythonSpec {
            python: interpreter.path.clone(),
            label: interpreter.label.clone(),
            tracer_dir: config.tracer_dir.clone(),
            source: None,
            sandbox: None,
        }),
        super::Engine::Edited(edited) => Some(CpythonSpec {
            python: edited.interpreter.path.clone(),
            label: edited.interpreter.label.clone(),
            tracer_dir: config.tracer_dir.clone(),
            source: Some(edited.source.clone()),
            sandbox: Some((*edited.sandbox).clone()),
        }),
    };
    let stepped = run.stepper.is_some();
    let spec = RunSpec { demo: run.demo.name.to_owned(), params: run.params.to_json(), origin_ns: origin, cpython, stepped };
    let mut line = serde_json::to_vec(&spec).expect("a spec serialises");
    line.push(b'\n');
    let mut fds = vec![runner.ring.fd()];
    fds.extend(run.stepper.as_ref().map(|stepper| stepper.gates_fd()));
    // One small message into an empty socket buffer: it does not block.
    let sent = handoff::send(std::os::fd::AsFd::as_fd(&runner.handoff), &line, &fds);
    let _ = runner.handoff.shutdown(std::net::Shutdown::Both);
    if let Err(e) = sent {
        // The runner died before it could take the run: make sure it is gone.
        let _ = runner.child.start_kill();
        let _ = runner.child.wait().await;
        return Err(e);
    }
    Ok(runner)
}

async fn drive(
    run: &Arc<Run>,
    config: &Arc<Config>,
    spare: &Spare,
    shutdown: &CancellationToken,
    runner: Runner,
    numberer: &mut Numberer,
) -> (Outcome, Option<String>) {
    let Runner { mut child, ring, doorbell, .. } = runner;
    let Some(pgid) = child.id().map(|id| Pid::from_raw(id as i32)) else {
        return (Outcome::Failed, Some("the runner exited before it could be watched".into()));
    };
    let killer = GroupKiller(pgid);
    run.set_running(pgid.as_raw());
    let stderr = child.stderr.take().expect("stderr is piped");
    let last_words = tokio::spawn(keep_tail(stderr));

    let (ending, last_numberer, ring) = match drain::start(run.clone(), config.clone(), ring, doorbell, std::mem::take(numberer)) {
        Ok(drainer) => watch(run, config, shutdown, drainer).await,
        // Nothing was read: numbering starts again from the beginning.
        Err(e) => (Ending::Failed(format!("could not start reading the run's events: {e}")), Numberer::default(), None),
    };
    *numberer = last_numberer;
    let status = match ending {
        Ending::Eof { .. } => {
            killer.kill(Signal::SIGKILL);
            child.wait().await
        }
        _ => {
            // Ask nicely first so demos could clean up, then make sure.
            killer.kill(Signal::SIGTERM);
            let _ = tokio::time::timeout(KILL_GRACE, wait_without_reaping(&mut child)).await;
            killer.kill(Signal::SIGKILL);
            child.wait().await
        }
    };
    // The runner's children were killed with it and handed to us (the server
    // is a child subreaper): reap them so nothing of the run is left, not even
    // a zombie, by the time run.end goes out.
    let mut emptied = reap_group(pgid).await;
    // A sandbox's processes are in a session of their own, out of the
    // group's reach; every process of the run's own user is the run's.
    if let (super::Engine::Edited(_), Some(uid)) = (&run.engine, crate::sandbox::run_uid(pgid.as_raw() as u32)) {
        emptied &= reap_user(uid).await;
    }
    // With every process that could write to it gone, the ring can serve
    // another run.
    if let Some(ring) = ring.filter(|_| emptied) {
        spare.recycle(ring);
    }
    // The group is empty and the runner reaped: its id may be reused from now
    // on, so the guard must not fire again.
    killer.disarm();
    let stderr_tail = tokio::time::timeout(Duration::from_secs(1), last_words).await.ok().and_then(Result::ok).unwrap_or_default();

    match ending {
        Ending::Failed(reason) => (Outcome::Failed, Some(reason)),
        Ending::Timeout(limit) => (Outcome::Timeout, Some(format!("the run took longer than {} s", limit.as_secs_f64()))),
        Ending::Idle(limit) => (Outcome::Timeout, Some(format!("nobody stepped the run for {} s", limit.as_secs_f64()))),
        Ending::Cancelled(reason) => (Outcome::Cancelled, Some(reason.into())),
        Ending::Eof { cut_off: true } => (Outcome::Failed, Some("the runner was cut off in the middle of an event".into())),
        Ending::Eof { cut_off: false } => match status {
            Ok(s) if s.success() && numberer.last_seq() == 0 => {
                (Outcome::Failed, Some("the runner exited without starting the run".into()))
            }
            Ok(s) if s.success() => (Outcome::Ok, None),
            Ok(s) => {
                let how = match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(code), _) => format!("the runner exited with code {code}"),
                    (_, Some(sig)) => format!("the runner was killed by signal {sig}"),
                    _ => "the runner ended abnormally".to_owned(),
                };
                let tail = stderr_tail.trim();
                (Outcome::Failed, Some(if tail.is_empty() { how } else { format!("{how}: {tail}") }))
            }
            Err(e) => (Outcome::Failed, Some(format!("waiting for the runner failed: {e}"))),
        },
    }
}

/// Waits for the drain thread to see the run end, or for the run's time, a
/// cancel or shutdown; then the numberer and the ring come back from the thread.
async fn watch(run: &Run, config: &Config, shutdown: &CancellationToken, mut drainer: drain::Drainer) -> (Ending, Numberer, Option<ring::Reader>) {
    let limit = if run.stepper.is_some() { config.step_run_timeout } else { config.run_timeout };
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let stopped = tokio::select! {
        finished = drainer.finished() => Ok(finished),
        _ = &mut deadline => Err(Ending::Timeout(limit)),
        _ = run.cancel.cancelled() => Err(Ending::Cancelled("the run was cancelled")),
        _ = shutdown.cancelled() => Err(Ending::Cancelled("the server is shutting down")),
        ending = stepped_run_left(run, config) => Err(ending),
    };
    match stopped {
        Ok((finish, numberer, ring)) => {
            let ending = match finish {
                drain::Finish::Eof { cut_off } => Ending::Eof { cut_off },
                drain::Finish::Failed(reason) => Ending::Failed(reason),
                drain::Finish::Stopped => Ending::Failed("the event reader stopped unasked".into()),
            };
            (ending, numberer, ring)
        }
        // Events the run writes from here on are not read.
        Err(ending) => {
            let (_, numberer, ring) = drainer.stop().await;
            (ending, numberer, ring)
        }
    }
}

/// Resolves when a stepped run should end though its processes still wait:
/// nobody stepped it for `step_idle_timeout`, or everyone watching left (a
/// stepped run no page shows cannot be stepped). Never, for other runs.
async fn stepped_run_left(run: &Run, config: &Config) -> Ending {
    let Some(stepper) = &run.stepper else { return std::future::pending().await };
    let idle = async {
        loop {
            let since = stepper.last_activity();
            tokio::time::sleep_until((since + config.step_idle_timeout).into()).await;
            if stepper.last_activity() == since {
                return Ending::Idle(config.step_idle_timeout);
            }
        }
    };
    // A schedule being played goes on past a step that blocked silently.
    let play = async {
        loop {
            tokio::time::sleep(super::step::SETTLE_LIMIT / 4).await;
            if stepper.playing() {
                stepper.tick();
            }
        }
    };
    tokio::select! {
        ending = idle => ending,
        never = play => never,
        () = run.abandoned(std::time::Instant::now()) => Ending::Cancelled("everyone watching the stepped run left"),
    }
}

/// Waits until the runner has exited, without reaping it (so its pid, the
/// group id, stays reserved until we have killed the group).
async fn wait_without_reaping(child: &mut Child) {
    let Some(pid) = child.id() else { return };
    while !has_exited(pid) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn has_exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to pass for output.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child
    // waitable, WNOHANG never blocks.
    let rc = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT | libc::WNOHANG) };
    // SAFETY: si_pid is valid to read after waitid returned.
    rc != 0 || unsafe { info.si_pid() } != 0
}

/// Reaps every process of the group that was re-parented to the server, until
/// the group has no member left (bounded by [`REAP_LIMIT`]); says whether it
/// got there.
async fn reap_group(pgid: Pid) -> bool {
    let deadline = tokio::time::Instant::now() + REAP_LIMIT;
    loop {
        loop {
            match waitpid(Pid::from_raw(-pgid.as_raw()), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        // Signal 0 probes: ESRCH once no process (zombies included) is left.
        if killpg(pgid, None) == Err(nix::errno::Errno::ESRCH) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Kills every process of `uid` (a sandboxed run's own user) and reaps
/// those handed to the server; true once none is left, zombies included.
async fn reap_user(uid: u32) -> bool {
    let deadline = tokio::time::Instant::now() + REAP_LIMIT;
    let me = std::process::id() as i32;
    loop {
        let left = crate::sandbox::processes_of(uid);
        if left.is_empty() {
            return true;
        }
        for (pid, ppid) in left {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            if ppid == me {
                let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Keeps the last [`STDERR_KEEP`] bytes the runner wrote to stderr.
async fn keep_tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > STDERR_KEEP {
            kept.drain(..kept.len() - STDERR_KEEP);
        }
    }
    String::from_utf8_lossy(&kept).lines().last().unwrap_or_default().to_owned()
}

/// Owns a run's process group: whatever happens, the group is killed.
struct GroupKiller(Pid);

impl GroupKiller {
    fn kill(&self, signal: Signal) {
        // ESRCH just means the group is already gone.
        let _ = killpg(self.0, signal);
    }
}

impl GroupKiller {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill(Signal::SIGKILL);
    }
}
