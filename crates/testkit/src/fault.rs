//! A demo that misbehaves on purpose, so tests can prove that a runner
//! which crashes, hangs, floods or writes garbage fails only its own run.

use forkline_runner::demos::params::{Kind, Spec};
use forkline_runner::demos::{Demo, DemoError, Params};
use forkline_runner::primitives::emit;

pub static DEMO: Demo = Demo {
    name: "fault",
    title: "Fault injection (tests only)",
    summary: "A runner that crashes, hangs, floods or writes garbage.",
    notes: "",
    source: "# not a lesson demo\n",
    source_lines: &[],
    lesson_output: "",
    params: &[Spec {
        name: "mode",
        help: "how to misbehave",
        kind: Kind::Choice {
            default: "crash",
            options: &["crash", "hang", "garbage", "oversized", "stdout", "torn", "flood", "hostile_print", "exit_code"],
        },
    }],
    hidden: true,
};

/// Text a page must show as text, never as markup.
pub const HOSTILE_TEXT: &str = "<img src=x onerror=\"document.title='pwned'\"></script><b>bold?</b> & \"quotes\"";

pub fn run(params: &Params) -> Result<(), DemoError> {
    emit::print("about to misbehave");
    match params.choice("mode") {
        // SAFETY: abort ends the process with SIGABRT, which is the point.
        "crash" => unsafe { libc::abort() },
        "hang" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        // Unchecked, as the CPython tracer's lines are: the server must refuse them.
        "garbage" => emit::relay(b"this is not an event"),
        "oversized" => emit::relay(&[b'x'; 64 * 1024]),
        // Around the ring: straight onto the doorbell, as a careless exec would.
        "stdout" => write_stdout(b"this is not an event\n"),
        // A record begun and never finished, by a process that lives on.
        "torn" => {
            if let Some(ring) = emit::ring() {
                ring.abandon_a_record();
            }
            emit::print("after the torn record");
            std::thread::sleep(std::time::Duration::from_secs(30));
        }
        "flood" => loop {
            emit::print("flood");
        },
        "hostile_print" => emit::print(HOSTILE_TEXT),
        _ => std::process::exit(7),
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}
