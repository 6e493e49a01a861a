//! The shared back end: one PostgreSQL database that every instance behind
//! the proxy saves to and reads from, so a permalink works whichever
//! instance a request reaches, and a client's run rate is one rate.
//!
//! ```text
//! Postgres
//!   pool (deadpool): up to POOL_SIZE connections; reads and awaited saves take one each
//!   writer task: the writes nobody waits for (notes, openings, experiments), in order
//!   claim: one connection of its own holding this instance's name (advisory lock)
//! ```
//!
//! Why tokio-postgres with deadpool rather than sqlx: the store's SQL is a
//! handful of fixed statements, so sqlx's compile-time checking and query
//! macros (with their build-time database or offline data) buy little, and
//! its tree is several times larger; tokio-postgres is the maintained async
//! driver of the rust-postgres project, deadpool its common pool. Without
//! TLS: a unix socket or a private network (`sslmode=require` is refused at
//! start, see `config::PostgresUrl`).

mod migrate;
mod retention;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use super::rows::{SavedRow, SummaryRow};
use super::{join_lines, write_run_sql, Health, SavedRun, SavedSummary, StoreError, Write};
use crate::config::{PostgresUrl, Retention};
use crate::runs::rate::RunRate;
use crate::runs::Instance;

/// Connections one instance holds at most: reads of a class's permalinks,
/// saves of its runs, and the writer, each a few ms at most.
const POOL_SIZE: usize = 16;
/// How long a connection may take to open before the database counts as
/// unreachable (at start: the instance refuses to start, saying so).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request may wait for a free connection before it is told the
/// store is unavailable.
const WAIT_TIMEOUT: Duration = Duration::from_secs(5);
/// The advisory lock key under which instances claim their names.
const INSTANCE_LOCK: i32 = 0x666f_726b;

// Most jobs are writes: a box each would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Job {
    Write(Write),
    Flush(oneshot::Sender<()>),
}

pub(in crate::store) struct Postgres {
    pool: Pool,
    url: PostgresUrl,
    retention: Retention,
    writes: mpsc::UnboundedSender<Job>,
    /// The connection holding this instance's name, and its backend's pid.
    claim: Mutex<Option<(tokio_postgres::Client, i32)>>,
}

