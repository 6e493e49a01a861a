//! A run's event log and its fan-out to subscribers.
//!
//! The log is the single copy of the run's events: each event is serialised
//! once, stored as shared bytes, and every subscriber reads from the log at its
//! own pace with its own cursor. The writer only appends and bumps a watch
//! counter, so a slow or stalled subscriber can never hold the run back, and a
//! late subscriber simply starts reading at 0 (or after its Last-Event-ID).

use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::watch;

#[derive(Debug)]
pub struct EventLog {
    events: Mutex<Vec<Bytes>>,
    /// (events appended so far, closed?) — subscribers wait on changes.
    progress: watch::Sender<(usize, bool)>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog { events: Mutex::new(Vec::new()), progress: watch::Sender::new((0, false)) }
    }
}

impl EventLog {
    /// A finished log, restored whole (from storage).
    pub fn closed_with(events: Vec<Bytes>) -> Self {
        let len = events.len();
        EventLog { events: Mutex::new(events), progress: watch::Sender::new((len, true)) }
    }

    /// Appends a batch of already-serialised events (their `seq` must be the
    /// next ones) and wakes subscribers once for the whole batch.
    pub fn append(&self, batch: impl IntoIterator<Item = Bytes>) {
        let len = {
            let mut events = self.events.lock().expect("log lock");
            events.extend(batch);
            events.len()
        };
        self.progress.send_modify(|p| p.0 = len);
    }

    /// Marks the log complete: no event will follow.
    pub fn close(&self) {
        self.progress.send_modify(|p| p.1 = true);
    }

    pub fn len(&self) -> usize {
        self.events.lock().expect("log lock").len()
    }

    /// Bytes of all stored events, for the memory budget of finished runs.
    pub fn byte_len(&self) -> usize {
        self.events.lock().expect("log lock").iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_closed(&self) -> bool {
        self.progress.borrow().1
    }

    /// Up to `max` events from index `from`, and whether the log is closed.
    pub fn read(&self, from: usize, max: usize) -> (Vec<Bytes>, bool) {
        // Read `closed` before the events: if it was closed then, the events
        // we read are all there will ever be.
        let closed = self.progress.borrow().1;
        let events = self.events.lock().expect("log lock");
        let end = events.len().min(from.saturating_add(max));
        (events.get(from..end).map(<[Bytes]>::to_vec).unwrap_or_default(), closed)
    }

    /// Every event, for exports and storage.
    pub fn snapshot(&self) -> Vec<Bytes> {
        self.events.lock().expect("log lock").clone()
    }

    /// A receiver that wakes on every append and on close.
    pub fn watch(&self) -> watch::Receiver<(usize, bool)> {
        self.progress.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_appends_in_order_and_the_close() {
        let log = EventLog::default();
        log.append([Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        assert_eq!(log.read(0, 10), (vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")], false));
        assert_eq!(log.read(1, 10).0, vec![Bytes::from_static(b"b")]);
        log.close();
        assert_eq!(log.read(2, 10), (vec![], true));
        assert_eq!(log.read(99, 10), (vec![], true));
    }
}
