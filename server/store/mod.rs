//! The run store: finished runs saved, so a permalink, a replay or an export
//! still works after the run left memory, the server restarted, or (with
//! PostgreSQL) on another instance behind the same address.
//!
//! ```text
//! Store (one handle, shared behind an Arc)
//!   health, the opened-at memory, the load counter: the same for both
//!   backend ─┬─ Sqlite:   one file, one thread owning the connection (sqlite/)
//!            └─ Postgres: a pool, a writer task, shared by every instance (postgres/)
//! ```
//!
//! One interface, two back ends, chosen by `--db`: an enum rather than a
//! trait object, since there are exactly two, both known here, and an enum's
//! `match` keeps the async methods plain (no boxed futures). Nothing here
//! or below knows HTTP.
//!
//! A run is noted when it is admitted (outcome `interrupted`, no events) and
//! replaced by the whole run once it finished: if the server dies in between,
//! the row is what a restarted server answers with. A note never replaces a
//! row (a run quick enough to be saved before its note landed keeps its
//! real end).
//!
//! A write that fails (disk full, read-only file, a database gone or read
//! only) does not fail the run: the run's summary says it was not saved, and
//! `/healthz` says the store is degraded until a write succeeds again.
//!
//! Retention (age, count, total bytes, fair between clients: see
//! `sqlite/retention.rs`, whose rule the PostgreSQL back end applies too) is
//! applied after every save and at open, so the store stays bounded.

mod found;
mod postgres;
mod rows;
mod sqlite;

pub use sqlite::schema;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::clock;
use crate::config::{Retention, StoreLocation};
use crate::demos;
use crate::event::{Body, Event, Outcome};
use crate::runs::rate::{RunRate, SharedBuckets};
use crate::runs::{ClientKey, EventLog, Instance, Run, Runs, Status, Summary};
pub use crate::runs::Restored;
pub use found::Found;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run store's database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the run store's folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    /// PostgreSQL refused or failed a statement, or could not be reached
    /// (`unavailable`: the database, not the request, is at fault).
    #[error("the run store's PostgreSQL: {message}")]
    Postgres { message: String, unavailable: bool },
    /// At start: the database cannot be reached or set up.
    #[error("cannot use PostgreSQL at {url}: {why}")]
    Connect { url: String, why: String },
    /// At start: another live instance has this name.
    #[error(
        "another forkline instance named {0:?} is using this database: give each instance its own --instance \
         (run ids start with it, and the proxy routes by it)"
    )]
    InstanceTaken(String),
    #[error("the run store has stopped")]
    Stopped,
}

impl StoreError {
    /// The store cannot be reached right now (worth a 503, not a 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Postgres { unavailable: true, .. } | StoreError::Stopped)
    }
}

/// The last write's failure, shared with every handle.
#[derive(Default)]
struct Health(Mutex<Option<String>>);

impl Health {
    fn record<T>(&self, result: &Result<T, StoreError>) {
        let mut problem = self.0.lock().expect("health lock");
        match result {
            Ok(_) => *problem = None,
            Err(e) => {
                if problem.is_none() {
                    tracing::warn!(error = %e, "the run store cannot write: runs are not saved");
                }
                *problem = Some(e.to_string());
            }
        }
    }
}

/// A write nobody waits for: both back ends carry these out in the order
/// they were submitted, and report failures in the store's health.
enum Write {
    /// A run; `replace: false` for the note written at its start.
    Run { run: SavedRun, replace: bool },
    /// A finished run opened by `viewer` (see [`Store::opened`]).
    Opened { id: String, viewer: Option<String>, at_ms: u64 },
    /// An experiment's final report, JSON.
    Experiment { id: String, report: String, created_at_ms: u64 },
}

