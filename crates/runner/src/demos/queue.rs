//! `multiprocessing.Queue`: calc_square puts n*n in a child process, the
//! parent drains the queue after join, and the values arrive in FIFO order.

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use crate::primitives::emit;
use crate::primitives::process;
use crate::primitives::queue::Queue;

pub static DEMO: Demo = Demo {
    name: "queue",
    title: "Queue: put() in a child, get() in the parent",
    summary: "calc_square puts n*n on a real cross-process queue; the parent gets them back in FIFO order.",
    notes: "The child puts each square on the queue and exits; the parent joins it, then drains the \
            queue and prints the values in the order they were put (FIFO). Each arrow goes from a put \
            to its get. The lesson says the queue lives in shared memory: the items really travel \
            through a pipe, in the kernel's buffer, framed with their length; only the queue's locks \
            live in shared memory. With several producers, a writer-side lock keeps their items whole, \
            and each producer's items stay in its own order while the producers interleave. Joining \
            before draining works here only because everything fits in the pipe: a producer with more \
            unread data than the pipe holds would block, and join() would wait for it forever.",
    source: include_str!("../../../../python/programs/queue.py"),
    source_lines: &[
        ("proc.spawn", 15),
        ("queue:put", 7),
        ("proc.join:begin", 16),
        ("proc.join:end", 16),
        ("queue:get", 19),
        ("print", 19),
    ],
    lesson_output: "4\n9\n25",
    params: &[
        Spec {
            name: "numbers",
            help: "the numbers calc_square squares",
            kind: Kind::IntList { default: &[2, 3, 5], min: -1000, max: 1000, min_len: 1, max_len: 16 },
        },
        Spec {
            name: "producers",
            help: "how many processes run calc_square on the same queue (the lesson has one)",
            kind: Kind::Int { default: 1, min: 1, max: 8 },
        },
    ],
    hidden: false,
};

fn calc_square(numbers: &[i64], q: &Queue) -> i32 {
    for n in numbers {
        if let Err(e) = q.put(&json!(n * n)) {
            emit::note(format!("put failed: {e}"));
            return 1;
        }
    }
    0
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let numbers = params.int_list("numbers");
    let producers = params.int("producers");
    let q = Queue::new("q")?;

    let mut children = Vec::new();
    for i in 1..=producers {
        children.push(process::spawn(format!("p{i}"), Some("calc_square"), || calc_square(&numbers, &q))?);
    }
    let failed = process::join_all(children)?;

    let mut received = Vec::new();
    while !q.empty() {
        let (_, value) = q.get()?;
        emit::print(value.to_string());
        received.push(value);
    }

    let expected = numbers.len() * producers as usize;
    let text = if failed.is_empty() && received.len() == expected {
        format!("received {} in FIFO order", received.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
    } else {
        format!("received {} of {expected} items; failed: {}", received.len(), failed.join(", "))
    };
    emit::result(text, json!({ "received": received, "expected_count": expected, "producers": producers }));
    Ok(())
}
