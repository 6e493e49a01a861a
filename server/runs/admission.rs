//! Who runs now, who waits in line, and who is refused.
//!
//! A classroom presses Run in the same minute on a small server: at most
//! `max_active` runs execute at once, up to `max_queue` more wait, and one
//! client may hold at most `per_client` runs (running or waiting) and at most
//! `per_client_active` of the slots. Everything past that is refused at once,
//! with a reason, instead of piling up.
//!
//! The line is fair between clients, not one global FIFO: each client has its
//! own queue, and a freed slot goes to the waiting client served least
//! recently (round robin between clients; between clients never served, the
//! one waiting longest). So a client that fills every slot it may hold with
//! long runs delays another client's run by at most the time for one slot to
//! free up, never by its whole backlog.
//!
//! ```text
//! reserve ─▶ granted at once (a slot is free and the client is under its share)
//!        └─▶ its client's queue ── a slot frees ─▶ least recently served client ─▶ granted
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{ClientKey, RunId};

/// The bounds admission enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_active: usize,
    pub max_queue: usize,
    /// Runs one client may have running or waiting.
    pub per_client: usize,
    /// Slots one client may hold at once.
    pub per_client_active: usize,
}

impl Limits {
    /// A client's share of the slots by default: half of them (at least one),
    /// so one client can never hold them all.
    pub fn default_share(max_active: usize) -> usize {
        (max_active / 2).max(1)
    }
}

/// Why a run was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server is busy: {running} runs are running and {waiting} are waiting; try again shortly")]
    QueueFull { running: usize, waiting: usize },
    #[error("this client already has {limit} runs running or waiting; wait for one to finish")]
    ClientBusy { limit: usize },
    #[error("this client is starting runs too fast; try again in {retry_after_secs} s")]
    TooFast { retry_after_secs: u32 },
}

/// Whose runs these are; runs with no known client share one owner.
type Owner = Option<ClientKey>;

#[derive(Default)]
struct Line {
    /// Each client's runs waiting for a slot, oldest first, with the order
    /// they arrived in.
    queues: HashMap<Owner, VecDeque<(u64, RunId)>>,
    /// When each client holding runs was last given a slot (a count of
    /// grants); the least recently served goes next.
    served: HashMap<Owner, u64>,
    /// Slots held per client.
    running: HashMap<Owner, usize>,
    /// Runs held per client (running or waiting).
    held: HashMap<Owner, usize>,
    /// Slots handed out (granted, whether or not yet taken).
    busy: usize,
    /// Runs given a slot whose task has not taken it yet.
    granted: HashSet<RunId>,
    /// Counts arrivals and grants, for the orders above.
    arrivals: u64,
    grants: u64,
}

impl Line {
    fn waiting(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    fn may_run(&self, owner: &Owner, limits: &Limits) -> bool {
        self.running.get(owner).copied().unwrap_or(0) < limits.per_client_active
    }

    /// Whose turn it is among `clients`: the least recently served, then
    /// the one waiting longest.
    fn next_of<'a>(&self, clients: impl Iterator<Item = (&'a Owner, u64, u64)>) -> Option<Owner> {
        clients.min_by_key(|(_, served, oldest)| (*served, *oldest)).map(|(owner, _, _)| *owner)
    }

    fn queue(&mut self, owner: Owner, id: RunId) {
        self.arrivals += 1;
        let arrival = self.arrivals;
        self.queues.entry(owner).or_default().push_back((arrival, id));
    }

    /// Hands free slots to waiting runs, a client at a time, least recently
    /// served first. True when anything changed.
    fn dispatch(&mut self, limits: &Limits) -> bool {
        let mut changed = false;
        while self.busy < limits.max_active {
            let candidates = self
                .queues
                .iter()
                .filter(|(owner, _)| self.may_run(owner, limits))
                .map(|(owner, q)| (owner, self.served.get(owner).copied().unwrap_or(0), q.front().map_or(u64::MAX, |(a, _)| *a)));
            let Some(owner) = self.next_of(candidates) else { break };
            let queue = self.queues.get_mut(&owner).expect("a candidate has a queue");
            let (_, id) = queue.pop_front().expect("a candidate has a waiting run");
            if queue.is_empty() {
                self.queues.remove(&owner);
            }
            self.busy += 1;
            *self.running.entry(owner).or_default() += 1;
            self.grants += 1;
            self.served.insert(owner, self.grants);
            self.granted.insert(id);
            changed = true;
        }
        changed
    }

    /// Removes a waiting run; true if it was waiting.
    fn leave_queue(&mut self, owner: &Owner, id: &RunId) -> bool {
        let Some(queue) = self.queues.get_mut(owner) else { return false };
        let before = queue.len();
        queue.retain(|(_, w)| w != id);
        let left = queue.len() != before;
        if queue.is_empty() {
            self.queues.remove(owner);
        }
        left
    }

    fn release_slot(&mut self, owner: &Owner) {
        self.busy -= 1;
        if let Some(n) = self.running.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(owner);
            }
        }
    }

    /// 1-based place among the waiting runs in the order they would be
    /// given slots, were every client free to run.
    fn position(&self, owner: &Owner, id: &RunId) -> Option<usize> {
        let mine = self.queues.get(owner)?.iter().position(|(_, w)| w == id)?;
        let mut served: HashMap<Owner, u64> =
            self.queues.keys().map(|o| (*o, self.served.get(o).copied().unwrap_or(0))).collect();
        let mut taken: HashMap<Owner, usize> = HashMap::new();
        let mut grants = self.grants;
        for place in 1.. {
            let candidates = self.queues.iter().filter_map(|(o, q)| {
                let next = taken.get(o).copied().unwrap_or(0);
                q.get(next).map(|(arrival, _)| (o, served[o], *arrival))
            });
            let who = self.next_of(candidates)?;
            let next = taken.entry(who).or_default();
            if who == *owner && *next == mine {
                return Some(place);
            }
            *next += 1;
            grants += 1;
            served.insert(who, grants);
        }
        None
    }
}

