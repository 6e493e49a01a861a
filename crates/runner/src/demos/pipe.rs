//! `Pipe()`: a duplex pair of connections between parent and child, and the
//! lesson's warning made visible: several processes writing large messages
//! to the same end at once corrupt each other's messages.

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use forkline_core::event::{Body, PipeOp};
use crate::primitives::emit::{self, emit};
use crate::primitives::lock::Lock;
use crate::primitives::pipe::{self, Connection};
use crate::primitives::process::{self, ExitStatus};

pub static DEMO: Demo = Demo {
    name: "pipe",
    title: "Pipe: two ends, send() and recv(), and what corrupts it",
    summary: "A duplex Pipe carries messages both ways; several writers on one end corrupt large messages.",
    notes: "First the parent sends a list through its end and the child answers through the other \
            end of the same Pipe: it is duplex (a socketpair). Then several writer processes send \
            large messages into the same end of a one-way pipe at the same time, without a lock. \
            The kernel keeps a single write() whole only up to PIPE_BUF (4096 bytes); a larger \
            message is copied in pieces whenever the pipe is full, and another writer's pieces land \
            in between. The reader checks every message and counts the broken ones (the program \
            shown checks for its writer's letter alone; natively each message also starts with a \
            header naming its writer and number). A real Connection would then read a garbage length and hang \
            or fail; this reader knows every message's size, so it can keep counting. With one \
            writer, with messages that fit in PIPE_BUF, or with a lock around send, none is corrupt.",
    source: include_str!("../../../../python/programs/pipe.py"),
    source_lines: &[
        ("proc.spawn", 24),
        ("pipe:send", 17),
        ("pipe:recv", 36),
        ("lock:wait", 16),
        ("lock:acquire", 16),
        ("lock:release", 18),
        ("proc.join:begin", 39),
        ("proc.join:end", 39),
        ("print", 40),
    ],
    lesson_output: "",
    params: &[
        Spec {
            name: "writers",
            help: "processes writing to the same end at once",
            kind: Kind::Int { default: 3, min: 1, max: 8 },
        },
        Spec { name: "messages", help: "messages each writer sends", kind: Kind::Int { default: 20, min: 1, max: 50 } },
        Spec {
            name: "message_bytes",
            help: "size of each message; above 4096 (PIPE_BUF) a write is no longer atomic",
            kind: Kind::Int { default: 16384, min: 64, max: 131072 },
        },
        Spec { name: "use_lock", help: "writers take a Lock around send", kind: Kind::Bool { default: false } },
    ],
    hidden: false,
};

const MAGIC: &[u8; 4] = b"FLPM";
const HEADER: usize = 16;
/// Message ids of the writers start here; 1 and 2 are the duplex exchange.
const FIRST_WRITER_MSG: u64 = 3;

/// The message writer `wid` sends as its `index`th: a header, then its letter.
fn message(wid: u32, index: u32, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&wid.to_be_bytes());
    data.extend_from_slice(&index.to_be_bytes());
    data.extend_from_slice(&(size as u32).to_be_bytes());
    data.resize(size, b'A' + wid as u8);
    data
}

/// What the reader makes of one message-sized chunk (length prefix included):
/// the writer and index if the message arrived whole, else `None`.
fn intact(chunk: &[u8], size: usize, writers: u32, messages: u32) -> Option<(u32, u32)> {
    let word = |at: usize| u32::from_be_bytes(chunk[at..at + 4].try_into().expect("4 bytes"));
    if chunk.len() != 4 + size || word(0) as usize != size || &chunk[4..8] != MAGIC {
        return None;
    }
    let (wid, index) = (word(8), word(12));
    let whole = wid < writers
        && index < messages
        && word(16) as usize == size
        && chunk[4 + HEADER..].iter().all(|&b| b == b'A' + wid as u8);
    whole.then_some((wid, index))
}

fn msg_id(wid: u32, index: u32, messages: u32) -> u64 {
    FIRST_WRITER_MSG + u64::from(wid) * u64::from(messages) + u64::from(index)
}

fn square_all(conn: &Connection) -> i32 {
    let Ok((_, numbers)) = conn.recv() else { return 1 };
    let squares: Vec<i64> = numbers.as_array().into_iter().flatten().filter_map(|n| n.as_i64()).map(|n| n * n).collect();
    i32::from(conn.send(2, &json!(squares)).is_err())
}

