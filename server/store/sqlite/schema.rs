//! The store's tables, and the one-time migration of files written before
//! them.
//!
//! Version 1 keeps each run's summary (what a status request or retention
//! reads) in `runs` and its event log in `run_events`. A status request, a
//! retention pass or a scan for one client's runs thus never reads a log:
//! with the log in the same row, SQLite would walk its overflow pages to
//! reach any column stored after it, which is where `ALTER TABLE ADD COLUMN`
//! puts new ones. So a version-0 file (one table, the log in it) is rebuilt
//! once, in one transaction, with fallbacks for what it never recorded.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;

/// `PRAGMA user_version` of the current layout.
const VERSION: i64 = 3;

const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS runs (
        id             TEXT PRIMARY KEY,
        demo           TEXT NOT NULL,
        params         TEXT NOT NULL,
        engine         TEXT NOT NULL,
        -- ClientKey's text (an IPv4 address or an IPv6 /64); NULL: unknown.
        client         TEXT,
        -- 'interrupted' from the run's start until its real end replaces it.
        outcome        TEXT NOT NULL,
        reason         TEXT,
        created_at_ms  INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        -- When a page, stream or export last opened the finished run.
        last_opened_ms INTEGER,
        event_count    INTEGER NOT NULL,
        bytes          INTEGER NOT NULL,
        -- An edited program (layout 2); NULL: the demo's own, with params.
        source         TEXT
    );
    -- An experiment's report (layout 3), JSON, once it is done.
    CREATE TABLE IF NOT EXISTS experiments (
        id            TEXT PRIMARY KEY,
        report        TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS run_events (
        id     TEXT PRIMARY KEY,
        events BLOB NOT NULL
    );
    CREATE TRIGGER IF NOT EXISTS a_deleted_run_takes_its_events AFTER DELETE ON runs
    BEGIN DELETE FROM run_events WHERE id = OLD.id; END;
";

const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS runs_by_age ON runs (finished_at_ms);
    CREATE INDEX IF NOT EXISTS runs_by_client ON runs (client, finished_at_ms);
";

/// What was at the store's path before it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// No file: a new store is created.
    Nothing,
    /// A file of 0 bytes (truncated, or touched): it starts empty.
    EmptyFile,
    /// A store (or at least a file with something in it).
    File,
}

impl Before {
    pub fn of(path: &Path) -> Before {
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => Before::EmptyFile,
            Ok(_) => Before::File,
            Err(_) => Before::Nothing,
        }
    }
}

/// Brings the file to the current layout.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    if version >= 1 {
        if version < 2 {
            tx.execute_batch("ALTER TABLE runs ADD COLUMN source TEXT")?;
        }
        // Layout 3 adds a table only, which TABLES makes where missing.
        tx.execute_batch(TABLES)?;
        tx.pragma_update(None, "user_version", VERSION)?;
        tx.commit()?;
        tracing::info!("the run store was upgraded from layout {version} to {VERSION} (edited programs, experiments)");
        return Ok(());
    }
    let old: Option<String> =
        tx.query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'", [], |r| r.get(0)).optional()?;
    if old.is_some() {
        tx.execute_batch(
            "DROP INDEX IF EXISTS runs_by_age;
             ALTER TABLE runs RENAME TO runs_v0;",
        )?;
        tx.execute_batch(TABLES)?;
        // Version 0 knew no client (NULL: one unknown client), nor when a run
        // was opened; its event count is its newlines plus one, its engine
        // is what its run.start (the first line) says.
        tx.execute_batch(
            r#"INSERT INTO runs (id, demo, params, engine, client, outcome, reason, created_at_ms,
                                 finished_at_ms, last_opened_ms, event_count, bytes)
               SELECT id, demo, params,
                      CASE WHEN instr(CAST(substr(events, 1, CASE WHEN instr(events, x'0a') > 0
                                                                THEN instr(events, x'0a') ELSE length(events) END)
                                           AS TEXT), '"engine":"cpython"') > 0
                           THEN 'cpython' ELSE 'native' END,
                      NULL, outcome, reason, created_at_ms, finished_at_ms, NULL,
                      CASE WHEN length(events) = 0 THEN 0
                           ELSE length(CAST(events AS TEXT)) - length(replace(CAST(events AS TEXT), char(10), '')) + 1 END,
                      bytes
                 FROM runs_v0;
               INSERT INTO run_events (id, events) SELECT id, events FROM runs_v0;
               DROP TABLE runs_v0;"#,
        )?;
        tracing::info!("the run store was upgraded to layout {VERSION} (summaries apart from event logs)");
    } else {
        tx.execute_batch(TABLES)?;
    }
    tx.execute_batch(INDEXES)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}