impl Postgres {
    /// Connects, applies the migrations and retention once, and starts the
    /// writer. A database that cannot be reached fails here, with why.
    pub(in crate::store) async fn open(url: &PostgresUrl, retention: Retention, health: Arc<Health>) -> Result<Postgres, StoreError> {
        let connect_error = |why: String| StoreError::Connect { url: url.to_string(), why };
        let mut config = url.config().clone();
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("forkline");
        // Verified: a connection is checked (one empty query) before it is
        // handed out again, so one dropped by a restarted database or a
        // closed idle connection fails no request.
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Verified });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(WAIT_TIMEOUT))
            .build()
            .map_err(|e| connect_error(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| connect_error(message_of_pool(&e)))?;
        let applied = migrate::migrate(&mut client).await.map_err(|e| match e {
            StoreError::Connect { why, .. } => connect_error(why),
            other => connect_error(other.to_string()),
        })?;
        retention::prune(&mut client, retention, None).await?;
        let count: i64 = client.query_one("SELECT COUNT(*) FROM runs", &[]).await?.get(0);
        tracing::info!(db = %url, migrations_applied = applied, "the run store (PostgreSQL) holds {count} runs");
        drop(client);

        let (writes, queue) = mpsc::unbounded_channel();
        let store = Postgres { pool, url: url.clone(), retention, writes, claim: Mutex::new(None) };
        tokio::spawn(writer(store.pool.clone(), retention, health, queue));
        Ok(store)
    }

    pub(in crate::store) fn submit(&self, write: Write) {
        let _ = self.writes.send(Job::Write(write));
    }

    pub(in crate::store) async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.writes.send(Job::Flush(done)).map_err(|_| StoreError::Stopped)?;
        wait.await.map_err(|_| StoreError::Stopped)
    }

    /// Saves a run once the writes submitted before it are done: its own
    /// note among them, which, landing after the save and a retention pass
    /// that deleted the run, would bring it back as interrupted.
    pub(in crate::store) async fn save(&self, run: SavedRun) -> Result<(), StoreError> {
        self.flush().await?;
        apply(&self.pool, self.retention, Write::Run { run, replace: true }).await
    }

    pub(in crate::store) async fn load(&self, id: String) -> Result<Option<SavedRun>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT r.id, r.demo, r.params, r.engine, r.client, r.outcome, r.reason,
                        r.created_at_ms, r.finished_at_ms, e.events, r.source
                   FROM runs r LEFT JOIN run_events e ON e.id = r.id WHERE r.id = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&id]).await?;
        Ok(row.and_then(|row| {
            SavedRow {
                id: row.get(0),
                demo: row.get(1),
                params: row.get(2),
                engine: row.get(3),
                client: row.get(4),
                outcome: row.get(5),
                reason: row.get(6),
                created_at_ms: row.get(7),
                finished_at_ms: row.get(8),
                events: row.get(9),
                source: row.get(10),
            }
            .into_saved()
        }))
    }

    pub(in crate::store) async fn summary(&self, id: String) -> Result<Option<SavedSummary>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, demo, params, engine, outcome, reason, created_at_ms, finished_at_ms, event_count, source
                   FROM runs WHERE id = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&id]).await?;
        Ok(row.and_then(|row| {
            SummaryRow {
                id: row.get(0),
                demo: row.get(1),
                params: row.get(2),
                engine: row.get(3),
                outcome: row.get(4),
                reason: row.get(5),
                created_at_ms: row.get(6),
                finished_at_ms: row.get(7),
                event_count: row.get(8),
                source: row.get(9),
            }
            .into_summary()
        }))
    }

    pub(in crate::store) async fn load_experiment(&self, id: String) -> Result<Option<String>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT report FROM experiments WHERE id = $1", &[&id]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(in crate::store) async fn count(&self) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_one("SELECT COUNT(*) FROM runs", &[]).await?.get::<_, i64>(0) as usize)
    }

    /// Takes one of `client`'s run tokens, with the arithmetic of the local
    /// buckets ([`RunRate::take_one`]) on the row locked for it: instances
    /// taking for one client at once each see the other's take.
    pub(in crate::store) async fn take_run_token(&self, client: &str, rate: RunRate, now_ms: u64) -> Result<Result<(), Duration>, StoreError> {
        let now = now_ms as i64;
        let mut connection = self.pool.get().await?;
        let tx = connection.transaction().await?;
        tx.execute(
            "INSERT INTO client_rates (client, tokens, at_ms, full_at_ms) VALUES ($1, $2, $3, $3) ON CONFLICT (client) DO NOTHING",
            &[&client, &rate.full(), &now],
        )
        .await?;
        let row = tx.query_one("SELECT tokens, at_ms FROM client_rates WHERE client = $1 FOR UPDATE", &[&client]).await?;
        let (tokens, at): (f64, i64) = (row.get(0), row.get(1));
        // Another machine's clock a little ahead: no refill, never a negative one.
        let elapsed = Duration::from_millis(now.saturating_sub(at).max(0) as u64);
        let (left, answer) = rate.take_one(tokens, elapsed);
        let full_at = now.max(at) + rate.time_to_full(left).as_millis() as i64;
        tx.execute(
            "UPDATE client_rates SET tokens = $2, at_ms = GREATEST(at_ms, $3), full_at_ms = $4 WHERE client = $1",
            &[&client, &left, &now, &full_at],
        )
        .await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// Holds a session advisory lock on the instance's name on a connection
    /// of its own for as long as this process lives: PostgreSQL releases it
    /// when the connection ends, however the process ended.
    pub(in crate::store) async fn claim_instance(&self, instance: &Instance) -> Result<(), StoreError> {
        let mut config = self.url.config().clone();
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name(format!("forkline {instance}"));
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Connect { url: self.url.to_string(), why: message_of(&e) })?;
        let name = instance.to_string();
        // Ends quietly when the store is dropped (the process is ending);
        // a connection lost while it runs frees the name, which is said.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %message_of(&e), "lost the connection holding the instance name {name}: another instance could now take it");
            }
        });
        let row = client.query_one("SELECT pg_try_advisory_lock($1, hashtext($2)), pg_backend_pid()", &[&INSTANCE_LOCK, &instance.as_str()]).await?;
        if !row.get::<_, bool>(0) {
            return Err(StoreError::InstanceTaken(instance.to_string()));
        }
        *self.claim.lock().expect("claim lock") = Some((client, row.get(1)));
        Ok(())
    }

    /// Turns the database read-only for every new transaction and ends the
    /// pool's open connections (so they reconnect and see it), or back.
    pub(in crate::store) async fn read_only(&self, on: bool) -> Result<(), StoreError> {
        let claim_pid = self.claim.lock().expect("claim lock").as_ref().map_or(0, |(_, pid)| *pid);
        let (client, connection) = self.url.config().connect(NoTls).await?;
        tokio::spawn(connection);
        let db: String = client.query_one("SELECT current_database()", &[]).await?.get(0);
        let quoted = format!("\"{}\"", db.replace('"', "\"\""));
        // This very session may be read-only already (turning it back).
        client.batch_execute("SET default_transaction_read_only = off").await?;
        client.batch_execute(&format!("ALTER DATABASE {quoted} SET default_transaction_read_only = {}", if on { "on" } else { "off" })).await?;
        client
            .execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1",
                &[&claim_pid],
            )
            .await?;
        Ok(())
    }
}

