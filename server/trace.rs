//! A run's log as a Chrome Trace Event Format file, so a student can open a
//! run in Perfetto UI or chrome://tracing and look at it with a real tracer.
//!
//! The mapping (JSON object format, `ts` in microseconds):
//!
//! * `M` `process_name` / `thread_name` for every pid and thread seen;
//! * `B`/`E` spans: a process's and a thread's life, and every span of the
//!   schema (`schema/events.json`: sleep, compute, `os.system`, join waits,
//!   lock and GIL waiting and holding), named by its label there. Every `B`
//!   gets its `E` on the same thread, even when spans end out of nesting
//!   order or the run was killed mid-span;
//! * `i` instants for prints, notes, values, results and the like;
//! * `s`/`f` flows, one unique id each, for every arrow of the schema (spawn,
//!   join, queue and pipe messages, a lock handed over), named as there.
//!   Each end sits in a 1 ns slice of its own, so both viewers bind it to
//!   that slice (a flow binds to a slice, never to an instant).
//!
//! The spans and arrows are the schema's, the same ones the page draws, so
//! the export and the page cannot tell different stories.
//!
//! Only domain types here: the HTTP layer serves the result.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::event::schema::{self, SCHEMA};
use crate::event::{Body, Event, Phase, PipeOp, QueueOp, ValueOp};

/// Length of the slice a flow end sits in: 1 ns, in microseconds.
const FLOW_SLICE_US: f64 = 0.001;

/// The trace of a whole log (one serialised event per item, in `seq` order),
/// as one JSON value: for tests and small logs. Serving a run streams
/// [`write_chrome_trace`] instead.
pub fn chrome_trace(log: &[Bytes]) -> Value {
    let mut out = Vec::new();
    write_chrome_trace(|| log.iter().cloned(), &mut out).expect("writing to memory cannot fail");
    serde_json::from_slice(&out).expect("the trace is JSON")
}

/// Writes the trace of a log to `out` as it goes, so what it holds is one
/// event at a time, the spans still open, and 16 bytes per event for pairing
/// arrows: never the whole output nor a parsed copy of the log. `lines` is
/// called twice: once to pair the arrows (an arrow's start may come after
/// its end in the log), once to write. Lines that do not parse are skipped:
/// an export never fails on one event.
pub fn write_chrome_trace<I: Iterator<Item = Bytes>>(lines: impl Fn() -> I, out: &mut impl Write) -> std::io::Result<()> {
    let flows = pair_flows(parsed(lines()));
    out.write_all(b"{\"traceEvents\":[")?;
    let mut builder = Builder::new(out);
    for (i, (event, flat)) in parsed(lines()).enumerate() {
        builder.event(&event, &flat, flows.get(&i).map(Vec::as_slice).unwrap_or(&[]));
        builder.failed()?;
    }
    builder.finish()
}

/// Each line typed, and as the flat object the schema's rules read.
fn parsed(lines: impl Iterator<Item = Bytes>) -> impl Iterator<Item = (Event, Value)> {
    lines.filter_map(|line| Some((serde_json::from_slice::<Event>(&line).ok()?, serde_json::from_slice::<Value>(&line).ok()?)))
}

/// One end of a flow attached to an event.
#[derive(Debug, Clone)]
struct FlowEnd {
    id: u64,
    /// The schema arrow's name (`spawn`, `join`, `message`, `lock`).
    name: &'static str,
    start: bool,
    /// Where the end is drawn, µs; a start may be moved earlier (see `pair_flows`).
    ts: f64,
}

/// The values of `keys` in `event`, as one comparable text.
fn key_of(event: &Value, keys: &[String]) -> String {
    keys.iter().map(|k| event.get(k).map_or("null".to_owned(), Value::to_string)).collect::<Vec<_>>().join("|")
}

