//! What the store deletes to stay within its age, count and byte budgets,
//! fairly: one client cannot push everybody else's permalinks out.
//!
//! The rule, applied in SQL after every save and at open:
//!
//! * older than the age limit: deleted, whoever it belongs to;
//! * each client's runs are ranked newest first, except that runs opened
//!   (permalink, stream, export) within the age limit rank ahead of the
//!   client's unopened ones;
//! * by count: every client's first run is kept before anyone's second,
//!   every second before anyone's third, and so on (ties: an opened run,
//!   then the newer); what does not fit is deleted;
//! * by bytes: runs are kept in order of how many bytes their client holds
//!   up to and including that run (ties as above), while the total fits.
//!
//! Which comes down to: over budget, the next run deleted is the oldest
//! unopened run of the client holding the most runs (or bytes). A flood from
//! one client deletes that client's own runs once it holds more than anyone
//! else; a run someone else opened or shared outlasts them all, up to its age
//! limit. Runs whose client is unknown (before clients were recorded, or not
//! started over HTTP) count as one client.
//!
//! The run just written ranks first of all: a client's older opened runs
//! must not delete the run whose permalink the server has only now handed
//! out (it goes when a later write finds it over budget).

use rusqlite::Connection;

use crate::store::{now_ms, StoreError};
use crate::config::Retention;

/// The ranking both budgets use, over the rows still there.
const RANKED: &str = "
    WITH ranked AS (
        SELECT id, bytes, finished_at_ms, id = ?3 AS just_written,
               COALESCE(last_opened_ms, 0) >= ?1 AS opened,
               ROW_NUMBER() OVER mine AS place,
               SUM(bytes) OVER (mine ROWS UNBOUNDED PRECEDING) AS held
          FROM runs
        WINDOW mine AS (PARTITION BY COALESCE(client, '')
                        ORDER BY id = ?3 DESC, COALESCE(last_opened_ms, 0) >= ?1 DESC, finished_at_ms DESC, id)
    )";

/// Deletes what retention no longer allows, and gives the freed pages back;
/// `just_written` (the run a save wrote) is the last to go.
pub(super) fn prune(conn: &mut Connection, retention: Retention, just_written: Option<&str>) -> Result<(), StoreError> {
    let cutoff = now_ms().saturating_sub(retention.max_age.as_millis() as u64) as i64;
    let tx = conn.transaction()?;
    let mut deleted = tx.execute("DELETE FROM runs WHERE finished_at_ms < ?1", [cutoff])?;
    // Experiments by age, and the newest thousand at most (a report is a few KiB).
    deleted += tx.execute("DELETE FROM experiments WHERE created_at_ms < ?1", [cutoff])?;
    deleted += tx.execute(
        "DELETE FROM experiments WHERE id NOT IN (SELECT id FROM experiments ORDER BY created_at_ms DESC LIMIT 1000)",
        [],
    )?;
    deleted += tx.execute(
        &format!(
            "{RANKED}
             DELETE FROM runs WHERE id IN
               (SELECT id FROM ranked ORDER BY just_written DESC, place, opened DESC, finished_at_ms DESC, id
                             LIMIT -1 OFFSET ?2)"
        ),
        rusqlite::params![cutoff, retention.max_runs.min(i64::MAX as usize) as i64, just_written],
    )?;
    deleted += tx.execute(
        &format!(
            "{RANKED}
             DELETE FROM runs WHERE id IN
               (SELECT id FROM (SELECT id, SUM(bytes) OVER (ORDER BY just_written DESC, held, opened DESC, finished_at_ms DESC, id
                                                              ROWS UNBOUNDED PRECEDING) AS total
                                  FROM ranked)
                 WHERE total > ?2)"
        ),
        rusqlite::params![cutoff, retention.max_bytes.min(i64::MAX as u64) as i64, just_written],
    )?;
    tx.commit()?;
    if deleted > 0 {
        conn.execute_batch("PRAGMA incremental_vacuum")?;
    }
    Ok(())
}
