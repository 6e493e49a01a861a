//! Who runs now, who waits in line, and who is refused.
//!
//! A classroom presses Run in the same minute on a small server: at most
//! `max_active` runs execute at once (a fair, FIFO semaphore), up to
//! `max_queue` more wait in line in arrival order, and one client may hold at
//! most `per_client` runs (running or waiting). Everything past that is refused
//! at once, with a reason, instead of piling up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::{ClientKey, RunId};

/// The bounds admission enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_active: usize,
    pub max_queue: usize,
    pub per_client: usize,
}

/// Why a run was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server is busy: {running} runs are running and {waiting} are waiting; try again shortly")]
    QueueFull { running: usize, waiting: usize },
    #[error("this client already has {limit} runs running or waiting; wait for one to finish")]
    ClientBusy { limit: usize },
}

#[derive(Default)]
struct Line {
    /// Runs admitted but not yet holding a slot, oldest first.
    waiting: VecDeque<RunId>,
    /// Runs held per client (running or waiting).
    per_client: HashMap<ClientKey, usize>,
}

pub struct Admission {
    limits: Limits,
    slots: Arc<Semaphore>,
    line: Mutex<Line>,
    /// Bumped whenever the waiting line changes, so streams can show positions.
    changed: watch::Sender<u64>,
}

/// A run's place: in line, then holding a slot. Dropping it gives both back.
pub struct Ticket {
    admission: Arc<Admission>,
    id: RunId,
    client: Option<ClientKey>,
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            slots: Arc::new(Semaphore::new(limits.max_active)),
            line: Mutex::default(),
            changed: watch::Sender::new(0),
        })
    }

    /// Takes a place in line for run `id` of `client`, or refuses.
    pub fn reserve(self: &Arc<Self>, id: &RunId, client: Option<ClientKey>) -> Result<Ticket, Refusal> {
        let mut line = self.line.lock().expect("admission lock");
        if let Some(ip) = client {
            if line.per_client.get(&ip).copied().unwrap_or(0) >= self.limits.per_client {
                return Err(Refusal::ClientBusy { limit: self.limits.per_client });
            }
        }
        let free = self.slots.available_permits();
        if line.waiting.len() >= free + self.limits.max_queue {
            return Err(Refusal::QueueFull { running: self.limits.max_active - free, waiting: line.waiting.len() });
        }
        line.waiting.push_back(id.clone());
        if let Some(ip) = client {
            *line.per_client.entry(ip).or_default() += 1;
        }
        drop(line);
        self.changed.send_modify(|v| *v += 1);
        Ok(Ticket { admission: self.clone(), id: id.clone(), client })
    }

    /// 1-based place of `id` among the waiting runs, None once it runs.
    pub fn position(&self, id: &RunId) -> Option<usize> {
        let line = self.line.lock().expect("admission lock");
        line.waiting.iter().position(|w| w == id).map(|i| i + 1)
    }

    pub fn waiting(&self) -> usize {
        self.line.lock().expect("admission lock").waiting.len()
    }

    pub fn running(&self) -> usize {
        self.limits.max_active - self.slots.available_permits()
    }

    /// True when every slot is taken, so a run in line really waits.
    pub fn full(&self) -> bool {
        self.slots.available_permits() == 0
    }

    /// Wakes on every change of the waiting line.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn leave_line(&self, id: &RunId) {
        let mut line = self.line.lock().expect("admission lock");
        let before = line.waiting.len();
        line.waiting.retain(|w| w != id);
        let changed = line.waiting.len() != before;
        drop(line);
        if changed {
            self.changed.send_modify(|v| *v += 1);
        }
    }
}

impl Ticket {
    /// Waits for a slot, in arrival order; holds it until the permit drops.
    ///
    /// Only the run at the head of the line asks the semaphore for a slot:
    /// the semaphore is fair to whoever asks first, and tasks may first run
    /// in any order, so the line (not the scheduler) must decide who is next.
    pub async fn wait_turn(&self) -> OwnedSemaphorePermit {
        let mut changed = self.admission.changed.subscribe();
        loop {
            changed.borrow_and_update();
            if self.admission.position(&self.id) == Some(1) {
                let permit = self.admission.slots.clone().acquire_owned().await.expect("the slot semaphore is never closed");
                self.admission.leave_line(&self.id);
                return permit;
            }
            // The sender lives in the Admission we hold, so this cannot fail.
            let _ = changed.changed().await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.leave_line(&self.id);
        if let Some(ip) = self.client {
            let mut line = self.admission.line.lock().expect("admission lock");
            if let Some(n) = line.per_client.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    line.per_client.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_active: usize, max_queue: usize, per_client: usize) -> Limits {
        Limits { max_active, max_queue, per_client }
    }

    #[tokio::test]
    async fn runs_past_active_and_queue_are_refused_and_places_come_back() {
        let admission = Admission::new(limits(1, 1, 10));
        let (a, b, c) = (RunId::random(), RunId::random(), RunId::random());
        let ta = admission.reserve(&a, None).unwrap();
        let _slot = ta.wait_turn().await;
        let tb = admission.reserve(&b, None).unwrap();
        assert_eq!(admission.position(&b), Some(1));
        assert!(matches!(admission.reserve(&c, None), Err(Refusal::QueueFull { .. })));
        drop(tb);
        assert_eq!(admission.position(&b), None);
        assert!(admission.reserve(&c, None).is_ok());
    }

    #[test]
    fn one_client_is_capped_and_others_are_not() {
        let admission = Admission::new(limits(4, 4, 1));
        let me = ClientKey::of("10.0.0.1".parse().unwrap());
        let other = ClientKey::of("10.0.0.2".parse().unwrap());
        let t = admission.reserve(&RunId::random(), Some(me)).unwrap();
        assert_eq!(admission.reserve(&RunId::random(), Some(me)).err(), Some(Refusal::ClientBusy { limit: 1 }));
        assert!(admission.reserve(&RunId::random(), Some(other)).is_ok());
        drop(t);
        assert!(admission.reserve(&RunId::random(), Some(me)).is_ok());
    }

    #[tokio::test]
    async fn slots_are_handed_out_in_arrival_order() {
        let admission = Admission::new(limits(1, 10, 10));
        let first = admission.reserve(&RunId::random(), None).unwrap();
        let slot = first.wait_turn().await;
        let ids: Vec<RunId> = (0..3).map(|_| RunId::random()).collect();
        let tickets: Vec<Ticket> = ids.iter().map(|id| admission.reserve(id, None).unwrap()).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // Start the waits in reverse: the line, not who asks first, decides.
        for (i, ticket) in tickets.into_iter().enumerate().rev() {
            let tx = tx.clone();
            tokio::spawn(async move {
                let permit = ticket.wait_turn().await;
                tx.send(i).unwrap();
                drop(permit);
            });
            tokio::task::yield_now().await;
        }
        drop(slot);
        let order: Vec<usize> = [rx.recv().await.unwrap(), rx.recv().await.unwrap(), rx.recv().await.unwrap()].into();
        assert_eq!(order, vec![0, 1, 2]);
    }
}
