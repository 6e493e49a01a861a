//! `threading.Thread`: the lesson's calc_square and calc_cube as two real OS
//! threads of one process, whose sleeps overlap.

use std::time::Instant;

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use crate::primitives::emit;
use crate::primitives::process;

pub static DEMO: Demo = Demo {
    name: "threads",
    title: "Threads: two at once in one process",
    summary: "calc_square and calc_cube run in two real threads of one process; their sleeps overlap.",
    notes: "Both threads live in the main process: one pid, two thread ids (each lane is labelled \
            with its tid). Each thread sleeps before every number, and a sleeping thread does not \
            hold the CPU (nor, in CPython, the GIL), so the two threads' sleeps overlap: with four \
            numbers and 0.2 s sleeps the program is done in about 0.8 s, not the 1.6 s the sleeps \
            add up to. Which thread prints first after each sleep is up to the scheduler.",
    source: include_str!("../../../../python/programs/threads.py"),
    source_lines: &[
        ("thread.spawn", 24),
        ("thread.start", 5),
        ("sleep", 8),
        ("print", 9),
        ("thread.join:begin", 27),
        ("thread.join:end", 27),
        ("result", 30),
    ],
    lesson_output: "Calculate square numbers\ncalculate cube of numbers\nsquare :  4\ncube :  8\nsquare :  9\n\
                    cube :  27\nsquare :  64\ncube :  512\nsquare :  81\ncube :  729\n\
                    done in :  0.8059289455413818\nHah. . . I am done with all my work now!",
    params: &[
        Spec {
            name: "numbers",
            help: "the list both threads walk through",
            kind: Kind::IntList { default: &[2, 3, 8, 9], min: -1000, max: 1000, min_len: 1, max_len: 8 },
        },
        Spec {
            name: "sleep_ms",
            help: "sleep before each number, in milliseconds (the lesson sleeps 200)",
            kind: Kind::Int { default: 200, min: 0, max: 500 },
        },
    ],
    hidden: false,
};

fn calc_square(numbers: &[i64], delay_ms: u64) {
    emit::print("Calculate square numbers");
    for n in numbers {
        process::sleep_ms(delay_ms);
        emit::print(format!("square :  {}", n * n));
    }
}

fn calc_cube(numbers: &[i64], delay_ms: u64) {
    emit::print("calculate cube of numbers");
    for n in numbers {
        process::sleep_ms(delay_ms);
        emit::print(format!("cube :  {}", n * n * n));
    }
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let arr = params.int_list("numbers");
    let delay = params.int("sleep_ms") as u64;

    let t = Instant::now();
    let (a1, a2) = (arr.clone(), arr.clone());
    let t1 = process::spawn_thread("t1", move || calc_square(&a1, delay))?;
    let t2 = process::spawn_thread("t2", move || calc_cube(&a2, delay))?;
    let tids = [t1.tid(), t2.tid()];
    t1.join();
    t2.join();
    let wall = t.elapsed();

    emit::print(format!("done in :  {}", wall.as_secs_f64()));
    emit::print("Hah. . . I am done with all my work now!");

    let serial_ms = 2 * arr.len() as u64 * delay;
    emit::result(
        format!("done in {:.2} s; the sleeps add up to {:.2} s", wall.as_secs_f64(), serial_ms as f64 / 1000.0),
        json!({
            "wall_s": wall.as_secs_f64(),
            "wall_ns": wall.as_nanos() as u64,
            "serial_s": serial_ms as f64 / 1000.0,
            "pid": std::process::id(),
            "threads": tids,
        }),
    );
    Ok(())
}
