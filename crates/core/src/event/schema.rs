//! The one definition of the events, `schema/events.json`: every kind and
//! its fields, which events open and close spans, which pair into arrows.
//!
//! Everything that speaks the schema reads that file rather than its own
//! copy: the tests below hold [`Body`](super::Body) (and so the runner's
//! writer and the server's reader) to its kinds and fields, in order; the
//! trace export (the server's `trace`) takes its spans and arrows from it; the page
//! imports `web/schema.js`, which is generated from it (and checked here);
//! the Python tracer's tests check every line the tracer writes against it.

use std::sync::LazyLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The file itself, as the binary carries it.
pub const SCHEMA_JSON: &str = include_str!("../../../../schema/events.json");

/// The schema, parsed once.
pub static SCHEMA: LazyLock<Schema> = LazyLock::new(|| serde_json::from_str(SCHEMA_JSON).expect("schema/events.json is valid"));

#[derive(Debug, Deserialize)]
pub struct Schema {
    pub event_fields: Ordered<Value>,
    pub kinds: Ordered<Ordered<Value>>,
    pub spans: Vec<Span>,
    pub arrows: Vec<Arrow>,
}

/// A JSON object's entries in the order the file writes them (serde_json's
/// own map sorts them, and field order is part of the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Ordered<T> {
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// Which events open and close one kind of span.
#[derive(Debug, Deserialize)]
pub struct Span {
    pub kind: String,
    pub opens: Ordered<Value>,
    pub closes: Ordered<Value>,
    /// Fields that must be equal in the opener and the closer.
    pub by: Vec<String>,
    pub style: String,
    pub label: String,
}

/// Which events pair into one kind of arrow.
#[derive(Debug, Deserialize)]
pub struct Arrow {
    pub name: String,
    pub from: End,
    pub to: End,
    #[serde(default)]
    pub handover: bool,
    pub label: String,
}

#[derive(Debug, Deserialize)]
pub struct End {
    pub kind: String,
    #[serde(default = "no_conditions")]
    pub when: Ordered<Value>,
    pub key: Vec<String>,
}

fn no_conditions() -> Ordered<Value> {
    Ordered(Vec::new())
}

/// Whether `event` (a flat event object) has every field `when` asks for.
pub fn matches(event: &Value, when: &Ordered<Value>) -> bool {
    when.0.iter().all(|(k, v)| event.get(k) == Some(v))
}

