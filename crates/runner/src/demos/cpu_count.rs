//! `multiprocessing.cpu_count()`: the lesson's first snippet, and the number
//! that matters more in a container: how many CPUs this process may run on.

use serde_json::json;

use super::{Demo, DemoError, Params};
use crate::primitives::emit;

pub static DEMO: Demo = Demo {
    name: "cpu_count",
    title: "cpu_count(): how many cores?",
    summary: "The number of CPUs the machine has, and how many this process may actually use.",
    notes: "multiprocessing.cpu_count() counts the machine's online CPUs. A container or a \
            taskset can restrict a process to fewer; os.sched_getaffinity(0) tells how many it may \
            really use, which is the number to size a pool of workers by.",
    source: include_str!("../../../../python/programs/cpu_count.py"),
    source_lines: &[("print", 3)],
    lesson_output: "Number of cpu : 4",
    params: &[],
    hidden: false,
};

pub(super) fn run(_params: &Params) -> Result<(), DemoError> {
    let online = online_cpus()?;
    let allowed = allowed_cpus()?;
    emit::print(format!("Number of cpu :  {online}"));
    emit::print(format!("CPUs this process may use :  {}", allowed.len()));
    if allowed.len() != online {
        emit::note(format!(
            "This process may run on {} of the {online} CPUs: a container or affinity mask restricts it.",
            allowed.len()
        ));
    }
    emit::result(
        format!("{online} CPUs, {} usable by this process", allowed.len()),
        json!({ "cpu_count": online, "affinity_count": allowed.len(), "affinity": allowed }),
    );
    Ok(())
}

/// What CPython's `os.cpu_count()` returns: sysconf(_SC_NPROCESSORS_ONLN).
fn online_cpus() -> Result<usize, DemoError> {
    // SAFETY: sysconf only reads a system setting.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).map_err(|_| "sysconf(_SC_NPROCESSORS_ONLN) failed".into())
}

fn allowed_cpus() -> Result<Vec<usize>, DemoError> {
    Ok(crate::primitives::process::allowed_cpus()?)
}
