//! The run store: finished runs saved in SQLite, so a permalink, a replay or
//! an export still works after the run left memory or the server restarted.
//!
//! ```text
//! async callers ── Job (a closure) ──▶ "forkline-store" thread: owns the one Connection,
//!               ◀── oneshot reply ───   runs jobs in order, ends when the last Store handle drops
//! ```
//!
//! SQLite calls block, so none runs on a tokio worker: one dedicated thread
//! owns the connection. One writer also means no lock contention, and FIFO
//! jobs mean a `load` queued after a `save` sees it.
//!
//! Retention (age, count, total bytes) is applied after every save and at
//! open, so the file stays bounded; with `auto_vacuum = INCREMENTAL` the pages
//! freed by deletions are given back to the file system.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::config::{Retention, StoreLocation};
use crate::demos::{self, Demo};
use crate::event::Outcome;
use crate::runs::{EventLog, Run, RunId, Runs, Status, Summary};

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
}

/// A handle to the store; cheap to share behind an `Arc`.
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

/// One finished run as it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRun {
    pub id: String,
    pub demo: String,
    pub params: serde_json::Value,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: u64,
    /// The log, one serialised event each, exactly as the stream sent them.
    pub events: Vec<Bytes>,
}

impl SavedRun {
    /// What to save of a finished run; `None` while it is still running.
    pub fn of(run: &Run) -> Option<SavedRun> {
        let summary = run.summary();
        if summary.status != Status::Finished || !run.log.is_closed() {
            return None;
        }
        Some(SavedRun {
            id: summary.id,
            demo: summary.demo.to_owned(),
            params: summary.params,
            outcome: summary.outcome?,
            reason: summary.reason,
            created_at_ms: summary.created_at_ms,
            finished_at_ms: summary.finished_at_ms.unwrap_or_else(now_ms),
            events: run.log.snapshot(),
        })
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS runs (
        id             TEXT PRIMARY KEY,
        demo           TEXT NOT NULL,
        params         TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        reason         TEXT,
        created_at_ms  INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        bytes          INTEGER NOT NULL,
        events         BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS runs_by_age ON runs (finished_at_ms);
";

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
        conn.execute_batch(SCHEMA)?;
        prune(&mut conn, retention)?;

        let (jobs, queue) = mpsc::channel::<Job>();
        let mut db = Db { conn, retention };
        std::thread::Builder::new()
            .name("forkline-store".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&mut db);
                }
            })
            .map_err(|source| StoreError::Folder { path: "(store thread)".into(), source })?;
        Ok(Arc::new(Store { jobs }))
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

    /// Saves a finished run (replacing one with the same id), then applies
    /// retention.
    pub async fn save(&self, run: SavedRun) -> Result<(), StoreError> {
        self.call(move |db| {
            let mut blob = Vec::with_capacity(run.events.iter().map(|e| e.len() + 1).sum());
            for (i, event) in run.events.iter().enumerate() {
                if i > 0 {
                    blob.push(b'\n');
                }
                blob.extend_from_slice(event);
            }
            db.conn.execute(
                "INSERT OR REPLACE INTO runs
                   (id, demo, params, outcome, reason, created_at_ms, finished_at_ms, bytes, events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    run.id,
                    run.demo,
                    run.params.to_string(),
                    run.outcome.as_str(),
                    run.reason,
                    run.created_at_ms as i64,
                    run.finished_at_ms as i64,
                    blob.len() as i64,
                    blob,
                ],
            )?;
            prune(&mut db.conn, db.retention)
        })
        .await
    }

    /// The saved run with this id, if the store still has it.
    pub async fn load(&self, id: &str) -> Result<Option<SavedRun>, StoreError> {
        let id = id.to_owned();
        self.call(move |db| {
            let row = db
                .conn
                .query_row(
                    "SELECT id, demo, params, outcome, reason, created_at_ms, finished_at_ms, events
                       FROM runs WHERE id = ?1",
                    [&id],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, i64>(5)?,
                            row.get::<_, i64>(6)?,
                            row.get::<_, Vec<u8>>(7)?,
                        ))
                    },
                )
                .optional()?;
            Ok(row.and_then(|(id, demo, params, outcome, reason, created, finished, blob)| {
                let outcome = serde_json::from_value(serde_json::Value::String(outcome)).ok()?;
                let blob = Bytes::from(blob);
                let events = split_lines(&blob);
                Some(SavedRun {
                    id,
                    demo,
                    params: serde_json::from_str(&params).unwrap_or_default(),
                    outcome,
                    reason,
                    created_at_ms: created as u64,
                    finished_at_ms: finished as u64,
                    events,
                })
            }))
        })
        .await
    }

    /// How many runs are saved.
    pub async fn count(&self) -> Result<usize, StoreError> {
        self.call(|db| Ok(db.conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))? as usize)).await
    }

    /// Makes `runs` save every run that finishes from now on.
    pub fn attach(self: &Arc<Self>, runs: &Runs) {
        let store = self.clone();
        runs.on_finished(Box::new(move |run: Arc<Run>| {
            let store = store.clone();
            Box::pin(async move {
                let Some(saved) = SavedRun::of(&run) else { return };
                if let Err(e) = store.save(saved).await {
                    tracing::warn!(run = %run.id, error = %e, "could not save the run");
                }
            })
        }));
    }
}

