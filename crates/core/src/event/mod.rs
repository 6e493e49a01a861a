//! The event schema, shared by the runner (which writes events) and the server
//! (which validates them, numbers them and fans them out).
//!
//! One typed enum for the stream: a line from the runner either parses into an
//! [`Event`] or the run fails. The kinds and fields are defined once, in
//! `schema/events.json`; [`schema`]'s tests hold this enum to it, and
//! `docs/events.md` is its prose.

pub mod compact;
mod line;
pub mod schema;
mod wire;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use line::write_line;

/// Largest event line (newline included) any process may write: one record
/// of the event ring, or, from a runner started by hand without a ring, one
/// atomic pipe write (at most PIPE_BUF bytes).
pub const MAX_LINE: usize = 4096;

/// Longest text (print, note, result, reason) carried in one event. Keeps every
/// line well under [`MAX_LINE`] after JSON escaping (which can grow text 6×).
pub const MAX_TEXT: usize = 512;

/// One event as it travels on the wire: one flat JSON object, the fields
/// below and then `kind` and the body's fields. `seq` is absent in the
/// runner's lines and assigned by the server. Its (de)serialisation is in
/// [`wire`].
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: Option<u64>,
    /// Nanoseconds since the run started (CLOCK_MONOTONIC).
    pub t: u64,
    pub pid: i32,
    pub tid: i32,
    /// `sched_getcpu()` of the emitting thread, -1 when unknown.
    pub cpu: i32,
    pub body: Body,
}

