//! The run store: runs saved in SQLite, so a permalink, a replay or an export
//! still works after the run left memory or the server restarted.
//!
//! ```text
//! async callers ── Job (a closure) ──▶ "forkline-store" thread: owns the one Connection,
//!               ◀── oneshot reply ───   runs jobs in order, ends when the last Store handle drops
//! ```
//!
//! SQLite calls block, so none runs on a tokio worker: one dedicated thread
//! owns the connection. One writer also means no lock contention, and FIFO
//! jobs mean a `load` queued after a `save` sees it, and a run's final save
//! always lands after the row noted at its start.
//!
//! A run is noted when it is admitted (outcome `interrupted`, no events) and
//! replaced by the whole run once it finished: if the server dies in between,
//! the row is what a restarted server answers with.
//!
//! A write that fails (disk full, read-only file) does not fail the run: the
//! run's summary says it was not saved, and `/healthz` says the store is
//! degraded until a write succeeds again.
//!
//! Retention (age, count, total bytes, fair between clients: see
//! [`retention`]) is applied after every save and at open, so the file stays
//! bounded; with `auto_vacuum = INCREMENTAL` the pages freed by deletions are
//! given back to the file system.

mod found;
mod retention;
pub mod schema;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::clock;
use crate::config::{Retention, StoreLocation};
use crate::demos;
use crate::event::{Body, Event, Outcome};
use crate::runs::{EventLog, Run, Runs, Status, Summary};
pub use crate::runs::Restored;
pub use found::Found;
use schema::Before;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run store's database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the run store's folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("the run store has stopped")]
    Stopped,
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// What the store thread owns.
struct Db {
    conn: Connection,
    retention: Retention,
    health: Arc<Health>,
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

/// A handle to the store; cheap to share behind an `Arc`.
pub struct Store {
    jobs: mpsc::Sender<Job>,
    health: Arc<Health>,
    /// Logs read from the file, for tests that check loads are shared.
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
    /// Opens (creating when missing) the store and applies retention once.
    pub fn open(location: &StoreLocation, retention: Retention) -> Result<Arc<Store>, StoreError> {
        let mut conn = match location {
            StoreLocation::Memory => Connection::open_in_memory()?,
            StoreLocation::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|source| StoreError::Folder { path: dir.display().to_string(), source })?;
                }
                // Said loudly: a store that vanished or was emptied means
                // every permalink is gone, and that should not go unnoticed.
                match Before::of(path) {
                    Before::Nothing => tracing::warn!(path = %path.display(), "created a new run store at {}", path.display()),
                    Before::EmptyFile => tracing::warn!(
                        path = %path.display(),
                        "the run store at {} was empty (0 bytes): starting with no saved runs", path.display()
                    ),
                    Before::File => {}
                }
                Connection::open(path)?
            }
        };
        // Takes effect only on a new file (before the first table), which is
        // the case that matters.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        if matches!(location, StoreLocation::File(_)) {
            // WAL: readers never wait for the writer, and a second server on
            // the same file (a restart overlapping the old one) just works.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
        }
        schema::migrate(&mut conn)?;
        retention::prune(&mut conn, retention, None)?;
        if let StoreLocation::File(path) = location {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
            tracing::info!(path = %path.display(), "the run store holds {count} runs");
        }

        let (jobs, queue) = mpsc::channel::<Job>();
        let health = Arc::new(Health::default());
        let mut db = Db { conn, retention, health: health.clone() };
        std::thread::Builder::new()
            .name("forkline-store".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&mut db);
                }
            })
            .map_err(|source| StoreError::Folder { path: "(store thread)".into(), source })?;
        Ok(Arc::new(Store { jobs, health, loads: AtomicUsize::new(0), opened: Mutex::default() }))
    }

    /// Runs `f` on the store thread and waits for its answer without
    /// blocking the caller's thread.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move |db: &mut Db| {
                let _ = reply.send(f(db));
            }))
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Queues a write and returns at once; its failure shows in [`health`](Store::health).
    fn submit<F>(&self, f: F)
    where
        F: FnOnce(&mut Db) -> Result<(), StoreError> + Send + 'static,
    {
        let _ = self.jobs.send(Box::new(move |db: &mut Db| {
            let result = f(db);
            db.health.record(&result);
        }));
    }

    /// Saves a run (replacing one with the same id, but not when it was last
    /// opened), then applies retention.
    pub async fn save(&self, run: SavedRun) -> Result<(), StoreError> {
        self.call(move |db| {
            let result = write(db, &run);
            db.health.record(&result);
            result
        })
        .await
    }

    /// Notes a run as it starts, without waiting (see [`SavedRun::started`]).
    pub fn note_started(&self, run: SavedRun) {
        self.submit(move |db| write(db, &run));
    }

    /// The saved run with this id, if the store still has it.
    pub async fn load(&self, id: &str) -> Result<Option<SavedRun>, StoreError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let id = id.to_owned();
        self.call(move |db| {
            let row = db
                .conn
                .query_row(
                    "SELECT r.id, r.demo, r.params, r.engine, r.client, r.outcome, r.reason,
                            r.created_at_ms, r.finished_at_ms, e.events, r.source
                       FROM runs r LEFT JOIN run_events e ON e.id = r.id WHERE r.id = ?1",
                    [&id],
                    |row| {
                        Ok((
                            (
                                row.get::<_, String>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, String>(3)?,
                                row.get::<_, Option<String>>(4)?,
                            ),
                            (
                                row.get::<_, String>(5)?,
                                row.get::<_, Option<String>>(6)?,
                                row.get::<_, i64>(7)?,
                                row.get::<_, i64>(8)?,
                                row.get::<_, Option<Vec<u8>>>(9)?,
                                row.get::<_, Option<String>>(10)?,
                            ),
                        ))
                    },
                )
                .optional()?;
            Ok(row.and_then(|((id, demo, params, engine, client), (outcome, reason, created, finished, blob, source))| {
                let blob = Bytes::from(blob.unwrap_or_default());
                Some(SavedRun {
                    id,
                    demo,
                    params: serde_json::from_str(&params).unwrap_or_default(),
                    engine,
                    client,
                    outcome: parse_outcome(&outcome)?,
                    reason,
                    created_at_ms: created as u64,
                    finished_at_ms: finished as u64,
                    events: split_lines(&blob),
                    source,
                })
            }))
        })
        .await
    }

    /// The saved run's summary, read without its log.
    pub async fn summary(&self, id: &str) -> Result<Option<Summary>, StoreError> {
        let id = id.to_owned();
        let saved = self
            .call(move |db| {
                let row = db
                    .conn
                    .query_row(
                        "SELECT id, demo, params, engine, outcome, reason, created_at_ms, finished_at_ms, event_count,
                                source
                           FROM runs WHERE id = ?1",
                        [&id],
                        |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, String>(3)?,
                                row.get::<_, String>(4)?,
                                row.get::<_, Option<String>>(5)?,
                                (row.get::<_, i64>(6)?, row.get::<_, i64>(7)?, row.get::<_, i64>(8)?),
                                row.get::<_, Option<String>>(9)?,
                            ))
                        },
                    )
                    .optional()?;
                Ok(row.and_then(|(id, demo, params, engine, outcome, reason, (created, finished, count), source)| {
                    Some(SavedSummary {
                        id,
                        demo,
                        params: serde_json::from_str(&params).unwrap_or_default(),
                        engine,
                        outcome: parse_outcome(&outcome)?,
                        reason,
                        created_at_ms: created as u64,
                        finished_at_ms: finished as u64,
                        event_count: count as usize,
                        source,
                    })
                }))
            })
            .await?;
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
        let id = id.to_owned();
        let viewer = viewer.map(str::to_owned);
        self.submit(move |db| {
            db.conn.execute(
                "UPDATE runs SET last_opened_ms = ?2 WHERE id = ?1 AND (?3 IS NULL OR client IS NOT ?3)",
                params![id, now as i64, viewer],
            )?;
            Ok(())
        });
    }

    /// Saves an experiment's final report, replacing one with its id.
    pub fn save_experiment(&self, report: &crate::runs::experiment::Report) {
        let Ok(json) = serde_json::to_string(report) else { return };
        let (id, created) = (report.id.clone(), report.created_at_ms as i64);
        self.submit(move |db| {
            db.conn.execute(
                "INSERT OR REPLACE INTO experiments (id, report, created_at_ms) VALUES (?1, ?2, ?3)",
                params![id, json, created],
            )?;
            Ok(())
        });
    }

    /// An experiment's saved report, if the store has it.
    pub async fn load_experiment(&self, id: &str) -> Result<Option<crate::runs::experiment::Report>, StoreError> {
        let id = id.to_owned();
        self.call(move |db| {
            let json: Option<String> = db.conn.query_row("SELECT report FROM experiments WHERE id = ?1", [&id], |r| r.get(0)).optional()?;
            Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
        })
        .await
    }

    /// How many runs are saved (noted running ones included).
    pub async fn count(&self) -> Result<usize, StoreError> {
        self.call(|db| Ok(db.conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))? as usize)).await
    }

    /// How many logs were read from the file so far.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// None when the last write succeeded; else why it failed.
    pub fn health(&self) -> Option<String> {
        self.health.0.lock().expect("health lock").clone()
    }

    /// Lets the file grow by at most `pages` more pages, after which every
    /// write fails with SQLite's own "database or disk is full": how tests
    /// see a full disk.
    #[doc(hidden)]
    pub async fn limit_growth(&self, pages: u64) -> Result<(), StoreError> {
        self.call(move |db| {
            let count: i64 = db.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let limit = count + pages as i64;
            db.conn.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    /// Makes `runs` note every run as it starts and save it once it finished.
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
    }
}

/// Writes one run and its log, then applies retention.
fn write(db: &mut Db, run: &SavedRun) -> Result<(), StoreError> {
    let mut blob = Vec::with_capacity(run.events.iter().map(|e| e.len() + 1).sum());
    for (i, event) in run.events.iter().enumerate() {
        if i > 0 {
            blob.push(b'\n');
        }
        blob.extend_from_slice(event);
    }
    let tx = db.conn.transaction()?;
    tx.execute(
        "INSERT INTO runs (id, demo, params, engine, client, outcome, reason, created_at_ms, finished_at_ms,
                           event_count, bytes, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET
           demo = excluded.demo, params = excluded.params, engine = excluded.engine, client = excluded.client,
           outcome = excluded.outcome, reason = excluded.reason, created_at_ms = excluded.created_at_ms,
           finished_at_ms = excluded.finished_at_ms, event_count = excluded.event_count, bytes = excluded.bytes,
           source = excluded.source",
        params![
            run.id,
            run.demo,
            run.params.to_string(),
            run.engine,
            run.client,
            run.outcome.as_str(),
            run.reason,
            run.created_at_ms as i64,
            run.finished_at_ms as i64,
            run.events.len() as i64,
            // An edited program counts towards the byte budget like its log.
            (blob.len() + run.source.as_ref().map_or(0, String::len)) as i64,
            run.source,
        ],
    )?;
    tx.execute("INSERT OR REPLACE INTO run_events (id, events) VALUES (?1, ?2)", params![run.id, blob])?;
    tx.commit()?;
    retention::prune(&mut db.conn, db.retention, Some(&run.id))
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

fn now_ms() -> u64 {
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

    #[tokio::test]
    async fn a_saved_run_loads_back_identical() {
        let store = Store::open(&StoreLocation::Memory, generous()).unwrap();
        let run = saved("a", now_ms(), &[r#"{"seq":1}"#, r#"{"seq":2,"text":"x"}"#]);
        store.save(run.clone()).await.unwrap();
        assert_eq!(store.load("a").await.unwrap(), Some(run));
        assert_eq!(store.load("b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn retention_drops_the_oldest_beyond_the_count_and_anything_too_old() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_runs: 2, ..generous() }).unwrap();
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

    #[tokio::test]
    async fn retention_keeps_the_total_size_under_the_byte_budget() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_bytes: 25, ..generous() }).unwrap();
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
            let store = Store::open(&StoreLocation::File(path.clone()), generous()).unwrap();
            store.save(run.clone()).await.unwrap();
        }
        let store = Store::open(&StoreLocation::File(path), generous()).unwrap();
        assert_eq!(store.load("kept").await.unwrap(), Some(run));
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn from(client: &str, id: &str, finished_at_ms: u64, events: &[&'static str]) -> SavedRun {
        SavedRun { client: Some(client.into()), ..saved(id, finished_at_ms, events) }
    }

    #[tokio::test]
    async fn a_flood_from_one_client_deletes_its_own_runs_not_anothers() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_runs: 10, ..generous() }).unwrap();
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

    #[tokio::test]
    async fn a_flood_of_bytes_from_one_client_deletes_its_own_runs_not_anothers() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_bytes: 100, ..generous() }).unwrap();
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

    #[tokio::test]
    async fn a_run_someone_opened_outlasts_its_clients_newer_runs() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_runs: 3, ..generous() }).unwrap();
        let now = now_ms();
        store.save(from("10.0.0.1", "opened", now, &["{}"])).await.unwrap();
        store.opened("opened", Some("10.0.0.2"));
        for i in 1..10 {
            store.save(from("10.0.0.1", &format!("later{i}"), now + i, &["{}"])).await.unwrap();
        }
        assert!(store.load("opened").await.unwrap().is_some());
        assert!(store.load("later9").await.unwrap().is_some());
        assert!(store.load("later7").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_new_run_is_kept_even_when_its_clients_opened_runs_fill_the_budget() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_runs: 3, ..generous() }).unwrap();
        let now = now_ms();
        for i in 0..3 {
            store.save(from("10.0.0.1", &format!("opened{i}"), now + i, &["{}"])).await.unwrap();
            store.opened(&format!("opened{i}"), Some("10.0.0.2"));
        }
        store.save(from("10.0.0.1", "new", now + 10, &["{}"])).await.unwrap();
        assert!(store.load("new").await.unwrap().is_some(), "the permalink just handed out works");
        assert_eq!(store.count().await.unwrap(), 3);
        assert!(store.load("opened0").await.unwrap().is_none(), "the oldest opened run made room");
    }

    #[tokio::test]
    async fn a_client_opening_its_own_runs_does_not_keep_them_longer() {
        let store = Store::open(&StoreLocation::Memory, Retention { max_runs: 2, ..generous() }).unwrap();
        let now = now_ms();
        store.save(from("10.0.0.1", "mine", now, &["{}"])).await.unwrap();
        store.opened("mine", Some("10.0.0.1"));
        for i in 1..3 {
            store.save(from("10.0.0.1", &format!("later{i}"), now + i, &["{}"])).await.unwrap();
        }
        assert!(store.load("mine").await.unwrap().is_none(), "its own viewing did not rank it ahead");
        assert!(store.load("later2").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_summary_comes_without_the_log_and_counts_its_events() {
        let store = Store::open(&StoreLocation::Memory, generous()).unwrap();
        store.save(saved("a", now_ms(), &[r#"{"seq":1}"#, r#"{"seq":2}"#, r#"{"seq":3}"#])).await.unwrap();
        let loads = store.loads();
        let summary = store.summary("a").await.unwrap().unwrap();
        assert_eq!((summary.events, summary.outcome, summary.saved), (3, Some(Outcome::Ok), Some(true)));
        assert_eq!(store.loads(), loads, "no log was read");
        assert!(store.summary("b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_run_noted_at_its_start_and_never_finished_restores_as_interrupted() {
        let store = Store::open(&StoreLocation::Memory, generous()).unwrap();
        let noted = SavedRun { outcome: Outcome::Interrupted, reason: Some(INTERRUPTED_REASON.into()), events: vec![], ..saved("cut", now_ms(), &[]) };
        store.note_started(noted);
        let restored = restore(store.load("cut").await.unwrap().unwrap()).unwrap();
        assert_eq!(restored.summary.outcome, Some(Outcome::Interrupted));
        let (events, closed) = restored.log.read(0, 10);
        assert!(closed);
        assert_eq!(events.len(), 1);
        let end: serde_json::Value = serde_json::from_slice(&events[0]).unwrap();
        assert_eq!((end["kind"].as_str(), end["outcome"].as_str(), end["seq"].as_u64()), (Some("run.end"), Some("interrupted"), Some(1)));
        assert_eq!(store.summary("cut").await.unwrap().unwrap().events, 1, "the status counts the run.end the stream will send");
    }

    #[tokio::test]
    async fn a_full_disk_fails_the_save_and_degrades_the_store_until_a_write_succeeds() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        let store = Store::open(&StoreLocation::File(dir.join("runs.sqlite3")), generous()).unwrap();
        store.save(saved("small", now_ms(), &["{}"])).await.unwrap();
        assert_eq!(store.health(), None);
        store.limit_growth(0).await.unwrap();
        let big: &'static str = Box::leak("x".repeat(64 * 1024).into_boxed_str());
        let error = store.save(saved("big", now_ms(), &[big])).await.unwrap_err();
        assert!(error.to_string().contains("full"), "{error}");
        assert!(store.health().unwrap().contains("full"));
        store.save(saved("small2", now_ms(), &["{}"])).await.unwrap();
        assert_eq!(store.health(), None, "a write that fits clears it");
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_store_and_an_emptied_one_are_told_apart() {
        let dir = std::env::temp_dir().join(format!("forkline-store-{}", RunId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.sqlite3");
        assert_eq!(Before::of(&path), Before::Nothing);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(Before::of(&path), Before::EmptyFile);
        let _ = Store::open(&StoreLocation::File(path.clone()), generous()).unwrap();
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
        let store = Store::open(&StoreLocation::File(path), generous()).unwrap();
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
        let store = Store::open(&StoreLocation::File(path), generous()).unwrap();
        assert_eq!(store.summary("kept").await.unwrap().unwrap().source, None);
        let edited = SavedRun { source: Some("print('mine')\n".into()), ..saved("edited", now_ms(), &[r#"{"seq":1}"#]) };
        store.save(edited.clone()).await.unwrap();
        assert_eq!(store.load("edited").await.unwrap(), Some(edited));
        assert_eq!(store.summary("edited").await.unwrap().unwrap().source.as_deref(), Some("print('mine')\n"));
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