fn writer(conn: &Connection, wid: u32, messages: u32, size: usize, lock: Option<&Lock>) -> i32 {
    for index in 0..messages {
        let data = message(wid, index, size);
        if let Some(lock) = lock {
            lock.acquire();
        }
        let sent = conn.send_bytes(msg_id(wid, index, messages), &data);
        if let Some(lock) = lock {
            lock.release();
        }
        if sent.is_err() {
            return 1;
        }
    }
    0
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let writers = params.int("writers") as u32;
    let messages = params.int("messages") as u32;
    let size = params.int("message_bytes") as usize;
    let use_lock = params.bool("use_lock");

    // Duplex: both ends send and receive.
    let (parent_conn, child_conn) = pipe::duplex("parent_conn", "child_conn")?;
    let p = process::spawn("p", Some("square_all"), || square_all(&child_conn))?;
    parent_conn.send(1, &json!([2, 3, 5]))?;
    let (_, squares) = parent_conn.recv()?;
    let shown = squares.to_string().replace(',', ", ");
    emit::print(&shown);
    let duplex_status = p.join()?;

    // Many writers, one end.
    let (reader, shared_end) = pipe::simplex("reader", "shared_end")?;
    let lock = Lock::new("lock")?;
    let lock = use_lock.then_some(&lock);
    let mut ws = Vec::new();
    for wid in 0..writers {
        ws.push(process::spawn(format!("w{wid}"), Some("writer"), || writer(&shared_end, wid, messages, size, lock))?);
    }
    // Only the writers hold the write end now: if they all die, we read EOF.
    drop(shared_end);

    let mut chunk = vec![0u8; 4 + size];
    let (mut received, mut corrupt) = (0u64, 0u64);
    let mut seen = vec![false; (writers * messages) as usize];
    for _ in 0..writers * messages {
        let n = reader.read_raw(&mut chunk)?;
        if n == 0 {
            break;
        }
        received += 1;
        let whole = intact(&chunk[..n], size, writers, messages)
            .filter(|&(wid, index)| !std::mem::replace(&mut seen[(wid * messages + index) as usize], true));
        corrupt += u64::from(whole.is_none());
        emit(Body::Pipe {
            op: PipeOp::Recv,
            end: reader.name().to_owned().into(),
            msg: whole.map_or(0, |(wid, index)| msg_id(wid, index, messages)),
            value: serde_json::Value::Null,
            bytes: Some(n as u64),
            corrupt: Some(whole.is_none()),
        });
        if n < chunk.len() {
            break;
        }
    }
    let mut failed: Vec<String> = Vec::new();
    if duplex_status != ExitStatus::Code(0) {
        failed.push(format!("p {duplex_status:?}"));
    }
    failed.extend(process::join_all(ws)?);
    if !failed.is_empty() {
        return Err(format!("processes failed: {}", failed.join(", ")).into());
    }
    emit::print(format!("corrupted messages: {corrupt}"));
    if corrupt > 0 {
        // What this reader can do and CPython's cannot: count past a broken frame.
        emit::note(
            "Real Python would not print this count. CPython's Connection.recv_bytes() reads each message's \
             length from its header, so at the first broken frame it reads a garbage length: it raises \
             OSError (\"got end of file during message\") or waits for bytes that never come, and the \
             program hangs in join(). This reader knows every message's size, so it can go on counting; \
             the CPython engine runs the lesson's own program and shows what really happens.",
        );
    }

    let sent = u64::from(writers * messages);
    let why = if corrupt > 0 {
        "writes larger than PIPE_BUF from several processes interleaved"
    } else if use_lock {
        "the lock kept each send whole"
    } else if writers == 1 {
        "one writer cannot interleave with itself"
    } else if 4 + size <= 4096 {
        "each message fit in one atomic write of at most PIPE_BUF bytes"
    } else {
        "the writes happened not to interleave this time"
    };
    emit::result(
        format!("duplex reply {shown}; {corrupt} of {sent} messages corrupted: {why}"),
        json!({
            "duplex_reply": squares,
            "sent": sent,
            "received": received,
            "corrupt": corrupt,
            "intact": received - corrupt,
            "frame_bytes": 4 + size,
            "use_lock": use_lock,
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_message_is_intact_and_a_mixed_one_is_not() {
        let mut chunk = crate::primitives::frame::encode(&message(1, 7, 100));
        assert_eq!(intact(&chunk, 100, 3, 20), Some((1, 7)));
        chunk[80] = b'C';
        assert_eq!(intact(&chunk, 100, 3, 20), None);
    }
}