/// Begin/end of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Begin,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPhase {
    Wait,
    Acquire,
    Release,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GilPhase {
    Wait,
    Acquire,
    Release,
    DropRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueOp {
    Read,
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOp {
    Put,
    Get,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipeOp {
    Send,
    Recv,
}

/// How a run ended. Only the server decides this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    Timeout,
    Cancelled,
    /// The server stopped (killed, crashed) while the run went on; only a
    /// run restored from the store ends so, after a restart.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// A string in an event. Borrowed where the emitter names a thing with a
/// literal (`"balance"`, `"MainProcess"`), so emitting allocates nothing;
/// owned where it comes from elsewhere, and always owned once parsed.
pub type Text = Cow<'static, str>;

/// The kind-specific part of an event. On the wire its variant is the
/// event's `kind` and its fields sit beside the event's own (see [`wire`]);
/// serde sees a plain enum of struct variants, so that [`wire`] can read an
/// event in one pass instead of through serde's buffering of tagged enums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Body {
    #[serde(rename = "run.start")]
    RunStart {
        demo: Text,
        params: serde_json::Value,
        /// `cpython` when a real interpreter runs the demo's program; absent
        /// for the native engine (the runner itself is `MainProcess`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        engine: Option<Text>,
        /// The interpreter, as people name it: `CPython 3.11.7`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interpreter: Option<Text>,
        /// The program's file name in tracebacks (`lock.py`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<Text>,
        /// The exact program that ran, parameters written in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Text>,
    },
    #[serde(rename = "run.end")]
    RunEnd {
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
    },
    #[serde(rename = "result")]
    Result {
        text: Text,
        #[serde(default)]
        data: serde_json::Value,
    },
    #[serde(rename = "proc.spawn")]
    ProcSpawn { child: i32, name: Text },
    #[serde(rename = "proc.start")]
    ProcStart {
        name: Text,
        ppid: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Text>,
    },
    #[serde(rename = "proc.exit")]
    ProcExit { code: i32 },
    #[serde(rename = "proc.join")]
    ProcJoin {
        phase: Phase,
        child: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    #[serde(rename = "thread.spawn")]
    ThreadSpawn { child: i32, name: Text },
    #[serde(rename = "thread.start")]
    ThreadStart { name: Text },
    #[serde(rename = "thread.exit")]
    ThreadExit {},
    #[serde(rename = "thread.join")]
    ThreadJoin { phase: Phase, child: i32 },
    #[serde(rename = "print")]
    Print {
        text: Text,
        /// `stderr` for a line written to standard error; absent for stdout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<Text>,
    },
    #[serde(rename = "sleep")]
    Sleep {
        phase: Phase,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    #[serde(rename = "compute")]
    Compute {
        phase: Phase,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        work: Option<u64>,
    },
    #[serde(rename = "lock")]
    Lock { phase: LockPhase, lock: Text },
    #[serde(rename = "value")]
    Value {
        op: ValueOp,
        name: Text,
        value: i64,
    },
    #[serde(rename = "queue")]
    Queue {
        op: QueueOp,
        queue: Text,
        msg: u64,
        #[serde(default)]
        value: serde_json::Value,
    },
    #[serde(rename = "pipe")]
    Pipe {
        op: PipeOp,
        end: Text,
        msg: u64,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        value: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        corrupt: Option<bool>,
    },
    #[serde(rename = "gil")]
    Gil { phase: GilPhase },
    #[serde(rename = "fork.return")]
    ForkReturn { value: i32 },
    #[serde(rename = "system")]
    System {
        phase: Phase,
        command: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<i32>,
    },
    #[serde(rename = "kernel.sample")]
    KernelSample {
        of_pid: i32,
        of_tid: i32,
        /// The sampled process's parent, for a process that emits no events
        /// of its own (so the page can still give it a lane in the tree).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of_ppid: Option<i32>,
        /// The sampled process's program name (`comm`), when it matters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Text>,
        state: Text,
        on_cpu: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utime: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stime: Option<u64>,
    },
    #[serde(rename = "note")]
    Note { text: Text },
    /// A stepped run's thread is about to perform `op` and waits at its
    /// gate (`gate`, a slot of [`crate::gates`]) until the student lets it.
    /// `at` names the operation as the demo's `source_lines` do
    /// (`value:read`), so the page can show its line in the program.
    #[serde(rename = "step.pending")]
    StepPending {
        gate: u32,
        op: Text,
        at: Text,
        /// The program's line (the CPython engine; a native demo's line
        /// comes from its `source_lines`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
    },
    /// Written by the server as a stepped run ends: the lanes the student
    /// let through, one per step, in order (a lane is its process's name,
    /// `name/thread` for a thread other than a process's first), and
    /// whether the run was let go freely at the end.
    #[serde(rename = "step.schedule")]
    StepSchedule { steps: Vec<Text>, free: bool },
    /// An exception nothing caught, in the thread that raised it (the
    /// CPython engine); its traceback follows as `print` lines on stderr.
    #[serde(rename = "exception")]
    Exception {
        #[serde(rename = "type")]
        type_name: Text,
        message: Text,
        /// The program's line where it was raised (innermost frame in the program).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
    },
}

impl Body {
    /// The wire name of this kind (`proc.start`, `print`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Body::RunStart { .. } => "run.start",
            Body::RunEnd { .. } => "run.end",
            Body::Result { .. } => "result",
            Body::ProcSpawn { .. } => "proc.spawn",
            Body::ProcStart { .. } => "proc.start",
            Body::ProcExit { .. } => "proc.exit",
            Body::ProcJoin { .. } => "proc.join",
            Body::ThreadSpawn { .. } => "thread.spawn",
            Body::ThreadStart { .. } => "thread.start",
            Body::ThreadExit {} => "thread.exit",
            Body::ThreadJoin { .. } => "thread.join",
            Body::Print { .. } => "print",
            Body::Sleep { .. } => "sleep",
            Body::Compute { .. } => "compute",
            Body::Lock { .. } => "lock",
            Body::Value { .. } => "value",
            Body::Queue { .. } => "queue",
            Body::Pipe { .. } => "pipe",
            Body::Gil { .. } => "gil",
            Body::ForkReturn { .. } => "fork.return",
            Body::System { .. } => "system",
            Body::KernelSample { .. } => "kernel.sample",
            Body::Note { .. } => "note",
            Body::Exception { .. } => "exception",
            Body::StepPending { .. } => "step.pending",
            Body::StepSchedule { .. } => "step.schedule",
        }
    }
}

/// Cuts `text` to at most [`MAX_TEXT`] bytes on a character boundary, marking
/// the cut, so that one event always fits in one atomic pipe write.
pub fn clip_text(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_event_round_trips_with_kind_tag() {
        let line = r#"{"t":5,"pid":10,"tid":11,"cpu":0,"kind":"print","text":"square 4"}"#;
        let event: Event = serde_json::from_str(line).unwrap();
        assert_eq!(event.body, Body::Print { text: "square 4".into(), stream: None });
        assert_eq!(event.seq, None);
        let back = serde_json::to_string(&event).unwrap();
        assert!(back.contains(r#""kind":"print""#), "{back}");
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let line = r#"{"t":5,"pid":10,"tid":11,"cpu":0,"kind":"rm -rf"}"#;
        assert!(serde_json::from_str::<Event>(line).is_err());
    }

    #[test]
    fn clip_text_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip_text("hi"), "hi");
        let long = "é".repeat(MAX_TEXT);
        let clipped = clip_text(&long);
        assert!(clipped.len() <= MAX_TEXT);
        assert!(clipped.ends_with("..."));
    }
}
