//! Compact ring records: the kinds demos emit inside their tightest loops,
//! and the two every new process emits, in 32 bytes plus a name instead of
//! about 100 bytes of JSON.
//!
//! The `lock` lesson demo emits five events per update of a shared balance,
//! four of them while holding the lock, so whatever an event costs its
//! writer is paid inside the critical section. Measured in that demo,
//! writing the JSON line cost as much as 2.5% of its wall time and copying
//! it into the ring (two fresh cache lines per event) about 3%. A compact
//! record is written with a few stores and takes one cache line. A freshly
//! forked worker's `proc.start` and `proc.exit` are compact too: written on
//! the stack, they need no copy-on-write of the heap page of the line
//! buffer, a page fault worth a few microseconds of a worker's start.
//!
//! The ring is the only place these records exist. The server expands each
//! one into the same JSON line the writer would otherwise have written
//! (through [`super::write_line`]), so the log, the stream, exports and the
//! page never see the difference. Like every ring record, a compact one is
//! untrusted: [`expand`] checks each field and refuses what is not exactly
//! one of the records [`encode`] writes.
//!
//! ```text
//! offset  size  field
//!  0      1     TAG (0x01: never the first byte of a JSON line)
//!  1      1     kind   1 value · 2 lock · 3 gil · 4 compute · 5 sleep
//!                      6 proc.start · 7 proc.exit
//!  2      1     op or phase, by kind (the order of the enum's variants); 0
//!  3      1     flags: 1 `number` is present; 2 a second text follows
//!  4      4     cpu   i32 LE
//!  8      4     pid   i32 LE
//! 12      4     tid   i32 LE
//! 16      8     t     u64 LE
//! 24      8     number: value (i64) · work, ms (u64) · ppid, code (i32 as
//!               i64) · 0 when absent
//! 32      n     texts (UTF-8), n ≤ MAX_TEXTS: the name (value, lock,
//!               proc.start); with flag 2, [length of the name: u8][name]
//!               [target] (proc.start with a target)
//! ```

use super::{Body, GilPhase, LockPhase, Phase, Text, ValueOp};

/// The first byte of every compact record. A JSON line starts with `{`.
pub const TAG: u8 = 0x01;
const HEADER: usize = 32;
/// Most text bytes a compact record carries; an event with longer texts is
/// written as JSON.
pub const MAX_TEXTS: usize = 96;
const LONGEST: usize = HEADER + MAX_TEXTS;
const NUMBER: u8 = 1;
const SECOND_TEXT: u8 = 2;

const VALUE: u8 = 1;
const LOCK: u8 = 2;
const GIL: u8 = 3;
const COMPUTE: u8 = 4;
const SLEEP: u8 = 5;
const PROC_START: u8 = 6;
const PROC_EXIT: u8 = 7;

/// One encoded record, on the writer's stack.
pub struct Record {
    bytes: [u8; LONGEST],
    len: usize,
}

