//! The gates of a stepped run: one per traced thread, in a page of shared
//! memory the server and every process of the run map, so the server can let
//! exactly one thread perform its next operation.
//!
//! ```text
//! server: memfd (sealed), handed over with the run beside the event ring
//!
//! offset 0            free:  u32   1 once the student pressed "Run freely"
//! offset 64 + 64·i    slot i: tid u32 (0 = unclaimed), grant u32, used u32
//! ```
//!
//! A thread about to perform a traced operation claims a slot once (its tid,
//! by compare-and-swap), reports the operation as a `step.pending` event
//! naming its slot, and sleeps on its slot's `grant` word with a futex until
//! the server adds one to it (a step) or sets `free`. `used` counts the
//! grants the thread has spent, so a grant that came before the thread went
//! to sleep is not lost, and one grant lets exactly one operation through.
//! Waiting costs no CPU: the thread is in the kernel's futex queue.
//!
//! The futex is not private (`FUTEX_WAIT`, not `FUTEX_WAIT_PRIVATE`): the
//! waiter and the waker are different processes sharing the page, and the
//! kernel keys a shared futex by the page itself.
//!
//! The server trusts nothing in the page: it only adds to `grant` words of
//! slots it checked are in range and sets `free`; what a runner scribbles
//! there can at worst stall that runner's own run, which its limits end.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// The page the gates live in.
const LEN: usize = 4096;
/// Each slot (and the header) on its own cache line, so a thread spinning
/// through its own word never contends with another's.
const LINE: usize = 64;
/// Threads and processes of one stepped run that can hold a gate: a native
/// demo has at most a few dozen.
pub const SLOTS: usize = LEN / LINE - 1;

/// The gate page, mapped.
pub struct Gates {
    base: NonNull<u8>,
    memfd: OwnedFd,
}

// SAFETY: the mapping is only reached through atomics, from any thread.
unsafe impl Send for Gates {}
// SAFETY: as above.
unsafe impl Sync for Gates {}

impl Gates {
    /// A new page of closed gates, in a sealed memfd (the server's side).
    pub fn create() -> std::io::Result<Gates> {
        Gates::from_fd(crate::memfd::sealed(c"forkline-gates", LEN)?)
    }

    /// Maps a gate page the server handed over (the runner's side).
    pub fn from_fd(memfd: OwnedFd) -> std::io::Result<Gates> {
        // SAFETY: a shared mapping of our own descriptor's first page; the
        // file is at least that long (ftruncate above; a short file would
        // fail here, or fault only the runner that brought it).
        let p = unsafe { libc::mmap(std::ptr::null_mut(), LEN, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, memfd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast()).ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(Gates { base, memfd })
    }

    /// The descriptor to hand to the runner.
    pub fn fd(&self) -> RawFd {
        self.memfd.as_raw_fd()
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset + 4 <= LEN && offset % 4 == 0);
        // SAFETY: in bounds of the live mapping, aligned, and only ever
        // accessed atomically by every party.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn free_word(&self) -> &AtomicU32 {
        self.word(0)
    }

    fn tid_word(&self, slot: usize) -> &AtomicU32 {
        self.word(LINE * (slot + 1))
    }

    fn grant_word(&self, slot: usize) -> &AtomicU32 {
        self.word(LINE * (slot + 1) + 4)
    }

    fn used_word(&self, slot: usize) -> &AtomicU32 {
        self.word(LINE * (slot + 1) + 8)
    }

    /// Whether every gate stands open for good.
    pub fn is_free(&self) -> bool {
        self.free_word().load(Ordering::Acquire) != 0
    }

