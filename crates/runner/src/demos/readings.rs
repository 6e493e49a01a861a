//! What a CPython run's own output says, read into a result as the native
//! demo reports it: the balance `lock.py` printed and whether its two
//! processes ever ran together, the times and CPUs `gil.py` printed for
//! each mode, the corrupted messages `pipe.py` counted. The program is the
//! lesson's, untouched: it only prints, and the runner, which relays every
//! event, keeps what this module needs to read those prints (and when each
//! process started and ended) and puts the reading in the run's `result`.
//! The race lab's histograms and the speedup curve read that, for either
//! engine alike.
//!
//! A reading is only made of a lesson program as the catalog holds it (an
//! edited program prints whatever it likes) and of a run that exited 0; a
//! print that does not parse gives no reading, never a guess.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::Params;

/// What a run's events said, as far as a reading needs it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Lines printed to stdout, in the order they were printed.
    prints: Vec<(u32, String)>,
    /// Each process's start and exit (`t`, ns), in order of start.
    lives: BTreeMap<u32, Life>,
    /// The first process that started: the program's MainProcess.
    main: Option<u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Life {
    start: u64,
    exit: Option<u64>,
}

/// A reading: the result's text and the data beside the exit code.
#[derive(Debug, PartialEq)]
pub struct Reading {
    pub text: String,
    pub data: Map<String, Value>,
}

/// Prints kept at most: the lesson's programs print a handful of lines.
const KEEP_PRINTS: usize = 1000;

