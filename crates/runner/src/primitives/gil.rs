//! A model of CPython's global interpreter lock, on real threads.
//!
//! The `gil` demo needs threads that take turns the way CPython's do, yet
//! forkline runs no Python. So the lock is rebuilt after CPython's own
//! (`Python/ceval_gil.c`, "new GIL" since 3.2, with FORCE_SWITCHING):
//!
//! * a thread that wants the lock waits on a condition variable for at most
//!   the *switch interval* (`sys.setswitchinterval`, 5 ms by default);
//! * if the interval passed and the lock changed hands in the meantime, it
//!   waits again; if not, it sets a *drop request*;
//! * the holder looks at the request between chunks of work (CPython: the
//!   "eval breaker", between bytecodes), releases the lock, and then waits
//!   until another thread has actually taken it, so it cannot grab it back
//!   at once;
//! * the new holder clears the request;
//! * a thread that sleeps (or does I/O) releases the lock first.
//!
//! Every step is reported as a `gil` event so the page can draw the hand-offs.
//! It is a model: the mechanism is CPython's, the threads are real, but no
//! Python bytecode runs under it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use forkline_core::clock::current_tid;
use forkline_core::event::{Body, GilPhase, Phase};
use crate::primitives::emit::emit;

/// The modelled interpreter lock of one "interpreter" (one process).
pub struct Gil {
    state: Mutex<State>,
    /// Signalled when the lock is released: the waiters' `gil->cond`.
    released: Condvar,
    /// Signalled when the lock is taken: `gil->switch_cond`, on which a holder
    /// forced to drop waits until someone else got it.
    taken: Condvar,
    /// `gil_drop_request`: read by the holder without the mutex, on every check.
    drop_request: AtomicBool,
    interval: Duration,
    stats: Counters,
}

#[derive(Default)]
struct State {
    locked: bool,
    /// tid of the last thread that took the lock, 0 before the first.
    last_holder: i32,
    /// Bumped each time the lock changes hands: a waiter whose interval ran
    /// out only asks for a drop if no switch happened meanwhile.
    switch_number: u64,
}

#[derive(Default)]
struct Counters {
    acquisitions: AtomicU64,
    handoffs: AtomicU64,
    drop_requests: AtomicU64,
    forced_drops: AtomicU64,
}

/// What happened to a [`Gil`] over its life, for the demo's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GilStats {
    /// Times any thread took the lock.
    pub acquisitions: u64,
    /// Times it was taken by a different thread than the one before.
    pub handoffs: u64,
    /// Drop requests set by a waiter whose switch interval ran out.
    pub drop_requests: u64,
    /// Times a holder released the lock because of a drop request.
    pub forced_drops: u64,
}

impl Gil {
    pub fn new(switch_interval: Duration) -> Self {
        Gil {
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            taken: Condvar::new(),
            drop_request: AtomicBool::new(false),
            interval: switch_interval,
            stats: Counters::default(),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the mutex leaves State consistent (every
        // update is a plain store), so a poisoned mutex is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `take_gil`: blocks until the calling thread holds the lock.
    pub fn take(&self) {
        let me = current_tid();
        let mut st = self.lock_state();
        if st.locked {
            emit(Body::Gil { phase: GilPhase::Wait });
            while st.locked {
                let saved = st.switch_number;
                let (guard, wait) = self.released.wait_timeout(st, self.interval).unwrap_or_else(|p| p.into_inner());
                st = guard;
                if wait.timed_out() && st.locked && st.switch_number == saved && !self.drop_request.swap(true, Ordering::AcqRel) {
                    self.stats.drop_requests.fetch_add(1, Ordering::Relaxed);
                    emit(Body::Gil { phase: GilPhase::DropRequest });
                }
            }
        }
        st.locked = true;
        if st.last_holder != me {
            if st.last_holder != 0 {
                self.stats.handoffs.fetch_add(1, Ordering::Relaxed);
            }
            st.last_holder = me;
            st.switch_number += 1;
        }
        self.stats.acquisitions.fetch_add(1, Ordering::Relaxed);
        // The request, if any, was meant for the previous holder and is now
        // served: CPython's new holder resets it the same way.
        self.drop_request.store(false, Ordering::Release);
        self.taken.notify_all();
        // Emitted while the mutex is still held, so the page never sees this
        // acquire before the release that made it possible.
        emit(Body::Gil { phase: GilPhase::Acquire });
    }

    /// `drop_gil`: the holder lets go and wakes one waiter.
    pub fn release(&self) {
        let mut st = self.lock_state();
        emit(Body::Gil { phase: GilPhase::Release });
        st.locked = false;
        self.released.notify_one();
    }

    /// True when a waiter has asked the holder to let go.
    pub fn drop_requested(&self) -> bool {
        self.drop_request.load(Ordering::Acquire)
    }

    /// What the holder does on seeing a drop request: release, wait until
    /// another thread has taken the lock, then queue up for it again.
    pub fn yield_to_waiter(&self) {
        let me = current_tid();
        self.stats.forced_drops.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock_state();
        emit(Body::Gil { phase: GilPhase::Release });
        st.locked = false;
        self.released.notify_one();
        // Wait until a waiter has actually taken the lock. One surely will:
        // the request came from a thread that leaves `take` only by taking it.
        // Without this wait the releasing thread, still on its CPU, would
        // usually win the lock straight back (CPython's FORCE_SWITCHING).
        st = self.taken.wait_while(st, |s| s.last_holder == me).unwrap_or_else(|p| p.into_inner());
        drop(st);
        self.take();
    }

    /// `time.sleep(ms)` under the GIL: sleeping releases the lock, so other
    /// threads run meanwhile, and the sleeper queues for it again afterwards.
    pub fn sleep_ms(&self, ms: u64) {
        self.release();
        emit(Body::Sleep { phase: Phase::Begin, ms: Some(ms) });
        std::thread::sleep(Duration::from_millis(ms));
        emit(Body::Sleep { phase: Phase::End, ms: None });
        self.take();
    }

    pub fn stats(&self) -> GilStats {
        GilStats {
            acquisitions: self.stats.acquisitions.load(Ordering::Relaxed),
            handoffs: self.stats.handoffs.load(Ordering::Relaxed),
            drop_requests: self.stats.drop_requests.load(Ordering::Relaxed),
            forced_drops: self.stats.forced_drops.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn two_busy_threads_hand_the_lock_over_at_the_switch_interval() {
        crate::primitives::emit::set_enabled(false);
        let gil = Arc::new(Gil::new(Duration::from_millis(1)));
        let busy = |gil: Arc<Gil>| {
            move || {
                gil.take();
                let until = std::time::Instant::now() + Duration::from_millis(30);
                while std::time::Instant::now() < until {
                    if gil.drop_requested() {
                        gil.yield_to_waiter();
                    }
                }
                gil.release();
            }
        };
        let a = std::thread::spawn(busy(gil.clone()));
        let b = std::thread::spawn(busy(gil.clone()));
        a.join().unwrap();
        b.join().unwrap();
        let stats = gil.stats();
        assert!(stats.handoffs >= 2, "{stats:?}");
        assert!(stats.drop_requests >= 1, "{stats:?}");
        assert!(!gil.lock_state().locked);
    }
}