// One per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The same call on whichever back end this store has.
macro_rules! on_backend {
    ($store:expr, $b:ident => $call:expr) => {
        match &$store.backend {
            Backend::Sqlite($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

/// A handle to the store; cheap to share behind an `Arc`.
pub struct Store {
    backend: Backend,
    health: Arc<Health>,
    /// Logs read from the store, for tests that check loads are shared.
    loads: AtomicUsize,
    /// When each id's opening was last written, so that a hundred viewers
    /// of one permalink make one write, not a hundred.
    opened: Mutex<HashMap<String, u64>>,
}

/// How often one run's `last_opened_ms` is written at most.
const OPENED_EVERY_MS: u64 = 60_000;
/// Ids remembered for that; past it the memory starts over.
const OPENED_REMEMBERED: usize = 10_000;

/// One run as it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRun {
    pub id: String,
    pub demo: String,
    pub params: serde_json::Value,
    /// `native` or `cpython`.
    pub engine: String,
    /// Who started it (`ClientKey`'s text), for fair retention.
    pub client: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: u64,
    /// The log, one serialised event each, exactly as the stream sent them.
    pub events: Vec<Bytes>,
    /// The edited program, when it was edited.
    pub source: Option<String>,
}

/// What a run noted at its start says if it never finishes.
const INTERRUPTED_REASON: &str = "the server stopped while the run was going (it was restarted since)";

impl SavedRun {
    /// What to save of a finished run; `None` while it is still running.
    pub fn of(run: &Run) -> Option<SavedRun> {
        let summary = run.summary();
        if summary.status != Status::Finished || !run.log.is_closed() {
            return None;
        }
        Some(SavedRun {
            outcome: summary.outcome?,
            reason: summary.reason,
            finished_at_ms: summary.finished_at_ms.unwrap_or_else(now_ms),
            events: run.log.snapshot(),
            ..SavedRun::started(run)
        })
    }

    /// The row a run gets when it is admitted: what is left of it should the
    /// server die before it ends.
    pub fn started(run: &Run) -> SavedRun {
        SavedRun {
            id: run.id.to_string(),
            demo: run.demo.name.to_owned(),
            params: run.params.to_json(),
            engine: run.engine.name().to_owned(),
            client: run.client.map(|c| c.to_string()),
            outcome: Outcome::Interrupted,
            reason: Some(INTERRUPTED_REASON.to_owned()),
            created_at_ms: run.created_at_ms,
            finished_at_ms: run.created_at_ms,
            events: Vec::new(),
            source: run.engine.source().map(str::to_owned),
        }
    }

    /// What the run counts towards the byte budget, its log being
    /// `log_bytes` long: an edited program counts like its log.
    fn bytes(&self, log_bytes: usize) -> usize {
        log_bytes + self.source.as_ref().map_or(0, String::len)
    }
}

/// A saved run without its log: what a status request needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSummary {
    pub id: String,
    pub demo: String,
    pub params: serde_json::Value,
    pub engine: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: u64,
    pub event_count: usize,
    pub source: Option<String>,
}

impl Store {
    /// Opens the store `location` names (an SQLite file, created when
    /// missing, or memory; or a PostgreSQL database, its tables made or
    /// migrated), and applies retention once.
    pub async fn open(location: &StoreLocation, retention: Retention) -> Result<Arc<Store>, StoreError> {
        let health = Arc::new(Health::default());
        let backend = match location {
            StoreLocation::Memory => Backend::Sqlite(sqlite::Sqlite::open(None, retention, health.clone())?),
            StoreLocation::File(path) => Backend::Sqlite(sqlite::Sqlite::open(Some(path), retention, health.clone())?),
            StoreLocation::Postgres(url) => Backend::Postgres(postgres::Postgres::open(url, retention, health.clone()).await?),
        };
        Ok(Arc::new(Store { backend, health, loads: AtomicUsize::new(0), opened: Mutex::default() }))
    }

    /// Claims `instance`'s name for this process, so that two live instances
    /// of one name (whose run ids the proxy could not tell apart) cannot
    /// share a database: refused at start, with why. An SQLite store is one
    /// instance's own, so there is nothing to claim.
    pub async fn claim_instance(&self, instance: &Instance) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => pg.claim_instance(instance).await,
        }
    }

    /// Whether other instances share this store (and so its quotas).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Saves a run (replacing one with the same id, but not when it was last
    /// opened), then applies retention.
    pub async fn save(&self, run: SavedRun) -> Result<(), StoreError> {
        let result = on_backend!(self, b => b.save(run).await);
        self.health.record(&result);
        result
    }

    /// Notes a run as it starts, without waiting (see [`SavedRun::started`]).
    pub fn note_started(&self, run: SavedRun) {
        self.submit(Write::Run { run, replace: false });
    }

    fn submit(&self, write: Write) {
        on_backend!(self, b => b.submit(write))
    }

    /// Waits until every write submitted before it was carried out.
    pub async fn flush(&self) -> Result<(), StoreError> {
        on_backend!(self, b => b.flush().await)
    }

    /// The saved run with this id, if the store still has it.
    pub async fn load(&self, id: &str) -> Result<Option<SavedRun>, StoreError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        on_backend!(self, b => b.load(id.to_owned()).await)
    }

    /// The saved run's summary, read without its log.
    pub async fn summary(&self, id: &str) -> Result<Option<Summary>, StoreError> {
        let saved = on_backend!(self, b => b.summary(id.to_owned()).await)?;
        Ok(saved.and_then(summary_of))
    }

    /// Records that `viewer` opened a finished run (its page, stream or an
    /// export), at most once a minute per run and viewer, without waiting.
    /// Only someone other than the run's own client counts: a run shared and
    /// watched by others is what retention keeps longer, and a client cannot
    /// rank its own flood ahead by opening it.
    pub fn opened(&self, id: &str, viewer: Option<&str>) {
        let now = now_ms();
        let key = format!("{id} {}", viewer.unwrap_or(""));
        {
            let mut opened = self.opened.lock().expect("opened lock");
            if opened.get(&key).is_some_and(|&at| now.saturating_sub(at) < OPENED_EVERY_MS) {
                return;
            }
            if opened.len() >= OPENED_REMEMBERED {
                opened.clear();
            }
            opened.insert(key, now);
        }
        self.submit(Write::Opened { id: id.to_owned(), viewer: viewer.map(str::to_owned), at_ms: now });
    }

    /// Saves an experiment's final report, replacing one with its id.
    pub fn save_experiment(&self, report: &crate::runs::experiment::Report) {
        let Ok(json) = serde_json::to_string(report) else { return };
        self.submit(Write::Experiment { id: report.id.clone(), report: json, created_at_ms: report.created_at_ms });
    }

    /// An experiment's saved report, if the store has it.
    pub async fn load_experiment(&self, id: &str) -> Result<Option<crate::runs::experiment::Report>, StoreError> {
        let json = on_backend!(self, b => b.load_experiment(id.to_owned()).await)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// How many runs are saved (noted running ones included).
    pub async fn count(&self) -> Result<usize, StoreError> {
        on_backend!(self, b => b.count().await)
    }

    /// How many logs were read from the store so far.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// None when the last write succeeded; else why it failed.
    pub fn health(&self) -> Option<String> {
        self.health.0.lock().expect("health lock").clone()
    }

    /// Makes every later write fail (`true`) or lets writes through again,
    /// as a real fault would: SQLite's file may not grow (its own "database
    /// or disk is full"); PostgreSQL's database turns read-only, as a
    /// standby is ("cannot execute INSERT in a read-only transaction"). How
    /// tests see a failing store.
    #[doc(hidden)]
    pub async fn fail_writes(&self, fail: bool) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.limit_growth(fail.then_some(0)).await,
            Backend::Postgres(pg) => pg.read_only(fail).await,
        }
    }

    /// Makes `runs` note every run as it starts and save it once it
    /// finished; a store other instances share also keeps every client's
    /// run rate, so a client is held to one rate however the proxy spreads
    /// its requests.
    pub fn attach(self: &Arc<Self>, runs: &Runs) {
        let store = self.clone();
        runs.on_started(Box::new(move |run: &Arc<Run>| store.note_started(SavedRun::started(run))));
        let store = self.clone();
        runs.on_finished(Box::new(move |run: Arc<Run>| {
            let store = store.clone();
            Box::pin(async move {
                let Some(saved) = SavedRun::of(&run) else { return };
                let result = store.save(saved).await;
                if let Err(e) = &result {
                    tracing::warn!(run = %run.id, error = %e, "could not save the run");
                }
                run.set_saved(result.map_err(|e| e.to_string()));
            })
        }));
        if self.is_shared() {
            runs.share_rate(self.clone());
        }
    }
}

