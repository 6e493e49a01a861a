//! Handing a run to a runner: one message on the runner's stdin, a unix
//! socket, carrying the run's spec (one JSON line) and the run's shared
//! memory — its event ring and, for a stepped run, its gates — as file
//! descriptors passed with SCM_RIGHTS, in that order.
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

/// The most descriptors one hand-off carries: the ring and the gates.
pub const MAX_FDS: usize = 2;

/// Sends `line` and `fds` (at most [`MAX_FDS`]) over `socket` (the server's end).
pub fn send(socket: BorrowedFd<'_>, line: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    debug_assert!(fds.len() <= MAX_FDS);
    let mut sent = sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(line)], &[ControlMessage::ScmRights(fds)], MsgFlags::MSG_NOSIGNAL, None)?;
    // A spec is far smaller than the socket's buffer, so this loop is only
    // for form: the rest goes without the fds, which travelled with the first byte.
    while sent < line.len() {
        sent += sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(&line[sent..])], &[], MsgFlags::MSG_NOSIGNAL, None)?;
    }
    Ok(())
}

/// Reads one line of at most `max` bytes from `socket` (the runner's end),
/// and the fds sent with it, in order (none from a plain pipe). An empty
/// line means the socket closed without a run.
pub fn receive(socket: BorrowedFd<'_>, max: usize) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut chunk = [0u8; 4096];
    while !line.ends_with(b"\n") && line.len() < max {
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut chunk)];
        let n = match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(message) => {
                for control in message.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(received) = control {
                        for raw in received {
                            // SAFETY: the kernel just installed this fd for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            // Past the most a hand-off carries, each is closed here.
                            if fds.len() < MAX_FDS {
                                fds.push(owned);
                            }
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
    Ok((line, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_line_and_the_fd_arrive_together() {
        let (server, runner) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let other = std::fs::File::open("/dev/zero").unwrap();
        send(server.as_fd(), b"{\"demo\":\"x\"}\n", &[file.as_raw_fd(), other.as_raw_fd()]).unwrap();
        drop(server);
        let (line, fds) = receive(runner.as_fd(), 1024).unwrap();
        assert_eq!(line, b"{\"demo\":\"x\"}\n");
        assert_eq!(fds.len(), 2, "both fds came along");
        assert_ne!(fds[0].as_raw_fd(), file.as_raw_fd(), "a new descriptor in the receiver");
        // In order: the second is /dev/zero.
        let path = std::fs::read_link(format!("/proc/self/fd/{}", fds[1].as_raw_fd())).unwrap();
        assert_eq!(path, std::path::Path::new("/dev/zero"));
    }

    #[test]
    fn a_spec_on_a_plain_pipe_comes_without_a_ring() {
        let (read, write) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&write, b"{}\n").unwrap();
        drop(write);
        let (line, fds) = receive(read.as_fd(), 1024).unwrap();
        assert_eq!((line.as_slice(), fds.is_empty()), (&b"{}\n"[..], true));
    }

    #[test]
    fn a_closed_socket_means_no_run() {
        let (server, runner) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(server);
        let (line, fds) = receive(runner.as_fd(), 1024).unwrap();
        assert!(line.is_empty() && fds.is_empty());
    }
}
