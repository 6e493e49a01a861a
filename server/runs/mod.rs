//! Runs on the server side: admission, the table of runs, and their lifecycle.
//!
//! ```text
//! Runs (shared by every request)
//!   admission: slots + a line per client (round robin) + per-client caps
//!   rate: a token bucket per client (runs started per minute), kept in the
//!         store instead when the store is shared by several instances
//!   table: id ─▶ Arc<Run> { log, state, cancel, viewers }
//!          id ─▶ Arc<Restored> (saved runs brought back, shared by their viewers)
//!   tasks: one task per run (tracked, so shutdown can wait for all):
//!          wait in line ─▶ supervise (runner, events, bounds) ─▶ retire
//! ```
//!
//! Nothing here knows about HTTP: `http/` turns these types into responses.

pub mod admission;
pub mod client;
pub mod experiment;
pub(crate) mod drain;
pub mod id;
pub mod ingest;
pub mod log;
pub mod rate;
mod restored;
mod spare;
pub mod step;
mod supervise;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::demos::{Demo, Params};
use crate::event::Outcome;
use crate::interpreters::Interpreter;
pub use client::ClientKey;
pub use id::{CancelToken, Instance, RunId};
pub use log::EventLog;
pub use restored::Restored;
/// How often the drain reads a ring while events keep coming (the bench mimics it).
pub use drain::POLL_INTERVAL;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Starting,
    Running,
    Finished,
}

#[derive(Debug)]
struct RunState {
    status: Status,
    outcome: Option<Outcome>,
    reason: Option<String>,
    runner_pid: Option<i32>,
    finished_at_ms: Option<u64>,
    /// Whether the store took the finished run (the reason when not);
    /// None until it tried, or when there is no store.
    saved: Option<Result<(), String>>,
}

/// What runs a demo: forkline's own processes (the runner is `MainProcess`),
/// or a real CPython interpreter running the demo's Python program.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    Native,
    Cpython(Interpreter),
    /// A program someone edited, run by CPython inside the sandbox.
    Edited(Arc<EditedProgram>),
}

/// An edited program and where it runs.
#[derive(Debug, PartialEq)]
pub struct EditedProgram {
    pub interpreter: Interpreter,
    pub source: String,
    pub sandbox: Arc<crate::sandbox::SandboxSpec>,
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::Cpython(_) | Engine::Edited(_) => "cpython",
        }
    }

    /// The interpreter's id, for the CPython engine.
    pub fn python(&self) -> Option<&str> {
        match self {
            Engine::Native => None,
            Engine::Cpython(interpreter) => Some(&interpreter.id),
            Engine::Edited(edited) => Some(&edited.interpreter.id),
        }
    }

    /// The edited program, when someone edited it.
    pub fn source(&self) -> Option<&str> {
        match self {
            Engine::Edited(edited) => Some(&edited.source),
            _ => None,
        }
    }
}

/// One run of one demo.
#[derive(Debug)]
pub struct Run {
    pub id: RunId,
    pub demo: &'static Demo,
    pub params: Params,
    pub engine: Engine,
    /// Who started it; None when the peer address is unknown (in tests).
    pub client: Option<ClientKey>,
    pub created_at_ms: u64,
    pub log: EventLog,
    /// Given to the client that created the run; needed to cancel it.
    pub cancel_token: CancelToken,
    /// A stepped run's gates; None for a run at full speed.
    pub stepper: Option<Arc<step::Stepper>>,
    state: Mutex<RunState>,
    cancel: CancellationToken,
    viewers: Viewers,
}

/// Who is watching a run: a queued run nobody watches any more is dropped
/// before it takes a slot.
#[derive(Debug, Default)]
struct Viewers {
    count: AtomicUsize,
    ever: AtomicBool,
    changed: tokio::sync::Notify,
}

/// Held by each open event stream; dropping it (the client left) counts down.
pub struct ViewerGuard(Arc<Run>);

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.0.viewers.count.fetch_sub(1, Ordering::SeqCst);
        self.0.viewers.changed.notify_waiters();
    }
}

/// A queued run that was never watched is considered abandoned after this long.
const UNWATCHED_GRACE: Duration = Duration::from_secs(10);

/// A run's status as the API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub demo: &'static str,
    pub params: serde_json::Value,
    /// `native` or `cpython`.
    pub engine: &'static str,
    /// The interpreter's id, for the CPython engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The program as edited, when it was (a run of the lesson's own
    /// program has none: it is the demo's, with `params` written in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_pid: Option<i32>,
    pub events: usize,
    pub created_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Whether the finished run is in the store (its permalink outlives a
    /// restart); absent until the store tried, and with no store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved: Option<bool>,
    /// Why the store could not keep it (`saved: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_saved_reason: Option<String>,
}

