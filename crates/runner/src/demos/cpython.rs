//! The CPython engine's side of the catalog: for each demo, the lesson's own
//! Python program (`python/programs/<demo>.py`, runnable by hand as it is),
//! the parameters this engine offers and their defaults, and what the page
//! says about what real CPython does.
//!
//! Parameters reach a program only as literals this module writes: each is
//! bound to one constant line of the program, `NAME = <literal>  # (param)`,
//! and the literal is rendered from the validated, typed value (an integer,
//! `True`/`False`, a list of integers, or one of a fixed list of strings the
//! catalog itself declares). No text of a request is ever written into a
//! program. The program shown on the page is the rendered one: exactly the
//! program that ran.
//!
//! This engine's defaults differ from the native ones where real CPython is
//! slower or behaves differently (the `gil` countdown costs about 20–40 ns a
//! step here, against a fraction of a nanosecond natively), and say so.

use super::params::{self, Kind, ParamError, Params, Spec};

/// A demo's program for the CPython engine.
#[derive(Debug)]
pub struct Program {
    /// The demo it belongs to.
    pub demo: &'static str,
    /// Its name in tracebacks and on the page (`lock.py`).
    pub file: &'static str,
    /// The program as kept in `python/programs/`, defaults written in.
    pub template: &'static str,
    /// This engine's parameters (the common sampler ones are appended).
    pub params: &'static [Spec],
    /// What to look for when real CPython runs it.
    pub notes: &'static str,
}

impl Program {
    /// This program's parameters followed by the common ones, as for native demos.
    pub fn all_params(&self) -> Vec<Spec> {
        self.params.iter().chain(params::COMMON).copied().collect()
    }

    pub fn validate(&self, raw: &serde_json::Value) -> Result<Params, ParamError> {
        params::validate(&self.all_params(), raw)
    }

    /// The program with every parameter's value written into its constant.
    pub fn render(&self, params: &Params) -> String {
        render(self.template, self.params, params)
    }
}