/// Matches the schema's arrows: each `from` event with the `to` event whose
/// key is the same, whichever the log carries first (a child may report its
/// start before its parent reports the spawn); a hand-over arrow from the
/// last `from` to a `to` on another thread that waited across it. When the
/// end's timestamp is earlier than the start's (each side reports *after*
/// it acted, so the later reporter can look earlier), the start is drawn at
/// the end's time, so no arrow points back in time.
fn pair_flows(log: impl Iterator<Item = (Event, Value)>) -> HashMap<usize, Vec<FlowEnd>> {
    // What pairing needs of an event once it has passed: its time and thread.
    let mut seen: Vec<(u64, i32)> = Vec::new();
    let mut waiting: HashMap<(usize, String, bool), VecDeque<usize>> = HashMap::new();
    // Hand-over: the last `from` per key, and when each thread last did
    // something else of that kind with that key (began to wait).
    let mut last_from: HashMap<(usize, String), usize> = HashMap::new();
    let mut last_other: HashMap<(usize, String, i32), u64> = HashMap::new();
    let mut pairs: Vec<(usize, usize, &'static str)> = Vec::new();
    for (i, (typed, flat)) in log.enumerate() {
        seen.push((typed.t, typed.tid));
        let event = &flat;
        let kind = event["kind"].as_str().unwrap_or_default();
        for (a, arrow) in SCHEMA.arrows.iter().enumerate() {
            let is_from = arrow.from.kind == kind && schema::matches(event, &arrow.from.when);
            let is_to = arrow.to.kind == kind && schema::matches(event, &arrow.to.when);
            if !is_from && !is_to {
                continue;
            }
            let name: &'static str = arrow.name.as_str();
            if arrow.handover {
                let key = key_of(event, &arrow.from.key);
                let tid = typed.tid;
                if is_to {
                    let waited_since = last_other.get(&(a, key.clone(), tid)).copied();
                    if let (Some(&from), Some(since)) = (last_from.get(&(a, key.clone())), waited_since) {
                        if seen[from].1 != tid && seen[from].0 >= since {
                            pairs.push((from, i, name));
                            last_from.remove(&(a, key.clone()));
                        }
                    }
                }
                if is_from {
                    last_from.insert((a, key), i);
                }
                continue;
            }
            let key = key_of(event, if is_from { &arrow.from.key } else { &arrow.to.key });
            let partner = waiting.get_mut(&(a, key.clone(), !is_from)).and_then(VecDeque::pop_front);
            match partner {
                Some(j) if is_from => pairs.push((i, j, name)),
                Some(j) => pairs.push((j, i, name)),
                None => waiting.entry((a, key, is_from)).or_default().push_back(i),
            }
        }
        // A hand-over's wait is any other event of its kind and key.
        for (a, arrow) in SCHEMA.arrows.iter().enumerate().filter(|(_, a)| a.handover && a.from.kind == kind) {
            let is_end = schema::matches(event, &arrow.from.when) || schema::matches(event, &arrow.to.when);
            if !is_end {
                last_other.insert((a, key_of(event, &arrow.from.key), typed.tid), typed.t);
            }
        }
    }
    let mut out: HashMap<usize, Vec<FlowEnd>> = HashMap::new();
    for (next_id, (s, f, name)) in (1..).zip(pairs) {
        let f_ts = us(seen[f].0);
        let s_ts = us(seen[s].0);
        let s_ts = if s_ts < f_ts { s_ts } else { f_ts - FLOW_SLICE_US };
        out.entry(s).or_default().push(FlowEnd { id: next_id, name, start: true, ts: s_ts });
        out.entry(f).or_default().push(FlowEnd { id: next_id, name, start: false, ts: f_ts });
    }
    out
}

fn us(t_ns: u64) -> f64 {
    t_ns as f64 / 1000.0
}

/// An open span on one thread.
struct Open {
    tag: String,
    name: String,
    args: Value,
}

struct Builder<'w, W: Write> {
    out: &'w mut W,
    /// Whether a record was written (the next needs a comma first).
    wrote: bool,
    /// The first write that failed (the client left): nothing more is written.
    error: Option<std::io::Error>,
    /// Open spans per (pid, tid), innermost last.
    stacks: BTreeMap<(i32, i32), Vec<Open>>,
    process_names: HashMap<i32, String>,
    thread_names: HashMap<(i32, i32), String>,
    /// Threads in order of first appearance (names and sort order follow it).
    seen: Vec<(i32, i32)>,
    /// A span tag's category: the schema span's style.
    categories: HashMap<String, String>,
    /// The latest time seen, µs: where spans still open at the end close.
    last: f64,
    /// Who sent `run.end` (the server), and the run's demo.
    run_end_pid: Option<i32>,
    /// The kernel sampler's process: its samples, not a lesson process.
    sampler_pid: Option<i32>,
    demo: Option<String>,
}

