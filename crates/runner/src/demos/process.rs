//! `Process.start()` and `join()`: the lesson's calc_square and calc_cube as
//! two real child processes, forked by the runner and joined in order.

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use crate::primitives::emit;
use crate::primitives::process::{self, ExitStatus};

pub static DEMO: Demo = Demo {
    name: "process",
    title: "Process: start() and join()",
    summary: "calc_square and calc_cube run in two real child processes, started and then joined.",
    notes: "Each Process is a real child with its own pid, forked by the main process. start() \
            returns at once and both children sleep and print at the same time, so their lines \
            interleave. join() waits for a child to finish and reaps it. The lesson says a process \
            that is never joined won't terminate: it does terminate, but stays a zombie until its \
            parent reaps it (see the join_zombie demo).",
    source: include_str!("../../../../python/programs/process.py"),
    source_lines: &[
        ("proc.spawn", 23),
        ("sleep", 9),
        ("print", 10),
        ("proc.join:begin", 26),
        ("proc.join:end", 26),
        ("result", 29),
    ],
    lesson_output: "square 4\ncube 8\nsquare 9\ncube 27\nsquare 64\ncube 512\nsquare 81\ncube 729\nDone!",
    params: &[
        Spec {
            name: "numbers",
            help: "the list both functions walk through",
            kind: Kind::IntList { default: &[2, 3, 8, 9], min: -1000, max: 1000, min_len: 1, max_len: 16 },
        },
        Spec {
            name: "delay_ms",
            help: "sleep before each number, in milliseconds (the lesson sleeps 5000)",
            kind: Kind::Int { default: 500, min: 0, max: 5000 },
        },
    ],
    hidden: false,
};

fn calc_square(numbers: &[i64], delay_ms: u64) -> i32 {
    for n in numbers {
        process::sleep_ms(delay_ms);
        emit::print(format!("square {}", n * n));
    }
    0
}

fn calc_cube(numbers: &[i64], delay_ms: u64) -> i32 {
    for n in numbers {
        process::sleep_ms(delay_ms);
        emit::print(format!("cube {}", n * n * n));
    }
    0
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let arr = params.int_list("numbers");
    let delay = params.int("delay_ms") as u64;

    let p1 = process::spawn("p1", Some("calc_square"), || calc_square(&arr, delay))?;
    let p2 = process::spawn("p2", Some("calc_cube"), || calc_cube(&arr, delay))?;
    let pids = [p1.pid(), p2.pid()];

    let s1 = p1.join()?;
    let s2 = p2.join()?;
    emit::print("Done!");

    let ok = s1 == ExitStatus::Code(0) && s2 == ExitStatus::Code(0);
    emit::result(
        if ok { "both children ran and were joined: Done!".to_owned() } else { format!("p1 {s1:?}, p2 {s2:?}") },
        json!({ "children": pids }),
    );
    Ok(())
}