impl Run {
    fn new(id: RunId, demo: &'static Demo, params: Params, engine: Engine, client: Option<ClientKey>, stepper: Option<Arc<step::Stepper>>) -> Self {
        Run {
            id,
            demo,
            params,
            engine,
            client,
            created_at_ms: now_ms(),
            log: EventLog::default(),
            cancel_token: CancelToken::random(),
            stepper,
            state: Mutex::new(RunState {
                status: Status::Queued,
                outcome: None,
                reason: None,
                runner_pid: None,
                finished_at_ms: None,
                saved: None,
            }),
            cancel: CancellationToken::new(),
            viewers: Viewers::default(),
        }
    }

    /// Counts a viewer until the guard drops.
    pub fn viewer(self: &Arc<Self>) -> ViewerGuard {
        self.viewers.count.fetch_add(1, Ordering::SeqCst);
        self.viewers.ever.store(true, Ordering::SeqCst);
        ViewerGuard(self.clone())
    }

    /// Resolves once nobody watches: every viewer left, or none ever came
    /// within [`UNWATCHED_GRACE`].
    async fn abandoned(&self, since: Instant) {
        loop {
            let changed = self.viewers.changed.notified();
            let nobody = self.viewers.count.load(Ordering::SeqCst) == 0;
            if nobody && (self.viewers.ever.load(Ordering::SeqCst) || since.elapsed() >= UNWATCHED_GRACE) {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), changed).await;
        }
    }

    pub fn status(&self) -> Status {
        self.state.lock().expect("run state lock").status
    }

    pub fn summary(&self) -> Summary {
        let state = self.state.lock().expect("run state lock");
        Summary {
            id: self.id.to_string(),
            demo: self.demo.name,
            params: self.params.to_json(),
            engine: self.engine.name(),
            python: self.engine.python().map(str::to_owned),
            source: self.engine.source().map(str::to_owned),
            status: state.status,
            outcome: state.outcome,
            reason: state.reason.clone(),
            runner_pid: state.runner_pid,
            events: self.log.len(),
            created_at_ms: self.created_at_ms,
            finished_at_ms: state.finished_at_ms,
            saved: state.saved.as_ref().map(Result::is_ok),
            not_saved_reason: state.saved.as_ref().and_then(|r| r.as_ref().err().cloned()),
        }
    }

    /// Asks the run to stop; its processes are killed and its log closed with
    /// `run.end` (outcome cancelled).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    fn set_starting(&self) {
        self.state.lock().expect("run state lock").status = Status::Starting;
    }

    fn set_running(&self, runner_pid: i32) {
        let mut state = self.state.lock().expect("run state lock");
        state.status = Status::Running;
        state.runner_pid = Some(runner_pid);
    }

    /// What the store made of the finished run.
    pub fn set_saved(&self, result: Result<(), String>) {
        self.state.lock().expect("run state lock").saved = Some(result);
    }

    fn set_finished(&self, outcome: Outcome, reason: Option<String>) {
        let mut state = self.state.lock().expect("run state lock");
        state.status = Status::Finished;
        state.outcome = Some(outcome);
        state.reason = reason;
        state.finished_at_ms = Some(now_ms());
    }
}

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Refused(#[from] admission::Refusal),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("could not make a stepped run's gates: {0}")]
    Gates(std::io::Error),
}

#[derive(Default)]
struct Table {
    runs: HashMap<RunId, Arc<Run>>,
    /// Saved runs brought back from the store.
    restored: HashMap<RunId, Arc<Restored>>,
    /// Finished runs and restored runs, and the bytes of their logs, oldest
    /// first, for retention: one budget for both.
    finished: VecDeque<(RunId, usize)>,
    /// The bytes of every finished or restored log still in memory.
    finished_bytes: usize,
}