    /// In a runner's thread: the slot of thread `tid`, claimed on first use;
    /// `None` once every slot is taken (that thread then runs ungated).
    pub fn claim(&self, tid: i32) -> Option<usize> {
        let tid = tid as u32;
        (0..SLOTS).find(|&slot| {
            let word = self.tid_word(slot);
            match word.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => true,
                Err(owner) => owner == tid,
            }
        })
    }

    /// In a runner's thread: sleeps until the server lets `slot` through
    /// once, or lets every gate go.
    pub fn wait(&self, slot: usize) {
        let grant = self.grant_word(slot);
        let used = self.used_word(slot).load(Ordering::Relaxed);
        loop {
            if self.is_free() {
                return;
            }
            let granted = grant.load(Ordering::Acquire);
            if granted != used {
                // Only the slot's own thread writes `used`.
                self.used_word(slot).store(used.wrapping_add(1), Ordering::Relaxed);
                return;
            }
            // Sleeps only while the word still reads `granted`: a grant that
            // lands between the load and the sleep makes this return at once.
            futex_wait(grant, granted);
        }
    }

    /// In the server: lets `slot`'s thread perform one operation. False for
    /// a slot that does not exist.
    pub fn open(&self, slot: usize) -> bool {
        if slot >= SLOTS {
            return false;
        }
        self.grant_word(slot).fetch_add(1, Ordering::AcqRel);
        futex_wake(self.grant_word(slot));
        true
    }

    /// In the server: opens every gate for good ("Run freely", or a run
    /// ending). Each grant word changes too, so a thread between reading
    /// `free` and going to sleep cannot sleep through it.
    pub fn open_all(&self) {
        self.free_word().store(1, Ordering::Release);
        for slot in 0..SLOTS {
            self.grant_word(slot).fetch_add(1, Ordering::AcqRel);
            futex_wake(self.grant_word(slot));
        }
    }
}

impl Drop for Gates {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what from_fd mapped; no reference outlives self.
        unsafe { libc::munmap(self.base.as_ptr().cast(), LEN) };
    }
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: a futex wait on a live, aligned word with no timeout; every
    // error (EAGAIN: the word changed; EINTR) just sends the caller round
    // its loop again.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, std::ptr::null::<libc::timespec>(), 0usize, 0u32);
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: wakes the waiters of a live, aligned word.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX, std::ptr::null::<libc::timespec>(), 0usize, 0u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_thread_claims_one_slot_and_keeps_it() {
        let gates = Gates::create().unwrap();
        let a = gates.claim(101).unwrap();
        let b = gates.claim(202).unwrap();
        assert_ne!(a, b);
        assert_eq!(gates.claim(101), Some(a));
    }

    #[test]
    fn slots_run_out_rather_than_overflow() {
        let gates = Gates::create().unwrap();
        for tid in 1..=SLOTS as i32 {
            assert!(gates.claim(tid).is_some());
        }
        assert_eq!(gates.claim(SLOTS as i32 + 1), None);
        assert!(!gates.open(SLOTS), "no slot past the page");
    }

    #[test]
    fn one_grant_lets_one_operation_through_even_if_it_came_first() {
        let gates = Arc::new(Gates::create().unwrap());
        let slot = gates.claim(7).unwrap();
        let passed = Arc::new(AtomicUsize::new(0));
        // A grant before the wait is kept, not lost.
        gates.open(slot);
        let waiter = {
            let (gates, passed) = (gates.clone(), passed.clone());
            std::thread::spawn(move || {
                for _ in 0..3 {
                    gates.wait(slot);
                    passed.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(passed.load(Ordering::SeqCst), 1, "the early grant let exactly one through");
        gates.open(slot);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(passed.load(Ordering::SeqCst), 2);
        gates.open_all();
        waiter.join().unwrap();
        assert_eq!(passed.load(Ordering::SeqCst), 3);
        assert!(gates.is_free());
    }

    #[test]
    fn the_gate_works_across_a_fork_through_the_shared_page() {
        let gates = Gates::create().unwrap();
        let slot = gates.claim(99).unwrap();
        let (mut read, write) = nix::unistd::pipe().unwrap();
        let _ = &mut read;
        // SAFETY: the child waits on the gate, writes one byte and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                gates.wait(slot);
                let _ = nix::unistd::write(&write, b"x");
                // SAFETY: leave without the test harness's destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(write);
                std::thread::sleep(Duration::from_millis(30));
                let mut poll = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&read), nix::poll::PollFlags::POLLIN)];
                let ready = nix::poll::poll(&mut poll, nix::poll::PollTimeout::ZERO).unwrap();
                gates.open(slot);
                let mut byte = [0u8; 1];
                let n = nix::unistd::read(read.as_raw_fd(), &mut byte).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!((ready, n), (0, 1), "the child passed only once the gate opened");
            }
        }
    }
}
