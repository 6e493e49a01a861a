//! Handing a run to a runner: one message on the runner's stdin, a unix
//! socket, carrying the run's spec (one JSON line) and the run's event ring
//! (a file descriptor, passed with SCM_RIGHTS).
//!
//! Passing the ring this way, rather than placing it at a fixed fd number
//! before exec, keeps the runner's start a plain `posix_spawn`: placing an fd
//! needs a `pre_exec` hook, which makes the standard library fork the whole
//! multi-threaded server instead, stalling it for milliseconds per run.
//! Closing the socket without a message tells an idle spare runner that no
//! run is coming. A runner started by hand may get its spec on a plain pipe
//! instead; it then has no ring and writes its events to stdout.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Sends `line` and `fd` over `socket` (the server's end).
pub fn send(socket: BorrowedFd<'_>, line: &[u8], fd: RawFd) -> std::io::Result<()> {
    let fds = [fd];
    let mut sent = sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(line)], &[ControlMessage::ScmRights(&fds)], MsgFlags::MSG_NOSIGNAL, None)?;
    // A spec is far smaller than the socket's buffer, so this loop is only
    // for form: the rest goes without the fd, which travelled with the first byte.
    while sent < line.len() {
        sent += sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(&line[sent..])], &[], MsgFlags::MSG_NOSIGNAL, None)?;
    }
    Ok(())
}

/// Reads one line of at most `max` bytes from `socket` (the runner's end),
/// and the fd sent with it, if any. An empty line means the socket closed
/// without a run.
pub fn receive(socket: BorrowedFd<'_>, max: usize) -> std::io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fd = None;
    let mut chunk = [0u8; 4096];
    while !line.ends_with(b"\n") && line.len() < max {
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut chunk)];
        let n = match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(message) => {
                for control in message.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(received) = control {
                        for raw in received {
                            // SAFETY: the kernel just installed this fd for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            // Only the first is the ring; any other is closed here.
                            fd.get_or_insert(owned);
                        }
                    }
                }
                message.bytes
            }
            // A runner started by hand, its spec piped in: no ring comes.
            Err(nix::errno::Errno::ENOTSOCK) => nix::unistd::read(socket.as_raw_fd(), &mut chunk)?,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        line.extend_from_slice(&chunk[..n]);
    }
    Ok((line, fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_line_and_the_fd_arrive_together() {
        let (server, runner) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        send(server.as_fd(), b"{\"demo\":\"x\"}\n", file.as_raw_fd()).unwrap();
        drop(server);
        let (line, fd) = receive(runner.as_fd(), 1024).unwrap();
        assert_eq!(line, b"{\"demo\":\"x\"}\n");
        let fd = fd.expect("an fd came along");
        assert_ne!(fd.as_raw_fd(), file.as_raw_fd(), "a new descriptor in the receiver");
    }

    #[test]
    fn a_spec_on_a_plain_pipe_comes_without_a_ring() {
        let (read, write) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&write, b"{}\n").unwrap();
        drop(write);
        let (line, fd) = receive(read.as_fd(), 1024).unwrap();
        assert_eq!((line.as_slice(), fd.is_none()), (&b"{}\n"[..], true));
    }

    #[test]
    fn a_closed_socket_means_no_run() {
        let (server, runner) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(server);
        let (line, fd) = receive(runner.as_fd(), 1024).unwrap();
        assert!(line.is_empty() && fd.is_none());
    }
}
