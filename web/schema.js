// Generated from schema/events.json by forkline-core's test
// `the_page_module_is_generated_from_the_schema` (FORKLINE_BLESS=1 writes it). Do not edit.
export const SCHEMA = Object.freeze({
  "about": "The one definition of forkline's events: every kind and its fields, which events open and close spans, and which pair into arrows. Read by the server (crates/core/src/event/schema.rs: the Rust types are checked against it, the trace export draws from it), the page (web/schema.js, generated from this file and checked by a test) and the Python tracer's tests (every line the tracer writes is checked against it). docs/events.md says what each means.",
  "types": {
    "int": "an integer",
    "string": "a string",
    "bool": "true or false",
    "object": "a JSON object",
    "any": "any JSON value",
    "strings": "a list of strings",
    "[a, b]": "one of these strings",
    "?": "a trailing ? marks a field that may be absent"
  },
  "event_fields": {"seq": "int", "t": "int", "pid": "int", "tid": "int", "cpu": "int"},
  "kinds": {
    "run.start": {"demo": "string", "params": "object", "engine": "string?", "interpreter": "string?", "file": "string?", "source": "string?"},
    "run.end": {"outcome": ["ok", "failed", "timeout", "cancelled", "interrupted"], "reason": "string?"},
    "result": {"text": "string", "data": "any"},
    "proc.spawn": {"child": "int", "name": "string"},
    "proc.start": {"name": "string", "ppid": "int", "target": "string?"},
    "proc.exit": {"code": "int"},
    "proc.join": {"phase": ["begin", "end"], "child": "int", "code": "int?", "signal": "int?"},
    "thread.spawn": {"child": "int", "name": "string"},
    "thread.start": {"name": "string"},
    "thread.exit": {},
    "thread.join": {"phase": ["begin", "end"], "child": "int"},
    "print": {"text": "string", "stream": "string?"},
    "sleep": {"phase": ["begin", "end"], "ms": "int?"},
    "compute": {"phase": ["begin", "end"], "work": "int?"},
    "lock": {"phase": ["wait", "acquire", "release"], "lock": "string"},
    "value": {"op": ["read", "write"], "name": "string", "value": "int"},
    "queue": {"op": ["put", "get"], "queue": "string", "msg": "int", "value": "any?"},
    "pipe": {"op": ["send", "recv"], "end": "string", "msg": "int", "value": "any?", "bytes": "int?", "corrupt": "bool?"},
    "gil": {"phase": ["wait", "acquire", "release", "drop_request"]},
    "fork.return": {"value": "int"},
    "system": {"phase": ["begin", "end"], "command": "string", "status": "int?"},
    "kernel.sample": {"of_pid": "int", "of_tid": "int", "of_ppid": "int?", "name": "string?", "state": "string", "on_cpu": "int", "utime": "int?", "stime": "int?"},
    "note": {"text": "string"},
    "exception": {"type": "string", "message": "string", "line": "int?"},
    "step.pending": {"gate": "int", "op": "string", "at": "string", "line": "int?"},
    "step.schedule": {"steps": "strings", "free": "bool"}
  },
  "spans_about": "A span opens at an event of `kind` whose fields match `opens` and closes at the next event of the same kind, on the same thread, whose fields match `closes` and whose `by` fields equal the opener's. `style` is how it is drawn; in `label`, {field} is the opening event's field, {field:name} the name of the process or thread with that id.",
  "spans": [
    {"kind": "sleep", "opens": {"phase": "begin"}, "closes": {"phase": "end"}, "by": [], "style": "sleep", "label": "sleep {ms} ms"},
    {"kind": "compute", "opens": {"phase": "begin"}, "closes": {"phase": "end"}, "by": [], "style": "compute", "label": "compute"},
    {"kind": "system", "opens": {"phase": "begin"}, "closes": {"phase": "end"}, "by": [], "style": "system", "label": "os.system({command})"},
    {"kind": "proc.join", "opens": {"phase": "begin"}, "closes": {"phase": "end"}, "by": ["child"], "style": "join", "label": "{child:name}.join()"},
    {"kind": "thread.join", "opens": {"phase": "begin"}, "closes": {"phase": "end"}, "by": ["child"], "style": "join", "label": "{child:name}.join()"},
    {"kind": "lock", "opens": {"phase": "wait"}, "closes": {"phase": "acquire"}, "by": ["lock"], "style": "wait", "label": "wait for {lock}"},
    {"kind": "lock", "opens": {"phase": "acquire"}, "closes": {"phase": "release"}, "by": ["lock"], "style": "hold", "label": "hold {lock}"},
    {"kind": "gil", "opens": {"phase": "wait"}, "closes": {"phase": "acquire"}, "by": [], "style": "wait", "label": "wait for GIL"},
    {"kind": "gil", "opens": {"phase": "acquire"}, "closes": {"phase": "release"}, "by": [], "style": "hold", "label": "hold GIL"}
  ],
  "arrows_about": "An arrow goes from an event matching `from` to the event matching `to` whose `key` fields hold the same values, whichever the log carries first. `pid` and `tid` are the event's own. `handover`: from the last `from` event to a `to` event on another thread that waited across it (a lock passed on), not paired by identity.",
  "arrows": [
    {"name": "spawn", "from": {"kind": "proc.spawn", "key": ["child"]}, "to": {"kind": "proc.start", "key": ["pid"]}, "label": "spawn"},
    {"name": "spawn", "from": {"kind": "thread.spawn", "key": ["child"]}, "to": {"kind": "thread.start", "key": ["tid"]}, "label": "spawn"},
    {"name": "join", "from": {"kind": "proc.exit", "key": ["pid"]}, "to": {"kind": "proc.join", "when": {"phase": "end"}, "key": ["child"]}, "label": "join"},
    {"name": "join", "from": {"kind": "thread.exit", "key": ["tid"]}, "to": {"kind": "thread.join", "when": {"phase": "end"}, "key": ["child"]}, "label": "join"},
    {"name": "message", "from": {"kind": "queue", "when": {"op": "put"}, "key": ["queue", "msg"]}, "to": {"kind": "queue", "when": {"op": "get"}, "key": ["queue", "msg"]}, "label": "{queue}: {value:json}"},
    {"name": "message", "from": {"kind": "pipe", "when": {"op": "send"}, "key": ["msg"]}, "to": {"kind": "pipe", "when": {"op": "recv"}, "key": ["msg"]}, "label": "pipe: {value:json}"},
    {"name": "lock", "from": {"kind": "lock", "when": {"phase": "release"}, "key": ["lock"]}, "to": {"kind": "lock", "when": {"phase": "acquire"}, "key": ["lock"]}, "handover": true, "label": "{lock} handed over"},
    {"name": "lock", "from": {"kind": "gil", "when": {"phase": "release"}, "key": []}, "to": {"kind": "gil", "when": {"phase": "acquire"}, "key": []}, "handover": true, "label": "GIL handed over"}
  ]
});
