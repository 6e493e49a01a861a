//! `multiprocessing.Queue()`: a FIFO that works between processes.
//!
//! Built as CPython builds it: a pipe carries the pickled (here: JSON) items,
//! each framed with its length, and a writer-side lock in shared memory keeps
//! two producers' frames from interleaving in the pipe (a reader-side lock does
//! the same for consumers). The lesson says the queue "lives in shared memory";
//! the items really live in the kernel's pipe buffer, and only the locks and a
//! message counter are in shared memory.
//!
//! Like CPython's, it has a limit worth knowing: a producer whose items don't
//! fit in the pipe blocks until someone reads, so joining it before draining
//! the queue can wait forever. We enlarge the pipe so the demos' bounded
//! inputs always fit.
//!
//! Every put and get reports a `queue` event carrying the message id, so the
//! page can draw an arrow from each put to its get.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use forkline_core::event::{Body, QueueOp, Text};
use crate::primitives::emit::emit;
use crate::primitives::step;
use crate::primitives::frame;
use crate::primitives::lock::RawLock;
use crate::primitives::shm::Shared;

/// Pipe capacity asked for: holds every item the bounded demos put.
const QUEUE_PIPE_BYTES: i32 = 1 << 20;

/// Longest serialised value echoed in an event; longer ones are summarised so
/// an event line stays within one atomic write.
const MAX_EVENT_VALUE: usize = 256;

/// A cross-process queue. Create it before forking the processes that use it.
pub struct Queue {
    name: Text,
    reader: OwnedFd,
    writer: OwnedFd,
    wlock: Shared<RawLock>,
    rlock: Shared<RawLock>,
    /// The next message id, shared so ids are unique across all producers.
    next_msg: Shared<AtomicU64>,
}

impl Queue {
    pub fn new(name: impl Into<Text>) -> io::Result<Queue> {
        let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // SAFETY: fcntl on a pipe we own; failure leaves the default 64 KiB.
        unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, QUEUE_PIPE_BYTES) };
        let next_msg = Shared::<AtomicU64>::zeroed()?;
        next_msg.store(1, Ordering::Relaxed);
        Ok(Queue {
            name: name.into(),
            reader,
            writer,
            wlock: RawLock::new_shared()?,
            rlock: RawLock::new_shared()?,
            next_msg,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `q.put(value)`; returns the message id.
    pub fn put(&self, value: &Value) -> io::Result<u64> {
        step::before("queue:put", || format!("put {value} in {}", self.name));
        self.wlock.lock();
        let msg = self.next_msg.fetch_add(1, Ordering::Relaxed);
        let payload = serde_json::to_vec(&(msg, value)).expect("JSON values serialise");
        let written = frame::write_all(self.writer.as_fd(), &frame::encode(&payload));
        // Reported under the writer lock, so puts appear in the pipe's order.
        if written.is_ok() {
            emit(Body::Queue { op: QueueOp::Put, queue: self.name.clone(), msg, value: for_event(value) });
        }
        self.wlock.unlock();
        written.map(|()| msg)
    }

    /// `q.get()`: blocks until an item arrives; returns its id and value.
    pub fn get(&self) -> io::Result<(u64, Value)> {
        step::before("queue:get", || format!("get from {}", self.name));
        self.rlock.lock();
        let item = frame::read(self.reader.as_fd());
        self.rlock.unlock();
        let payload = item?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "queue closed"))?;
        let (msg, value): (u64, Value) = serde_json::from_slice(&payload).map_err(io::Error::other)?;
        emit(Body::Queue { op: QueueOp::Get, queue: self.name.clone(), msg, value: for_event(&value) });
        Ok((msg, value))
    }

    /// `q.empty()`: CPython's answer is "nothing to read in the pipe right
    /// now", which is only reliable once every producer has finished.
    pub fn empty(&self) -> bool {
        let mut pfd = libc::pollfd { fd: self.reader.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n <= 0 || pfd.revents & libc::POLLIN == 0
    }
}

/// The value as an event shows it: itself when small, else a short summary.
pub fn for_event(value: &Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_EVENT_VALUE {
        value.clone()
    } else {
        let mut end = MAX_EVENT_VALUE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Value::String(format!("{}...", &text[..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_the_order_they_went_in_with_rising_ids() {
        crate::primitives::emit::set_enabled(false);
        let q = Queue::new("q").unwrap();
        assert!(q.empty());
        for v in [4, 9, 25] {
            q.put(&v.into()).unwrap();
        }
        let got: Vec<(u64, Value)> = (0..3).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, vec![(1, 4.into()), (2, 9.into()), (3, 25.into())]);
        assert!(q.empty());
    }
}
