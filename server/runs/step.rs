//! The server's side of a stepped run ("You are the scheduler"): which
//! threads wait at their gates and for what, who holds which lock, and the
//! steps the student took, so that one click opens exactly one gate.
//!
//! ```text
//! drain thread ── every accepted event ──▶ Stepper::see
//!                   step.pending: the thread waits at its gate
//!                   proc.start / thread.start: the lane's name
//!                   lock wait / acquire / release: who waits for whom
//! POST …/step {tid} ──▶ Stepper::step ──▶ Gates::open(its slot)
//! POST …/step {free} ─▶ Stepper::free ──▶ Gates::open_all
//! the run's end ──────▶ Stepper::finish ──▶ step.schedule (the steps, in order)
//! ```
//!
//! A step is over when its thread has done the operation and settled: come
//! to its next gate, begun waiting in the kernel (a lock's `wait`, a join, a
//! sleep), or exited. Until then the next step waits (a step's answer comes
//! once it settled), so the order of steps is the order the operations
//! happened in. An operation that blocks without saying so (a `get` from an
//! empty queue) counts as settled after [`SETTLE_LIMIT`].
//!
//! A schedule given with the run (a finished run's `step.schedule`, played
//! again) is stepped here as its lanes come to their gates, in order, each
//! step once the one before it settled; once it is used up the run waits
//! for the student again, or runs freely if the schedule says so.
//!
//! Lanes are named by what the program calls them (`d`, `MainProcess`,
//! `MainProcess/t1`), not by pid, so a schedule means the same in the next
//! run, whose pids differ.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::event::{Body, Event, LockPhase};
use crate::gates::{Gates, SLOTS};

/// The demos whose every operation both engines trace before doing it.
pub const STEPPABLE: &[&str] = &["lock", "queue", "pipe", "threads", "fork", "process"];

/// A schedule to play: lanes to step, in order, then whether to let go.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub steps: Vec<String>,
    #[serde(default)]
    pub free: bool,
}

/// How long a step may take to settle before the next may go: an operation
/// that blocks silently has blocked by then.
pub const SETTLE_LIMIT: Duration = Duration::from_millis(300);

/// Longest schedule accepted: a lesson program at its defaults takes a few
/// hundred steps.
pub const MAX_SCHEDULE: usize = 10_000;

/// One thread at its gate.
#[derive(Debug, Clone)]
struct Pending {
    gate: usize,
    op: String,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<i32, Pending>,
    processes: HashMap<i32, String>,
    threads: HashMap<i32, String>,
    /// Lock name → the tid holding it.
    holders: HashMap<String, i32>,
    /// Tid → the lock it waits for.
    waiting: HashMap<i32, String>,
    /// Tid → pid, for every thread seen.
    pid_of: HashMap<i32, i32>,
    steps: Vec<String>,
    /// The thread of the last step, until it settled, and when it was let go.
    in_flight: Option<(i32, Instant)>,
    to_play: VecDeque<String>,
    free_after_playing: bool,
    free: bool,
    finished: bool,
}

/// A stepped run's gates and what the server knows of them.
pub struct Stepper {
    gates: Gates,
    state: Mutex<State>,
    /// When the student last did something (or the run started): an idle
    /// stepped run is cancelled.
    last_activity: Mutex<Instant>,
    /// Told when a step settles.
    settled: Notify,
}

impl std::fmt::Debug for Stepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stepper").finish_non_exhaustive()
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stepped {
    /// The lane let through.
    pub lane: String,
    /// What it was let through to do.
    pub op: String,
    /// Steps taken so far, this one included.
    pub steps: usize,
}

/// Why a step was refused; nothing was let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("the run has ended")]
    Finished,
    #[error("the run runs freely now; there is nothing left to step")]
    Free,
    #[error("no thread {0} in this run has come to a gate yet")]
    Unknown(i32),
    #[error("{lane} is waiting for {lock}, which {holder} holds: step {holder} until it releases it")]
    Blocked { lane: String, lock: String, holder: String },
    #[error("{lanes} wait for each other's locks: a deadlock, and no step can end it")]
    Deadlock { lanes: String },
    #[error("{0} is not waiting at a gate (it is running, blocked in the kernel, or done)")]
    NotWaiting(String),
    #[error("{0} is still performing its step")]
    Busy(String),
}

impl Stepper {
    pub fn new(schedule: Option<Schedule>) -> std::io::Result<Stepper> {
        let schedule = schedule.unwrap_or_default();
        let state = State { to_play: schedule.steps.into(), free_after_playing: schedule.free, ..State::default() };
        Ok(Stepper { gates: Gates::create()?, state: Mutex::new(state), last_activity: Mutex::new(Instant::now()), settled: Notify::new() })
    }

