//! Turning the runner's records into numbered events: validate each against
//! the schema, assign `seq`.
//!
//! A runner is trusted to run the demo, not to be well-formed: a record that
//! is not one event on one line, or claims to be something only the server
//! may say (`seq`, `run.end`), ends the run as failed with that reason (the
//! ring itself refuses records that are too long; see crate::ring). A compact
//! record (crate::event::compact) is checked field by field and expanded to
//! the JSON line its writer would otherwise have written.

use std::sync::Arc;

use bytes::Bytes;

use super::step::Stepper;
use crate::event::{compact, Body, Event};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("the runner wrote a malformed event: {0}")]
    Malformed(String),
    #[error("the runner wrote an event only the server may write: {0}")]
    Forbidden(&'static str),
    #[error("the runner's first event was not run.start")]
    NoStart,
}

/// Validates events and numbers them 1, 2, 3, … in arrival order.
#[derive(Debug, Default)]
pub struct Numberer {
    last_seq: u64,
    bytes: usize,
    /// A compact record's JSON line, reused from one record to the next.
    expanded: Vec<u8>,
    /// A stepped run's stepper, which sees every event accepted.
    stepper: Option<Arc<Stepper>>,
}

impl Numberer {
    /// Numbers on after `last_seq` events (whose bytes are not counted again).
    pub fn resume(last_seq: u64) -> Self {
        Numberer { last_seq, ..Numberer::default() }
    }

    /// Shows every event accepted from now on to a stepped run's stepper.
    pub fn watched_by(mut self, stepper: Option<Arc<Stepper>>) -> Self {
        self.stepper = stepper;
        self
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Bytes of runner lines accepted so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Checks one runner record and returns it as stored: a JSON line with
    /// `"seq":N` spliced in front, so the runner's bytes are kept verbatim;
    /// a compact record as the JSON line it stands for.
    pub fn accept(&mut self, line: &[u8]) -> Result<Bytes, IngestError> {
        if line.first() == Some(&compact::TAG) {
            return self.accept_compact(line);
        }
        // Line breaks are JSON whitespace but would split an SSE frame and
        // the JSON Lines export; our emitter never writes one.
        if memchr::memchr2(b'\n', b'\r', line).is_some() {
            return Err(IngestError::Malformed("line break in an event".into()));
        }
        let event: Event = serde_json::from_slice(line).map_err(|e| IngestError::Malformed(e.to_string()))?;
        if event.seq.is_some() {
            return Err(IngestError::Forbidden("seq"));
        }
        match (&event.body, self.last_seq) {
            (Body::RunEnd { .. }, _) => return Err(IngestError::Forbidden("run.end")),
            (Body::StepSchedule { .. }, _) => return Err(IngestError::Forbidden("step.schedule")),
            (Body::RunStart { .. }, 0) => {}
            (Body::RunStart { .. }, _) => return Err(IngestError::Forbidden("a second run.start")),
            (_, 0) => return Err(IngestError::NoStart),
            _ => {}
        }
        // A parsed event is a JSON object, so the line starts with '{' (maybe
        // after whitespace) and has at least one field after it.
        let body = line.trim_ascii_start().strip_prefix(b"{").ok_or_else(|| IngestError::Malformed("not an object".into()))?;
        if let Some(stepper) = &self.stepper {
            stepper.see(&event);
        }
        self.last_seq += 1;
        self.bytes += line.len();
        Ok(numbered(self.last_seq, body))
    }

    /// A compact record is never `run.start`, so it can never come first.
    fn accept_compact(&mut self, record: &[u8]) -> Result<Bytes, IngestError> {
        compact::expand(record, &mut self.expanded).map_err(|e| IngestError::Malformed(e.to_string()))?;
        if self.last_seq == 0 {
            return Err(IngestError::NoStart);
        }
        // Parsed again only in a stepped run, which moves at a student's pace.
        if let Some(stepper) = &self.stepper {
            if let Ok(event) = serde_json::from_slice::<Event>(&self.expanded) {
                stepper.see(&event);
            }
        }
        self.last_seq += 1;
        self.bytes += self.expanded.len();
        Ok(numbered(self.last_seq, &self.expanded[1..]))
    }

    /// Serialises an event the server itself writes (`run.end`) with the next seq.
    pub fn server_event(&mut self, mut event: Event) -> Bytes {
        self.last_seq += 1;
        event.seq = Some(self.last_seq);
        Bytes::from(serde_json::to_vec(&event).expect("event serialises"))
    }
}

fn numbered(seq: u64, rest_after_brace: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(rest_after_brace.len() + 24);
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.push(b',');
    out.extend_from_slice(rest_after_brace);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &[u8] = br#"{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"run.start","demo":"x","params":{}}"#;
    const PRINT: &[u8] = br#"{"t":3,"pid":2,"tid":2,"cpu":0,"kind":"print","text":"hi"}"#;

    #[test]
    fn numberer_splices_seq_and_keeps_the_rest_verbatim() {
        let mut n = Numberer::default();
        let first = n.accept(START).unwrap();
        assert!(first.starts_with(br#"{"seq":1,"t":1"#));
        let second = n.accept(PRINT).unwrap();
        let event: Event = serde_json::from_slice(&second).unwrap();
        assert_eq!(event.seq, Some(2));
        assert_eq!(event.body, Body::Print { text: "hi".into(), stream: None });
    }

    #[test]
    fn numberer_refuses_what_only_the_server_may_say() {
        let mut n = Numberer::default();
        assert_eq!(n.accept(PRINT), Err(IngestError::NoStart));
        n.accept(START).unwrap();
        assert!(matches!(n.accept(START), Err(IngestError::Forbidden(_))));
        let end = br#"{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"run.end","outcome":"ok"}"#;
        assert!(matches!(n.accept(end), Err(IngestError::Forbidden(_))));
        let broken = b"{\"t\":1,\n\"pid\":2,\"tid\":2,\"cpu\":0,\"kind\":\"print\",\"text\":\"\"}";
        assert!(matches!(n.accept(broken), Err(IngestError::Malformed(_))));
        let seq = br#"{"seq":9,"t":1,"pid":2,"tid":2,"cpu":0,"kind":"print","text":""}"#;
        assert!(matches!(n.accept(seq), Err(IngestError::Forbidden(_))));
        assert!(matches!(n.accept(b"garbage"), Err(IngestError::Malformed(_))));
        assert!(matches!(n.accept(&[compact::TAG, 2, 0]), Err(IngestError::Malformed(_))));
        assert_eq!(n.last_seq(), 1);
    }

    #[test]
    fn a_compact_record_is_stored_as_the_json_line_it_stands_for() {
        let body = Body::Lock { phase: crate::event::LockPhase::Acquire, lock: "lock".into() };
        let mut record = compact::Record::new();
        assert!(compact::encode(&mut record, 7, 2, 3, 1, &body));
        let mut n = Numberer::default();
        assert_eq!(n.accept(record.as_bytes()), Err(IngestError::NoStart));
        n.accept(START).unwrap();
        let stored = n.accept(record.as_bytes()).unwrap();
        assert_eq!(&stored[..], br#"{"seq":2,"t":7,"pid":2,"tid":3,"cpu":1,"kind":"lock","phase":"acquire","lock":"lock"}"#);
        assert_eq!(n.bytes(), START.len() + stored.len() - br#""seq":2,"#.len());
    }
}