impl SharedBuckets for Store {
    fn take<'a>(
        &'a self,
        client: ClientKey,
        rate: RunRate,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Result<(), Duration>, String>> + Send + 'a>> {
        Box::pin(async move {
            match &self.backend {
                Backend::Postgres(pg) => pg.take_run_token(&client.to_string(), rate, now_ms()).await.map_err(|e| e.to_string()),
                Backend::Sqlite(_) => Err("an SQLite store keeps no shared rates".into()),
            }
        })
    }
}

/// The statement that writes a run's row, in the SQL both back ends speak,
/// with parameters `{mark}1` to `{mark}12` (`?` for SQLite, `$` for
/// PostgreSQL): a save replaces the row (but not when it was last opened),
/// a note at the run's start replaces nothing.
fn write_run_sql(mark: char, replace: bool) -> String {
    let values: Vec<String> = (1..=12).map(|i| format!("{mark}{i}")).collect();
    let conflict = if replace {
        "DO UPDATE SET
           demo = excluded.demo, params = excluded.params, engine = excluded.engine, client = excluded.client,
           outcome = excluded.outcome, reason = excluded.reason, created_at_ms = excluded.created_at_ms,
           finished_at_ms = excluded.finished_at_ms, event_count = excluded.event_count, bytes = excluded.bytes,
           source = excluded.source"
    } else {
        "DO NOTHING"
    };
    format!(
        "INSERT INTO runs (id, demo, params, engine, client, outcome, reason, created_at_ms, finished_at_ms,
                           event_count, bytes, source)
         VALUES ({})
         ON CONFLICT (id) {conflict}",
        values.join(", ")
    )
}

