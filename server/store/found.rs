//! Finding a run for the API: in memory (live, or restored earlier), else in
//! the store, loaded once and then shared.

use std::sync::Arc;

use super::{Store, StoreError};
use crate::runs::{ClientKey, Restored, Run, RunId, Runs, Summary};
use crate::demos::Demo;
use crate::runs::EventLog;

/// A run as the API serves it: still in memory, or restored from the store.
#[derive(Clone)]
pub enum Found {
    Live(Arc<Run>),
    Saved(Arc<Restored>),
}

impl Found {
    /// The run in memory, else in the store. `viewer` opening a finished run
    /// this way (its page, its stream, an export) is recorded, so retention
    /// keeps it longer when the viewer is not its creator.
    pub async fn lookup(runs: &Runs, store: Option<&Store>, id: &RunId, viewer: Option<ClientKey>) -> Result<Option<Found>, StoreError> {
        let viewer = viewer.map(|v| v.to_string());
        if let Some(run) = runs.get(id) {
            if let (Some(store), true) = (store, run.log.is_closed()) {
                store.opened(id.as_str(), viewer.as_deref());
            }
            return Ok(Some(Found::Live(run)));
        }
        let Some(store) = store else { return Ok(None) };
        let restored = runs.restore(id, || async { Ok::<_, StoreError>(store.load(id.as_str()).await?.and_then(super::restore)) }).await?;
        if restored.is_some() {
            store.opened(id.as_str(), viewer.as_deref());
        }
        Ok(restored.map(Found::Saved))
    }

    /// Only the run's summary: a status request reads no event log.
    pub async fn summary_of(runs: &Runs, store: Option<&Store>, id: &RunId) -> Result<Option<Summary>, StoreError> {
        if let Some(run) = runs.get(id) {
            return Ok(Some(run.summary()));
        }
        if let Some(restored) = runs.restored(id) {
            return Ok(Some(restored.summary.clone()));
        }
        let Some(store) = store else { return Ok(None) };
        store.summary(id.as_str()).await
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
