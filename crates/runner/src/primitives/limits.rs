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
/// Bytes a process of a CPython run may write to one file. Native demos
/// write no file (their soft limit stays 0), but CPython's shared memory
/// (`Value`, `Array`) lives in an unlinked file in /dev/shm that it grows
/// with `ftruncate`, which the file-size limit governs. The hard limit is
/// this much so the CPython engine can raise its soft limit to it.
pub const CPYTHON_FILE_BYTES: u64 = 64 << 20;

/// Applies the limits; a failure is reported and the demo still runs, since a
/// host that forbids lowering limits still has the run timeout.
pub fn apply() {
    let limits = [
        (Resource::RLIMIT_CORE, 0, 0),
        (Resource::RLIMIT_FSIZE, 0, CPYTHON_FILE_BYTES),
        (Resource::RLIMIT_CPU, CPU_SECONDS, CPU_SECONDS),
        (Resource::RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES),
        (Resource::RLIMIT_AS, ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES),
    ];
    for (resource, soft, hard) in limits {
        if let Err(e) = setrlimit(resource, soft, hard) {
            eprintln!("forkline runner: could not set {resource:?}: {e}");
        }
    }
}

/// In a process about to exec an interpreter: lets it grow its shared
/// memory files (see [`CPYTHON_FILE_BYTES`]). Async-signal-safe.
pub fn allow_shared_memory_files() {
    let limit = libc::rlimit { rlim_cur: CPYTHON_FILE_BYTES, rlim_max: CPYTHON_FILE_BYTES };
    // SAFETY: setrlimit with a valid struct; failure leaves the limit at 0,
    // and the interpreter then reports the error itself.
    unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) };
}