/// An event's `t`, so a run.end written later ends where the run stopped.
fn time_of(event: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct T {
        t: u64,
    }
    serde_json::from_slice::<T>(event).map(|e| e.t).unwrap_or(0)
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

/// A log as it is saved: its events, one a line.
fn join_lines(events: &[Bytes]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum());
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            blob.push(b'\n');
        }
        blob.extend_from_slice(event);
    }
    blob
}

fn split_lines(blob: &Bytes) -> Vec<Bytes> {
    if blob.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in blob.iter().enumerate() {
        if *b == b'\n' {
            out.push(blob.slice(start..i));
            start = i + 1;
        }
    }
    out.push(blob.slice(start..));
    out
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}


/// A saved summary as the API reports it; `None` when its demo no longer
/// exists. An interrupted run's log gets a `run.end` on restoring (see
/// [`restore`]), counted here too.
fn summary_of(saved: SavedSummary) -> Option<Summary> {
    let demo = demos::find(&saved.demo)?;
    let extra = usize::from(saved.outcome == Outcome::Interrupted);
    Some(Summary {
        id: saved.id,
        demo: demo.name,
        params: saved.params,
        engine: if saved.engine == "cpython" { "cpython" } else { "native" },
        python: None,
        source: saved.source,
        status: Status::Finished,
        outcome: Some(saved.outcome),
        reason: saved.reason,
        runner_pid: None,
        events: saved.event_count + extra,
        created_at_ms: saved.created_at_ms,
        finished_at_ms: Some(saved.finished_at_ms),
        saved: Some(true),
        not_saved_reason: None,
    })
}

