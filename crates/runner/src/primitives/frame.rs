//! Length-prefixed messages over a byte stream, as CPython's `Connection`
//! frames them: a 4-byte big-endian length, then the bytes.
//!
//! Pipes and sockets carry bytes, not messages; the prefix is what lets a
//! reader find where one message ends. It is also why two unsynchronised
//! writers can corrupt each other: once their bytes interleave, the reader's
//! idea of where a message starts is wrong from there on.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Largest message any reader accepts; a garbage length above it is an error,
/// never an allocation of gigabytes.
pub const MAX_FRAME: usize = 1 << 20;

/// The header and the payload, ready for one `write()`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Writes all of `bytes`, retrying partial writes and EINTR. A blocking pipe
/// write larger than PIPE_BUF may be split by the kernel and interleaved with
/// other writers' bytes; only a lock around this call prevents that.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: pointer and length come from a live slice; fd is borrowed open.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Fills `buf` completely. Returns how many bytes were read: less than
/// `buf.len()` only at end of stream.
pub fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: pointer and length come from a live mutable slice.
        let n = unsafe { libc::read(fd.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len()) };
        match n {
            0 => break,
            n if n > 0 => filled += n as usize,
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(filled)
}

/// Reads one message. `Ok(None)` at a clean end of stream.
pub fn read(fd: BorrowedFd<'_>) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match read_full(fd, &mut header)? {
        0 => return Ok(None),
        4 => {}
        _ => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a message header")),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("message length {len} is garbage")));
    }
    let mut payload = vec![0u8; len];
    if read_full(fd, &mut payload)? != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a message"));
    }
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn frames_round_trip_through_a_real_pipe_in_order() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let messages: Vec<Vec<u8>> = vec![b"4".to_vec(), Vec::new(), vec![7u8; 3000]];
        for m in &messages {
            write_all(w.as_fd(), &encode(m)).unwrap();
        }
        drop(w);
        for m in &messages {
            assert_eq!(read(r.as_fd()).unwrap().as_deref(), Some(m.as_slice()));
        }
        assert_eq!(read(r.as_fd()).unwrap(), None, "clean end of stream");
    }

    #[test]
    fn a_garbage_length_is_an_error_not_an_allocation() {
        let (r, w) = nix::unistd::pipe().unwrap();
        write_all(w.as_fd(), b"AAAAAAAA").unwrap();
        drop(w);
        assert_eq!(read(r.as_fd()).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
