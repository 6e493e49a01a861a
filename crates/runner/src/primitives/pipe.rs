//! `multiprocessing.Pipe()`: two connection ends with `send` and `recv`.
//!
//! `Pipe()` (duplex, the default) is a Unix socketpair, so each end can both
//! send and receive; `Pipe(duplex=False)` is an ordinary pipe, one end for
//! reading and one for writing, as in CPython. Messages are framed with their
//! length ([`frame`]); nothing stops two processes from writing to the same
//! end at once, which is the lesson's warning and the `pipe` demo's subject.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use serde_json::Value;

use forkline_core::event::{Body, PipeOp, Text};
use crate::primitives::emit::emit;
use crate::primitives::step;
use crate::primitives::frame;
use crate::primitives::queue::for_event;

/// One end of a pipe, named on the timeline (`parent_conn`, `child_conn`, …).
pub struct Connection {
    fd: OwnedFd,
    name: Text,
}

/// `Pipe()`: a duplex pair (socketpair). Create it before forking.
pub fn duplex(a: &'static str, b: &'static str) -> io::Result<(Connection, Connection)> {
    use std::os::fd::FromRawFd;
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two descriptors into the array we own.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (x, y) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Connection { fd: x, name: a.into() }, Connection { fd: y, name: b.into() }))
}

/// `Pipe(duplex=False)`: `(reader, writer)`, an ordinary pipe whose writes of
/// at most PIPE_BUF bytes are atomic and larger ones are not.
pub fn simplex(reader: &'static str, writer: &'static str) -> io::Result<(Connection, Connection)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((Connection { fd: r, name: reader.into() }, Connection { fd: w, name: writer.into() }))
}

impl Connection {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `conn.send(value)`: one framed JSON message carrying its id.
    pub fn send(&self, msg: u64, value: &Value) -> io::Result<()> {
        step::before("pipe:send", || format!("{}.send({value})", self.name));
        let payload = serde_json::to_vec(&(msg, value)).expect("JSON values serialise");
        let frame = frame::encode(&payload);
        frame::write_all(self.fd(), &frame)?;
        emit(Body::Pipe {
            op: PipeOp::Send,
            end: self.name.clone(),
            msg,
            value: for_event(value),
            bytes: Some(frame.len() as u64),
            corrupt: None,
        });
        Ok(())
    }

    /// `conn.recv()`: blocks for the next message; returns its id and value.
    pub fn recv(&self) -> io::Result<(u64, Value)> {
        step::before("pipe:recv", || format!("{}.recv()", self.name));
        let payload =
            frame::read(self.fd())?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the other end closed"))?;
        let (msg, value): (u64, Value) = serde_json::from_slice(&payload).map_err(io::Error::other)?;
        emit(Body::Pipe {
            op: PipeOp::Recv,
            end: self.name.clone(),
            msg,
            value: for_event(&value),
            bytes: Some(4 + payload.len() as u64),
            corrupt: None,
        });
        Ok((msg, value))
    }

    /// `conn.send_bytes(data)`: the whole frame in as few `write()`s as the
    /// kernel allows, and no lock: exactly what the lesson warns about when
    /// several processes share this end.
    pub fn send_bytes(&self, msg: u64, data: &[u8]) -> io::Result<()> {
        step::before("pipe:send", || format!("{}.send_bytes({} bytes)", self.name, data.len()));
        let frame = frame::encode(data);
        frame::write_all(self.fd(), &frame)?;
        emit(Body::Pipe {
            op: PipeOp::Send,
            end: self.name.clone(),
            msg,
            value: Value::Null,
            bytes: Some(frame.len() as u64),
            corrupt: None,
        });
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes, fewer only at end of stream: for a
    /// reader that knows the size of every message, which can keep counting
    /// after the framing was broken.
    pub fn read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        frame::read_full(self.fd(), buf)
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_of_a_duplex_pipe_send_and_receive() {
        crate::primitives::emit::set_enabled(false);
        let (a, b) = duplex("a", "b").unwrap();
        a.send(1, &Value::from("ping")).unwrap();
        assert_eq!(b.recv().unwrap(), (1, Value::from("ping")));
        b.send(2, &Value::from(49)).unwrap();
        assert_eq!(a.recv().unwrap(), (2, Value::from(49)));
    }
}
