//! Scratch: no lesson program, only the one someone writes (`/play`). It
//! exists for the CPython engine alone, and only with an edited program; it
//! has no native program, so asking the native engine for it is refused
//! before any runner starts.

use super::{Demo, DemoError, Params};

pub const NAME: &str = "scratch";

pub static DEMO: Demo = Demo {
    name: NAME,
    title: "Scratch: a program of your own",
    summary: "Write any Python program and watch its processes and threads: real CPython, in a sandbox.",
    notes: "Your program runs on real CPython inside forkline's sandbox, traced as the lesson's programs are: \
            every process, thread, queue, pipe and lock you create gets its lane and its events.",
    source: include_str!("../../../../python/programs/scratch.py"),
    source_lines: &[],
    lesson_output: "",
    params: &[],
    hidden: false,
};

pub(super) fn run(_params: &Params) -> Result<(), DemoError> {
    Err("scratch has no native program: run an edited program with the cpython engine".into())
}
