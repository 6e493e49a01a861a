//! `os.system(command)`: a real shell runs one of a fixed list of commands,
//! and the caller gets the wait status, encoded the way os.system returns it.

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use crate::primitives::emit;
use crate::primitives::shell;

/// The only commands that can reach the shell. The request picks one by its
/// text, and the text run is this table's, never the request's.
pub(super) const COMMANDS: &[&str] = &[
    "echo hello",
    "true",
    "false",
    "exit 3",
    "sleep 0.2",
    "sleep 0.2; echo slept",
    "ls / | wc -l",
    "kill -KILL $$",
];

pub static DEMO: Demo = Demo {
    name: "system",
    title: "os.system(): a command in a shell",
    summary: "A real /bin/sh runs a command; os.system returns its wait status (exit code 1 reads 256).",
    notes: "os.system forks a child that runs /bin/sh -c with the command, waits for it, and \
            returns the raw wait status, not the exit code: on Linux the exit code sits in the \
            high byte, so `false` (exit code 1) returns 256 and `exit 3` returns 768, while a shell \
            killed by a signal returns the signal's number (`kill -KILL $$` returns 9). \
            os.waitstatus_to_exitcode() turns it back into an exit code. The shell has its own \
            lane; the programs it starts (sleep, ls, wc) are not instrumented, so the parent \
            watches them through /proc while it waits: they appear as kernel samples, and very \
            short ones may come and go between two looks. For a last simple command the shell \
            often execs it in its own process instead of forking. The command's output is what \
            the shell printed; the playground captures it and shows it as the program's prints.",
    source: include_str!("../../../../python/programs/system.py"),
    source_lines: &[("system:begin", 3), ("proc.spawn", 3), ("system:end", 3), ("print", 4), ("result", 4)],
    lesson_output: "hello\nexit status 0\nexit code 0",
    params: &[Spec {
        name: "command",
        help: "the shell command os.system runs (one of a fixed list)",
        kind: Kind::Choice { default: "echo hello", options: COMMANDS },
    }],
    hidden: false,
};

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let chosen = params.choice("command");
    // Look the command up so the text handed to the shell is the table's own.
    let command: &'static str =
        COMMANDS.iter().copied().find(|c| *c == chosen).ok_or_else(|| format!("{chosen:?} is not a built-in command"))?;

    let outcome = shell::system(command)?;
    let status = outcome.status;
    emit::print(format!("exit status {status}"));
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    // os.waitstatus_to_exitcode: the exit code, or minus the signal number.
    let exit_code = code.unwrap_or_else(|| -signal.unwrap_or(0));
    emit::print(format!("exit code {exit_code}"));
    let how = match (code, signal) {
        (Some(c), _) => format!("the shell exited with code {c}, so os.system returned {c} × 256 = {status}"),
        (_, Some(s)) => format!("the shell was killed by signal {s}, so os.system returned {status}"),
        _ => format!("os.system returned {status}"),
    };
    emit::result(
        format!("{command:?}: {how}"),
        json!({
            "command": command,
            "status": status,
            "exit_code": code,
            "signal": signal,
            "shell": outcome.shell,
            "output": outcome.output,
            "children": outcome.children.iter().map(|(pid, name)| json!({"pid": pid, "name": name})).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}