impl Record {
    pub fn new() -> Record {
        Record { bytes: [0; LONGEST], len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Default for Record {
    fn default() -> Self {
        Record::new()
    }
}

/// Encodes the event into `record` if its kind has a compact form; returns
/// false (and leaves `record` as it was) for every other event.
pub fn encode(record: &mut Record, t: u64, pid: i32, tid: i32, cpu: i32, body: &Body) -> bool {
    let widen = |n: i32| i64::from(n) as u64;
    let (kind, code, number, name, second): (u8, u8, Option<u64>, &str, Option<&str>) = match body {
        Body::Value { op, name, value } => (VALUE, *op as u8, Some(*value as u64), name, None),
        Body::Lock { phase, lock } => (LOCK, *phase as u8, None, lock, None),
        Body::Gil { phase } => (GIL, *phase as u8, None, "", None),
        Body::Compute { phase, work } => (COMPUTE, *phase as u8, *work, "", None),
        Body::Sleep { phase, ms } => (SLEEP, *phase as u8, *ms, "", None),
        Body::ProcStart { name, ppid, target } => (PROC_START, 0, Some(widen(*ppid)), name, target.as_deref()),
        Body::ProcExit { code } => (PROC_EXIT, 0, Some(widen(*code)), "", None),
        _ => return false,
    };
    let texts = match second {
        Some(second) if name.len() <= usize::from(u8::MAX) => 1 + name.len() + second.len(),
        Some(_) => return false,
        None => name.len(),
    };
    if texts > MAX_TEXTS {
        return false;
    }
    let bytes = &mut record.bytes;
    bytes[0] = TAG;
    bytes[1] = kind;
    bytes[2] = code;
    bytes[3] = if number.is_some() { NUMBER } else { 0 } | if second.is_some() { SECOND_TEXT } else { 0 };
    bytes[4..8].copy_from_slice(&cpu.to_le_bytes());
    bytes[8..12].copy_from_slice(&pid.to_le_bytes());
    bytes[12..16].copy_from_slice(&tid.to_le_bytes());
    bytes[16..24].copy_from_slice(&t.to_le_bytes());
    bytes[24..32].copy_from_slice(&number.unwrap_or(0).to_le_bytes());
    let mut at = HEADER;
    let mut put = |text: &[u8]| {
        bytes[at..at + text.len()].copy_from_slice(text);
        at += text.len();
    };
    if let Some(second) = second {
        put(&[name.len() as u8]);
        put(name.as_bytes());
        put(second.as_bytes());
    } else {
        put(name.as_bytes());
    }
    record.len = HEADER + texts;
    true
}

/// Why a compact record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("a compact record of {0} bytes (expected {HEADER} to {LONGEST})")]
    Length(usize),
    #[error("a compact record with an unknown kind {0}")]
    Kind(u8),
    #[error("a compact {kind} record with an unknown op or phase {code}")]
    Code { kind: &'static str, code: u8 },
    #[error("a compact {0} record whose fields do not fit its kind")]
    Fields(&'static str),
    #[error("a compact record whose text is not UTF-8")]
    NotUtf8,
}

/// Replaces `line` with the JSON line of the event in `record` (a record
/// starting with [`TAG`]), exactly as its writer would have written it.
pub fn expand(record: &[u8], line: &mut Vec<u8>) -> Result<(), CompactError> {
    if record.len() < HEADER || record.len() > LONGEST || record[0] != TAG {
        return Err(CompactError::Length(record.len()));
    }
    let i32_at = |at: usize| i32::from_le_bytes(record[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
    let (kind, code, flags) = (record[1], record[2], record[3]);
    let (cpu, pid, tid, t, number) = (i32_at(4), i32_at(8), i32_at(12), u64_at(16), u64_at(24));
    let misfit = || CompactError::Fields(kind_name(kind).unwrap_or("?"));
    kind_name(kind)?;
    if flags & !(NUMBER | SECOND_TEXT) != 0 {
        return Err(misfit());
    }
    let number = match (flags & NUMBER != 0, number) {
        (true, n) => Some(n),
        (false, 0) => None,
        (false, _) => return Err(misfit()),
    };
    let texts = &record[HEADER..];
    let (name, second) = if flags & SECOND_TEXT != 0 {
        let (&len, rest) = texts.split_first().ok_or_else(misfit)?;
        let (name, second) = rest.split_at_checked(usize::from(len)).ok_or_else(misfit)?;
        (name, Some(second))
    } else {
        (texts, None)
    };
    let text = |bytes: &[u8]| -> Result<Text, CompactError> { Ok(std::str::from_utf8(bytes).map_err(|_| CompactError::NotUtf8)?.to_owned().into()) };
    // An i32 field travels sign-extended; anything else was not written by encode.
    let narrow = |n: u64| i32::try_from(n as i64).map_err(|_| misfit());
    let bad_code = || CompactError::Code { kind: kind_name(kind).unwrap_or("?"), code };
    let body = match (kind, number, name.is_empty(), second) {
        (VALUE, Some(value), _, None) => Body::Value { op: value_op(code).ok_or_else(bad_code)?, name: text(name)?, value: value as i64 },
        (LOCK, None, _, None) => Body::Lock { phase: lock_phase(code).ok_or_else(bad_code)?, lock: text(name)? },
        (GIL, None, true, None) => Body::Gil { phase: gil_phase(code).ok_or_else(bad_code)? },
        (COMPUTE, work, true, None) => Body::Compute { phase: phase(code).ok_or_else(bad_code)?, work },
        (SLEEP, ms, true, None) => Body::Sleep { phase: phase(code).ok_or_else(bad_code)?, ms },
        (PROC_START | PROC_EXIT, _, _, _) if code != 0 => return Err(bad_code()),
        (PROC_START, Some(ppid), _, target) => {
            Body::ProcStart { name: text(name)?, ppid: narrow(ppid)?, target: target.map(text).transpose()? }
        }
        (PROC_EXIT, Some(code), true, None) => Body::ProcExit { code: narrow(code)? },
        _ => return Err(misfit()),
    };
    super::write_line(line, t, pid, tid, cpu, &body);
    Ok(())
}

fn kind_name(kind: u8) -> Result<&'static str, CompactError> {
    Ok(match kind {
        VALUE => "value",
        LOCK => "lock",
        GIL => "gil",
        COMPUTE => "compute",
        SLEEP => "sleep",
        PROC_START => "proc.start",
        PROC_EXIT => "proc.exit",
        _ => return Err(CompactError::Kind(kind)),
    })
}

// The codes are the variants' positions; `encode` writes them with `as u8`.
fn phase(code: u8) -> Option<Phase> {
    [Phase::Begin, Phase::End].get(usize::from(code)).copied()
}

fn lock_phase(code: u8) -> Option<LockPhase> {
    [LockPhase::Wait, LockPhase::Acquire, LockPhase::Release].get(usize::from(code)).copied()
}

fn gil_phase(code: u8) -> Option<GilPhase> {
    [GilPhase::Wait, GilPhase::Acquire, GilPhase::Release, GilPhase::DropRequest].get(usize::from(code)).copied()
}

fn value_op(code: u8) -> Option<ValueOp> {
    [ValueOp::Read, ValueOp::Write].get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use proptest::prelude::*;

    fn every_compact_body() -> Vec<Body> {
        let mut bodies = Vec::new();
        for op in [ValueOp::Read, ValueOp::Write] {
            for value in [0, -200, 201, i64::MIN, i64::MAX] {
                bodies.push(Body::Value { op, name: "balance".into(), value });
            }
        }
        for phase in [LockPhase::Wait, LockPhase::Acquire, LockPhase::Release] {
            bodies.push(Body::Lock { phase, lock: "lock".into() });
            bodies.push(Body::Lock { phase, lock: "a \"quoted\"\nname é ✓ \u{1}".into() });
            bodies.push(Body::Lock { phase, lock: "".into() });
        }
        for phase in [GilPhase::Wait, GilPhase::Acquire, GilPhase::Release, GilPhase::DropRequest] {
            bodies.push(Body::Gil { phase });
        }
        for phase in [Phase::Begin, Phase::End] {
            for n in [None, Some(0), Some(7), Some(u64::MAX)] {
                bodies.push(Body::Compute { phase, work: n });
                bodies.push(Body::Sleep { phase, ms: n });
            }
        }
        for target in [None, Some("square"), Some(""), Some("é ✓ \"x\"")] {
            for (name, ppid) in [("worker-0", 4321), ("", 1), ("MainProcess", i32::MAX), ("p\u{1}", i32::MIN)] {
                bodies.push(Body::ProcStart { name: name.into(), ppid, target: target.map(Text::Borrowed) });
            }
        }
        for code in [0, 1, -1, i32::MIN, i32::MAX] {
            bodies.push(Body::ProcExit { code });
        }
        bodies
    }

    #[test]
    fn a_compact_record_expands_to_the_line_serde_writes_for_its_event() {
        let mut record = Record::new();
        let mut line = Vec::new();
        for body in every_compact_body() {
            assert!(encode(&mut record, 123_456_789, 4321, 4322, -1, &body), "{body:?}");
            expand(record.as_bytes(), &mut line).unwrap();
            let event = Event { seq: None, t: 123_456_789, pid: 4321, tid: 4322, cpu: -1, body };
            assert_eq!(String::from_utf8(line.clone()).unwrap(), serde_json::to_string(&event).unwrap());
        }
    }

    #[test]
    fn a_lesson_event_takes_one_cache_line_with_its_length_word() {
        let mut record = Record::new();
        let body = Body::Value { op: ValueOp::Write, name: "balance".into(), value: 200 };
        assert!(encode(&mut record, u64::MAX, i32::MAX, i32::MAX, 1, &body));
        assert!(8 + record.as_bytes().len() <= 64, "{} bytes", record.as_bytes().len());
    }

    #[test]
    fn other_kinds_and_long_names_stay_json() {
        let mut record = Record::new();
        assert!(!encode(&mut record, 1, 2, 3, 0, &Body::Print { text: "hi".into(), stream: None }));
        let long = Body::Lock { phase: LockPhase::Wait, lock: "x".repeat(MAX_TEXTS + 1).into() };
        assert!(!encode(&mut record, 1, 2, 3, 0, &long));
        let long = Body::ProcStart { name: "p".into(), ppid: 1, target: Some("x".repeat(MAX_TEXTS - 1).into()) };
        assert!(!encode(&mut record, 1, 2, 3, 0, &long));
        assert!(record.as_bytes().is_empty());
    }

    #[test]
    fn records_that_encode_never_writes_are_refused() {
        let mut record = Record::new();
        assert!(encode(&mut record, 1, 2, 3, 0, &Body::Lock { phase: LockPhase::Wait, lock: "lock".into() }));
        let good = record.as_bytes().to_vec();
        let mut line = Vec::new();
        let with = |at: usize, byte: u8| {
            let mut bad = good.clone();
            bad[at] = byte;
            bad
        };
        assert_eq!(expand(&good[..HEADER - 1], &mut line), Err(CompactError::Length(HEADER - 1)));
        assert_eq!(expand(&with(1, 9), &mut line), Err(CompactError::Kind(9)));
        assert_eq!(expand(&with(2, 3), &mut line), Err(CompactError::Code { kind: "lock", code: 3 }));
        assert_eq!(expand(&with(3, 1), &mut line), Err(CompactError::Fields("lock")));
        assert_eq!(expand(&with(3, 2), &mut line), Err(CompactError::Fields("lock")));
        assert_eq!(expand(&with(HEADER, 0xff), &mut line), Err(CompactError::NotUtf8));
        // A gil record carries no name; a value record always has a number.
        assert_eq!(expand(&with(1, GIL), &mut line), Err(CompactError::Fields("gil")));
        assert_eq!(expand(&with(1, VALUE), &mut line), Err(CompactError::Fields("value")));
        assert!(expand(&good, &mut line).is_ok());

        // proc.exit has no op, and its code is an i32.
        assert!(encode(&mut record, 1, 2, 3, 0, &Body::ProcExit { code: -1 }));
        let mut exit = record.as_bytes().to_vec();
        exit[2] = 1;
        assert_eq!(expand(&exit, &mut line), Err(CompactError::Code { kind: "proc.exit", code: 1 }));
        exit[2] = 0;
        exit[24..32].copy_from_slice(&(i64::from(i32::MIN) - 1).to_le_bytes());
        assert_eq!(expand(&exit, &mut line), Err(CompactError::Fields("proc.exit")));
        // A second text whose stated length runs past the record.
        let start = Body::ProcStart { name: "w".into(), ppid: 1, target: Some("t".into()) };
        assert!(encode(&mut record, 1, 2, 3, 0, &start));
        let mut start = record.as_bytes().to_vec();
        start[HEADER] = 3;
        assert_eq!(expand(&start, &mut line), Err(CompactError::Fields("proc.start")));
    }

    proptest! {
        /// The server reads whatever a process put in the ring: a record
        /// either expands to an event that parses and encodes back to the
        /// very same bytes, or is refused.
        #[test]
        fn any_record_expands_to_the_event_it_encodes_or_is_refused(
            kind in 0u8..9,
            code in 0u8..5,
            flags in 0u8..5,
            fields in any::<[u8; 28]>(),
            zero_number in any::<bool>(),
            name in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..140),
                "[a-z ]{0,100}".prop_map(String::into_bytes),
                // A length byte, then two texts.
                (0u8..12, "[a-z]{0,20}").prop_map(|(len, rest)| [vec![len], rest.into_bytes()].concat()),
            ],
        ) {
            let mut record = vec![TAG, kind, code, flags];
            record.extend_from_slice(&fields);
            if zero_number {
                record[24..32].fill(0);
            }
            record.extend_from_slice(&name);
            let mut line = Vec::new();
            if expand(&record, &mut line).is_ok() {
                let event: Event = serde_json::from_slice(&line).unwrap();
                let mut again = Record::new();
                prop_assert!(encode(&mut again, event.t, event.pid, event.tid, event.cpu, &event.body));
                prop_assert_eq!(again.as_bytes(), &record[..]);
            }
        }
    }
}