/// `template` with each of `specs`' values written into the line bound to
/// it (`NAME = <literal>  # (param)`): a CPython program, or the Python a
/// native demo mirrors, shown as it would have run with these parameters.
pub fn render(template: &str, specs: &[Spec], params: &Params) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for line in template.split_inclusive('\n') {
        match binding(line).and_then(|b| specs.iter().find(|s| s.name == b.param).map(|s| (b, s))) {
            Some((b, spec)) => {
                out.push_str(&line[..b.value_start]);
                out.push_str(&literal(spec, params));
                out.push_str(&line[b.value_end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Where a parameter is written into a line: `NAME = <value>  # (param) …`.
#[derive(Debug, PartialEq, Eq)]
struct Binding<'a> {
    param: &'a str,
    value_start: usize,
    value_end: usize,
}

/// Reads a binding line: an assignment to one name, then a comment naming
/// the parameter in parentheses.
fn binding(line: &str) -> Option<Binding<'_>> {
    let hash = line.find("  #")?;
    let comment = &line[hash..];
    let open = comment.find('(')?;
    let close = open + comment[open..].find(')')?;
    let param = &comment[open + 1..close];
    if param.is_empty() || !param.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let eq = line[..hash].find('=')?;
    let name = line[..eq].trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let value_start = eq + 1 + (line[eq + 1..hash].len() - line[eq + 1..hash].trim_start().len());
    let value_end = eq + 1 + line[eq + 1..hash].trim_end().len();
    (value_start < value_end).then_some(Binding { param, value_start, value_end })
}

/// A parameter's value as a Python literal.
fn literal(spec: &Spec, params: &Params) -> String {
    match spec.kind {
        Kind::Int { .. } => int_literal(params.int(spec.name)),
        Kind::Bool { .. } => if params.bool(spec.name) { "True" } else { "False" }.to_owned(),
        Kind::IntList { .. } => {
            let items: Vec<String> = params.int_list(spec.name).into_iter().map(int_literal).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Choice { .. } => string_literal(params.choice(spec.name)),
    }
}

/// `30_000_000` for big numbers, as a person would write them.
fn int_literal(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    if digits.len() <= 4 {
        return n.to_string();
    }
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('_');
        }
        grouped.push(d);
    }
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A single-quoted Python string. Choices come from the catalog's own fixed
/// lists, never from a request; quoting is exact all the same.
fn string_literal(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

const START_METHOD: Spec = Spec {
    name: "start_method",
    help: "how multiprocessing starts a child: fork copies this process; spawn starts a fresh interpreter \
           that re-imports the program (tens of milliseconds); forkserver forks from a server process started once",
    kind: Kind::Choice { default: "fork", options: &["fork", "spawn", "forkserver"] },
};

const NUMBERS_4: Kind = Kind::IntList { default: &[2, 3, 8, 9], min: -1000, max: 1000, min_len: 1, max_len: 16 };
const NUMBERS_3: Kind = Kind::IntList { default: &[2, 3, 5], min: -1000, max: 1000, min_len: 1, max_len: 16 };

static PROGRAMS: &[Program] = &[
    Program {
        demo: "cpu_count",
        file: "cpu_count.py",
        template: include_str!("../../../../python/programs/cpu_count.py"),
        params: &[],
        notes: "Real CPython asks the kernel: cpu_count() is every CPU the machine has, while \
                sched_getaffinity(0) is the set this process may run on (a container or taskset can make \
                it smaller). Pool and ProcessPoolExecutor size themselves by cpu_count().",
    },
    Program {
        demo: "process",
        file: "process.py",
        template: include_str!("../../../../python/programs/process.py"),
        params: &[
            START_METHOD,
            Spec { name: "delay_ms", help: "milliseconds each sleep lasts (the lesson sleeps 5 s)", kind: Kind::Int { default: 500, min: 0, max: 5000 } },
            Spec { name: "numbers", help: "the list both processes work through (arr)", kind: NUMBERS_4 },
        ],
        notes: "Two real CPython processes, Process-1 and Process-2 (CPython's own names), run calc_square \
                and calc_cube at the same time, so their prints interleave; the exact order of two prints \
                that fall due together is up to the scheduler. With spawn, each child is a fresh \
                interpreter that imports the program again before its target runs: the gap between a \
                child's spawn and its start on the timeline is that cost.",
    },
    Program {
        demo: "queue",
        file: "queue.py",
        template: include_str!("../../../../python/programs/queue.py"),
        params: &[
            START_METHOD,
            Spec { name: "producers", help: "processes running calc_square (the lesson has 1)", kind: Kind::Int { default: 1, min: 1, max: 8 } },
            Spec { name: "numbers", help: "what each producer squares", kind: NUMBERS_3 },
        ],
        notes: "q.put() does not write to the pipe itself: CPython hands the item to a feeder thread \
                (QueueFeederThread, its own lane in the producer) that pickles it and writes it. A producer \
                that exits first waits for its feeder to flush, which is why the lesson's join() before \
                get() works for a few small items (with many large ones it would deadlock). Arrows pair \
                each put with the get that received it.",
    },
    Program {
        demo: "queue_vs_thread_queue",
        file: "queue_vs_thread_queue.py",
        template: include_str!("../../../../python/programs/queue_vs_thread_queue.py"),
        params: &[Spec { name: "numbers", help: "what calc_square puts on each queue", kind: NUMBERS_3 }],
        notes: "queue.Queue lives in one process's memory: a thread's puts reach the main thread, but a \
                forked child puts into its own copy, which vanishes with it (the puts have no get). \
                multiprocessing.Queue is a pipe plus a feeder thread, so the child's items arrive.",
    },
    Program {
        demo: "lock",
        file: "lock.py",
        template: include_str!("../../../../python/programs/lock.py"),
        params: &[
            START_METHOD,
            Spec {
                name: "iterations",
                help: "updates per process; the lesson does 100, too few for the two processes to overlap",
                kind: Kind::Int { default: 1000, min: 1, max: 20_000 },
            },
            Spec { name: "use_lock", help: "take the lock around each update (the lesson does)", kind: Kind::Bool { default: true } },
        ],
        notes: "balance.value = balance.value + 1 is a read, then a write. Value('i') has a lock of its \
                own, but CPython takes it separately for the read and for the write, so without the \
                explicit Lock two processes can both read the same balance and one update is lost. At the \
                lesson's 100 iterations real CPython almost always ends at 200 anyway: the second process \
                starts about a millisecond after the first, and by then the first has finished its whole \
                loop. That is why this engine's default is 1000 iterations. Tracing itself slows each \
                update (several events per iteration), which widens the overlap and makes the race more \
                likely than untraced; forkline-bench measures both rates.",
    },
    Program {
        demo: "threads",
        file: "threads.py",
        template: include_str!("../../../../python/programs/threads.py"),
        params: &[
            Spec { name: "sleep_ms", help: "milliseconds of each sleep (the lesson: 200)", kind: Kind::Int { default: 200, min: 0, max: 500 } },
            Spec { name: "numbers", help: "the list both threads work through", kind: Kind::IntList { default: &[2, 3, 8, 9], min: -1000, max: 1000, min_len: 1, max_len: 8 } },
        ],
        notes: "Two real threads of one CPython process. While a thread sleeps it releases the GIL, so \
                the sleeps overlap and done in is about 4 × the delay, not 8 ×. The kernel samples show \
                both threads asleep (S) nearly all the time.",
    },
    Program {
        demo: "gil",
        file: "gil.py",
        template: include_str!("../../../../python/programs/gil.py"),
        params: &[
            Spec {
                name: "work",
                help: "countdown steps; CPython takes about 20–40 ns a step here, so 20 million is about half a second",
                kind: Kind::Int { default: 20_000_000, min: 1_000_000, max: 100_000_000 },
            },
            Spec { name: "workers", help: "threads in (b), processes in (c)", kind: Kind::Int { default: 2, min: 1, max: 8 } },
        ],
        notes: "Nothing here is modelled: this is CPython's real GIL. Watch the kernel samples: in (b) \
                the two threads take turns, one running (R) while the other waits for the GIL, so two \
                threads take as long as one; in (c) each process has its own interpreter and GIL, and on \
                a machine with two free CPUs both run at once. With a free-threaded build (python3.13t, \
                offered only where --python names one) the threads of (b) run at once too.",
    },
    Program {
        demo: "pipe",
        file: "pipe.py",
        template: include_str!("../../../../python/programs/pipe.py"),
        params: &[
            START_METHOD,
            Spec { name: "writers", help: "processes sending on the same end", kind: Kind::Int { default: 3, min: 1, max: 8 } },
            Spec { name: "messages", help: "messages each writer sends", kind: Kind::Int { default: 20, min: 1, max: 50 } },
            Spec {
                name: "message_bytes",
                help: "bytes per message; over 16 KiB CPython writes the length and the data separately",
                kind: Kind::Int { default: 65536, min: 64, max: 131_072 },
            },
            Spec { name: "use_lock", help: "writers take a Lock around send_bytes", kind: Kind::Bool { default: false } },
        ],
        notes: "The duplex pipe works both ways. Several writers on one end is where the lesson's \
                corruption comes from, and real CPython does not count corrupt messages: a message larger \
                than the pipe buffer goes out in pieces, another writer's bytes land in between, and the \
                reader then reads a length that is really someone's data. What follows is what you see: \
                recv_bytes raises (OSError: got end of file during message, or a huge bogus length), or \
                the program hangs until the run's time limit. With use_lock on, every message arrives \
                whole.",
    },
    Program {
        demo: "fork",
        file: "fork.py",
        template: include_str!("../../../../python/programs/fork.py"),
        params: &[],
        notes: "os.fork() returns twice: the child's pid in the parent and 0 in the child (the fork.return \
                marks). Both copies run the rest of the program, so both reach the last line; only the \
                parent reaps. Either print may come first.",
    },
    Program {
        demo: super::scratch::NAME,
        file: "scratch.py",
        template: include_str!("../../../../python/programs/scratch.py"),
        params: &[],
        notes: "Your own program, on real CPython in forkline's sandbox. What the tracer follows: \
                multiprocessing's Process (fork, spawn, forkserver), Queue, Pipe, Lock, Value, threads, \
                os.fork, os.system and print. Anything else runs as CPython runs it, unseen.",
    },
    Program {
        demo: "system",
        file: "system.py",
        template: include_str!("../../../../python/programs/system.py"),
        params: &[Spec { name: "command", help: "the command os.system runs through /bin/sh", kind: Kind::Choice { default: "echo hello", options: super::system::COMMANDS } }],
        notes: "os.system forks a /bin/sh that runs the command, waits for it, and returns the raw wait \
                status: an exit code of 1 reads 256 (the code sits in the high byte). The shell and its \
                programs are not Python and report nothing themselves; the kernel sampler still sees them. \
                One thing is done differently from CPython so you can see it: the tracer performs \
                os.system as system(3) does (fork, exec /bin/sh -c, wait for it), but with the shell's \
                output on a pipe it reads, so what the command prints shows up in the console as the \
                shell's lines instead of going to the interpreter's stdout, which nobody sees.",
    },
    Program {
        demo: "address_space",
        file: "address_space.py",
        template: include_str!("../../../../python/programs/address_space.py"),
        params: &[
            Spec { name: "value", help: "x in the parent", kind: Kind::Int { default: 100, min: -1_000_000, max: 1_000_000 } },
            Spec { name: "child_value", help: "what the child writes into its x", kind: Kind::Int { default: 200, min: -1_000_000, max: 1_000_000 } },
        ],
        notes: "ctypes.addressof shows the virtual address of x. After fork the child's x is at the same \
                address, yet its write does not reach the parent: the kernel gave the child its own copy \
                of the page on the first write (copy-on-write).",
    },
    Program {
        demo: "join_zombie",
        file: "join_zombie.py",
        template: include_str!("../../../../python/programs/join_zombie.py"),
        params: &[
            START_METHOD,
            Spec { name: "child_ms", help: "how long the child works before it exits", kind: Kind::Int { default: 100, min: 0, max: 1000 } },
            Spec { name: "wait_ms", help: "how long the parent waits before join()", kind: Kind::Int { default: 500, min: 50, max: 3000 } },
        ],
        notes: "The child terminates on its own; until join() reaps it, it is a zombie (Z in /proc). \
                CPython does reap unjoined children behind your back: every Process.start() first reaps \
                the children that have already finished, and at exit the interpreter joins every child it \
                still has.",
    },
];

/// The CPython program of a demo, if it has one.
pub fn program(demo: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.demo == demo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_bound_to_exactly_one_line_and_every_binding_to_a_parameter() {
        for program in PROGRAMS {
            let bindings: Vec<_> = program.template.lines().filter_map(binding).collect();
            for spec in program.params {
                let count = bindings.iter().filter(|b| b.param == spec.name).count();
                assert_eq!(count, 1, "{}: {} bound {count} times", program.file, spec.name);
            }
            for b in &bindings {
                assert!(program.params.iter().any(|s| s.name == b.param), "{}: ({}) is no parameter", program.file, b.param);
            }
            assert!(super::super::find(program.demo).is_some(), "{} has no demo", program.demo);
        }
    }

    #[test]
    fn rendering_the_defaults_gives_the_program_as_kept() {
        for program in PROGRAMS {
            let params = program.validate(&serde_json::Value::Null).unwrap();
            assert_eq!(program.render(&params), program.template, "{}", program.file);
        }
    }

    #[test]
    fn values_are_written_as_python_literals() {
        let lock = program("lock").unwrap();
        let params = lock.validate(&serde_json::json!({"use_lock": false, "iterations": 12000, "start_method": "spawn"})).unwrap();
        let text = lock.render(&params);
        assert!(text.contains("USE_LOCK = False        # (use_lock)\n"), "{text}");
        assert!(text.contains("ITERATIONS = 12_000      # (iterations)"), "{text}");
        assert!(text.contains("START_METHOD = 'spawn'  # (start_method)"), "{text}");
        let process = program("process").unwrap();
        let params = process.validate(&serde_json::json!({"numbers": [-1, 999]})).unwrap();
        assert!(process.render(&params).contains("arr=[-1, 999]   # (numbers)"));
        let system = program("system").unwrap();
        let params = system.validate(&serde_json::json!({"command": "kill -KILL $$"})).unwrap();
        assert!(system.render(&params).contains("COMMAND = 'kill -KILL $$'  # (command)"));
    }

    #[test]
    fn request_text_never_reaches_a_program() {
        let system = program("system").unwrap();
        let err = system.validate(&serde_json::json!({"command": "echo '; import os"})).unwrap_err();
        assert_eq!(err.field(), Some("command"));
        assert_eq!(string_literal("it's \\ \n"), "'it\\'s \\\\ \\x0a'");
    }

    #[test]
    fn big_numbers_are_grouped_by_thousands() {
        assert_eq!(int_literal(1000), "1000");
        assert_eq!(int_literal(20_000_000), "20_000_000");
        assert_eq!(int_literal(-123_456), "-123_456");
    }
}
