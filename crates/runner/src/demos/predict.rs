//! Predict, then run: the question each demo's lesson implies, asked before
//! a run on pages opened with `?predict=1`, and how the run's own events
//! answer it. The answer is never written here: each choice names the
//! outcome it stands for, and the page reads which one the run produced
//! from its events (the first line printed, a figure of its result), then
//! says whether the guess was right and why.
//!
//! Two kinds of check cover the lesson: which of some lines is printed
//! first (a race between processes, or the order fork gives), and which
//! range a number of the run's result falls in (the balance, the corrupted
//! messages, a speedup). Both engines print the same lines and report the
//! same result fields (see `readings`), so one question serves both.

use serde::Serialize;

/// A question for one demo.
#[derive(Debug, Serialize)]
pub struct Question {
    pub text: &'static str,
    pub choices: &'static [Choice],
    pub check: Check,
    /// Why the answer is what it is, shown with the verdict.
    pub why: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Choice {
    pub id: &'static str,
    pub text: &'static str,
    /// `first_print`: the chosen line starts with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<&'static str>,
    /// `result_number`: the value lies in `min..=max` (either end open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// How the run's events answer the question.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// The first `print` whose text starts with one of the choices' prefixes.
    FirstPrint,
    /// A number in the run's last `result` event: `data` followed down
    /// `path` (`["modes", "b", "speedup"]`).
    ResultNumber { path: &'static [&'static str], unit: &'static str },
}

/// The check kinds the page knows (the API tests hold every question to them).
pub const CHECK_KINDS: &[&str] = &["first_print", "result_number"];

const fn choice(id: &'static str, text: &'static str) -> Choice {
    Choice { id, text, prefix: None, min: None, max: None }
}

const fn first(id: &'static str, text: &'static str, prefix: &'static str) -> Choice {
    Choice { prefix: Some(prefix), ..choice(id, text) }
}

const fn range(id: &'static str, text: &'static str, min: Option<f64>, max: Option<f64>) -> Choice {
    Choice { min, max, ..choice(id, text) }
}

static LOCK: Question = Question {
    text: "What will the final balance be? (It starts at 200; d adds 1 and w takes 1, as many times each.)",
    choices: &[range("below", "below 200", None, Some(199.0)), range("exact", "exactly 200", Some(200.0), Some(200.0)), range("above", "above 200", Some(201.0), None)],
    check: Check::ResultNumber { path: &["balance"], unit: "" },
    why: "With the lock, each read-then-write is done by one process at a time, so it always ends at 200. Without \
          it, both processes can read the same balance and one write overwrites the other: a lost deposit leaves it \
          lower, a lost withdrawal higher, and which of them wins is a race.",
};

static PROCESS: Question = Question {
    text: "Which line will be printed first?",
    choices: &[first("square", "a square (from p1, started first)", "square"), first("cube", "a cube (from p2)", "cube")],
    check: Check::FirstPrint,
    why: "start() returns at once and both children sleep the same time before printing, so they print at almost \
          the same moment: the first line is whichever the scheduler ran first. Being started first gives p1 \
          only a head start of a fork, often but not always enough.",
};

static FORK: Question = Question {
    text: "After os.fork(), which prints first: the parent or the child?",
    choices: &[first("parent", "hello parent", "hello parent"), first("child", "hello child", "hello child")],
    check: Check::FirstPrint,
    why: "Both copies return from fork() and run on: the parent is already running on its CPU while the child must \
          first be scheduled, so the parent usually wins, but nothing guarantees it.",
};

static THREADS: Question = Question {
    text: "Which line will the two threads print first?",
    choices: &[first("square", "Calculate square numbers (t1)", "Calculate square"), first("cube", "calculate cube of numbers (t2)", "calculate cube")],
    check: Check::FirstPrint,
    why: "t1 is started first and prints before its first sleep, so it almost always prints first; after that the \
          two threads sleep and wake at the same times, and their lines interleave.",
};

static PIPE: Question = Question {
    text: "How many of the messages will arrive broken?",
    choices: &[range("none", "none", None, Some(0.0)), range("some", "one or more", Some(1.0), None)],
    check: Check::ResultNumber { path: &["corrupt"], unit: " messages" },
    why: "A message larger than the pipe's buffer is written in pieces, and another writer's pieces can land \
          between them. With a lock around send, one writer writes at a time and every message arrives whole. \
          Real CPython's reader does not even get to count: it raises at the first broken frame.",
};

static GIL: Question = Question {
    text: "Will (b), the work split over N threads, finish faster than (a), one thread?",
    choices: &[range("faster", "yes, clearly faster (over 1.25×)", Some(1.25), None), range("same", "no: about as fast, or slower", None, Some(1.25))],
    check: Check::ResultNumber { path: &["modes", "b", "speedup"], unit: "×" },
    why: "Under a GIL only one thread runs Python bytecode at a time, so N threads share one CPU's worth of \
          countdown and take as long as one thread, or longer with the hand-offs. Processes each have their own \
          interpreter and lock, and they are the ones that run at once.",
};

/// The question for `demo`, if its lesson implies one.
pub fn question(demo: &str) -> Option<&'static Question> {
    match demo {
        "lock" => Some(&LOCK),
        "process" => Some(&PROCESS),
        "fork" => Some(&FORK),
        "threads" => Some(&THREADS),
        "pipe" => Some(&PIPE),
        "gil" => Some(&GIL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_has_distinct_choices_that_its_check_can_tell_apart() {
        for demo in super::super::all() {
            let Some(q) = question(demo.name) else { continue };
            let ids: std::collections::HashSet<_> = q.choices.iter().map(|c| c.id).collect();
            assert_eq!(ids.len(), q.choices.len(), "{}: choice ids are unique", demo.name);
            assert!((2..=4).contains(&q.choices.len()), "{}", demo.name);
            for c in q.choices {
                match q.check {
                    Check::FirstPrint => assert!(c.prefix.is_some(), "{}: {} names its line", demo.name, c.id),
                    Check::ResultNumber { .. } => assert!(c.min.is_some() || c.max.is_some(), "{}: {} names its range", demo.name, c.id),
                }
            }
        }
    }
}
