//! Experiments: one demo run many times, one parameter varied (the race lab:
//! `lock` with and without its lock, N times each; the speedup curve: `gil`
//! with 1 to 8 workers), each run a real run,
//! admitted and queued like any other, one after another, and the outcome of
//! every run kept beside its id, so a histogram of outcomes can open the run
//! behind any bar.
//!
//! Values alternate (with, without, with, …) rather than coming in blocks, so
//! a burst of load elsewhere on the machine touches both sides alike. A run
//! refused because the line is full or the client has its share is tried
//! again a little later, within a bound; the experiment stops, and says why,
//! past it or when the server shuts down.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{ClientKey, Engine, RunId, Runs, StartError};
use crate::demos::{Demo, Params};
use crate::event::Outcome;

/// Runs one experiment may ask for, all values together.
pub const MAX_EXPERIMENT_RUNS: usize = 200;
/// Runs per value.
pub const MAX_RUNS_EACH: usize = 100;
/// Values one experiment compares: a speedup curve's workers, 1 to 8.
pub const MAX_VALUES: usize = 8;
/// Experiments kept in memory (older ones are in the store).
const KEEP: usize = 50;
/// How long a run may keep being refused (line full, client busy) before the
/// experiment gives up.
const REFUSED_FOR: Duration = Duration::from_secs(60);

/// What to run: `demo` on `engine` with each of `runs` (the varied value
/// and the validated parameters that go with it), in order.
pub struct Plan {
    pub demo: &'static Demo,
    pub engine: Engine,
    /// The parameters shared by every run, as asked.
    pub params: Value,
    /// The parameter that varies and its values.
    pub vary: String,
    pub values: Vec<Value>,
    pub runs_each: usize,
    /// One per run, values alternating.
    pub runs: Vec<(Value, Params)>,
}

/// One run of an experiment, as the experiment reports it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ExperimentRun {
    pub id: String,
    /// The varied parameter's value for this run.
    pub value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The run's `result` data (the balance, the lost updates, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// An experiment as `GET /api/experiments/{id}` reports it (and the store
/// keeps it, once done).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Report {
    pub id: String,
    pub demo: String,
    pub engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    pub params: Value,
    pub vary: String,
    pub values: Vec<Value>,
    pub runs_each: usize,
    /// Runs asked for in all.
    pub planned: usize,
    pub runs: Vec<ExperimentRun>,
    pub done: bool,
    /// Why it stopped short, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub created_at_ms: u64,
}

pub struct Experiment {
    pub id: RunId,
    report: Mutex<Report>,
}

impl Experiment {
    pub fn report(&self) -> Report {
        self.report.lock().expect("experiment lock").clone()
    }
}

/// Why an experiment was not started.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("this client already has an experiment running; wait for it to finish")]
    ClientBusy,
    #[error(transparent)]
    Start(#[from] StartError),
}

/// The experiments this server knows, and who has one running.
#[derive(Default)]
pub struct Experiments {
    table: Mutex<(HashMap<RunId, Arc<Experiment>>, VecDeque<RunId>)>,
    running: Mutex<HashSet<Option<ClientKey>>>,
}

/// Called with each experiment's final report (the store saves it).
pub type DoneHook = Box<dyn Fn(Report) + Send + Sync>;

impl Experiments {
    pub fn get(&self, id: &RunId) -> Option<Arc<Experiment>> {
        self.table.lock().expect("experiments lock").0.get(id).cloned()
    }

    /// Starts `plan` for `client`: one experiment per client at a time, and
    /// one token of its run rate for the whole experiment.
    pub async fn start(self: &Arc<Self>, runs: &Arc<Runs>, plan: Plan, client: Option<ClientKey>, done: Option<Arc<DoneHook>>) -> Result<Arc<Experiment>, Refused> {
        if !self.running.lock().expect("experiments lock").insert(client) {
            return Err(Refused::ClientBusy);
        }
        if let Err(e) = runs.take_rate(client).await {
            self.running.lock().expect("experiments lock").remove(&client);
            return Err(e.into());
        }
        let id = RunId::on(&runs.config().instance);
        let report = Report {
            id: id.to_string(),
            demo: plan.demo.name.to_owned(),
            engine: plan.engine.name().to_owned(),
            python: plan.engine.python().map(str::to_owned),
            params: plan.params.clone(),
            vary: plan.vary.clone(),
            values: plan.values.clone(),
            runs_each: plan.runs_each,
            planned: plan.runs.len(),
            runs: Vec::new(),
            done: false,
            stopped: None,
            created_at_ms: super::now_ms(),
        };
        let experiment = Arc::new(Experiment { id: id.clone(), report: Mutex::new(report) });
        {
            let mut table = self.table.lock().expect("experiments lock");
            table.0.insert(id.clone(), experiment.clone());
            table.1.push_back(id);
            while table.1.len() > KEEP {
                if let Some(old) = table.1.pop_front() {
                    table.0.remove(&old);
                }
            }
        }
        let (this, runs, task) = (self.clone(), runs.clone(), experiment.clone());
        tokio::spawn(async move {
            let stopped = run_all(&runs, &task, plan, client).await.err();
            let report = {
                let mut report = task.report.lock().expect("experiment lock");
                report.done = true;
                report.stopped = stopped;
                report.clone()
            };
            this.running.lock().expect("experiments lock").remove(&client);
            if let Some(done) = done {
                done(report);
            }
        });
        Ok(experiment)
    }
}

/// Runs the plan one run at a time; Err says why it stopped short.
async fn run_all(runs: &Arc<Runs>, experiment: &Experiment, plan: Plan, client: Option<ClientKey>) -> Result<(), String> {
    let shutdown = runs.shutdown_token();
    for (value, params) in plan.runs {
        let mut refused_since = None;
        let run = loop {
            match runs.start_for_experiment(plan.demo, params.clone(), plan.engine.clone(), client).await {
                Ok(run) => break run,
                Err(StartError::Refused(why)) => {
                    let since = *refused_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() > REFUSED_FOR {
                        return Err(format!("a run was refused for {} s: {why}", REFUSED_FOR.as_secs()));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        _ = shutdown.cancelled() => return Err("the server is shutting down".into()),
                    }
                }
                Err(e @ (StartError::ShuttingDown | StartError::Gates(_))) => return Err(e.to_string()),
            }
        };
        // A viewer of its own, so the run is not dropped as abandoned while queued.
        let _watching = run.viewer();
        let mut progress = run.log.watch();
        while !run.log.is_closed() {
            if progress.changed().await.is_err() {
                break;
            }
        }
        let finished = ExperimentRun { id: run.id.to_string(), value, outcome: run.summary().outcome, result: result_data(&run.log.snapshot()) };
        experiment.report.lock().expect("experiment lock").runs.push(finished);
    }
    Ok(())
}

/// The `data` of the run's last `result` event.
fn result_data(events: &[bytes::Bytes]) -> Option<Value> {
    events.iter().rev().find(|e| memchr::memmem::find(e, br#""kind":"result""#).is_some()).and_then(|line| {
        let mut event: Value = serde_json::from_slice(line).ok()?;
        Some(event.get_mut("data")?.take())
    })
}
