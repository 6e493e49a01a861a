//! Memory that stays shared across `fork()`: an anonymous `MAP_SHARED` mapping.
//!
//! Ordinary memory is copied on write after a fork, so a child's changes never
//! reach its parent (the lesson's "every process has its own address space").
//! `multiprocessing.Value`, its `Lock` and the bookkeeping of a `Queue` live
//! in memory mapped shared *before* the fork instead; this module is that.
//!
//! What goes in must be plain data that means the same in every process: no
//! heap pointers, no file descriptors. Atomics, integers and process-shared
//! pthread objects qualify; that is what [`ShmSafe`] promises.

use std::io;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};

/// Types that may live in shared memory: valid when all bytes are zero and
/// free of pointers into one process's private memory.
///
/// # Safety
/// Implement only for types for which the all-zero bit pattern is a valid
/// value and which hold no pointer, reference or handle private to a process.
pub unsafe trait ShmSafe: Sync {}

// SAFETY: atomics of integers are valid at zero and hold no pointers.
unsafe impl ShmSafe for AtomicU64 {}
// SAFETY: as above.
unsafe impl ShmSafe for AtomicU32 {}
// SAFETY: as above.
unsafe impl ShmSafe for AtomicI64 {}

/// `len` values of `T` in one shared mapping, zero-initialised by the kernel.
/// Created in the parent before it forks; every child sees the same pages.
pub struct Shared<T: ShmSafe> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: T is Sync (ShmSafe requires it), and the mapping lives as long as
// the handle, so sharing the handle between threads shares only `&T`s.
unsafe impl<T: ShmSafe> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: ShmSafe> Sync for Shared<T> {}

impl<T: ShmSafe> Shared<T> {
    /// One zeroed `T` in shared memory.
    pub fn zeroed() -> io::Result<Self> {
        Self::zeroed_slice(1)
    }

    /// `len` zeroed `T`s in shared memory.
    pub fn zeroed_slice(len: usize) -> io::Result<Self> {
        let len = len.max(1);
        let bytes = std::mem::size_of::<T>().checked_mul(len).ok_or_else(|| io::Error::other("mapping too large"))?;
        // SAFETY: an anonymous mapping with no address hint touches no existing
        // memory; the result is checked against MAP_FAILED below. mmap returns
        // page-aligned memory, which satisfies any T's alignment.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes.max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(raw.cast::<T>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Shared { ptr, len })
    }

    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the mapping holds `len` zero-initialised T's, valid at zero
        // (ShmSafe), and outlives the borrow of self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapping's address: the same in parent and children (fork keeps it).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

impl<T: ShmSafe> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.as_slice()[0]
    }
}

impl<T: ShmSafe> Drop for Shared<T> {
    fn drop(&mut self) {
        let bytes = (std::mem::size_of::<T>() * self.len).max(1);
        // SAFETY: unmaps exactly the mapping made in zeroed_slice; no borrow of
        // it can outlive self. Children that still map it keep their own view.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_childs_write_reaches_the_parent() {
        let shared = Shared::<AtomicU64>::zeroed().unwrap();
        let private = AtomicU64::new(0);
        // SAFETY: the test child only stores to memory and calls _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                shared.store(42, Ordering::SeqCst);
                private.store(42, Ordering::SeqCst);
                // SAFETY: leaves the forked test child without running the harness.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
        }
        assert_eq!(shared.load(Ordering::SeqCst), 42);
        assert_eq!(private.load(Ordering::SeqCst), 0, "private memory is copied, not shared");
    }
}
