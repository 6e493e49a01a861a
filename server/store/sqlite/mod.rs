//! The embedded back end: one SQLite file (or memory), one instance's own.
//!
//! ```text
//! async callers ── Job (a closure) ──▶ "forkline-store" thread: owns the one Connection,
//!               ◀── oneshot reply ───   runs jobs in order, ends when the last handle drops
//! ```
//!
//! SQLite calls block, so none runs on a tokio worker: one dedicated thread
//! owns the connection. One writer also means no lock contention, and FIFO
//! jobs mean a `load` queued after a write sees it.
//!
//! With `auto_vacuum = INCREMENTAL` the pages freed by retention's deletions
//! are given back to the file system.

mod retention;
pub mod schema;

use std::path::Path;
use std::sync::{mpsc, Arc};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::rows::{SavedRow, SummaryRow};
use super::{join_lines, write_run_sql, Health, SavedRun, SavedSummary, StoreError, Write};
use crate::config::Retention;
use schema::Before;

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// What the store thread owns.
pub(super) struct Db {
    conn: Connection,
    retention: Retention,
}

/// A handle to the store thread.
pub(super) struct Sqlite {
    jobs: mpsc::Sender<Job>,
    health: Arc<Health>,
}

impl Sqlite {
    /// Opens (creating when missing) the file, or memory with `None`, and
    /// applies retention once.
    pub(super) fn open(path: Option<&Path>, retention: Retention, health: Arc<Health>) -> Result<Sqlite, StoreError> {
        let mut conn = match path {
            None => Connection::open_in_memory()?,
            Some(path) => {
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
        if path.is_some() {
            // WAL: readers never wait for the writer, and a second server on
            // the same file (a restart overlapping the old one) just works.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
        }
        schema::migrate(&mut conn)?;
        retention::prune(&mut conn, retention, None)?;
        if let Some(path) = path {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
            tracing::info!(path = %path.display(), "the run store holds {count} runs");
        }

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
        Ok(Sqlite { jobs, health })
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

    /// Queues a write and returns at once, in order with every other job;
    /// its failure shows in the store's health.
    pub(super) fn submit(&self, write: Write) {
        let health = self.health.clone();
        let _ = self.jobs.send(Box::new(move |db: &mut Db| health.record(&apply(db, write))));
    }

    pub(super) async fn save(&self, run: SavedRun) -> Result<(), StoreError> {
        self.call(move |db| apply(db, Write::Run { run, replace: true })).await
    }

    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    pub(super) async fn load(&self, id: String) -> Result<Option<SavedRun>, StoreError> {
        self.call(move |db| {
            let row = db
                .conn
                .query_row(
                    "SELECT r.id, r.demo, r.params, r.engine, r.client, r.outcome, r.reason,
                            r.created_at_ms, r.finished_at_ms, e.events, r.source
                       FROM runs r LEFT JOIN run_events e ON e.id = r.id WHERE r.id = ?1",
                    [&id],
                    |row| {
                        Ok(SavedRow {
                            id: row.get(0)?,
                            demo: row.get(1)?,
                            params: row.get(2)?,
                            engine: row.get(3)?,
                            client: row.get(4)?,
                            outcome: row.get(5)?,
                            reason: row.get(6)?,
                            created_at_ms: row.get(7)?,
                            finished_at_ms: row.get(8)?,
                            events: row.get(9)?,
                            source: row.get(10)?,
                        })
                    },
                )
                .optional()?;
            Ok(row.and_then(SavedRow::into_saved))
        })
        .await
    }

    pub(super) async fn summary(&self, id: String) -> Result<Option<SavedSummary>, StoreError> {
        self.call(move |db| {
            let row = db
                .conn
                .query_row(
                    "SELECT id, demo, params, engine, outcome, reason, created_at_ms, finished_at_ms, event_count, source
                       FROM runs WHERE id = ?1",
                    [&id],
                    |row| {
                        Ok(SummaryRow {
                            id: row.get(0)?,
                            demo: row.get(1)?,
                            params: row.get(2)?,
                            engine: row.get(3)?,
                            outcome: row.get(4)?,
                            reason: row.get(5)?,
                            created_at_ms: row.get(6)?,
                            finished_at_ms: row.get(7)?,
                            event_count: row.get(8)?,
                            source: row.get(9)?,
                        })
                    },
                )
                .optional()?;
            Ok(row.and_then(SummaryRow::into_summary))
        })
        .await
    }

    pub(super) async fn load_experiment(&self, id: String) -> Result<Option<String>, StoreError> {
        self.call(move |db| Ok(db.conn.query_row("SELECT report FROM experiments WHERE id = ?1", [&id], |r| r.get(0)).optional()?))
            .await
    }

    pub(super) async fn count(&self) -> Result<usize, StoreError> {
        self.call(|db| Ok(db.conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))? as usize)).await
    }

    /// Lets the file grow by at most `pages` more pages (None: no limit),
    /// after which every write fails with SQLite's own "database or disk
    /// is full": how tests see a full disk.
    pub(super) async fn limit_growth(&self, pages: Option<u64>) -> Result<(), StoreError> {
        self.call(move |db| {
            let count: i64 = db.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let limit = pages.map_or(i64::from(u32::MAX) * 4, |p| count + p as i64);
            db.conn.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

/// Carries out one write on the store thread.
fn apply(db: &mut Db, write: Write) -> Result<(), StoreError> {
    match write {
        Write::Run { run, replace } => write_run(db, &run, replace),
        Write::Opened { id, viewer, at_ms } => {
            db.conn.execute(
                "UPDATE runs SET last_opened_ms = ?2 WHERE id = ?1 AND (?3 IS NULL OR client IS NOT ?3)",
                params![id, at_ms as i64, viewer],
            )?;
            Ok(())
        }
        Write::Experiment { id, report, created_at_ms } => {
            db.conn.execute(
                "INSERT OR REPLACE INTO experiments (id, report, created_at_ms) VALUES (?1, ?2, ?3)",
                params![id, report, created_at_ms as i64],
            )?;
            Ok(())
        }
    }
}

/// Writes one run and its log (a note written at a run's start replaces
/// nothing), then applies retention.
fn write_run(db: &mut Db, run: &SavedRun, replace: bool) -> Result<(), StoreError> {
    let blob = join_lines(&run.events);
    let tx = db.conn.transaction()?;
    let written = tx.execute(
        &write_run_sql('?', replace),
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
            run.bytes(blob.len()) as i64,
            run.source,
        ],
    )?;
    if written > 0 {
        tx.execute("INSERT OR REPLACE INTO run_events (id, events) VALUES (?1, ?2)", params![run.id, blob])?;
    }
    tx.commit()?;
    retention::prune(&mut db.conn, db.retention, Some(&run.id))
}
