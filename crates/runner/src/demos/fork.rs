//! `os.fork()`: called once, returns twice, once in each process.

use serde_json::json;

use super::{Demo, DemoError, Params};
use forkline_core::event::Body;
use crate::primitives::emit::{self, emit};
use crate::primitives::process::{self, ExitStatus};

pub static DEMO: Demo = Demo {
    name: "fork",
    title: "os.fork(): called once, returns twice",
    summary: "One call to fork() makes a second process; fork returns in both, with different values.",
    notes: "fork() copies the calling process. Both copies continue from the same line, and fork \
            returns in each: in the parent it returns the child's pid (a true value, so the parent \
            prints hello parent), in the child it returns 0 (so the child prints hello child). The \
            fork.return marks on the two lanes carry those values. The two prints race: the lesson \
            shows the parent first, but either may come first. The lesson's program never waits for \
            its child, which would leave it a zombie until the parent exits; this demo's parent \
            reaps it with os.waitpid, as a real program should (see the join_zombie demo).",
    source: include_str!("../../../../python/programs/fork.py"),
    source_lines: &[
        ("proc.spawn", 2),
        ("fork.return", 2),
        ("print", 4),
        ("proc.join:begin", 7),
        ("proc.join:end", 7),
    ],
    lesson_output: "hello parent\nhello child",
    params: &[],
    hidden: false,
};

pub(super) fn run(_params: &Params) -> Result<(), DemoError> {
    let child = process::spawn("child", None, || {
        emit(Body::ForkReturn { value: 0 });
        emit::print("hello child");
        0
    })?;
    let x = child.pid();
    emit(Body::ForkReturn { value: x });
    emit::print("hello parent");

    emit::note("The lesson stops here and never waits for its child; this parent reaps it with waitpid.");
    let status = child.join()?;
    let parent = std::process::id();
    emit::result(
        format!("fork returned {x} in the parent ({parent}) and 0 in the child ({x})"),
        json!({ "parent": parent, "child": x, "returned_in_parent": x,
                "child_exit": match status { ExitStatus::Code(c) => c, ExitStatus::Signal(s) => -s } }),
    );
    Ok(())
}