/// The writer: one write at a time, in the order submitted (a note before
/// the opening of the same run, as SQLite's one thread keeps them).
async fn writer(pool: Pool, retention: Retention, health: Arc<Health>, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = queue.recv().await {
        match job {
            Job::Write(write) => health.record(&apply(&pool, retention, write).await),
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Carries out one write on a connection of the pool.
async fn apply(pool: &Pool, retention: Retention, write: Write) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    match write {
        Write::Run { run, replace } => {
            let blob = join_lines(&run.events);
            let insert = write_run_sql('$', replace);
            let tx = client.transaction().await?;
            let statement = tx.prepare_cached(&insert).await?;
            let written = tx
                .execute(
                    &statement,
                    &[
                        &run.id,
                        &run.demo,
                        &run.params.to_string(),
                        &run.engine,
                        &run.client,
                        &run.outcome.as_str(),
                        &run.reason,
                        &(run.created_at_ms as i64),
                        &(run.finished_at_ms as i64),
                        &(run.events.len() as i64),
                        &(run.bytes(blob.len()) as i64),
                        &run.source,
                    ],
                )
                .await?;
            if written > 0 {
                let statement = tx
                    .prepare_cached(
                        "INSERT INTO run_events (id, events) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET events = excluded.events",
                    )
                    .await?;
                tx.execute(&statement, &[&run.id, &blob]).await?;
            }
            tx.commit().await?;
            retention::prune(&mut client, retention, Some(&run.id)).await?;
        }
        Write::Opened { id, viewer, at_ms } => {
            let statement = client
                .prepare_cached(
                    "UPDATE runs SET last_opened_ms = $2 WHERE id = $1 AND ($3::text IS NULL OR client IS DISTINCT FROM $3::text)",
                )
                .await?;
            client.execute(&statement, &[&id, &(at_ms as i64), &viewer]).await?;
        }
        Write::Experiment { id, report, created_at_ms } => {
            client
                .execute(
                    "INSERT INTO experiments (id, report, created_at_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET report = excluded.report, created_at_ms = excluded.created_at_ms",
                    &[&id, &report, &(created_at_ms as i64)],
                )
                .await?;
        }
    }
    Ok(())
}

/// What went wrong, in PostgreSQL's own words where it answered.
fn message_of(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_owned();
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn message_of_pool(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => message_of(e),
        deadpool_postgres::PoolError::Timeout(_) => format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        other => other.to_string(),
    }
}

/// Whether the database, rather than the statement, is at fault: it cannot
/// be reached, is shutting down, is out of resources, or refuses writes.
fn unavailable(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            ["08", "53", "57"].iter().any(|class| code.starts_with(class)) || code == "25006"
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Postgres { message: message_of(&e), unavailable: unavailable(&e) }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        let unavailable = match &e {
            deadpool_postgres::PoolError::Backend(e) => unavailable(e),
            _ => true,
        };
        StoreError::Postgres { message: message_of_pool(&e), unavailable }
    }
}