    /// The gate page's descriptor, for the hand-off.
    pub fn gates_fd(&self) -> std::os::fd::RawFd {
        self.gates.fd()
    }

    /// When the student last stepped, or the run started.
    pub fn last_activity(&self) -> Instant {
        *self.last_activity.lock().expect("step activity lock")
    }

    /// Takes in one event the server accepted from the run.
    pub fn see(&self, event: &Event) {
        let mut state = self.state.lock().expect("step state lock");
        let (pid, tid) = (event.pid, event.tid);
        state.pid_of.insert(tid, pid);
        if state.in_flight.is_some_and(|(stepped, _)| stepped == tid) && settles(&event.body) {
            state.in_flight = None;
            self.settled.notify_waiters();
        }
        match &event.body {
            Body::StepPending { gate, op, .. } => {
                // A gate the page cannot exist on is never opened; that
                // thread is stuck, and the run's limits end it.
                if (*gate as usize) < SLOTS && !state.free {
                    state.pending.insert(tid, Pending { gate: *gate as usize, op: op.to_string() });
                }
            }
            Body::ProcStart { name, .. } => {
                state.processes.insert(pid, name.to_string());
            }
            Body::ThreadStart { name } => {
                state.threads.insert(tid, name.to_string());
            }
            Body::Lock { phase, lock } => match phase {
                LockPhase::Wait => {
                    state.waiting.insert(tid, lock.to_string());
                }
                LockPhase::Acquire => {
                    state.waiting.remove(&tid);
                    state.holders.insert(lock.to_string(), tid);
                }
                LockPhase::Release => {
                    if state.holders.get(lock.as_ref()) == Some(&tid) {
                        state.holders.remove(lock.as_ref());
                    }
                }
            },
            _ => {}
        }
        self.play(&mut state);
    }

    /// Steps the schedule given with the run as far as its lanes are ready,
    /// one settled step at a time.
    fn play(&self, state: &mut State) {
        expire(state);
        while let Some(lane) = state.to_play.front().cloned() {
            if state.in_flight.is_some() {
                return;
            }
            let Some(tid) = state.pending.keys().copied().find(|&tid| lane_of(state, tid) == lane) else { return };
            state.to_play.pop_front();
            self.open(state, tid);
            if state.to_play.is_empty() && state.free_after_playing {
                self.let_go(state);
            }
        }
    }

    fn open(&self, state: &mut State, tid: i32) -> Option<Stepped> {
        let pending = state.pending.remove(&tid)?;
        state.in_flight = Some((tid, Instant::now()));
        self.gates.open(pending.gate);
        let lane = lane_of(state, tid);
        state.steps.push(lane.clone());
        *self.last_activity.lock().expect("step activity lock") = Instant::now();
        Some(Stepped { lane, op: pending.op, steps: state.steps.len() })
    }

    /// Lets thread `tid` perform its next operation.
    pub fn step(&self, tid: i32) -> Result<Stepped, StepError> {
        let mut state = self.state.lock().expect("step state lock");
        if state.finished {
            return Err(StepError::Finished);
        }
        if state.free {
            return Err(StepError::Free);
        }
        expire(&mut state);
        if let Some((busy, _)) = state.in_flight {
            return Err(StepError::Busy(lane_of(&state, busy)));
        }
        if let Some(stepped) = self.open(&mut state, tid) {
            return Ok(stepped);
        }
        if !state.pid_of.contains_key(&tid) {
            return Err(StepError::Unknown(tid));
        }
        let lane = lane_of(&state, tid);
        if let Some(cycle) = lock_cycle(&state, tid) {
            let lanes: Vec<String> = cycle.iter().map(|&t| lane_of(&state, t)).collect();
            return Err(StepError::Deadlock { lanes: lanes.join(" → ") });
        }
        if let Some(lock) = state.waiting.get(&tid) {
            if let Some(&holder) = state.holders.get(lock) {
                return Err(StepError::Blocked { lane, lock: lock.clone(), holder: lane_of(&state, holder) });
            }
        }
        Err(StepError::NotWaiting(lane))
    }

    /// Lets every thread run on without waiting ("Run freely").
    pub fn free(&self) -> Result<usize, StepError> {
        let mut state = self.state.lock().expect("step state lock");
        if state.finished {
            return Err(StepError::Finished);
        }
        self.let_go(&mut state);
        Ok(state.steps.len())
    }