/// Deletes what retention no longer allows: too old, beyond the count, beyond
/// the byte budget (newest kept first), and gives the freed pages back.
fn prune(conn: &mut Connection, retention: Retention) -> Result<(), StoreError> {
    let cutoff = now_ms().saturating_sub(retention.max_age.as_millis() as u64) as i64;
    let tx = conn.transaction()?;
    let mut deleted = tx.execute("DELETE FROM runs WHERE finished_at_ms < ?1", [cutoff])?;
    deleted += tx.execute(
        "DELETE FROM runs WHERE id IN
           (SELECT id FROM runs ORDER BY finished_at_ms DESC, id LIMIT -1 OFFSET ?1)",
        [retention.max_runs as i64],
    )?;
    deleted += tx.execute(
        "DELETE FROM runs WHERE id IN
           (SELECT id FROM (SELECT id, SUM(bytes) OVER (ORDER BY finished_at_ms DESC, id) AS total FROM runs)
             WHERE total > ?1)",
        [retention.max_bytes.min(i64::MAX as u64) as i64],
    )?;
    tx.commit()?;
    if deleted > 0 {
        conn.execute_batch("PRAGMA incremental_vacuum")?;
    }
    Ok(())
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

/// A run as the API serves it: still in memory, or restored from the store.
#[derive(Clone)]
pub enum Found {
    Live(Arc<Run>),
    Saved(Arc<Restored>),
}

/// A saved run brought back: its summary and its closed log.
pub struct Restored {
    pub demo: &'static Demo,
    pub summary: Summary,
    pub log: EventLog,
}

impl Restored {
    /// `None` when the saved run's demo no longer exists.
    pub fn from_saved(saved: SavedRun) -> Option<Restored> {
        let demo = demos::find(&saved.demo)?;
        let engine = saved.events.first().map(|start| engine_of(start)).unwrap_or("native");
        let summary = Summary {
            id: saved.id,
            demo: demo.name,
            params: saved.params,
            engine,
            python: None,
            status: Status::Finished,
            outcome: Some(saved.outcome),
            reason: saved.reason,
            runner_pid: None,
            events: saved.events.len(),
            created_at_ms: saved.created_at_ms,
            finished_at_ms: Some(saved.finished_at_ms),
        };
        Some(Restored { demo, summary, log: EventLog::closed_with(saved.events) })
    }
}

/// Which engine ran a saved run, as its `run.start` says.
fn engine_of(run_start: &[u8]) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Start<'a> {
        #[serde(borrow)]
        engine: Option<&'a str>,
    }
    match serde_json::from_slice::<Start>(run_start) {
        Ok(Start { engine: Some("cpython") }) => "cpython",
        _ => "native",
    }
}

impl Found {
    /// The run in memory, else in the store.
    pub async fn lookup(runs: &Runs, store: Option<&Store>, id: &RunId) -> Result<Option<Found>, StoreError> {
        if let Some(run) = runs.get(id) {
            return Ok(Some(Found::Live(run)));
        }
        let Some(store) = store else { return Ok(None) };
        Ok(store.load(id.as_str()).await?.and_then(Restored::from_saved).map(|r| Found::Saved(Arc::new(r))))
    }

    pub fn summary(&self) -> Summary {
        match self {
            Found::Live(run) => run.summary(),
            Found::Saved(saved) => saved.summary.clone(),
        }
    }

    pub fn log(&self) -> &EventLog {
        match self {
            Found::Live(run) => &run.log,
            Found::Saved(saved) => &saved.log,
        }
    }

    pub fn demo(&self) -> &'static Demo {
        match self {
            Found::Live(run) => run.demo,
            Found::Saved(saved) => saved.demo,
        }
    }

    /// Finished and its log complete: what exports need.
    pub fn is_finished(&self) -> bool {
        self.log().is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn saved(id: &str, finished_at_ms: u64, events: &[&'static str]) -> SavedRun {
        SavedRun {
            id: id.into(),
            demo: "process".into(),
            params: serde_json::json!({"delay_ms": 5}),
            outcome: Outcome::Ok,
            reason: None,
            created_at_ms: finished_at_ms - 10,
            finished_at_ms,
            events: events.iter().map(|e| Bytes::from_static(e.as_bytes())).collect(),
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
}
