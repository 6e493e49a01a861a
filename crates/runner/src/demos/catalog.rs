//! How a runner tells the server which demos it runs.
//!
//! The server offers exactly the demos of the runner it starts runs with
//! (`--runner`): the product runner runs the lesson's ([`super::LESSON`]);
//! the testkit's runner (crates/testkit) runs those and the fault and
//! benchmark demos, which so never ship in the product. Rather than compile
//! into the server a list that could disagree with the runner it execs, the
//! server asks, once, at start: `forkline-runner catalog` prints its demos'
//! [`Demo`] descriptions as JSON ([`describe`]), and the server reads them
//! back ([`read`]). A description equal to a lesson demo's is that demo's
//! own static; any other (the testkit's) is made `'static` once per process
//! and remembered, so a process that reads many catalogs (the test suite
//! starts hundreds of servers) holds one copy of each.

use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;

use super::params::{Kind, Spec};
use super::{Demo, Runnable};

/// What a runner answers `catalog` with: its demos' descriptions, in order.
pub fn describe(catalog: &[Runnable]) -> String {
    serde_json::to_string(&catalog.iter().map(|r| r.demo).collect::<Vec<_>>()).expect("descriptions serialise")
}

/// Demos runners described that are not the lesson's. Only grows: each was
/// leaked once, to be `'static` as the lesson's are.
static LEARNED: Mutex<Vec<&'static Demo>> = Mutex::new(Vec::new());

/// The demos a runner's [`describe`] answer names, in its order.
pub fn read(json: &[u8]) -> Result<Vec<&'static Demo>, serde_json::Error> {
    let described: Vec<Value> = serde_json::from_slice(json)?;
    described
        .into_iter()
        .map(|value| {
            let same = |d: &&'static Demo| serde_json::to_value(*d).is_ok_and(|v| v == value);
            let mut learned = LEARNED.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = super::all().chain(learned.iter().copied()).find(same) {
                return Ok(known);
            }
            let demo: &'static Demo = Box::leak(Box::new(serde_json::from_value::<Described>(value)?.into_demo()));
            learned.push(demo);
            Ok(demo)
        })
        .collect()
}

/// The latest description of `name` a runner gave this process, if it is
/// not a lesson demo.
pub(super) fn learned(name: &str) -> Option<&'static Demo> {
    LEARNED.lock().unwrap_or_else(PoisonError::into_inner).iter().rev().find(|d| d.name == name).copied()
}

/// [`Demo`] as it reads from JSON: owned, until [`Described::into_demo`].
#[derive(Deserialize)]
struct Described {
    name: String,
    title: String,
    summary: String,
    notes: String,
    source: String,
    source_lines: Vec<(String, u32)>,
    lesson_output: String,
    params: Vec<DescribedSpec>,
    hidden: bool,
}

#[derive(Deserialize)]
struct DescribedSpec {
    name: String,
    help: String,
    #[serde(flatten)]
    kind: DescribedKind,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DescribedKind {
    Int { default: i64, min: i64, max: i64 },
    Bool { default: bool },
    IntList { default: Vec<i64>, min: i64, max: i64, min_len: usize, max_len: usize },
    Choice { default: String, options: Vec<String> },
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn leak_all<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

impl Described {
    fn into_demo(self) -> Demo {
        let spec = |s: DescribedSpec| Spec {
            name: leak(s.name),
            help: leak(s.help),
            kind: match s.kind {
                DescribedKind::Int { default, min, max } => Kind::Int { default, min, max },
                DescribedKind::Bool { default } => Kind::Bool { default },
                DescribedKind::IntList { default, min, max, min_len, max_len } => {
                    Kind::IntList { default: leak_all(default), min, max, min_len, max_len }
                }
                DescribedKind::Choice { default, options } => {
                    Kind::Choice { default: leak(default), options: leak_all(options.into_iter().map(leak).collect()) }
                }
            },
        };
        Demo {
            name: leak(self.name),
            title: leak(self.title),
            summary: leak(self.summary),
            notes: leak(self.notes),
            source: leak(self.source),
            source_lines: leak_all(self.source_lines.into_iter().map(|(kind, line)| (leak(kind), line)).collect()),
            lesson_output: leak(self.lesson_output),
            params: leak_all(self.params.into_iter().map(spec).collect()),
            hidden: self.hidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demos::{DemoError, Params, LESSON};

    static EXTRA: Demo = Demo {
        name: "catalog_test_extra",
        title: "Not a lesson demo",
        summary: "",
        notes: "",
        source: "print('x')\n",
        source_lines: &[("print", 1)],
        lesson_output: "x",
        params: &[
            Spec { name: "mode", help: "", kind: Kind::Choice { default: "b", options: &["a", "b"] } },
            Spec { name: "numbers", help: "", kind: Kind::IntList { default: &[1, 2], min: 0, max: 9, min_len: 1, max_len: 3 } },
        ],
        hidden: true,
    };

    fn nothing(_: &Params) -> Result<(), DemoError> {
        Ok(())
    }

    #[test]
    fn the_lesson_reads_back_as_its_own_statics() {
        let read = read(describe(LESSON).as_bytes()).unwrap();
        assert_eq!(read.len(), LESSON.len());
        for (demo, runnable) in read.iter().zip(LESSON) {
            assert!(std::ptr::eq(*demo, runnable.demo), "{}", demo.name);
        }
    }

    #[test]
    fn a_demo_the_lesson_lacks_is_learned_once_and_found_by_name() {
        let catalog = [LESSON[0], Runnable { demo: &EXTRA, run: nothing }];
        let first = read(describe(&catalog).as_bytes()).unwrap();
        let again = read(describe(&catalog).as_bytes()).unwrap();
        assert_eq!(*first[1], EXTRA, "described and read back, it is the same demo");
        assert!(std::ptr::eq(first[1], again[1]), "kept once, not once per reading");
        assert!(std::ptr::eq(crate::demos::find(EXTRA.name).unwrap(), first[1]));
        let params = first[1].validate(&serde_json::json!({"numbers": [7]})).unwrap();
        assert_eq!((params.choice("mode"), params.int_list("numbers")), ("b", vec![7]));
        assert!(first[1].validate(&serde_json::json!({"mode": "c"})).is_err());
    }

    #[test]
    fn an_answer_that_is_not_a_catalog_is_refused() {
        for bad in [&b"usage: forkline-runner"[..], b"{}", br#"[{"name": "x"}]"#] {
            assert!(read(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