    fn let_go(&self, state: &mut State) {
        state.free = true;
        state.in_flight = None;
        self.settled.notify_waiters();
        state.pending.clear();
        state.to_play.clear();
        self.gates.open_all();
    }

    /// Waits until the last step settled (or [`SETTLE_LIMIT`] passed).
    pub async fn settled(&self) {
        loop {
            let notified = self.settled.notified();
            let since = match self.state.lock().expect("step state lock").in_flight {
                None => return,
                Some((_, since)) => since,
            };
            let limit = tokio::time::sleep_until((since + SETTLE_LIMIT).into());
            tokio::select! {
                () = notified => {}
                () = limit => return,
            }
        }
    }

    /// Goes on with a schedule whose last step blocked without saying so;
    /// called now and then while a schedule is being played.
    pub fn tick(&self) {
        let mut state = self.state.lock().expect("step state lock");
        self.play(&mut state);
    }

    /// Whether a schedule is still being played.
    pub fn playing(&self) -> bool {
        !self.state.lock().expect("step state lock").to_play.is_empty()
    }

    /// The run ended: no more steps; the steps taken, for `step.schedule`.
    pub fn finish(&self) -> Schedule {
        let mut state = self.state.lock().expect("step state lock");
        state.finished = true;
        state.pending.clear();
        Schedule { steps: state.steps.clone(), free: state.free }
    }

    /// Threads waiting for locks in a cycle, when the lanes are deadlocked.
    pub fn deadlock(&self) -> Option<Vec<String>> {
        let state = self.state.lock().expect("step state lock");
        let mut waiters: Vec<i32> = state.waiting.keys().copied().collect();
        waiters.sort_unstable();
        waiters.into_iter().find_map(|tid| lock_cycle(&state, tid)).map(|cycle| cycle.iter().map(|&t| lane_of(&state, t)).collect())
    }
}

/// Whether a stepped thread's event means its step is over: it came to its
/// next gate, or it now waits in the kernel, or it is gone.
fn settles(body: &Body) -> bool {
    use crate::event::Phase;
    match body {
        Body::StepPending { .. } | Body::ProcExit { .. } | Body::ThreadExit {} => true,
        Body::Lock { phase: LockPhase::Wait, .. } => true,
        Body::ProcJoin { phase: Phase::Begin, .. } | Body::ThreadJoin { phase: Phase::Begin, .. } | Body::Sleep { phase: Phase::Begin, .. } => true,
        _ => false,
    }
}

/// Forgets a step that has not settled within [`SETTLE_LIMIT`]: its
/// thread blocked without an event.
fn expire(state: &mut State) {
    if state.in_flight.is_some_and(|(_, since)| since.elapsed() >= SETTLE_LIMIT) {
        state.in_flight = None;
    }
}

/// The lane a thread is drawn in, by the names its program gave.
fn lane_of(state: &State, tid: i32) -> String {
    let pid = state.pid_of.get(&tid).copied().unwrap_or(tid);
    let process = state.processes.get(&pid).cloned().unwrap_or_else(|| format!("pid {pid}"));
    if tid == pid {
        return process;
    }
    let thread = state.threads.get(&tid).cloned().unwrap_or_else(|| format!("tid {tid}"));
    format!("{process}/{thread}")
}

