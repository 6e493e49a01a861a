//! Retention in PostgreSQL: the rule of `sqlite/retention.rs` (age, then
//! count and bytes, fair between clients, opened runs ahead, the run just
//! written last to go), in PostgreSQL's dialect.
//!
//! Several instances save at once, and each save prunes: a transaction-level
//! advisory lock lets one pass run at a time, so two passes never delete
//! crosswise (which could deadlock) nor each delete a share of what one
//! pass would have.

use deadpool_postgres::Client;

use crate::config::Retention;
use crate::store::{now_ms, StoreError};

/// The advisory lock key a retention pass holds.
const RETENTION_LOCK: i64 = 0x666f_726b_6c72;

/// The ranking both budgets use, over the rows still there. `$3` may be
/// NULL (no run just written): `= NULL` is NULL, which PostgreSQL would sort
/// first in a descending order, hence the COALESCE.
const RANKED: &str = "
    WITH ranked AS (
        SELECT id, bytes, finished_at_ms, COALESCE(id = $3::text, false) AS just_written,
               COALESCE(last_opened_ms, 0) >= $1::bigint AS opened,
               ROW_NUMBER() OVER mine AS place,
               SUM(bytes) OVER (mine ROWS UNBOUNDED PRECEDING) AS held
          FROM runs
        WINDOW mine AS (PARTITION BY COALESCE(client, '')
                        ORDER BY COALESCE(id = $3::text, false) DESC, COALESCE(last_opened_ms, 0) >= $1::bigint DESC,
                                 finished_at_ms DESC, id COLLATE \"C\")
    )";

/// Deletes what retention no longer allows; `just_written` (the run a save
/// wrote) is the last to go. Also forgets run-rate buckets that are full
/// again (a new one starts full).
pub(super) async fn prune(client: &mut Client, retention: Retention, just_written: Option<&str>) -> Result<u64, StoreError> {
    let now = now_ms() as i64;
    let cutoff = now.saturating_sub(retention.max_age.as_millis() as i64);
    let max_runs = retention.max_runs.min(i64::MAX as usize) as i64;
    let max_bytes = retention.max_bytes.min(i64::MAX as u64) as i64;
    let by_count = format!(
        "{RANKED}
         DELETE FROM runs WHERE id IN
           (SELECT id FROM ranked ORDER BY just_written DESC, place, opened DESC, finished_at_ms DESC, id COLLATE \"C\"
                                  OFFSET $2::bigint)"
    );
    let by_bytes = format!(
        "{RANKED}
         DELETE FROM runs WHERE id IN
           (SELECT id FROM (SELECT id, SUM(bytes) OVER (ORDER BY just_written DESC, held, opened DESC, finished_at_ms DESC,
                                                                  id COLLATE \"C\" ROWS UNBOUNDED PRECEDING) AS total
                              FROM ranked) AS running
             WHERE total > $2::bigint)"
    );
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&RETENTION_LOCK]).await?;
    let mut deleted = tx.execute("DELETE FROM runs WHERE finished_at_ms < $1", &[&cutoff]).await?;
    // Experiments by age, and the newest thousand at most (a report is a few KiB).
    tx.execute("DELETE FROM experiments WHERE created_at_ms < $1", &[&cutoff]).await?;
    tx.execute(
        "DELETE FROM experiments WHERE id NOT IN (SELECT id FROM experiments ORDER BY created_at_ms DESC LIMIT 1000)",
        &[],
    )
    .await?;
    deleted += tx.execute(&tx.prepare_cached(&by_count).await?, &[&cutoff, &max_runs, &just_written]).await?;
    deleted += tx.execute(&tx.prepare_cached(&by_bytes).await?, &[&cutoff, &max_bytes, &just_written]).await?;
    tx.execute("DELETE FROM client_rates WHERE full_at_ms < $1", &[&now]).await?;
    tx.commit().await?;
    Ok(deleted)
}