impl Seen {
    /// Notes one event line as the tracer wrote it; only prints and process
    /// starts and exits are parsed, the rest skipped unread.
    pub fn line(&mut self, line: &[u8]) {
        let kind = |k: &[u8]| memchr::memmem::find(line, k).is_some();
        #[derive(Deserialize)]
        struct Event {
            t: u64,
            pid: u32,
            kind: String,
            #[serde(default)]
            text: Option<String>,
            #[serde(default)]
            stream: Option<String>,
        }
        let wanted = kind(br#""kind":"print""#) || kind(br#""kind":"proc.start""#) || kind(br#""kind":"proc.exit""#);
        let Some(event) = wanted.then(|| serde_json::from_slice::<Event>(line).ok()).flatten() else { return };
        match event.kind.as_str() {
            "print" if event.stream.is_none() && self.prints.len() < KEEP_PRINTS => {
                self.prints.push((event.pid, event.text.unwrap_or_default()));
            }
            "proc.start" => {
                self.main.get_or_insert(event.pid);
                self.lives.entry(event.pid).or_insert(Life { start: event.t, exit: None });
            }
            "proc.exit" => {
                if let Some(life) = self.lives.get_mut(&event.pid) {
                    life.exit = Some(event.t);
                }
            }
            _ => {}
        }
    }

    /// What the main process printed, in order.
    fn main_prints(&self) -> impl Iterator<Item = &str> {
        self.prints.iter().filter(move |(pid, _)| Some(*pid) == self.main).map(|(_, text)| text.as_str())
    }

    /// How long the program's child processes all ran at once, in µs: the
    /// latest start to the earliest exit, 0 when they never overlapped.
    fn children_overlap_us(&self) -> Option<u64> {
        let children: Vec<Life> = self.lives.iter().filter(|(pid, _)| Some(**pid) != self.main).map(|(_, life)| *life).collect();
        if children.len() < 2 {
            return None;
        }
        let last_start = children.iter().map(|l| l.start).max()?;
        let first_exit = children.iter().map(|l| l.exit).collect::<Option<Vec<u64>>>()?.into_iter().min()?;
        Some(first_exit.saturating_sub(last_start) / 1000)
    }
}

/// The reading of `demo`'s lesson program, when it has one and the run's
/// prints say what it needs. `cpus` is how many CPUs the run could use.
pub fn read(demo: &str, seen: &Seen, params: &Params, cpus: usize) -> Option<Reading> {
    match demo {
        "lock" => lock(seen, params),
        "gil" => gil(seen, params, cpus),
        "pipe" => pipe(seen, params),
        _ => None,
    }
}

/// `lock.py`'s balance starts at 200 (`Value('i',200)`); deposits and
/// withdrawals are as many, so every update kept leaves it at 200.
const LOCK_INITIAL: i64 = 200;

fn lock(seen: &Seen, params: &Params) -> Option<Reading> {
    let balance: i64 = seen.main_prints().last()?.trim().parse().ok()?;
    let use_lock = params.bool("use_lock");
    let overlap_us = seen.children_overlap_us();
    let off_by = balance - LOCK_INITIAL;
    let together = match overlap_us {
        Some(0) => "the two processes never ran at the same time: one finished before the other began".to_owned(),
        Some(us) => format!("the two processes ran together for {:.1} ms", us as f64 / 1000.0),
        None => "it is not known whether the processes overlapped".to_owned(),
    };
    let text = if off_by == 0 && use_lock {
        format!("balance {balance}, no update lost")
    } else if off_by == 0 {
        let hint = if overlap_us == Some(0) { "raise iterations so they overlap, and run it again" } else { "run it again" };
        format!("balance {balance}, no update lost, by luck: {together}; {hint}")
    } else {
        format!("balance {balance}, expected {LOCK_INITIAL}: at least {} updates lost ({together})", off_by.abs())
    };
    let mut data = Map::new();
    data.insert("balance".into(), json!(balance));
    data.insert("expected".into(), json!(LOCK_INITIAL));
    // One lost deposit and one lost withdrawal cancel out: the balance only
    // shows how many more of one kind were lost.
    data.insert("lost_updates_at_least".into(), json!(off_by.unsigned_abs()));
    data.insert("use_lock".into(), json!(use_lock));
    if let Some(us) = overlap_us {
        data.insert("overlap_us".into(), json!(us));
    }
    Some(Reading { text, data })
}

/// One of `gil.py`'s lines: `(b) 2 threads: 0.61 s on 0.99 CPUs`.
fn gil_line(line: &str) -> Option<(char, String, f64, f64)> {
    let rest = line.strip_prefix('(')?;
    let key = rest.chars().next().filter(char::is_ascii_lowercase)?;
    let rest = rest.get(1..)?.strip_prefix(") ")?;
    let (label, figures) = rest.rsplit_once(": ")?;
    let (wall, cpus) = figures.strip_suffix(" CPUs")?.split_once(" s on ")?;
    Some((key, label.to_owned(), wall.parse().ok()?, cpus.parse().ok()?))
}

fn gil(seen: &Seen, params: &Params, cpus: usize) -> Option<Reading> {
    let lines: Vec<_> = seen.main_prints().filter_map(gil_line).collect();
    let &(_, _, base, a_cpus) = lines.iter().find(|(key, ..)| *key == 'a')?;
    let gil_enabled = seen.main_prints().find_map(|l| l.strip_prefix("GIL enabled: ")).map(|v| v == "True");
    let mut modes = Map::new();
    let mut text = Vec::new();
    for (key, label, wall_s, cpus_used) in &lines {
        let speedup = base / wall_s.max(1e-9);
        modes.insert(key.to_string(), json!({ "label": label, "wall_s": wall_s, "speedup": speedup, "cpus_used": cpus_used }));
        text.push(format!("({key}) {label}: {wall_s:.2} s, {speedup:.2}× on {cpus_used:.1} CPUs"));
    }
    let disturbed = a_cpus < 0.85;
    let gil = match gil_enabled {
        Some(false) => "no GIL",
        _ => "GIL enabled",
    };
    let mut data = Map::new();
    data.insert("modes".into(), Value::Object(modes));
    data.insert("workers".into(), json!(params.int("workers")));
    data.insert("work_steps".into(), json!(params.int("work")));
    data.insert("cpus".into(), json!(cpus));
    data.insert("disturbed".into(), json!(disturbed));
    if let Some(enabled) = gil_enabled {
        data.insert("gil_enabled".into(), json!(enabled));
    }
    let disturbed_text = if disturbed { format!("; disturbed by other load: (a) got {a_cpus:.2} of a CPU") } else { String::new() };
    Some(Reading { text: format!("{} (speedup against (a); {gil}; {cpus} CPUs usable{disturbed_text})", text.join(" · ")), data })
}

fn pipe(seen: &Seen, params: &Params) -> Option<Reading> {
    let corrupt: u64 = seen.main_prints().find_map(|l| l.strip_prefix("corrupted messages: "))?.trim().parse().ok()?;
    let sent = params.int("writers") * params.int("messages");
    let mut data = Map::new();
    data.insert("corrupt".into(), json!(corrupt));
    data.insert("messages".into(), json!(sent));
    data.insert("use_lock".into(), json!(params.bool("use_lock")));
    let text = if corrupt == 0 {
        format!("all {sent} messages arrived whole")
    } else {
        format!("corrupted messages: {corrupt} of {sent}, and the reader did not raise")
    };
    Some(Reading { text, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(lines: &[&str]) -> Seen {
        let mut seen = Seen::default();
        for line in lines {
            seen.line(line.as_bytes());
        }
        seen
    }

    fn lock_params(use_lock: bool) -> Params {
        super::super::cpython::program("lock").unwrap().validate(&json!({ "use_lock": use_lock })).unwrap()
    }

    #[test]
    fn the_lock_balance_is_the_main_process_last_print_and_overlap_comes_from_the_children_lives() {
        let raced = seen(&[
            r#"{"t":10,"pid":1,"kind":"proc.start"}"#,
            r#"{"t":50000,"pid":2,"kind":"proc.start"}"#,
            r#"{"t":60000,"pid":3,"kind":"proc.start"}"#,
            r#"{"t":61000,"pid":2,"kind":"print","text":"not the balance"}"#,
            r#"{"t":90000,"pid":2,"kind":"proc.exit","code":0}"#,
            r#"{"t":95000,"pid":3,"kind":"proc.exit","code":0}"#,
            r#"{"t":99000,"pid":1,"kind":"print","text":"187"}"#,
        ]);
        let reading = read("lock", &raced, &lock_params(false), 2).unwrap();
        assert_eq!(reading.data["balance"], 187);
        assert_eq!(reading.data["lost_updates_at_least"], 13);
        assert_eq!(reading.data["overlap_us"], 30);
        assert!(reading.text.starts_with("balance 187, expected 200: at least 13 updates lost (the two processes ran together for 0.0 ms"), "{}", reading.text);

        let apart = seen(&[
            r#"{"t":10,"pid":1,"kind":"proc.start"}"#,
            r#"{"t":50000,"pid":2,"kind":"proc.start"}"#,
            r#"{"t":60000,"pid":2,"kind":"proc.exit","code":0}"#,
            r#"{"t":70000,"pid":3,"kind":"proc.start"}"#,
            r#"{"t":80000,"pid":3,"kind":"proc.exit","code":0}"#,
            r#"{"t":99000,"pid":1,"kind":"print","text":"200"}"#,
        ]);
        let reading = read("lock", &apart, &lock_params(false), 2).unwrap();
        assert_eq!(reading.data["overlap_us"], 0);
        assert!(reading.text.contains("by luck: the two processes never ran at the same time"), "{}", reading.text);
        let locked = read("lock", &apart, &lock_params(true), 2).unwrap();
        assert_eq!(locked.text, "balance 200, no update lost");
    }

    #[test]
    fn gil_lines_give_each_mode_its_time_cpus_and_speedup_against_a() {
        assert_eq!(gil_line("(b) 2 threads: 0.61 s on 0.99 CPUs"), Some(('b', "2 threads".into(), 0.61, 0.99)));
        assert_eq!(gil_line("GIL enabled: True"), None);
        assert_eq!(gil_line("(b) 2 threads: 0.61 s"), None);
        let params = super::super::cpython::program("gil").unwrap().validate(&json!({ "workers": 2 })).unwrap();
        let run = seen(&[
            r#"{"t":1,"pid":7,"kind":"proc.start"}"#,
            r#"{"t":2,"pid":7,"kind":"print","text":"(a) one thread: 0.6 s on 1.0 CPUs"}"#,
            r#"{"t":3,"pid":7,"kind":"print","text":"(b) 2 threads: 0.62 s on 1.0 CPUs"}"#,
            r#"{"t":4,"pid":7,"kind":"print","text":"(c) 2 processes: 0.3 s on 1.96 CPUs"}"#,
            r#"{"t":5,"pid":7,"kind":"print","text":"GIL enabled: True"}"#,
        ]);
        let reading = read("gil", &run, &params, 2).unwrap();
        let modes = &reading.data["modes"];
        assert_eq!(modes["c"]["speedup"], 2.0);
        assert_eq!(modes["b"]["cpus_used"], 1.0);
        assert_eq!(reading.data["gil_enabled"], true);
        assert_eq!(reading.data["disturbed"], false);
        assert!(reading.text.contains("(c) 2 processes: 0.30 s, 2.00× on 2.0 CPUs"), "{}", reading.text);
        assert_eq!(read("gil", &seen(&[r#"{"t":1,"pid":7,"kind":"proc.start"}"#]), &params, 2), None, "no prints, no reading");
    }

    #[test]
    fn a_pipe_run_that_got_to_the_end_reports_its_count() {
        let params = super::super::cpython::program("pipe").unwrap().validate(&json!({})).unwrap();
        let run = seen(&[r#"{"t":1,"pid":7,"kind":"proc.start"}"#, r#"{"t":2,"pid":7,"kind":"print","text":"corrupted messages: 4"}"#]);
        let reading = read("pipe", &run, &params, 2).unwrap();
        assert_eq!(reading.data["corrupt"], 4);
        assert_eq!(reading.data["messages"], 60);
    }
}
