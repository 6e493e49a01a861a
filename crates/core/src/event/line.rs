//! An event written as JSON by hand, byte for byte what serde writes for an
//! [`Event`](super::Event) without `seq`, but several times faster: this is
//! the line every process of a run writes (see `runner::emit`), and the form
//! the server expands a compact ring record into (see [`super::compact`]),
//! so both agree by construction.

use super::Body;

/// Replaces `line` with one event as a JSON object (no newline), exactly as
/// `serde_json` writes an [`Event`](super::Event) without `seq`: the event's
/// own fields by hand, then the body's object spliced after them.
pub fn write_line(line: &mut Vec<u8>, t: u64, pid: i32, tid: i32, cpu: i32, body: &Body) {
    let mut digits = itoa::Buffer::new();
    line.clear();
    line.extend_from_slice(b"{\"t\":");
    line.extend_from_slice(digits.format(t).as_bytes());
    line.extend_from_slice(b",\"pid\":");
    line.extend_from_slice(digits.format(pid).as_bytes());
    line.extend_from_slice(b",\"tid\":");
    line.extend_from_slice(digits.format(tid).as_bytes());
    line.extend_from_slice(b",\"cpu\":");
    line.extend_from_slice(digits.format(cpu).as_bytes());
    if !write_hot_body(line, body) {
        let body_at = line.len();
        // Serialising our own types into a Vec cannot fail.
        super::wire::write_body(line, body).expect("event serialises");
        // The body is an object that always has `kind`: its '{' becomes our ','.
        line[body_at] = b',';
    }
}

/// The kinds demos emit most, written field by field: serde's path for an
/// internally tagged enum was half an event's cost (48–68 ns of about 190).
/// Leaf values (names, texts, enum words, JSON values) still go through
/// serde_json, so escaping is its own; the test below holds every kind here
/// to the bytes serde writes. Returns false, having written nothing, for any
/// other kind.
fn write_hot_body(line: &mut Vec<u8>, body: &Body) -> bool {
    let hot = matches!(
        body,
        Body::Value { .. }
            | Body::Lock { .. }
            | Body::Gil { .. }
            | Body::Compute { .. }
            | Body::Sleep { .. }
            | Body::Queue { .. }
            | Body::Print { .. }
            | Body::KernelSample { .. }
    );
    if !hot {
        return false;
    }
    fn key(line: &mut Vec<u8>, name: &str) {
        line.extend_from_slice(b",\"");
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b"\":");
    }
    fn leaf(line: &mut Vec<u8>, value: &impl serde::Serialize) {
        serde_json::to_writer(&mut *line, value).expect("event serialises");
    }
    fn int(line: &mut Vec<u8>, n: impl itoa::Integer) {
        line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
    key(line, "kind");
    line.push(b'"');
    line.extend_from_slice(body.kind().as_bytes());
    line.push(b'"');
    match body {
        Body::Value { op, name, value } => {
            key(line, "op");
            leaf(line, op);
            key(line, "name");
            leaf(line, name);
            key(line, "value");
            int(line, *value);
        }
        Body::Lock { phase, lock } => {
            key(line, "phase");
            leaf(line, phase);
            key(line, "lock");
            leaf(line, lock);
        }
        Body::Gil { phase } => {
            key(line, "phase");
            leaf(line, phase);
        }
        Body::Compute { phase, work } => {
            key(line, "phase");
            leaf(line, phase);
            if let Some(work) = work {
                key(line, "work");
                int(line, *work);
            }
        }
        Body::Sleep { phase, ms } => {
            key(line, "phase");
            leaf(line, phase);
            if let Some(ms) = ms {
                key(line, "ms");
                int(line, *ms);
            }
        }
        Body::Queue { op, queue, msg, value } => {
            key(line, "op");
            leaf(line, op);
            key(line, "queue");
            leaf(line, queue);
            key(line, "msg");
            int(line, *msg);
            key(line, "value");
            leaf(line, value);
        }
        Body::Print { text, stream } => {
            key(line, "text");
            leaf(line, text);
            if let Some(stream) = stream {
                key(line, "stream");
                leaf(line, stream);
            }
        }
        Body::KernelSample { of_pid, of_tid, of_ppid, name, state, on_cpu, utime, stime } => {
            key(line, "of_pid");
            int(line, *of_pid);
            key(line, "of_tid");
            int(line, *of_tid);
            if let Some(ppid) = of_ppid {
                key(line, "of_ppid");
                int(line, *ppid);
            }
            if let Some(name) = name {
                key(line, "name");
                leaf(line, name);
            }
            key(line, "state");
            leaf(line, state);
            key(line, "on_cpu");
            int(line, *on_cpu);
            if let Some(utime) = utime {
                key(line, "utime");
                int(line, *utime);
            }
            if let Some(stime) = stime {
                key(line, "stime");
                int(line, *stime);
            }
        }
        _ => unreachable!("only the kinds matched above"),
    }
    line.push(b'}');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Phase};

    #[test]
    fn lines_are_exactly_what_serde_writes_for_an_event() {
        use crate::event::{GilPhase, LockPhase, QueueOp, ValueOp};
        let odd = "a \"quoted\"\nline\\ \u{1} \u{7f} é ✓ </script>";
        let bodies = [
            Body::Compute { phase: Phase::Begin, work: Some(7) },
            Body::Compute { phase: Phase::End, work: None },
            Body::Sleep { phase: Phase::Begin, ms: Some(500) },
            Body::Sleep { phase: Phase::End, ms: None },
            Body::ThreadExit {},
            Body::Print { text: odd.into(), stream: None },
            Body::Print { text: odd.into(), stream: Some("stderr".into()) },
            Body::Result { text: "r".into(), data: serde_json::json!({ "x": [1, 2] }) },
            Body::Value { op: ValueOp::Read, name: odd.into(), value: -200 },
            Body::Value { op: ValueOp::Write, name: "balance".into(), value: i64::MAX },
            Body::Lock { phase: LockPhase::Acquire, lock: "lock".into() },
            Body::Lock { phase: LockPhase::Wait, lock: odd.into() },
            Body::Gil { phase: GilPhase::DropRequest },
            Body::Queue { op: QueueOp::Put, queue: "q".into(), msg: 3, value: serde_json::json!(9) },
            Body::Queue { op: QueueOp::Get, queue: odd.into(), msg: u64::MAX, value: serde_json::json!({"a": [1, "b", null]}) },
            Body::Queue { op: QueueOp::Get, queue: "q".into(), msg: 0, value: serde_json::Value::Null },
            Body::KernelSample { of_pid: 1, of_tid: 2, of_ppid: None, name: None, state: "R".into(), on_cpu: -1, utime: None, stime: None },
            Body::KernelSample {
                of_pid: 1,
                of_tid: 2,
                of_ppid: Some(9),
                name: Some(odd.into()),
                state: "Z".into(),
                on_cpu: 1,
                utime: Some(5),
                stime: Some(u64::MAX),
            },
        ];
        let mut line = Vec::new();
        for body in bodies {
            write_line(&mut line, 12, 34, 56, -1, &body);
            let event = Event { seq: None, t: 12, pid: 34, tid: 56, cpu: -1, body };
            let expected = serde_json::to_vec(&event).unwrap();
            assert_eq!(String::from_utf8_lossy(&line), String::from_utf8_lossy(&expected));
        }
    }
}
