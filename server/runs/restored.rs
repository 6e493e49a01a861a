//! Saved runs brought back into memory, shared by everyone who opens them.
//!
//! A permalink passed round a class is opened by dozens of browsers at once;
//! each of them must read the one copy of its log, as subscribers of a live
//! run do. So a restored run is held in Runs' table beside the finished live
//! runs, under the same budget (`keep_finished_runs`, `keep_finished_bytes`),
//! and concurrent lookups of an id that is not there yet wait for one load
//! instead of each starting their own.
//!
//! Where the run comes from (the store) is the caller's business: Runs only
//! holds it, which keeps this module free of SQLite.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{EventLog, RunId, Runs, Summary};
use crate::demos::Demo;

/// A saved run brought back: its summary and its closed log.
pub struct Restored {
    pub demo: &'static Demo,
    pub summary: Summary,
    pub log: EventLog,
}

/// One load in progress: everyone asking for the id waits on the same cell.
pub(super) type Loading = Arc<OnceCell<Option<Arc<Restored>>>>;

impl Runs {
    /// The restored run with this id, if memory still holds it.
    pub fn restored(&self, id: &RunId) -> Option<Arc<Restored>> {
        self.table.lock().expect("runs lock").restored.get(id).cloned()
    }

    /// The restored run with this id: from memory, else from `load`, which
    /// runs once however many callers ask at the same time. A run found is
    /// kept (and later forgotten) like a finished live run; a miss or an
    /// error is not remembered, so the next caller tries again.
    pub async fn restore<E, F, Fut>(&self, id: &RunId, load: F) -> Result<Option<Arc<Restored>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Restored>, E>>,
    {
        if let Some(found) = self.restored(id) {
            return Ok(Some(found));
        }
        let cell: Loading = self.loading.lock().expect("loading lock").entry(id.clone()).or_default().clone();
        let result = cell.get_or_try_init(|| async { load().await.map(|r| r.map(Arc::new)) }).await.cloned();
        let mut loading = self.loading.lock().expect("loading lock");
        let ours = loading.get(id).is_some_and(|c| Arc::ptr_eq(c, &cell));
        // Whoever comes first hands a finished load over to the table; a
        // failed one is dropped once nobody else waits on it.
        if ours && (cell.initialized() || Arc::strong_count(&cell) == 2) {
            loading.remove(id);
            if let Ok(Some(restored)) = &result {
                self.keep_restored(id, restored.clone());
            }
        }
        result
    }

    fn keep_restored(&self, id: &RunId, restored: Arc<Restored>) {
        // A run another instance noted and has not finished (yet): that
        // instance may still save its real end, so this answer is asked
        // for again next time rather than kept.
        let others = id.instance().is_some_and(|owner| owner != self.config.instance.as_str());
        if others && restored.summary.outcome == Some(crate::event::Outcome::Interrupted) {
            return;
        }
        let bytes = restored.log.byte_len();
        let mut table = self.table.lock().expect("runs lock");
        if table.runs.contains_key(id) || table.restored.contains_key(id) {
            return;
        }
        table.restored.insert(id.clone(), restored);
        let forgotten = self.remember_finished(&mut table, id, bytes);
        drop(table);
        free_later(forgotten);
    }
}

/// Freeing a big run's log (a million events is a million buffers) takes
/// tens of ms: not under the table's lock, where every request would wait
/// for it, and not on an async worker.
pub(super) fn free_later<T: Send + 'static>(forgotten: Vec<T>) {
    if forgotten.is_empty() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(forgotten))),
        Err(_) => drop(forgotten),
    }
}
