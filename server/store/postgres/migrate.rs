//! The PostgreSQL tables: the numbered files in `migrations/`, each applied
//! once, in order, at start.
//!
//! Several instances may start at once against one database, so the whole
//! pass holds a session advisory lock: the second instance waits, then
//! finds every migration applied. Each migration runs in its own
//! transaction with the row that records it, so a migration is either all
//! there and recorded, or absent and tried again at the next start.

use deadpool_postgres::Client;

use crate::store::StoreError;

/// Every migration, in order: (version, name, SQL). A new one is a new file
/// and a new line here; an applied one is never edited.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "runs", include_str!("migrations/0001_runs.sql")),
    (2, "client_rates", include_str!("migrations/0002_client_rates.sql")),
];

/// The advisory lock key migrations hold (`forkline` in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x666f_726b_6c69;

/// Applies what is missing; returns how many were applied now.
pub(super) async fn migrate(client: &mut Client) -> Result<usize, StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let result = apply_missing(client).await;
    // Released whatever happened: the connection goes back to the pool.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_missing(client: &mut Client) -> Result<usize, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS forkline_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let done: Vec<i32> = client.query("SELECT version FROM forkline_migrations", &[]).await?.iter().map(|r| r.get(0)).collect();
    if let Some(newer) = done.iter().copied().filter(|v| !MIGRATIONS.iter().any(|(known, ..)| known == v)).max() {
        return Err(StoreError::Connect {
            url: "(this database)".into(),
            why: format!("its tables are at migration {newer}, which this forkline does not know: it is older than the instance that made them"),
        });
    }
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, ..)| !done.contains(v)) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO forkline_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
        tx.commit().await?;
        tracing::info!(version, name, "the run store's PostgreSQL tables: applied migration {version} ({name})");
        applied += 1;
    }
    Ok(applied)
}
