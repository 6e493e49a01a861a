//! The lesson's "multiprocessing.Queue vs queue.Queue": an in-process queue
//! works between threads, is silently copied into a child process (so the
//! parent never sees the child's items), and the cross-process queue works.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use forkline_core::event::{Body, QueueOp};
use crate::primitives::emit::{self, emit};
use crate::primitives::process;
use crate::primitives::queue::Queue;

pub static DEMO: Demo = Demo {
    name: "queue_vs_thread_queue",
    title: "multiprocessing.Queue vs queue.Queue",
    summary: "A queue.Queue works between threads, not between processes; a multiprocessing.Queue works between processes.",
    notes: "Three rounds of the same calc_square. (1) A thread puts into a queue.Queue and the main \
            thread gets every item: threads share one address space. (2) The same kind of queue is \
            handed to a child process: fork copied the queue into the child's own memory, the child \
            fills its copy, and the parent's queue stays empty — the puts have no matching gets. No \
            error is raised (under the spawn start method, pickling a queue.Queue would fail instead). \
            (3) A multiprocessing.Queue carries the items through a pipe in the kernel, so the parent \
            gets them all.",
    source: include_str!("../../../../python/programs/queue_vs_thread_queue.py"),
    source_lines: &[
        ("thread.spawn", 19),
        ("proc.spawn", 24),
        ("queue:put", 7),
        ("queue:get", 12),
        ("print", 20),
    ],
    lesson_output: "thread -> queue.Queue: [4, 9, 25]\nprocess -> queue.Queue: []\nprocess -> multiprocessing.Queue: [4, 9, 25]",
    params: &[Spec {
        name: "numbers",
        help: "the numbers calc_square squares",
        kind: Kind::IntList { default: &[2, 3, 5], min: -1000, max: 1000, min_len: 1, max_len: 16 },
    }],
    hidden: false,
};

/// The next message id, and the items with their ids.
type Items = (u64, VecDeque<(u64, Value)>);

/// `queue.Queue()`: a FIFO in this process's own memory, behind a mutex.
#[derive(Clone)]
struct ThreadQueue {
    name: &'static str,
    inner: Arc<Mutex<Items>>,
}

impl ThreadQueue {
    fn new(name: &'static str) -> Self {
        ThreadQueue { name, inner: Arc::new(Mutex::new((1, VecDeque::new()))) }
    }

    fn put(&self, value: Value) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let msg = guard.0;
        guard.0 += 1;
        emit(Body::Queue { op: QueueOp::Put, queue: self.name.into(), msg, value: value.clone() });
        guard.1.push_back((msg, value));
    }

    fn get(&self) -> Option<Value> {
        let (msg, value) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).1.pop_front()?;
        emit(Body::Queue { op: QueueOp::Get, queue: self.name.into(), msg, value: value.clone() });
        Some(value)
    }
}

fn squares(numbers: &[i64]) -> impl Iterator<Item = Value> + '_ {
    numbers.iter().map(|n| json!(n * n))
}

fn show(values: &[Value]) -> String {
    format!("[{}]", values.iter().map(Value::to_string).collect::<Vec<_>>().join(", "))
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let numbers = params.int_list("numbers");

    // 1. Threads. Joined before anything forks: the runner forks only while
    // it is single-threaded.
    let tq = ThreadQueue::new("tq");
    let t = {
        let (tq, numbers) = (tq.clone(), numbers.clone());
        process::spawn_thread("t", move || squares(&numbers).for_each(|v| tq.put(v)))?
    };
    t.join();
    let from_thread: Vec<Value> = std::iter::from_fn(|| tq.get()).collect();
    emit::print(format!("thread -> queue.Queue: {}", show(&from_thread)));

    // 2. The same kind of in-process queue, handed to a child process.
    let pq = ThreadQueue::new("pq");
    let p = process::spawn("p1", Some("calc_square"), || {
        squares(&numbers).for_each(|v| pq.put(v));
        0
    })?;
    p.join()?;
    let from_copied: Vec<Value> = std::iter::from_fn(|| pq.get()).collect();
    emit::print(format!("process -> queue.Queue: {}", show(&from_copied)));
    if from_copied.is_empty() {
        emit::note("The child put its items into its own copy of pq; the parent's pq is still empty.");
    }

    // 3. The cross-process queue.
    let mq = Queue::new("mq")?;
    let p = process::spawn("p2", Some("calc_square"), || {
        for v in squares(&numbers) {
            if mq.put(&v).is_err() {
                return 1;
            }
        }
        0
    })?;
    p.join()?;
    let mut from_mp = Vec::new();
    while !mq.empty() {
        from_mp.push(mq.get()?.1);
    }
    emit::print(format!("process -> multiprocessing.Queue: {}", show(&from_mp)));

    emit::result(
        format!(
            "the parent received {} items from the thread, {} through queue.Queue from the child, {} through multiprocessing.Queue",
            from_thread.len(),
            from_copied.len(),
            from_mp.len()
        ),
        json!({ "thread_queue": from_thread, "process_thread_queue": from_copied, "process_mp_queue": from_mp }),
    );
    Ok(())
}
