//! Resource limits the runner puts on itself (and so on every process it
//! forks) before running a demo: the kernel's backstop behind the parameter
//! bounds, so even a demo bug can't exhaust the server's machine.

use nix::sys::resource::{setrlimit, Resource};

/// CPU seconds any one process of a run may use.
pub const CPU_SECONDS: u64 = 120;
/// Open files per process: demos need a handful of pipes.
pub const OPEN_FILES: u64 = 256;
/// Virtual address space per process (threads reserve stacks and malloc arenas).
pub const ADDRESS_SPACE_BYTES: u64 = 4 << 30;
/// Child processes one process of a run may fork.
pub const MAX_CHILDREN: usize = 64;

/// Applies the limits; a failure is reported and the demo still runs, since a
/// host that forbids lowering limits still has the run timeout.
pub fn apply() {
    let limits = [
        (Resource::RLIMIT_CORE, 0),
        (Resource::RLIMIT_FSIZE, 0),
        (Resource::RLIMIT_CPU, CPU_SECONDS),
        (Resource::RLIMIT_NOFILE, OPEN_FILES),
        (Resource::RLIMIT_AS, ADDRESS_SPACE_BYTES),
    ];
    for (resource, value) in limits {
        if let Err(e) = setrlimit(resource, value, value) {
            eprintln!("forkline runner: could not set {resource:?}: {e}");
        }
    }
}