impl<'w, W: Write> Builder<'w, W> {
    fn new(out: &'w mut W) -> Self {
        Builder {
            out,
            wrote: false,
            error: None,
            stacks: BTreeMap::new(),
            process_names: HashMap::new(),
            thread_names: HashMap::new(),
            seen: Vec::new(),
            categories: HashMap::new(),
            last: 0.0,
            run_end_pid: None,
            sampler_pid: None,
            demo: None,
        }
    }

    /// Writes one trace record.
    fn put(&mut self, record: Value) {
        if self.error.is_some() {
            return;
        }
        let written = (if self.wrote { self.out.write_all(b",") } else { Ok(()) })
            .and_then(|()| serde_json::to_writer(&mut *self.out, &record).map_err(std::io::Error::from));
        self.wrote = true;
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn failed(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn event(&mut self, e: &Event, flat: &Value, flows: &[FlowEnd]) {
        let key = (e.pid, e.tid);
        self.see(key);
        let ts = us(e.t);
        self.last = self.last.max(ts);
        match &e.body {
            Body::RunEnd { .. } | Body::StepSchedule { .. } if self.run_end_pid.is_none() => self.run_end_pid = Some(e.pid),
            Body::KernelSample { .. } if self.sampler_pid.is_none() => self.sampler_pid = Some(e.pid),
            Body::RunStart { demo, .. } if self.demo.is_none() => self.demo = Some(demo.to_string()),
            _ => {}
        }
        if self.schema_spans(e, flat, flows) {
            return;
        }
        match &e.body {
            Body::ProcStart { name, target, ppid } => {
                self.process_names.insert(e.pid, name.to_string());
                self.open(key, ts, "life", name, json!({ "target": target, "ppid": ppid }));
                self.flows(key, flows, "start", json!({}), FLOW_SLICE_US);
            }
            Body::ThreadStart { name } => {
                self.thread_names.insert(key, name.to_string());
                self.open(key, ts, "life", name, json!({}));
                self.flows(key, flows, "start", json!({}), FLOW_SLICE_US);
            }
            Body::ProcExit { code } => {
                self.flows(key, flows, "exit", json!({ "code": code }), 0.0);
                self.close(key, after(ts, flows), "life");
            }
            Body::ThreadExit {} => {
                self.flows(key, flows, "exit", json!({}), 0.0);
                self.close(key, after(ts, flows), "life");
            }
            Body::ProcSpawn { child, name } | Body::ThreadSpawn { child, name } => {
                let label = format!("spawn {name}");
                let args = json!({ "child": child, "name": name });
                if flows.is_empty() {
                    self.instant(key, ts, &label, args);
                } else {
                    self.flows(key, flows, &label, args, 0.0);
                }
            }
            Body::Queue { op, queue, msg, value } => {
                let verb = if *op == QueueOp::Put { "put" } else { "get" };
                self.message(key, ts, flows, &format!("{queue}.{verb} #{msg}"), json!({ "queue": queue, "msg": msg, "value": value }));
            }
            Body::Pipe { op, end, msg, value, bytes, corrupt } => {
                let verb = if *op == PipeOp::Send { "send" } else { "recv" };
                let args = json!({ "end": end, "msg": msg, "value": value, "bytes": bytes, "corrupt": corrupt });
                self.message(key, ts, flows, &format!("{end}.{verb} #{msg}"), args);
            }
            // Kinds with spans are drawn above; what is left of them is an
            // event that neither opens nor closes one (a GIL drop request).
            Body::Sleep { .. }
            | Body::Compute { .. }
            | Body::System { .. }
            | Body::Lock { .. }
            | Body::Gil { .. }
            | Body::ProcJoin { .. }
            | Body::ThreadJoin { .. } => {
                let args = flat_fields(flat);
                self.instant(key, ts, &format!("{} {}", e.body.kind(), instant_words(flat)), args);
            }
            Body::Print { text, stream } => self.instant(key, ts, &format!("print: {text}"), json!({ "text": text, "stream": stream })),
            Body::Exception { type_name, message, line } => {
                self.instant(key, ts, &format!("{type_name}: {message}"), json!({ "type": type_name, "message": message, "line": line }))
            }
            Body::Note { text } => self.instant(key, ts, &format!("note: {text}"), json!({ "text": text })),
            Body::Value { op, name, value } => {
                let verb = if *op == ValueOp::Read { "read" } else { "write" };
                self.instant(key, ts, &format!("{name} {verb} {value}"), json!({ "name": name, "value": value }))
            }
            Body::Result { text, data } => self.instant(key, ts, &format!("result: {text}"), json!({ "data": data })),
            Body::ForkReturn { value } => self.instant(key, ts, &format!("fork() returned {value}"), json!({})),
            Body::KernelSample { of_pid, of_tid, state, on_cpu, .. } => {
                let sampled = (*of_pid, *of_tid);
                self.see(sampled);
                self.instant(sampled, ts, &format!("state {state} on cpu {on_cpu}"), json!({ "state": state, "cpu": on_cpu }))
            }
            Body::RunStart { demo, params, engine, interpreter, .. } => self.global(
                key,
                ts,
                &format!("run.start {demo}"),
                json!({ "params": params, "engine": engine, "interpreter": interpreter }),
            ),
            Body::RunEnd { outcome, reason } => {
                self.global(key, ts, &format!("run.end {}", outcome.as_str()), json!({ "reason": reason }))
            }
            Body::StepPending { op, at, .. } => self.instant(key, ts, &format!("next: {op}"), json!({ "at": at })),
            Body::StepSchedule { steps, free } => {
                self.global(key, ts, &format!("stepped {} times", steps.len()), json!({ "steps": steps, "free": free }))
            }
        }
    }

    /// Draws what the schema's spans say `e` does: closes the spans it
    /// ends, then opens the ones it begins, named by the schema's labels.
    /// False when its kind has no spans (the caller draws it).
    fn schema_spans(&mut self, e: &Event, flat: &Value, flows: &[FlowEnd]) -> bool {
        let kind = e.body.kind();
        let key = (e.pid, e.tid);
        let ts = us(e.t);
        if !SCHEMA.spans.iter().any(|s| s.kind == kind) {
            return false;
        }
        let mut acted = false;
        let tag = |i: usize, span: &schema::Span| format!("span{i}|{}", key_of(flat, &span.by));
        if !flows.is_empty() {
            self.flows(key, flows, &format!("{kind} {}", instant_words(flat)), flat_fields(flat), 0.0);
        }
        for (i, span) in SCHEMA.spans.iter().enumerate().filter(|(_, s)| s.kind == kind) {
            if schema::matches(flat, &span.closes) {
                self.close(key, after(ts, flows), &tag(i, span));
                acted = true;
            }
        }
        for (i, span) in SCHEMA.spans.iter().enumerate().filter(|(_, s)| s.kind == kind) {
            if schema::matches(flat, &span.opens) {
                let name = schema::label(&span.label, flat, &|id| self.name_of(id));
                self.open(key, ts, &tag(i, span), &name, flat_fields(flat));
                self.categories.insert(tag(i, span), span.style.clone());
                acted = true;
            }
        }
        if let Body::System { phase: Phase::End, status, .. } = &e.body {
            self.instant(key, ts, &format!("os.system → {}", status.unwrap_or(0)), json!({ "status": status }));
        }
        acted || !flows.is_empty()
    }

    /// A process's or thread's name by its id, for labels.
    fn name_of(&self, id: i64) -> Option<String> {
        let id = i32::try_from(id).ok()?;
        self.process_names.get(&id).cloned().or_else(|| self.thread_names.iter().find(|((_, tid), _)| *tid == id).map(|(_, n)| n.clone()))
    }

    fn see(&mut self, key: (i32, i32)) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.stacks.entry(key) {
            slot.insert(Vec::new());
            self.seen.push(key);
        }
    }

    fn open(&mut self, key: (i32, i32), ts: f64, tag: &str, name: &str, args: Value) {
        let category = self.categories.get(tag).map_or("lifetime", String::as_str);
        self.put(json!({ "ph": "B", "name": name, "cat": category, "pid": key.0, "tid": key.1, "ts": ts, "args": args }));
        self.stacks.entry(key).or_default().push(Open { tag: tag.to_owned(), name: name.to_owned(), args });
    }

    /// Ends the innermost open span tagged `tag` on this thread. Spans opened
    /// inside it are ended first and reopened right after, so `B`/`E` stay
    /// properly nested however the program interleaved them. An end with
    /// no open span (its begin was never seen) is dropped.
    fn close(&mut self, key: (i32, i32), ts: f64, tag: &str) {
        let stack = self.stacks.entry(key).or_default();
        let Some(at) = stack.iter().rposition(|o| o.tag == tag) else { return };
        let inner: Vec<Open> = stack.drain(at + 1..).collect();
        let closed = stack.pop().expect("position is inside the stack");
        for o in inner.iter().rev() {
            self.put(end(key, ts, &o.name));
        }
        self.put(end(key, ts, &closed.name));
        for o in inner {
            self.open(key, ts, &o.tag, &o.name, o.args);
        }
    }

    fn instant(&mut self, key: (i32, i32), ts: f64, name: &str, args: Value) {
        self.put(json!({ "ph": "i", "s": "t", "name": name, "cat": "event", "pid": key.0, "tid": key.1, "ts": ts, "args": args }));
    }

    fn global(&mut self, key: (i32, i32), ts: f64, name: &str, args: Value) {
        self.put(json!({ "ph": "i", "s": "g", "name": name, "cat": "run", "pid": key.0, "tid": key.1, "ts": ts, "args": args }));
    }

    /// A queue or pipe operation: a 1 ns slice carrying its flow ends.
    fn message(&mut self, key: (i32, i32), ts: f64, flows: &[FlowEnd], name: &str, args: Value) {
        if flows.is_empty() {
            self.instant(key, ts, name, args);
        } else {
            self.flows(key, flows, name, args, 0.0);
        }
    }

    /// Each flow end inside a 1 ns slice of its own, named `label`, `offset`
    /// µs after the flow's time (to sit strictly inside a span opened at the
    /// same instant: equal timestamps leave the viewers free to reorder).
    fn flows(&mut self, key: (i32, i32), flows: &[FlowEnd], label: &str, args: Value, offset: f64) {
        for flow in flows {
            let ts = flow.ts + offset;
            self.put(json!({ "ph": "B", "name": label, "cat": "flow", "pid": key.0, "tid": key.1, "ts": ts, "args": args }));
            let mut f = json!({ "ph": if flow.start { "s" } else { "f" }, "id": flow.id, "name": flow.name, "cat": "flow",
                                 "pid": key.0, "tid": key.1, "ts": ts });
            if !flow.start {
                f["bp"] = "e".into();
            }
            self.put(f);
            self.put(end(key, ts + FLOW_SLICE_US, label));
        }
    }

    /// Ends what is still open, then the names of every process and thread
    /// (viewers read `M` records wherever they are), then the trace.
    fn finish(mut self) -> std::io::Result<()> {
        let last = self.last;
        let keys: Vec<(i32, i32)> = self.stacks.keys().copied().collect();
        for key in keys {
            while let Some(open) = self.stacks.get_mut(&key).and_then(Vec::pop) {
                self.put(end(key, last, &open.name));
            }
        }
        let mut pids_done = Vec::new();
        for (order, (pid, tid)) in std::mem::take(&mut self.seen).into_iter().enumerate() {
            if !pids_done.contains(&pid) {
                pids_done.push(pid);
                let name = match self.process_names.get(&pid) {
                    Some(name) => format!("{name} (pid {pid})"),
                    None if Some(pid) == self.run_end_pid => format!("forkline server (pid {pid}): ends the run, runs no lesson code"),
                    None if Some(pid) == self.sampler_pid => format!("kernel sampler (pid {pid}): forkline's reader of /proc, no lesson code"),
                    None => format!("pid {pid}"),
                };
                self.put(json!({ "ph": "M", "name": "process_name", "pid": pid, "tid": pid, "ts": 0, "args": { "name": name } }));
                self.put(json!({ "ph": "M", "name": "process_sort_index", "pid": pid, "tid": pid, "ts": 0, "args": { "sort_index": order } }));
            }
            let name = match self.thread_names.get(&(pid, tid)) {
                Some(name) => format!("{name} (tid {tid})"),
                None if pid == tid => "MainThread".to_owned(),
                None => format!("thread {tid}"),
            };
            self.put(json!({ "ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0, "args": { "name": name } }));
        }
        self.failed()?;
        let tail = json!({ "generator": "forkline", "demo": self.demo });
        write!(self.out, "],\"displayTimeUnit\":\"ms\",\"otherData\":{tail}}}")
    }
}

/// When a span enclosing flow slices at `ts` may end: after them.
fn after(ts: f64, flows: &[FlowEnd]) -> f64 {
    if flows.is_empty() {
        ts
    } else {
        ts + 2.0 * FLOW_SLICE_US
    }
}

fn end(key: (i32, i32), ts: f64, name: &str) -> Value {
    json!({ "ph": "E", "name": name, "pid": key.0, "tid": key.1, "ts": ts })
}

/// An event's own fields (not the ones every event has), as trace args.
fn flat_fields(flat: &Value) -> Value {
    let mut fields = flat.as_object().cloned().unwrap_or_default();
    for common in ["seq", "t", "pid", "tid", "cpu", "kind"] {
        fields.remove(common);
    }
    Value::Object(fields)
}

/// `phase acquire lock=lock`: an event's fields in a few words.
fn instant_words(flat: &Value) -> String {
    let Value::Object(fields) = flat_fields(flat) else { return String::new() };
    fields.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned))).collect::<Vec<_>>().join(" ")
}

/// Checks the properties a viewer relies on; shared with the tests.
pub fn check(trace: &Value) -> Result<(), String> {
    let events = trace["traceEvents"].as_array().ok_or("no traceEvents array")?;
    let mut stacks: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    let mut starts: HashMap<u64, (String, String)> = HashMap::new();
    let mut finishes: HashMap<u64, (String, String)> = HashMap::new();
    let mut named_procs = std::collections::HashSet::new();
    let mut named_threads = std::collections::HashSet::new();
    let mut used = std::collections::HashSet::new();
    for e in events {
        let ph = e["ph"].as_str().ok_or_else(|| format!("no ph: {e}"))?;
        let pid = e["pid"].as_i64().ok_or_else(|| format!("no pid: {e}"))?;
        let tid = e["tid"].as_i64().ok_or_else(|| format!("no tid: {e}"))?;
        if !e["ts"].is_number() {
            return Err(format!("no ts: {e}"));
        }
        if ph != "E" && e["name"].as_str().is_none() {
            return Err(format!("no name: {e}"));
        }
        match ph {
            "M" if e["name"] == "process_name" => {
                named_procs.insert(pid);
            }
            "M" if e["name"] == "thread_name" => {
                named_threads.insert((pid, tid));
            }
            "M" => {}
            "B" => stacks.entry((pid, tid)).or_default().push(e["name"].as_str().unwrap_or_default().to_owned()),
            "E" => {
                stacks.entry((pid, tid)).or_default().pop().ok_or_else(|| format!("E without B: {e}"))?;
            }
            "i" => {}
            "s" | "f" => {
                let id = e["id"].as_u64().ok_or_else(|| format!("flow without id: {e}"))?;
                let key = (e["cat"].as_str().unwrap_or_default().to_owned(), e["name"].as_str().unwrap_or_default().to_owned());
                let map = if ph == "s" { &mut starts } else { &mut finishes };
                if map.insert(id, key).is_some() {
                    return Err(format!("flow id {id} used twice for {ph}"));
                }
            }
            other => return Err(format!("unexpected ph {other}")),
        }
        if ph != "M" {
            used.insert((pid, tid));
        }
    }
    if let Some((key, open)) = stacks.iter().find(|(_, s)| !s.is_empty()) {
        return Err(format!("B without E on {key:?}: {open:?}"));
    }
    if starts != finishes {
        return Err(format!("flow starts and finishes differ: {starts:?} vs {finishes:?}"));
    }
    for (pid, tid) in used {
        if !named_procs.contains(&pid) || !named_threads.contains(&(pid, tid)) {
            return Err(format!("pid {pid} / tid {tid} has no name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> Vec<Bytes> {
        lines.iter().enumerate().map(|(i, l)| Bytes::from(format!(r#"{{"seq":{},"cpu":0,{}}}"#, i + 1, l))).collect()
    }

    fn of<'a>(trace: &'a Value, ph: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        trace["traceEvents"].as_array().unwrap().iter().filter(move |e| e["ph"] == ph)
    }

    /// The process demo's shape: MainProcess starts p1, p1 sleeps, prints, exits, is joined.
    const PROCESS: &[&str] = &[
        r#""t":1000,"pid":10,"tid":10,"kind":"run.start","demo":"process","params":{}"#,
        r#""t":2000,"pid":10,"tid":10,"kind":"proc.start","name":"MainProcess","ppid":1"#,
        // the child reports its start before the parent reports the spawn
        r#""t":3500,"pid":11,"tid":11,"kind":"proc.start","name":"p1","ppid":10"#,
        r#""t":3600,"pid":10,"tid":10,"kind":"proc.spawn","child":11,"name":"p1""#,
        r#""t":4000,"pid":10,"tid":10,"kind":"proc.join","phase":"begin","child":11"#,
        r#""t":5000,"pid":11,"tid":11,"kind":"sleep","phase":"begin","ms":1"#,
        r#""t":6000,"pid":11,"tid":11,"kind":"sleep","phase":"end""#,
        r#""t":6500,"pid":11,"tid":11,"kind":"print","text":"square 4""#,
        r#""t":7000,"pid":11,"tid":11,"kind":"proc.exit","code":0"#,
        r#""t":8000,"pid":10,"tid":10,"kind":"proc.join","phase":"end","child":11,"code":0"#,
        r#""t":8500,"pid":12,"tid":12,"kind":"kernel.sample","of_pid":11,"of_tid":11,"state":"S","on_cpu":0"#,
        r#""t":9000,"pid":99,"tid":99,"kind":"run.end","outcome":"ok""#,
    ];

    #[test]
    fn the_process_demo_becomes_a_valid_trace_with_names_spans_and_flows() {
        let trace = chrome_trace(&log(PROCESS));
        check(&trace).unwrap();
        let names: Vec<_> = of(&trace, "M").filter(|m| m["name"] == "process_name").map(|m| m["args"]["name"].clone()).collect();
        assert_eq!(names, [
            "MainProcess (pid 10)",
            "p1 (pid 11)",
            "kernel sampler (pid 12): forkline's reader of /proc, no lesson code",
            "forkline server (pid 99): ends the run, runs no lesson code",
        ]);
        assert!(of(&trace, "B").any(|b| b["name"] == "sleep 1 ms" && b["ts"] == 5.0 && b["pid"] == 11));
        assert!(of(&trace, "B").any(|b| b["name"] == "p1.join()" && b["pid"] == 10), "the schema's label, the child named");
        assert!(of(&trace, "i").any(|i| i["args"]["text"] == "square 4"));
        let flows: Vec<_> = of(&trace, "s").map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(flows, ["spawn", "join"]);
        // the spawn arrow starts before the child's start (3.5 µs), not at the later report
        let spawn = of(&trace, "s").find(|s| s["name"] == "spawn").unwrap();
        assert!((spawn["ts"].as_f64().unwrap() - 3.499).abs() < 1e-9, "{spawn}");
        assert_eq!(spawn["pid"], 10);
    }

    #[test]
    fn locks_queues_and_pipes_pair_up_and_spans_stay_nested() {
        let trace = chrome_trace(&log(&[
            r#""t":1000,"pid":10,"tid":10,"kind":"proc.start","name":"MainProcess","ppid":1"#,
            r#""t":1100,"pid":10,"tid":10,"kind":"lock","phase":"wait","lock":"lock""#,
            r#""t":1200,"pid":10,"tid":10,"kind":"lock","phase":"acquire","lock":"lock""#,
            r#""t":1300,"pid":10,"tid":10,"kind":"sleep","phase":"begin","ms":1"#,
            // released while still "inside" the sleep span: out of nesting order
            r#""t":1400,"pid":10,"tid":10,"kind":"lock","phase":"release","lock":"lock""#,
            r#""t":1500,"pid":10,"tid":10,"kind":"sleep","phase":"end""#,
            r#""t":2000,"pid":12,"tid":12,"kind":"queue","op":"get","queue":"q","msg":1,"value":5"#,
            r#""t":1900,"pid":10,"tid":10,"kind":"queue","op":"put","queue":"q","msg":1,"value":5"#,
            r#""t":2100,"pid":10,"tid":10,"kind":"pipe","op":"send","end":"parent_conn","msg":7"#,
            r#""t":2200,"pid":12,"tid":12,"kind":"pipe","op":"recv","end":"child_conn","msg":7"#,
            r#""t":2300,"pid":10,"tid":10,"kind":"compute","phase":"begin""#,
        ]));
        check(&trace).unwrap();
        let flows: Vec<_> = of(&trace, "f").map(|f| f["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(flows, ["message", "message"]);
        let ids: std::collections::HashSet<_> = of(&trace, "s").map(|s| s["id"].as_u64().unwrap()).collect();
        assert_eq!(ids.len(), 2, "each flow has its own id");
        assert!(of(&trace, "B").any(|b| b["name"] == "hold lock"));
        // the compute span a killed run never ended is closed at the last timestamp
        assert!(of(&trace, "E").any(|e| e["name"] == "compute" && e["ts"] == 2.3));
    }

    #[test]
    fn a_lock_passed_to_a_waiting_process_is_a_hand_over_arrow_as_on_the_page() {
        let trace = chrome_trace(&log(&[
            r#""t":1000,"pid":10,"tid":10,"kind":"lock","phase":"wait","lock":"lock""#,
            r#""t":1100,"pid":10,"tid":10,"kind":"lock","phase":"acquire","lock":"lock""#,
            r#""t":1200,"pid":11,"tid":11,"kind":"lock","phase":"wait","lock":"lock""#,
            r#""t":1300,"pid":10,"tid":10,"kind":"lock","phase":"release","lock":"lock""#,
            r#""t":1400,"pid":11,"tid":11,"kind":"lock","phase":"acquire","lock":"lock""#,
            r#""t":1500,"pid":11,"tid":11,"kind":"lock","phase":"release","lock":"lock""#,
            // waited only after that release: nothing was handed over
            r#""t":1600,"pid":10,"tid":10,"kind":"lock","phase":"wait","lock":"lock""#,
            r#""t":1700,"pid":10,"tid":10,"kind":"lock","phase":"acquire","lock":"lock""#,
        ]));
        check(&trace).unwrap();
        let handed: Vec<(i64, f64)> = of(&trace, "s").filter(|s| s["name"] == "lock").map(|s| (s["pid"].as_i64().unwrap(), s["ts"].as_f64().unwrap())).collect();
        assert_eq!(handed, [(10, 1.3)], "one hand-over, from the release that the waiter waited across");
        assert!(of(&trace, "B").any(|b| b["name"] == "wait for lock" && b["pid"] == 11 && b["cat"] == "wait"));
    }

    #[test]
    fn unmatched_ends_and_bad_lines_are_skipped() {
        let mut lines = log(&[
            r#""t":1000,"pid":10,"tid":10,"kind":"sleep","phase":"end""#,
            r#""t":1000,"pid":10,"tid":10,"kind":"proc.join","phase":"end","child":3,"signal":9"#,
        ]);
        lines.push(Bytes::from_static(b"not json"));
        let trace = chrome_trace(&lines);
        check(&trace).unwrap();
        assert_eq!(of(&trace, "E").count(), 0);
        assert_eq!(of(&trace, "f").count(), 0);
    }
}