/// Follows "waits for a lock held by" from `start`; the cycle back to it,
/// if there is one.
fn lock_cycle(state: &State, start: i32) -> Option<Vec<i32>> {
    let mut path = vec![start];
    let mut at = start;
    while let Some(holder) = state.waiting.get(&at).and_then(|lock| state.holders.get(lock)).copied() {
        if holder == start {
            path.push(start);
            return Some(path);
        }
        if path.contains(&holder) || path.len() > state.waiting.len() {
            return None;
        }
        path.push(holder);
        at = holder;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Text;

    fn event(pid: i32, tid: i32, body: Body) -> Event {
        Event { seq: None, t: 0, pid, tid, cpu: 0, body }
    }

    fn started(stepper: &Stepper, pid: i32, name: &'static str) {
        stepper.see(&event(pid, pid, Body::ProcStart { name: Text::Borrowed(name), ppid: 1, target: None }));
    }

    fn pending(stepper: &Stepper, pid: i32, tid: i32, gate: u32, op: &'static str) {
        stepper.see(&event(pid, tid, Body::StepPending { gate, op: Text::Borrowed(op), at: Text::Borrowed("x"), line: None }));
    }

    fn lock(stepper: &Stepper, pid: i32, phase: LockPhase, name: &'static str) {
        stepper.see(&event(pid, pid, Body::Lock { phase, lock: Text::Borrowed(name) }));
    }

    #[test]
    fn a_step_lets_exactly_the_waiting_thread_through_and_is_recorded_by_lane() {
        let s = Stepper::new(None).unwrap();
        started(&s, 10, "d");
        started(&s, 11, "w");
        pending(&s, 10, 10, 0, "read balance");
        pending(&s, 11, 11, 1, "read balance");
        assert_eq!(s.step(11).unwrap(), Stepped { lane: "w".into(), op: "read balance".into(), steps: 1 });
        assert_eq!(s.step(10), Err(StepError::Busy("w".into())), "the next step waits for w's to settle");
        s.see(&event(11, 11, Body::Value { op: crate::event::ValueOp::Read, name: Text::Borrowed("balance"), value: 200 }));
        assert_eq!(s.step(10), Err(StepError::Busy("w".into())), "w did its read, but has not come to its next gate");
        pending(&s, 11, 11, 1, "write balance 199");
        assert_eq!(s.step(10).unwrap().lane, "d");
        s.see(&event(10, 10, Body::ProcExit { code: 0 }));
        assert_eq!(s.step(10), Err(StepError::NotWaiting("d".into())), "one grant, one step");
        assert_eq!(s.step(99), Err(StepError::Unknown(99)));
        assert_eq!(s.finish(), Schedule { steps: vec!["w".into(), "d".into()], free: false });
        assert_eq!(s.step(10), Err(StepError::Finished));
    }

    #[test]
    fn a_lane_waiting_for_a_held_lock_is_refused_naming_the_holder() {
        let s = Stepper::new(None).unwrap();
        started(&s, 10, "d");
        started(&s, 11, "w");
        lock(&s, 10, LockPhase::Wait, "lock");
        lock(&s, 10, LockPhase::Acquire, "lock");
        lock(&s, 11, LockPhase::Wait, "lock");
        let refused = s.step(11).unwrap_err();
        assert_eq!(refused, StepError::Blocked { lane: "w".into(), lock: "lock".into(), holder: "d".into() });
        assert!(refused.to_string().contains("step d until it releases it"), "{refused}");
        lock(&s, 10, LockPhase::Release, "lock");
        assert_eq!(s.step(11), Err(StepError::NotWaiting("w".into())), "released: w is about to take it, not blocked by d");
    }

    #[test]
    fn two_locks_taken_in_opposite_orders_are_recognised_as_a_cycle() {
        let s = Stepper::new(None).unwrap();
        started(&s, 10, "a");
        started(&s, 11, "b");
        lock(&s, 10, LockPhase::Acquire, "L1");
        lock(&s, 11, LockPhase::Acquire, "L2");
        lock(&s, 10, LockPhase::Wait, "L2");
        assert_eq!(s.deadlock(), None, "b can still release L2");
        lock(&s, 11, LockPhase::Wait, "L1");
        assert_eq!(s.deadlock(), Some(vec!["a".into(), "b".into(), "a".into()]));
        assert_eq!(s.step(11), Err(StepError::Deadlock { lanes: "b → a → b".into() }));
    }

    #[test]
    fn a_schedule_is_played_as_its_lanes_come_to_their_gates() {
        let schedule = Schedule { steps: vec!["w".into(), "d".into()], free: true };
        let s = Stepper::new(Some(schedule)).unwrap();
        started(&s, 10, "d");
        started(&s, 11, "w");
        pending(&s, 10, 10, 0, "read");
        assert_eq!(s.step(10).map(|_| ()), Ok(()), "d is not the schedule's first: it stays for the student");
        pending(&s, 10, 10, 0, "write");
        pending(&s, 11, 11, 1, "read");
        // w came and was stepped; d, next, waits for w's step to settle.
        assert!(s.playing());
        pending(&s, 11, 11, 1, "write");
        // The schedule stepped d, then let go.
        assert!(!s.playing());
        assert_eq!(s.step(10), Err(StepError::Free));
        assert_eq!(s.finish(), Schedule { steps: vec!["d".into(), "w".into(), "d".into()], free: true });
    }

    #[test]
    fn threads_are_named_under_their_process() {
        let s = Stepper::new(None).unwrap();
        started(&s, 10, "MainProcess");
        s.see(&event(10, 12, Body::ThreadStart { name: Text::Borrowed("t1") }));
        pending(&s, 10, 12, 2, "sleep 100 ms");
        assert_eq!(s.step(12).unwrap().lane, "MainProcess/t1");
    }
}
