//! `multiprocessing.Lock()`: a lock that works between processes.
//!
//! A `std::sync::Mutex` lives in one process's memory and is copied, not
//! shared, by fork. CPython's Lock is a POSIX semaphore in shared memory; ours
//! is a pthread mutex marked `PTHREAD_PROCESS_SHARED`, placed in a
//! [`Shared`] mapping before the fork, so every process locks the same object.
//! It is also robust: if a holder dies, the next locker takes it over instead
//! of waiting forever.
//!
//! [`RawLock`] is the bare mutex (a Queue's internal writer lock, which the
//! lesson never shows); [`Lock`] is the one a program names and uses, and it
//! reports `lock` wait/acquire/release events.

use std::cell::UnsafeCell;
use std::io;

use forkline_core::event::{Body, LockPhase, Text};
use crate::primitives::emit::emit;
use crate::primitives::step;
use crate::primitives::shm::{Shared, ShmSafe};

/// A process-shared pthread mutex. Only meaningful inside a [`Shared`] mapping.
pub struct RawLock(UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made to be used from many threads at once; all
// access goes through pthread calls.
unsafe impl Sync for RawLock {}
// SAFETY: zero bytes are a valid (if uninitialised) pthread_mutex_t on Linux
// and it holds no pointers once PTHREAD_PROCESS_SHARED; `new_shared` initialises it.
unsafe impl ShmSafe for RawLock {}

impl RawLock {
    /// A new unlocked process-shared mutex in its own shared mapping.
    pub fn new_shared() -> io::Result<Shared<RawLock>> {
        let shm = Shared::<RawLock>::zeroed()?;
        // SAFETY: the attribute object is initialised before use and destroyed
        // after; the mutex is in a live shared mapping nobody else uses yet.
        let rc = unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            let rc = libc::pthread_mutex_init(shm.0.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
            rc
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(shm)
    }

    /// Blocks until this process holds the lock.
    pub fn lock(&self) {
        loop {
            // SAFETY: the mutex was initialised by new_shared and lives as long as self.
            match unsafe { libc::pthread_mutex_lock(self.0.get()) } {
                0 => return,
                // The previous holder died holding it; we hold it now. Whatever
                // it guarded may be half-updated, which the demos report anyway.
                libc::EOWNERDEAD => {
                    // SAFETY: we hold the mutex (EOWNERDEAD says so).
                    unsafe { libc::pthread_mutex_consistent(self.0.get()) };
                    return;
                }
                libc::EINTR | libc::EAGAIN => continue,
                // Only a bug (an uninitialised mutex) gets here; spinning or
                // panicking would hide it, so fail the process loudly.
                rc => panic!("pthread_mutex_lock failed: {}", io::Error::from_raw_os_error(rc)),
            }
        }
    }

    /// Releases the lock; the caller must hold it.
    pub fn unlock(&self) {
        // SAFETY: initialised mutex; unlocking one we hold is always valid.
        unsafe { libc::pthread_mutex_unlock(self.0.get()) };
    }
}

/// `multiprocessing.Lock()`, named on the timeline, reporting every wait.
pub struct Lock {
    raw: Shared<RawLock>,
    name: Text,
}

impl Lock {
    /// Must be created before the processes that share it are forked.
    pub fn new(name: impl Into<Text>) -> io::Result<Lock> {
        Ok(Lock { raw: RawLock::new_shared()?, name: name.into() })
    }

    /// `lock.acquire()`: a `wait` event, the real wait, then `acquire`.
    pub fn acquire(&self) {
        step::before("lock:acquire", || format!("acquire {}", self.name));
        emit(Body::Lock { phase: LockPhase::Wait, lock: self.name.clone() });
        self.raw.lock();
        emit(Body::Lock { phase: LockPhase::Acquire, lock: self.name.clone() });
    }

    /// `lock.release()`. The event is written while still holding the lock, so
    /// on the timeline a release always comes before the next holder's acquire.
    pub fn release(&self) {
        step::before("lock:release", || format!("release {}", self.name));
        emit(Body::Lock { phase: LockPhase::Release, lock: self.name.clone() });
        self.raw.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn the_lock_excludes_a_forked_child() {
        let lock = RawLock::new_shared().unwrap();
        let counter = Shared::<AtomicU64>::zeroed().unwrap();
        let bump = |n: u64| {
            for _ in 0..n {
                lock.lock();
                // A deliberately split read-modify-write: only the lock keeps it whole.
                let v = counter.load(Ordering::Relaxed);
                std::hint::spin_loop();
                counter.store(v + 1, Ordering::Relaxed);
                lock.unlock();
            }
        };
        // SAFETY: the child only touches shared memory and the mutex, then _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                bump(20_000);
                // SAFETY: leaves the forked test child without running the harness.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                bump(20_000);
                nix::sys::wait::waitpid(child, None).unwrap();
            }
        }
        assert_eq!(counter.load(Ordering::SeqCst), 40_000);
    }
}
