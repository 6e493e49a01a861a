//! Shared memory the server hands to a run: a memfd of a fixed size, sealed
//! so that the runner it goes to can neither shrink it (which would turn the
//! server's next access of its own mapping into SIGBUS), grow it, nor unseal
//! it. The event ring and a stepped run's gates are made so.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A new memfd named `name` (as /proc shows it) of `len` bytes, zeroed and sealed.
pub fn sealed(name: &CStr, len: usize) -> std::io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new fd that we now own.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain ftruncate/fcntl calls on our own fd.
    unsafe {
        if libc::ftruncate(memfd.as_raw_fd(), len as libc::off_t) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        if libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, seals) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(memfd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_memfd_cannot_be_shrunk_or_grown() {
        let fd = sealed(c"forkline-test", 8192).unwrap();
        let len = |fd: &OwnedFd| std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap().len();
        assert_eq!(len(&fd), 8192);
        // SAFETY: ftruncate on our own fd; each must fail with EPERM.
        let shrink = unsafe { libc::ftruncate(fd.as_raw_fd(), 0) };
        let grow = unsafe { libc::ftruncate(fd.as_raw_fd(), 1 << 20) };
        assert_eq!((shrink, grow), (-1, -1));
        assert_eq!(len(&fd), 8192);
    }
}
