//! The rows both back ends read, as plain values, and how each becomes what
//! the store hands out: decoded in one place, so SQLite and PostgreSQL
//! answer alike.

use bytes::Bytes;

use super::{parse_outcome, split_lines, SavedRun, SavedSummary};

/// A `runs` row with its log, as read; both back ends decode into it.
pub(super) struct SavedRow {
    pub id: String,
    pub demo: String,
    pub params: String,
    pub engine: String,
    pub client: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: i64,
    pub events: Option<Vec<u8>>,
    pub source: Option<String>,
}

impl SavedRow {
    /// None when its outcome is one this server does not know.
    pub fn into_saved(self) -> Option<SavedRun> {
        Some(SavedRun {
            outcome: parse_outcome(&self.outcome)?,
            id: self.id,
            demo: self.demo,
            params: serde_json::from_str(&self.params).unwrap_or_default(),
            engine: self.engine,
            client: self.client,
            reason: self.reason,
            created_at_ms: self.created_at_ms as u64,
            finished_at_ms: self.finished_at_ms as u64,
            events: split_lines(&Bytes::from(self.events.unwrap_or_default())),
            source: self.source,
        })
    }
}

/// A `runs` row without its log.
pub(super) struct SummaryRow {
    pub id: String,
    pub demo: String,
    pub params: String,
    pub engine: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: i64,
    pub event_count: i64,
    pub source: Option<String>,
}

impl SummaryRow {
    pub fn into_summary(self) -> Option<SavedSummary> {
        Some(SavedSummary {
            outcome: parse_outcome(&self.outcome)?,
            id: self.id,
            demo: self.demo,
            params: serde_json::from_str(&self.params).unwrap_or_default(),
            engine: self.engine,
            reason: self.reason,
            created_at_ms: self.created_at_ms as u64,
            finished_at_ms: self.finished_at_ms as u64,
            event_count: self.event_count as usize,
            source: self.source,
        })
    }
}