/// Fills a label template: `{field}` from `event`, `{field:json}` as JSON,
/// `{field:name}` through `name_of` (a process's or thread's name by id).
pub fn label(template: &str, event: &Value, name_of: &dyn Fn(i64) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let spec = &rest[open + 1..open + close];
        let (field, how) = spec.split_once(':').unwrap_or((spec, ""));
        let value = event.get(field).unwrap_or(&Value::Null);
        match (how, value) {
            ("json", v) => out.push_str(&v.to_string()),
            ("name", v) => match v.as_i64().and_then(name_of) {
                Some(name) => out.push_str(&name),
                None => out.push_str(&v.to_string()),
            },
            (_, Value::String(s)) => out.push_str(s),
            (_, Value::Null) => out.push('?'),
            (_, v) => out.push_str(&v.to_string()),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `web/schema.js`: the schema as an ES module the page imports.
pub fn page_module() -> String {
    format!(
        "// Generated from schema/events.json by forkline-core's test\n\
         // `the_page_module_is_generated_from_the_schema` (FORKLINE_BLESS=1 writes it). Do not edit.\n\
         export const SCHEMA = Object.freeze({});\n",
        SCHEMA_JSON.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, Event, GilPhase, LockPhase, Outcome, Phase, PipeOp, QueueOp, ValueOp};

    /// Its index in a `match` with no catch-all: adding a variant to `Body`
    /// fails to compile here until [`every_variant`] shows one of it.
    fn variant(body: &Body) -> usize {
        match body {
            Body::RunStart { .. } => 0,
            Body::RunEnd { .. } => 1,
            Body::Result { .. } => 2,
            Body::ProcSpawn { .. } => 3,
            Body::ProcStart { .. } => 4,
            Body::ProcExit { .. } => 5,
            Body::ProcJoin { .. } => 6,
            Body::ThreadSpawn { .. } => 7,
            Body::ThreadStart { .. } => 8,
            Body::ThreadExit {} => 9,
            Body::ThreadJoin { .. } => 10,
            Body::Print { .. } => 11,
            Body::Sleep { .. } => 12,
            Body::Compute { .. } => 13,
            Body::Lock { .. } => 14,
            Body::Value { .. } => 15,
            Body::Queue { .. } => 16,
            Body::Pipe { .. } => 17,
            Body::Gil { .. } => 18,
            Body::ForkReturn { .. } => 19,
            Body::System { .. } => 20,
            Body::KernelSample { .. } => 21,
            Body::Note { .. } => 22,
            Body::Exception { .. } => 23,
            Body::StepPending { .. } => 24,
            Body::StepSchedule { .. } => 25,
        }
    }
    const VARIANTS: usize = 26;

    /// One of every variant, every optional field given.
    fn every_variant() -> Vec<Body> {
        let t = || "x".into();
        vec![
            Body::RunStart { demo: t(), params: serde_json::json!({}), engine: Some(t()), interpreter: Some(t()), file: Some(t()), source: Some(t()) },
            Body::RunEnd { outcome: Outcome::Failed, reason: Some(t()) },
            Body::Result { text: t(), data: serde_json::json!({"a": 1}) },
            Body::ProcSpawn { child: 1, name: t() },
            Body::ProcStart { name: t(), ppid: 1, target: Some(t()) },
            Body::ProcExit { code: 0 },
            Body::ProcJoin { phase: Phase::End, child: 1, code: Some(0), signal: Some(9) },
            Body::ThreadSpawn { child: 1, name: t() },
            Body::ThreadStart { name: t() },
            Body::ThreadExit {},
            Body::ThreadJoin { phase: Phase::Begin, child: 1 },
            Body::Print { text: t(), stream: Some("stderr".into()) },
            Body::Sleep { phase: Phase::Begin, ms: Some(5) },
            Body::Compute { phase: Phase::Begin, work: Some(5) },
            Body::Lock { phase: LockPhase::Wait, lock: t() },
            Body::Value { op: ValueOp::Write, name: t(), value: 3 },
            Body::Queue { op: QueueOp::Put, queue: t(), msg: 1, value: serde_json::json!(4) },
            Body::Pipe { op: PipeOp::Recv, end: t(), msg: 1, value: serde_json::json!([1]), bytes: Some(3), corrupt: Some(false) },
            Body::Gil { phase: GilPhase::DropRequest },
            Body::ForkReturn { value: 0 },
            Body::System { phase: Phase::End, command: t(), status: Some(256) },
            Body::KernelSample { of_pid: 1, of_tid: 1, of_ppid: Some(1), name: Some(t()), state: "R".into(), on_cpu: 0, utime: Some(1), stime: Some(1) },
            Body::Note { text: t() },
            Body::Exception { type_name: t(), message: t(), line: Some(3) },
            Body::StepPending { gate: 0, op: t(), at: t(), line: Some(3) },
            Body::StepSchedule { steps: vec![t()], free: true },
        ]
    }

    fn type_fits(expected: &Value, value: &Value) -> bool {
        match expected {
            Value::Array(options) => options.contains(value),
            Value::String(name) => match name.trim_end_matches('?') {
                "int" => value.is_i64() || value.is_u64(),
                "string" => value.is_string(),
                "bool" => value.is_boolean(),
                "object" => value.is_object(),
                "strings" => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
                "any" => true,
                other => panic!("unknown type {other:?} in the schema"),
            },
            other => panic!("a field type must be a name or a list, not {other}"),
        }
    }

    fn optional(expected: &Value) -> bool {
        expected.as_str().is_some_and(|s| s.ends_with('?'))
    }

    #[test]
    fn every_kind_of_the_rust_types_has_exactly_the_schemas_fields_in_its_order() {
        let bodies = every_variant();
        let mut seen = [false; VARIANTS];
        for body in &bodies {
            seen[variant(body)] = true;
        }
        assert!(seen.iter().all(|s| *s), "every variant is shown once");
        let kinds: Vec<&str> = SCHEMA.kinds.keys().collect();
        assert_eq!(kinds.len(), VARIANTS, "the schema has as many kinds as Body has variants");
        for body in bodies {
            let kind = body.kind();
            let fields = SCHEMA.kinds.get(kind).unwrap_or_else(|| panic!("{kind} is not in the schema"));
            let line = serde_json::to_string(&Event { seq: Some(1), t: 2, pid: 3, tid: 4, cpu: 0, body }).unwrap();
            let written: Ordered<Value> = serde_json::from_str(&line).unwrap();
            let own: Vec<&str> = SCHEMA.event_fields.keys().collect();
            let head: Vec<&str> = written.keys().take(own.len() + 1).collect();
            assert_eq!(head, [own.clone(), vec!["kind"]].concat(), "{kind}: the event's own fields, then kind");
            let body_fields: Vec<(String, Value)> = written.0.into_iter().skip(own.len() + 1).collect();
            let names: Vec<&str> = body_fields.iter().map(|(k, _)| k.as_str()).collect();
            let declared: Vec<&str> = fields.keys().collect();
            assert_eq!(names, declared, "{kind}: fields and their order");
            for (name, value) in &body_fields {
                assert!(type_fits(fields.get(name).unwrap(), value), "{kind}.{name} = {value} does not fit the schema");
            }
        }
    }

    #[test]
    fn required_fields_are_required_by_the_reader_too() {
        for (kind, fields) in &SCHEMA.kinds.0 {
            for (name, expected) in &fields.0 {
                if optional(expected) || kind == "run.end" {
                    continue;
                }
                // The line with every field but this one must be refused.
                let body = every_variant().into_iter().find(|b| b.kind() == kind).unwrap();
                let mut event = serde_json::to_value(Event { seq: None, t: 1, pid: 1, tid: 1, cpu: 0, body }).unwrap();
                event.as_object_mut().unwrap().remove(name);
                let refused = serde_json::from_value::<Event>(event.clone()).is_err();
                // A JSON value field absent reads as null, which is a value too.
                let any = expected.as_str() == Some("any");
                assert!(refused || any, "{kind} without {name} was accepted: {event}");
            }
        }
    }

    #[test]
    fn spans_and_arrows_name_kinds_and_fields_that_exist() {
        let has = |kind: &str, field: &str| {
            SCHEMA.event_fields.get(field).is_some() || SCHEMA.kinds.get(kind).is_some_and(|f| f.get(field).is_some())
        };
        for span in &SCHEMA.spans {
            for (field, _) in span.opens.0.iter().chain(&span.closes.0) {
                assert!(has(&span.kind, field), "span of {}: no field {field}", span.kind);
            }
            for field in &span.by {
                assert!(has(&span.kind, field), "span of {}: no field {field}", span.kind);
            }
        }
        for arrow in &SCHEMA.arrows {
            for end in [&arrow.from, &arrow.to] {
                assert!(SCHEMA.kinds.get(&end.kind).is_some(), "arrow {}: no kind {}", arrow.name, end.kind);
                for field in end.key.iter().map(String::as_str).chain(end.when.keys()) {
                    assert!(has(&end.kind, field), "arrow {}: {} has no {field}", arrow.name, end.kind);
                }
            }
        }
    }

    #[test]
    fn labels_fill_in_fields_names_and_json() {
        let event = serde_json::json!({"kind": "queue", "queue": "q", "value": [4, 9], "child": 7});
        let name = |id: i64| (id == 7).then(|| "Process-1".to_owned());
        assert_eq!(label("{queue}: {value:json}", &event, &name), "q: [4,9]");
        assert_eq!(label("{child:name}.join()", &event, &name), "Process-1.join()");
        assert_eq!(label("sleep {ms} ms", &event, &name), "sleep ? ms");
    }

    #[test]
    fn the_page_module_is_generated_from_the_schema() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/schema.js");
        let expected = page_module();
        if std::env::var_os("FORKLINE_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(on_disk == expected, "web/schema.js is not generated from schema/events.json: run FORKLINE_BLESS=1 cargo test -p forkline-core schema");
    }

    #[test]
    fn the_docs_describe_every_kind() {
        let docs = include_str!("../../../../docs/events.md");
        for kind in SCHEMA.kinds.keys() {
            assert!(docs.contains(&format!("| `{kind}` |")), "docs/events.md has no row for {kind}");
        }
    }
}