/// Awaited once for each run after it finished (the store saves it there).
/// Runs inside the run's supervise task, so shutdown waits for it too.
pub type FinishedHook = Box<dyn Fn(Arc<Run>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Called once for each run as it is admitted (the store notes it there, so
/// a server killed mid-run still knows the id after a restart). Must not
/// block: `start` answers an HTTP request.
pub type StartedHook = Box<dyn Fn(&Arc<Run>) + Send + Sync>;

/// Every run the server knows, and the tasks supervising them.
pub struct Runs {
    config: Arc<Config>,
    admission: Arc<admission::Admission>,
    rate: rate::RateLimiter,
    /// A runner started ahead of the next run.
    spare: Arc<spare::Spare>,
    table: Mutex<Table>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    finished_hook: OnceLock<FinishedHook>,
    started_hook: OnceLock<StartedHook>,
    /// Run rates kept where every instance sees them, when the store is shared.
    shared_rate: OnceLock<Arc<dyn rate::SharedBuckets>>,
    /// Store loads in progress, so that concurrent lookups share one.
    loading: Mutex<HashMap<RunId, restored::Loading>>,
}

impl Runs {
    pub fn new(config: Arc<Config>) -> Arc<Self> {
        // Orphans of a killed runner are re-parented to us instead of init,
        // so each run's supervisor can reap them before it reports run.end.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let admission = admission::Admission::new(admission::Limits {
            max_active: config.max_active_runs.max(1),
            max_queue: config.max_queued_runs,
            per_client: config.per_client_runs.max(1),
            per_client_active: config
                .per_client_active_runs
                .unwrap_or_else(|| admission::Limits::default_share(config.max_active_runs.max(1))),
        });
        let rate = rate::RateLimiter::new(config.client_run_rate);
        Arc::new(Runs {
            config,
            admission,
            rate,
            spare: Arc::default(),
            table: Mutex::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            finished_hook: OnceLock::new(),
            started_hook: OnceLock::new(),
            shared_rate: OnceLock::new(),
            loading: Mutex::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Admits a run of `demo` on `engine` with already-validated `params`
    /// (validated for that engine) for `client`: it starts as soon as a slot
    /// is free and it is its client's turn.
    pub async fn start(
        self: &Arc<Self>,
        demo: &'static Demo,
        params: Params,
        engine: Engine,
        client: Option<ClientKey>,
    ) -> Result<Arc<Run>, StartError> {
        self.start_as(demo, params, engine, client, true, None).await
    }

    /// Admits a stepped run ("You are the scheduler"): every traced
    /// operation waits for [`step::Stepper::step`]; `schedule` plays a
    /// recorded one first.
    pub async fn start_stepped(
        self: &Arc<Self>,
        demo: &'static Demo,
        params: Params,
        engine: Engine,
        client: Option<ClientKey>,
        schedule: Option<step::Schedule>,
    ) -> Result<Arc<Run>, StartError> {
        let stepper = step::Stepper::new(schedule).map_err(StartError::Gates)?;
        self.start_as(demo, params, engine, client, true, Some(Arc::new(stepper))).await
    }

    /// A run of an experiment: admitted, queued and bounded like any run of
    /// its client, but not counted against the client's run rate (the
    /// experiment as a whole was, once, when it was asked for).
    pub async fn start_for_experiment(
        self: &Arc<Self>,
        demo: &'static Demo,
        params: Params,
        engine: Engine,
        client: Option<ClientKey>,
    ) -> Result<Arc<Run>, StartError> {
        self.start_as(demo, params, engine, client, false, None).await
    }

    /// Takes one token of `client`'s run rate, or says how long to wait:
    /// from the shared buckets where there are some, else (or while they
    /// cannot be reached) from this instance's own.
    pub async fn take_rate(&self, client: Option<ClientKey>) -> Result<(), StartError> {
        let shared = match (self.shared_rate.get(), client) {
            (Some(shared), Some(key)) if self.rate.rate().per_minute > 0 => match shared.take(key, self.rate.rate()).await {
                Ok(answer) => Some(answer),
                Err(problem) => {
                    tracing::warn!(%problem, "the shared run rates cannot be reached: this instance's own apply");
                    None
                }
            },
            _ => None,
        };
        shared.unwrap_or_else(|| self.rate.take(client, Instant::now())).map_err(|wait| {
            let retry_after_secs = wait.as_secs_f64().ceil().max(1.0) as u32;
            StartError::Refused(admission::Refusal::TooFast { retry_after_secs })
        })
    }

    async fn start_as(
        self: &Arc<Self>,
        demo: &'static Demo,
        params: Params,
        engine: Engine,
        client: Option<ClientKey>,
        rated: bool,
        stepper: Option<Arc<step::Stepper>>,
    ) -> Result<Arc<Run>, StartError> {
        if self.shutdown.is_cancelled() {
            return Err(StartError::ShuttingDown);
        }
        let run = Arc::new(Run::new(RunId::on(&self.config.instance), demo, params, engine, client, stepper));
        let ticket = self.admission.reserve(&run.id, client)?;
        // After admission, so a run refused for another reason costs no token.
        if rated {
            self.take_rate(client).await?;
        }
        self.table.lock().expect("runs lock").runs.insert(run.id.clone(), run.clone());
        if let Some(hook) = self.started_hook.get() {
            hook(&run);
        }
        let runs = self.clone();
        let task_run = run.clone();
        self.tasks.spawn(async move {
            let run = task_run;
            let queued_at = Instant::now();
            let (outcome, reason) = tokio::select! {
                slot = ticket.wait_turn() => {
                    run.set_starting();
                    let ended = supervise::supervise(run.clone(), runs.config.clone(), runs.spare.clone(), runs.shutdown.clone()).await;
                    drop(slot);
                    ended
                }
                _ = tokio::time::sleep(runs.config.queue_timeout) => supervise::end_unstarted(
                    &run, Outcome::Timeout, format!("waited in line longer than {} s", runs.config.queue_timeout.as_secs())),
                _ = run.cancel.cancelled() => supervise::end_unstarted(&run, Outcome::Cancelled, "the run was cancelled while waiting".into()),
                _ = runs.shutdown.cancelled() => supervise::end_unstarted(&run, Outcome::Cancelled, "the server is shutting down".into()),
                _ = run.abandoned(queued_at) => supervise::end_unstarted(&run, Outcome::Cancelled, "everyone watching left before it started".into()),
            };
            drop(ticket);
            run.set_finished(outcome, reason);
            // Saved first, then retired: a run that memory lets go of is
            // already in the store.
            if let Some(hook) = runs.finished_hook.get() {
                hook(run.clone()).await;
            }
            runs.retire(&run.id, run.log.byte_len());
        });
        Ok(run)
    }

    /// Sets what happens to every run as it is admitted; the first call wins.
    pub fn on_started(&self, hook: StartedHook) {
        let _ = self.started_hook.set(hook);
    }

    /// Keeps run rates in `shared` (the store other instances share) from
    /// now on; the first call wins.
    pub fn share_rate(&self, shared: Arc<dyn rate::SharedBuckets>) {
        let _ = self.shared_rate.set(shared);
    }

    /// Sets what happens to every run once it finished; the first call wins.
    pub fn on_finished(&self, hook: FinishedHook) {
        let _ = self.finished_hook.set(hook);
    }

    /// 1-based place in the waiting line, None once it has a slot.
    pub fn queue_position(&self, run: &Run) -> Option<usize> {
        self.admission.position(&run.id, run.client)
    }

    /// Wakes on every change of the waiting line.
    pub fn watch_queue(&self) -> tokio::sync::watch::Receiver<u64> {
        self.admission.watch()
    }

    pub fn get(&self, id: &RunId) -> Option<Arc<Run>> {
        self.table.lock().expect("runs lock").runs.get(id).cloned()
    }

    /// Runs executing right now.
    pub fn active(&self) -> usize {
        self.admission.running()
    }

    /// Starts the spare runner now, so even the first run finds one ready.
    /// Call from a tokio task: the spare dies with the thread that started it.
    pub fn prepare_spare(&self) {
        self.spare.refill(&self.config);
    }

    /// The idle spare runner's pid: a server process that belongs to no run.
    pub fn spare_pid(&self) -> Option<u32> {
        self.spare.pid()
    }

    /// Runs waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.admission.waiting()
    }

    /// Moves a run to the finished list and forgets the oldest finished runs
    /// beyond the retention count.
    fn retire(&self, id: &RunId, bytes: usize) {
        let forgotten = {
            let mut table = self.table.lock().expect("runs lock");
            self.remember_finished(&mut table, id, bytes)
        };
        restored::free_later(forgotten);
    }

    /// Adds a finished or restored run to the finished list and takes out
    /// whatever no longer fits, for the caller to free outside the lock.
    fn remember_finished(&self, table: &mut Table, id: &RunId, bytes: usize) -> Vec<Forgotten> {
        let mut forgotten = Vec::new();
        table.finished.push_back((id.clone(), bytes));
        table.finished_bytes += bytes;
        // Bounded by count and by bytes, so a few huge runs cannot fill the
        // server's memory; the store still has them.
        while table.finished.len() > self.config.keep_finished_runs
            || (table.finished_bytes > self.config.keep_finished_bytes && table.finished.len() > 1)
        {
            let Some((old, old_bytes)) = table.finished.pop_front() else { break };
            table.finished_bytes -= old_bytes;
            forgotten.extend(table.runs.remove(&old).map(Forgotten::Live));
            forgotten.extend(table.restored.remove(&old).map(Forgotten::Restored));
        }
        forgotten
    }

    /// Cancels every run and waits until each has killed its processes and
    /// closed its log (which ends every open event stream).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.spare.close();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// A token that fires when the server begins shutting down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// A run memory let go of, to be freed off the lock.
#[allow(dead_code)] // held only to be dropped
enum Forgotten {
    Live(Arc<Run>),
    Restored(Arc<Restored>),
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
