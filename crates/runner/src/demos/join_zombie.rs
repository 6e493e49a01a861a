//! What a process that is never joined really does: it terminates, and stays
//! a zombie (state `Z` in /proc) until its parent reaps it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use crate::primitives::emit::{self, emit};
use crate::primitives::process;
use crate::primitives::procfs;

/// How often the parent looks at its child's state while it holds off.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

pub static DEMO: Demo = Demo {
    name: "join_zombie",
    title: "join(): the zombie a missing join leaves",
    summary: "The child finishes, the parent does not join it yet: the child is a zombie until join reaps it.",
    notes: "The lesson says a process that is never joined \"will remain idle and won't terminate\". \
            That is not what happens: the child runs to its end and terminates. What stays is a \
            zombie: the kernel keeps the dead child's pid and exit status (state Z in \
            /proc/<pid>/stat) until the parent collects them with waitpid, which is what join() \
            does. Watch the child's lane: sleeping (S), then Z once it has exited, for as long as \
            the parent holds off; join reaps it and /proc/<pid> disappears. A zombie uses no CPU \
            and almost no memory, but it holds a pid: many unjoined children can exhaust the pid \
            table, which is the real \"scarcity of resources\".",
    source: include_str!("../../../../python/programs/join_zombie.py"),
    source_lines: &[
        ("proc.spawn", 16),
        ("sleep", 10),
        ("print", 11),
        ("kernel.sample", 18),
        ("note", 18),
        ("proc.join:begin", 19),
        ("proc.join:end", 19),
        ("result", 20),
    ],
    lesson_output: "child: done\nchild state before join: Z\nafter join, /proc/<pid> exists: False",
    params: &[
        Spec {
            name: "child_ms",
            help: "how long the child works before it exits, in milliseconds",
            kind: Kind::Int { default: 100, min: 0, max: 1000 },
        },
        Spec {
            name: "wait_ms",
            help: "how long the parent holds off before join(), in milliseconds (after the child started)",
            kind: Kind::Int { default: 500, min: 50, max: 3000 },
        },
    ],
    hidden: false,
};

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let child_ms = params.int("child_ms") as u64;
    let wait = Duration::from_millis(params.int("wait_ms") as u64);

    let started = Instant::now();
    let p = process::spawn("p", Some("work"), move || {
        process::sleep_ms(child_ms);
        emit::print("child: done");
        0
    })?;
    let pid = p.pid();

    // Hold off like a parent that forgot join(), watching the child from
    // outside; a sample is emitted only when its state changed.
    let mut states: Vec<String> = Vec::new();
    let mut zombie_at: Option<u64> = None;
    let mut last: Option<char> = None;
    loop {
        match procfs::stat(pid) {
            Ok(s) if last != Some(s.state) => {
                last = Some(s.state);
                states.push(s.state.to_string());
                emit(s.sample());
                if s.state == 'Z' && zombie_at.is_none() {
                    zombie_at = Some(emit::now());
                    emit::note(format!(
                        "Child {pid} has exited, but nobody has joined it: it is a zombie (state Z in /proc/{pid}/stat)."
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => return Err(format!("could not read /proc/{pid}/stat before join: {e}").into()),
        }
        if started.elapsed() >= wait {
            break;
        }
        std::thread::sleep(SAMPLE_EVERY.min(wait.saturating_sub(started.elapsed())));
    }
    let before_join = procfs::stat(pid).map(|s| s.state.to_string()).unwrap_or_else(|_| "gone".into());
    emit::print(format!("child state before join: {before_join}"));

    let status = p.join()?;
    let reaped_at = emit::now();
    let exists_after = procfs::exists(pid);
    if !exists_after {
        // The last look: the kernel has forgotten the child (proc(5)'s X, dead).
        emit(procfs::gone_sample(pid));
    }
    emit::print(format!("after join, /proc/<pid> exists: {}", if exists_after { "True" } else { "False" }));
    if !exists_after {
        emit::note(format!("join() reaped child {pid}: waitpid collected its exit status and /proc/{pid} is gone."));
    }

    let zombie_for_s = zombie_at.map(|z| reaped_at.saturating_sub(z) as f64 / 1e9);
    let text = match zombie_for_s {
        Some(secs) => format!("child {pid} exited and stayed a zombie (Z) for {secs:.2} s until join reaped it"),
        None => format!(
            "child {pid} was never seen as a zombie: it was still running (state {before_join}) when the parent joined it"
        ),
    };
    emit::result(
        text,
        json!({
            "child": pid,
            "states": states,
            "state_before_join": before_join,
            "zombie_observed": zombie_at.is_some(),
            "zombie_at_ns": zombie_at,
            "reaped_at_ns": reaped_at,
            "zombie_for_s": zombie_for_s,
            "exists_after_join": exists_after,
            "exit": format!("{status:?}"),
        }),
    );
    Ok(())
}