pub struct Admission {
    limits: Limits,
    line: Mutex<Line>,
    /// Bumped whenever the line changes, so waiting runs see their turn and
    /// streams can show positions.
    changed: watch::Sender<u64>,
}

/// A run's place: in line, then granted a slot. Dropping it gives back
/// whatever it still holds.
pub struct Ticket {
    admission: Arc<Admission>,
    id: RunId,
    owner: Owner,
}

/// A slot held by a run; dropping it frees the slot for the next in turn.
pub struct Slot {
    admission: Arc<Admission>,
    owner: Owner,
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Self> {
        let limits = Limits {
            max_active: limits.max_active.max(1),
            per_client: limits.per_client.max(1),
            per_client_active: limits.per_client_active.max(1),
            ..limits
        };
        Arc::new(Admission { limits, line: Mutex::default(), changed: watch::Sender::new(0) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Line> {
        self.line.lock().expect("admission lock")
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Takes a place for run `id` of `client`, or refuses.
    pub fn reserve(self: &Arc<Self>, id: &RunId, client: Option<ClientKey>) -> Result<Ticket, Refusal> {
        let mut line = self.lock();
        if client.is_some() && line.held.get(&client).copied().unwrap_or(0) >= self.limits.per_client {
            return Err(Refusal::ClientBusy { limit: self.limits.per_client });
        }
        // A free slot with runs still waiting means every waiting client is at
        // its share: this run would take it at once, so the line's size
        // does not matter to it.
        let runs_now = line.busy < self.limits.max_active && line.may_run(&client, &self.limits);
        let waiting = line.waiting();
        if !runs_now && waiting >= self.limits.max_queue {
            return Err(Refusal::QueueFull { running: line.busy, waiting });
        }
        *line.held.entry(client).or_default() += 1;
        line.queue(client, id.clone());
        line.dispatch(&self.limits);
        drop(line);
        self.bump();
        Ok(Ticket { admission: self.clone(), id: id.clone(), owner: client })
    }

    /// 1-based place of `id` among the waiting runs, None once it has a slot.
    pub fn position(&self, id: &RunId, client: Option<ClientKey>) -> Option<usize> {
        self.lock().position(&client, id)
    }

    pub fn waiting(&self) -> usize {
        self.lock().waiting()
    }

    pub fn running(&self) -> usize {
        self.lock().busy
    }

    /// Wakes on every change of the line.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

impl Ticket {
    /// Waits until this run is given a slot; it holds the slot until the
    /// returned [`Slot`] drops.
    pub async fn wait_turn(&self) -> Slot {
        let mut changed = self.admission.changed.subscribe();
        loop {
            changed.borrow_and_update();
            if self.admission.lock().granted.remove(&self.id) {
                return Slot { admission: self.admission.clone(), owner: self.owner };
            }
            // The sender lives in the Admission we hold, so this cannot fail.
            let _ = changed.changed().await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let limits = self.admission.limits;
        let mut line = self.admission.lock();
        let mut changed = line.leave_queue(&self.owner, &self.id);
        // Given a slot it never took (it was cancelled or timed out just then).
        if line.granted.remove(&self.id) {
            line.release_slot(&self.owner);
            changed = true;
        }
        if let Some(n) = line.held.get_mut(&self.owner) {
            *n -= 1;
            if *n == 0 {
                // Holding nothing, it has no backlog for others to go before.
                line.held.remove(&self.owner);
                line.served.remove(&self.owner);
            }
        }
        changed |= line.dispatch(&limits);
        drop(line);
        if changed {
            self.admission.bump();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let limits = self.admission.limits;
        let mut line = self.admission.lock();
        line.release_slot(&self.owner);
        line.dispatch(&limits);
        drop(line);
        self.admission.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_active: usize, max_queue: usize, per_client: usize, per_client_active: usize) -> Limits {
        Limits { max_active, max_queue, per_client, per_client_active }
    }

    fn client(n: u8) -> Option<ClientKey> {
        Some(ClientKey::of(std::net::IpAddr::from([10, 0, 0, n])))
    }

    /// Reserves and, when granted at once, takes the slot.
    async fn started(admission: &Arc<Admission>, who: Option<ClientKey>) -> (Ticket, Option<Slot>) {
        let id = RunId::random();
        let ticket = admission.reserve(&id, who).unwrap();
        let slot = if admission.position(&id, who).is_none() { Some(ticket.wait_turn().await) } else { None };
        (ticket, slot)
    }

    #[tokio::test]
    async fn runs_past_active_and_queue_are_refused_and_places_come_back() {
        let admission = Admission::new(limits(1, 1, 10, 1));
        let (a, b, c) = (RunId::random(), RunId::random(), RunId::random());
        let ta = admission.reserve(&a, None).unwrap();
        let _slot = ta.wait_turn().await;
        let tb = admission.reserve(&b, None).unwrap();
        assert_eq!(admission.position(&b, None), Some(1));
        assert!(matches!(admission.reserve(&c, None), Err(Refusal::QueueFull { .. })));
        drop(tb);
        assert_eq!(admission.position(&b, None), None);
        assert!(admission.reserve(&c, None).is_ok());
    }

    #[test]
    fn one_client_is_capped_and_others_are_not() {
        let admission = Admission::new(limits(4, 4, 1, 2));
        let t = admission.reserve(&RunId::random(), client(1)).unwrap();
        assert_eq!(admission.reserve(&RunId::random(), client(1)).err(), Some(Refusal::ClientBusy { limit: 1 }));
        assert!(admission.reserve(&RunId::random(), client(2)).is_ok());
        drop(t);
        assert!(admission.reserve(&RunId::random(), client(1)).is_ok());
    }

    #[tokio::test]
    async fn one_client_holds_at_most_its_share_of_the_slots() {
        let admission = Admission::new(limits(2, 10, 10, 1));
        let (_a, slot_a) = started(&admission, client(1)).await;
        assert!(slot_a.is_some());
        // Its second run waits though a slot is free: the free slot is the others'.
        let second = RunId::random();
        let _b = admission.reserve(&second, client(1)).unwrap();
        assert_eq!(admission.position(&second, client(1)), Some(1));
        assert_eq!(admission.running(), 1);
        let (_c, slot_c) = started(&admission, client(2)).await;
        assert!(slot_c.is_some(), "another client's run takes the free slot at once");
        drop(slot_a);
        assert_eq!(admission.position(&second, client(1)), None, "its own slot freed: its next run goes");
    }

    #[tokio::test]
    async fn freed_slots_go_round_robin_between_clients_not_first_come() {
        let admission = Admission::new(limits(1, 20, 20, 1));
        let (_first, slot) = started(&admission, client(9)).await;
        // Client 1 queues three runs before clients 2 and 3 queue one each.
        let mut order = Vec::new();
        for who in [1, 1, 1, 2, 3] {
            let id = RunId::random();
            order.push((who, id.clone(), admission.reserve(&id, client(who)).unwrap()));
        }
        let places: Vec<usize> = order.iter().map(|(who, id, _)| admission.position(id, client(*who)).unwrap()).collect();
        assert_eq!(places, [1, 4, 5, 2, 3], "1, then 2 and 3, then 1's others");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (who, _, ticket) in order {
            let tx = tx.clone();
            tokio::spawn(async move {
                let slot = ticket.wait_turn().await;
                tx.send(who).unwrap();
                drop(slot);
                drop(ticket);
            });
        }
        drop(slot);
        let mut served = Vec::new();
        for _ in 0..5 {
            served.push(rx.recv().await.unwrap());
        }
        assert_eq!(served, [1, 2, 3, 1, 1]);
    }

    #[tokio::test]
    async fn a_slot_granted_to_a_run_that_left_goes_to_the_next() {
        let admission = Admission::new(limits(1, 10, 10, 1));
        let (_first, slot) = started(&admission, client(1)).await;
        let (gone, next) = (RunId::random(), RunId::random());
        let gone_ticket = admission.reserve(&gone, client(2)).unwrap();
        let _next_ticket = admission.reserve(&next, client(3)).unwrap();
        drop(slot);
        // `gone` was granted the slot, then dropped before taking it.
        assert_eq!(admission.position(&gone, client(2)), None);
        drop(gone_ticket);
        assert_eq!(admission.position(&next, client(3)), None, "the slot passed on");
        assert_eq!(admission.running(), 1);
    }
}