/// A saved run brought back; `None` when its demo no longer exists. A run
/// the server never finished ends with a `run.end` (interrupted) written
/// now, so its stream and its page end like any other run's.
pub fn restore(mut saved: SavedRun) -> Option<Restored> {
    let demo = demos::find(&saved.demo)?;
    if saved.outcome == Outcome::Interrupted {
        let end = Event {
            seq: Some(saved.events.len() as u64 + 1),
            t: saved.events.last().map(|last| time_of(last)).unwrap_or(0),
            pid: std::process::id() as i32,
            tid: clock::current_tid(),
            cpu: clock::current_cpu(),
            body: Body::RunEnd { outcome: Outcome::Interrupted, reason: saved.reason.clone().map(Into::into) },
        };
        saved.events.push(Bytes::from(serde_json::to_vec(&end).expect("event serialises")));
    }
    let summary = summary_of(SavedSummary {
        id: saved.id,
        demo: saved.demo,
        params: saved.params,
        engine: saved.engine,
        outcome: saved.outcome,
        reason: saved.reason,
        created_at_ms: saved.created_at_ms,
        finished_at_ms: saved.finished_at_ms,
        event_count: saved.events.len() - usize::from(saved.outcome == Outcome::Interrupted),
        source: saved.source,
    })?;
    Some(Restored { demo, summary, log: EventLog::closed_with(saved.events) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunId;
    use rusqlite::{params, Connection};
    use std::time::Duration;

    fn saved(id: &str, finished_at_ms: u64, events: &[&'static str]) -> SavedRun {
        SavedRun {
            id: id.into(),
            demo: "process".into(),
            params: serde_json::json!({"delay_ms": 5}),
            engine: "native".into(),
            client: None,
            outcome: Outcome::Ok,
            reason: None,
            created_at_ms: finished_at_ms - 10,
            finished_at_ms,
            events: events.iter().map(|e| Bytes::from_static(e.as_bytes())).collect(),
            source: None,
        }
    }

    fn generous() -> Retention {
        Retention { max_age: Duration::from_secs(3600), max_runs: 100, max_bytes: 1 << 20 }
    }

    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Sqlite,
        Postgres,
    }

    /// The test's own name, for its database and its skip message.
    macro_rules! function {
        () => {{
            fn f() {}
            // `…::the_test::{{closure}}::f` inside an async fn.
            let name = std::any::type_name_of_val(&f);
            name.split("::").filter(|part| *part != "f" && *part != "{{closure}}").last().unwrap_or(name)
        }};
    }
    use schema::Before;

    /// A new, empty store of `kind`: SQLite in memory, or a database of its
    /// own on the test process's PostgreSQL; None (the test says it is
    /// skipped) where PostgreSQL cannot be had.
    async fn fresh(kind: Kind, retention: Retention, test: &str) -> Option<Arc<Store>> {
        let location = match kind {
            Kind::Sqlite => StoreLocation::Memory,
            Kind::Postgres => StoreLocation::parse(&postgres_url(test)?).expect("the test cluster's URL parses"),
        };
        Some(Store::open(&location, retention).await.expect("the store opens"))
    }

    async fn a_saved_run_loads_back_identical(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        let run = saved("a", now_ms(), &[r#"{"seq":1}"#, r#"{"seq":2,"text":"x"}"#]);
        store.save(run.clone()).await.unwrap();
        assert_eq!(store.load("a").await.unwrap(), Some(run));
        assert_eq!(store.load("b").await.unwrap(), None);
    }

    async fn retention_drops_the_oldest_beyond_the_count_and_anything_too_old(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_runs: 2, ..generous() }, function!()).await else { return };
        let now = now_ms();
        store.save(saved("ancient", now - 7_200_000, &["{}"])).await.unwrap();
        assert_eq!(store.load("ancient").await.unwrap(), None, "older than max_age");
        for (i, id) in ["one", "two", "three"].into_iter().enumerate() {
            store.save(saved(id, now + i as u64, &["{}"])).await.unwrap();
        }
        assert_eq!(store.count().await.unwrap(), 2);
        assert_eq!(store.load("one").await.unwrap(), None);
        assert!(store.load("three").await.unwrap().is_some());
    }

    async fn retention_keeps_the_total_size_under_the_byte_budget(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_bytes: 25, ..generous() }, function!()).await else { return };
        let now = now_ms();
        let ten = "0123456789";
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            store.save(saved(id, now + i as u64, &[ten])).await.unwrap();
        }
        assert_eq!(store.count().await.unwrap(), 2);
        assert_eq!(store.load("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_file_store_survives_reopening_and_creates_its_folder() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        let path = dir.join("nested/runs.sqlite3");
        let run = saved("kept", now_ms(), &[r#"{"seq":1}"#]);
        {
            let store = Store::open(&StoreLocation::File(path.clone()), generous()).await.unwrap();
            store.save(run.clone()).await.unwrap();
        }
        let store = Store::open(&StoreLocation::File(path), generous()).await.unwrap();
        assert_eq!(store.load("kept").await.unwrap(), Some(run));
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn from(client: &str, id: &str, finished_at_ms: u64, events: &[&'static str]) -> SavedRun {
        SavedRun { client: Some(client.into()), ..saved(id, finished_at_ms, events) }
    }

    async fn a_flood_from_one_client_deletes_its_own_runs_not_anothers(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_runs: 10, ..generous() }, function!()).await else { return };
        let now = now_ms();
        store.save(from("10.0.0.1", "shared", now - 1000, &["{}"])).await.unwrap();
        for i in 0..200 {
            store.save(from("10.0.0.66", &format!("flood{i}"), now + i, &["{}"])).await.unwrap();
        }
        assert_eq!(store.count().await.unwrap(), 10);
        assert!(store.load("shared").await.unwrap().is_some(), "the other client's permalink survived the flood");
        assert!(store.load("flood199").await.unwrap().is_some(), "the flood keeps its newest");
        assert!(store.load("flood189").await.unwrap().is_none(), "and loses its oldest");
    }

    async fn a_flood_of_bytes_from_one_client_deletes_its_own_runs_not_anothers(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_bytes: 100, ..generous() }, function!()).await else { return };
        let now = now_ms();
        let ten = "0123456789";
        store.save(from("10.0.0.1", "shared", now - 1000, &[ten, ten])).await.unwrap();
        for i in 0..50 {
            store.save(from("2001:db8::/64", &format!("flood{i}"), now + i, &[ten])).await.unwrap();
        }
        assert!(store.load("shared").await.unwrap().is_some());
        assert!(store.load("flood49").await.unwrap().is_some());
        assert_eq!(store.count().await.unwrap(), 1 + 7, "the flood keeps what fits beside the other client's 21 bytes");
    }

    async fn a_run_someone_opened_outlasts_its_clients_newer_runs(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_runs: 3, ..generous() }, function!()).await else { return };
        let now = now_ms();
        store.save(from("10.0.0.1", "opened", now, &["{}"])).await.unwrap();
        store.opened("opened", Some("10.0.0.2"));
        store.flush().await.unwrap();
        for i in 1..10 {
            store.save(from("10.0.0.1", &format!("later{i}"), now + i, &["{}"])).await.unwrap();
        }
        assert!(store.load("opened").await.unwrap().is_some());
        assert!(store.load("later9").await.unwrap().is_some());
        assert!(store.load("later7").await.unwrap().is_none());
    }

    async fn a_new_run_is_kept_even_when_its_clients_opened_runs_fill_the_budget(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_runs: 3, ..generous() }, function!()).await else { return };
        let now = now_ms();
        for i in 0..3 {
            store.save(from("10.0.0.1", &format!("opened{i}"), now + i, &["{}"])).await.unwrap();
            store.opened(&format!("opened{i}"), Some("10.0.0.2"));
            store.flush().await.unwrap();
        }
        store.save(from("10.0.0.1", "new", now + 10, &["{}"])).await.unwrap();
        assert!(store.load("new").await.unwrap().is_some(), "the permalink just handed out works");
        assert_eq!(store.count().await.unwrap(), 3);
        assert!(store.load("opened0").await.unwrap().is_none(), "the oldest opened run made room");
    }

    async fn a_client_opening_its_own_runs_does_not_keep_them_longer(kind: Kind) {
        let Some(store) = fresh(kind, Retention { max_runs: 2, ..generous() }, function!()).await else { return };
        let now = now_ms();
        store.save(from("10.0.0.1", "mine", now, &["{}"])).await.unwrap();
        store.opened("mine", Some("10.0.0.1"));
        store.flush().await.unwrap();
        for i in 1..3 {
            store.save(from("10.0.0.1", &format!("later{i}"), now + i, &["{}"])).await.unwrap();
        }
        assert!(store.load("mine").await.unwrap().is_none(), "its own viewing did not rank it ahead");
        assert!(store.load("later2").await.unwrap().is_some());
    }

    async fn a_summary_comes_without_the_log_and_counts_its_events(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        store.save(saved("a", now_ms(), &[r#"{"seq":1}"#, r#"{"seq":2}"#, r#"{"seq":3}"#])).await.unwrap();
        let loads = store.loads();
        let summary = store.summary("a").await.unwrap().unwrap();
        assert_eq!((summary.events, summary.outcome, summary.saved), (3, Some(Outcome::Ok), Some(true)));
        assert_eq!(store.loads(), loads, "no log was read");
        assert!(store.summary("b").await.unwrap().is_none());
    }

    async fn a_run_noted_at_its_start_and_never_finished_restores_as_interrupted(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        let noted = SavedRun { outcome: Outcome::Interrupted, reason: Some(INTERRUPTED_REASON.into()), events: vec![], ..saved("cut", now_ms(), &[]) };
        store.note_started(noted);
        store.flush().await.unwrap();
        let restored = restore(store.load("cut").await.unwrap().unwrap()).unwrap();
        assert_eq!(restored.summary.outcome, Some(Outcome::Interrupted));
        let (events, closed) = restored.log.read(0, 10);
        assert!(closed);
        assert_eq!(events.len(), 1);
        let end: serde_json::Value = serde_json::from_slice(&events[0]).unwrap();
        assert_eq!((end["kind"].as_str(), end["outcome"].as_str(), end["seq"].as_u64()), (Some("run.end"), Some("interrupted"), Some(1)));
        assert_eq!(store.summary("cut").await.unwrap().unwrap().events, 1, "the status counts the run.end the stream will send");
    }

    /// A full disk (SQLite) or a database turned read-only (PostgreSQL).
    async fn a_failing_store_fails_the_save_and_degrades_until_a_write_succeeds(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        store.save(saved("small", now_ms(), &["{}"])).await.unwrap();
        assert_eq!(store.health(), None);
        store.fail_writes(true).await.unwrap();
        let big: &'static str = Box::leak("x".repeat(64 * 1024).into_boxed_str());
        let error = store.save(saved("big", now_ms(), &[big])).await.unwrap_err();
        let said = match kind {
            Kind::Sqlite => "full",
            Kind::Postgres => "read-only",
        };
        assert!(error.to_string().contains(said), "{error}");
        assert!(store.health().unwrap().contains(said));
        store.fail_writes(false).await.unwrap();
        store.save(saved("small2", now_ms(), &["{}"])).await.unwrap();
        assert_eq!(store.health(), None, "a write that succeeds clears it");
        assert!(store.load("small2").await.unwrap().is_some());
    }

    async fn a_note_that_lands_after_the_runs_end_replaces_nothing(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        let run = saved("quick", now_ms(), &[r#"{"seq":1}"#]);
        store.save(run.clone()).await.unwrap();
        store.note_started(SavedRun { outcome: Outcome::Interrupted, reason: Some(INTERRUPTED_REASON.into()), events: vec![], ..run.clone() });
        store.flush().await.unwrap();
        assert_eq!(store.load("quick").await.unwrap(), Some(run), "the run's real end stays");
    }

    async fn an_experiment_report_is_saved_and_read_back(kind: Kind) {
        let Some(store) = fresh(kind, generous(), function!()).await else { return };
        let report: crate::runs::experiment::Report = serde_json::from_value(serde_json::json!({
            "id": "web1-0123456789abcdef0123456789abcdef", "demo": "lock", "engine": "native", "params": {}, "vary": "use_lock",
            "values": [true, false], "runs_each": 1, "planned": 2, "runs": [], "done": true, "created_at_ms": now_ms()
        }))
        .unwrap();
        store.save_experiment(&report);
        store.flush().await.unwrap();
        let back = store.load_experiment(&report.id).await.unwrap().unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), serde_json::to_value(&report).unwrap());
        assert!(store.load_experiment("web1-ffffffffffffffffffffffffffffffff").await.unwrap().is_none());
    }

    /// Every test above, once on each back end.
    macro_rules! on_both_back_ends {
        ($($name:ident),* $(,)?) => {
            mod on_sqlite {
                $(#[tokio::test] async fn $name() { super::$name(super::Kind::Sqlite).await })*
            }
            mod on_postgres {
                $(#[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await })*
            }
        };
    }

    on_both_back_ends!(
        a_saved_run_loads_back_identical,
        retention_drops_the_oldest_beyond_the_count_and_anything_too_old,
        retention_keeps_the_total_size_under_the_byte_budget,
        a_flood_from_one_client_deletes_its_own_runs_not_anothers,
        a_flood_of_bytes_from_one_client_deletes_its_own_runs_not_anothers,
        a_run_someone_opened_outlasts_its_clients_newer_runs,
        a_new_run_is_kept_even_when_its_clients_opened_runs_fill_the_budget,
        a_client_opening_its_own_runs_does_not_keep_them_longer,
        a_summary_comes_without_the_log_and_counts_its_events,
        a_run_noted_at_its_start_and_never_finished_restores_as_interrupted,
        a_failing_store_fails_the_save_and_degrades_until_a_write_succeeds,
        a_note_that_lands_after_the_runs_end_replaces_nothing,
        an_experiment_report_is_saved_and_read_back,
    );

    /// A database of its own on the test process's PostgreSQL, or None
    /// (the test says it is skipped) where there is none.
    fn postgres_url(test: &str) -> Option<String> {
        match forkline_testservices::postgres::cluster().and_then(|c| c.database(test)) {
            Ok(url) => Some(url),
            Err(why) => {
                forkline_testservices::skip(test, &why);
                None
            }
        }
    }

    #[tokio::test]
    async fn a_postgres_store_survives_reopening_and_migrates_once_with_instances_starting_together() {
        let Some(url) = postgres_url(function!()) else { return };
        let location = StoreLocation::parse(&url).unwrap();
        let run = saved("kept", now_ms(), &[r#"{"seq":1}"#]);
        // Three instances starting at once: one applies the migrations, the
        // others wait for it and find them done.
        let (a, b, c) = tokio::join!(
            Store::open(&location, generous()),
            Store::open(&location, generous()),
            Store::open(&location, generous())
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        a.save(run.clone()).await.unwrap();
        assert_eq!(b.load("kept").await.unwrap(), Some(run.clone()), "another instance reads it at once");
        drop((a, b, c));
        let again = Store::open(&location, generous()).await.unwrap();
        assert_eq!(again.load("kept").await.unwrap(), Some(run));
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let rows = client.query("SELECT version FROM forkline_migrations ORDER BY version", &[]).await.unwrap();
        let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(versions, [1, 2], "each migration applied once");
    }

    #[tokio::test]
    async fn two_live_instances_of_one_name_are_refused_and_the_name_frees_when_one_ends() {
        let Some(url) = postgres_url(function!()) else { return };
        let location = StoreLocation::parse(&url).unwrap();
        let web1 = crate::runs::Instance::parse("web1").unwrap();
        let first = Store::open(&location, generous()).await.unwrap();
        first.claim_instance(&web1).await.unwrap();
        let second = Store::open(&location, generous()).await.unwrap();
        let refused = second.claim_instance(&web1).await.unwrap_err();
        assert!(matches!(refused, StoreError::InstanceTaken(_)), "{refused}");
        assert!(refused.to_string().contains("--instance"), "{refused}");
        second.claim_instance(&crate::runs::Instance::parse("web2").unwrap()).await.unwrap();
        drop(first);
        // The claim's connection closes with its store; PostgreSQL frees the lock.
        let third = Store::open(&location, generous()).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while third.claim_instance(&web1).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "the name was never freed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn instances_sharing_postgres_share_each_clients_run_rate() {
        let Some(url) = postgres_url(function!()) else { return };
        let location = StoreLocation::parse(&url).unwrap();
        let (a, b) = (Store::open(&location, generous()).await.unwrap(), Store::open(&location, generous()).await.unwrap());
        let rate = RunRate { burst: 3, per_minute: 60 };
        let client = ClientKey::of("10.0.0.7".parse().unwrap());
        let other = ClientKey::of("10.0.0.8".parse().unwrap());
        // Three tokens in all, whichever instance takes them.
        for store in [&a, &b, &a] {
            assert_eq!(store.take(client, rate).await.unwrap(), Ok(()));
        }
        let wait = b.take(client, rate).await.unwrap().unwrap_err();
        assert!(wait <= Duration::from_millis(1000) && wait > Duration::from_millis(900), "one token a second: {wait:?}");
        assert_eq!(a.take(other, rate).await.unwrap(), Ok(()), "another client has its own bucket");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(a.take(client, rate).await.unwrap(), Ok(()), "a token came back");
        assert!(b.take(client, rate).await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_missing_store_and_an_emptied_one_are_told_apart() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.sqlite3");
        assert_eq!(Before::of(&path), Before::Nothing);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(Before::of(&path), Before::EmptyFile);
        let _ = Store::open(&StoreLocation::File(path.clone()), generous()).await.unwrap();
        assert_eq!(Before::of(&path), Before::File);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_file_of_the_first_layout_is_upgraded_with_counts_and_engines() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE runs (id TEXT PRIMARY KEY, demo TEXT NOT NULL, params TEXT NOT NULL, outcome TEXT NOT NULL,
                   reason TEXT, created_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL, bytes INTEGER NOT NULL,
                   events BLOB NOT NULL);
                 CREATE INDEX runs_by_age ON runs (finished_at_ms);",
            )
            .unwrap();
            let now = now_ms() as i64;
            let blob = b"{\"seq\":1,\"kind\":\"run.start\",\"engine\":\"cpython\"}\n{\"seq\":2}\n{\"seq\":3}".to_vec();
            conn.execute(
                "INSERT INTO runs VALUES ('old', 'process', '{}', 'ok', NULL, ?1, ?1, ?2, ?3)",
                params![now, blob.len() as i64, blob],
            )
            .unwrap();
        }
        let store = Store::open(&StoreLocation::File(path), generous()).await.unwrap();
        let summary = store.summary("old").await.unwrap().unwrap();
        assert_eq!((summary.events, summary.engine), (3, "cpython"));
        assert_eq!(store.load("old").await.unwrap().unwrap().events.len(), 3);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_file_of_the_second_layout_gains_edited_programs_and_keeps_its_runs() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE runs (id TEXT PRIMARY KEY, demo TEXT NOT NULL, params TEXT NOT NULL, engine TEXT NOT NULL,
                   client TEXT, outcome TEXT NOT NULL, reason TEXT, created_at_ms INTEGER NOT NULL,
                   finished_at_ms INTEGER NOT NULL, last_opened_ms INTEGER, event_count INTEGER NOT NULL,
                   bytes INTEGER NOT NULL);
                 CREATE TABLE run_events (id TEXT PRIMARY KEY, events BLOB NOT NULL);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
            let now = now_ms() as i64;
            conn.execute(
                "INSERT INTO runs VALUES ('kept', 'process', '{}', 'native', NULL, 'ok', NULL, ?1, ?1, NULL, 1, 9)",
                params![now],
            )
            .unwrap();
            conn.execute("INSERT INTO run_events VALUES ('kept', CAST('{\"seq\":1}' AS BLOB))", []).unwrap();
        }
        let store = Store::open(&StoreLocation::File(path), generous()).await.unwrap();
        assert_eq!(store.summary("kept").await.unwrap().unwrap().source, None);
        let edited = SavedRun { source: Some("print('mine')\n".into()), ..saved("edited", now_ms(), &[r#"{"seq":1}"#]) };
        store.save(edited.clone()).await.unwrap();
        assert_eq!(store.load("edited").await.unwrap(), Some(edited));
        assert_eq!(store.summary("edited").await.unwrap().unwrap().source.as_deref(), Some("print('mine')\n"));
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
