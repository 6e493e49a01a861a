//! The per-run limits an edited program runs under, and the step from the
//! runner (root) to the run's own unprivileged user that puts them on.
//!
//! Each is an rlimit set before bubblewrap starts, so it holds inside the
//! user namespace too (a process there cannot raise a hard limit). The
//! process limit counts per user, and each run has a user of its own, so it
//! bounds one run's processes and threads together.

use std::os::fd::OwnedFd;

pub use forkline_core::spec::Limits;

/// Whether a cgroup bounds a run's memory and tasks as a whole, beside the
/// rlimits: only where a writable cgroup v2 offers the `pids` and `memory`
/// controllers, which this version does not use yet; said so either way.
pub fn cgroup_status() -> String {
    let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if has("pids") && has("memory") {
        "not used: this host has a cgroup v2 with pids and memory, but forkline bounds runs by rlimits only (per process, and processes per run)".into()
    } else {
        "not used: this host has no cgroup v2 with the pids and memory controllers; rlimits bound each run".into()
    }
}

/// In the child between fork and exec (async-signal-safe calls only):
/// becomes `uid` (when given: the server is root) with no supplementary
/// groups, can never gain privileges again, takes on the limits, and dies
/// with the runner. The death signal is set last: changing credentials
/// clears it.
pub fn enter(uid: Option<u32>, limits: &Limits) -> std::io::Result<()> {
    let fail = || Err(std::io::Error::last_os_error());
    // SAFETY: plain system calls on this process's own credentials and limits.
    unsafe {
        if let Some(uid) = uid {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setresgid(uid, uid, uid) != 0 || libc::setresuid(uid, uid, uid) != 0 {
                return fail();
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return fail();
        }
        let set = |resource, value: u64| {
            let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
            libc::setrlimit(resource, &limit) == 0
        };
        if !(set(libc::RLIMIT_CPU, limits.cpu_seconds)
            && set(libc::RLIMIT_AS, limits.address_space_bytes)
            && set(libc::RLIMIT_NPROC, limits.processes)
            && set(libc::RLIMIT_NOFILE, limits.open_files)
            && set(libc::RLIMIT_FSIZE, limits.file_bytes)
            && set(libc::RLIMIT_CORE, 0))
        {
            return fail();
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return fail();
        }
    }
    Ok(())
}

/// The seccomp filters, each in a pipe whose read end stays open across
/// exec (not close-on-exec) for bubblewrap's `--add-seccomp-fd`, which reads
/// it to its end. A pipe, not a file: the runner's file-size limit is 0, and
/// a filter is far smaller than a pipe's buffer. Close them once bubblewrap
/// is started.
pub fn seccomp_pipes() -> std::io::Result<Vec<OwnedFd>> {
    let filters = super::seccomp::filters().map_err(|e| std::io::Error::other(e.to_string()))?;
    filters
        .iter()
        .map(|filter| {
            let (read, write) = nix::unistd::pipe()?;
            let mut write = std::fs::File::from(write);
            std::io::Write::write_all(&mut write, &super::seccomp::to_bytes(filter))?;
            Ok(read)
        })
        .collect()
}
