//! The sandbox edited programs run in: bubblewrap (the sandbox Flatpak
//! uses), driven by the runner, around the interpreter and the tracer.
//!
//! ```text
//! runner (root, outside) ── fork ── setresuid(run's own uid), rlimits, no_new_privs
//!   └─ exec bwrap (unprivileged): new user, PID, network, IPC, UTS, mount namespaces
//!        └─ its pid 1 ── python -I -S -B /forkline/forkline_boot.py   (seccomp filter on)
//!             sees: the interpreter's own files, read-only; the tracer at /forkline;
//!                   a capped tmpfs at /tmp (its working directory) and /dev/shm;
//!                   a minimal /dev; its own /proc. No network, no project, no store.
//! ```
//!
//! The server prepares the sandbox once at start ([`prepare`]): it lists
//! exactly the files the interpreter needs (its executable, its standard
//! library, the shared libraries they load, `/bin/sh` for `os.system`),
//! gathers them with the tracer into one folder that becomes the sandbox's
//! read-only root, and runs the interpreter once inside the sandbox to prove
//! it works on this host. When any of that fails, editing is off and the
//! reason is shown; the lesson's own programs still run as before.
//!
//! Each run gets its own host uid (a fixed base plus the runner's pid, so no
//! two live runs share one): a per-user limit (processes) then counts one
//! run's processes only, and no run can signal another's.

pub mod files;
pub mod limits;
pub mod seccomp;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use forkline_core::spec::{Limits, SandboxSpec};

/// Where the tracer appears inside the sandbox.
pub const TRACER_INSIDE: &str = "/forkline";
/// The working directory inside: the capped tmpfs.
pub const WORKDIR_INSIDE: &str = "/tmp";
/// The host uid of a run is this plus its runner's pid: above any real
/// account, and below 2³¹ for any pid the kernel hands out (pid_max ≤ 2²²).
pub const RUN_UID_BASE: u32 = 1_000_000_000;

/// The uid a run's sandbox runs as: one of its own when the server is
/// root; None otherwise (it then stays the server's user, and is told apart
/// by its namespaces alone: nothing may be killed by that uid).
pub fn run_uid(runner_pid: u32) -> Option<u32> {
    // SAFETY: geteuid cannot fail.
    (unsafe { libc::geteuid() } == 0).then_some(RUN_UID_BASE + runner_pid)
}

/// Every process whose real user is `uid`, with its parent: `(pid, ppid)`,
/// read from the host's /proc.
pub fn processes_of(uid: u32) -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let uid = uid.to_string();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
            let ours = field("Uid:")?.split_whitespace().next()? == uid;
            ours.then(|| Some((pid, field("PPid:")?.parse().ok()?))).flatten()
        })
        .collect()
}

/// bubblewrap's arguments, up to and including the `--` before the
/// program: `seccomp_fds` are the descriptors holding the filters.
pub fn bwrap_args(spec: &SandboxSpec, seccomp_fds: &[i32]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--ro-bind".into(), path(&spec.root), "/".into()]);
    args.extend(["--proc", "/proc", "--dev", "/dev"].map(String::from));
    let tmpfs = spec.limits.tmpfs_bytes.to_string();
    for dir in [WORKDIR_INSIDE, "/dev/shm"] {
        args.extend(["--size".into(), tmpfs.clone(), "--tmpfs".into(), dir.into()]);
    }
    // The root is a read-only bind; /dev, bubblewrap's own tmpfs, is made
    // read-only too, so the capped tmpfs are the only writable places.
    args.extend(["--remount-ro", "/dev"].map(String::from));
    args.extend(["--chdir".into(), WORKDIR_INSIDE.into()]);
    for fd in seccomp_fds {
        args.extend(["--add-seccomp-fd".into(), fd.to_string()]);
    }
    args.push("--".into());
    args
}

/// The interpreter (as a run starts it: flags, no environment) inside
/// the sandbox as `uid`, under its limits; append its arguments.
pub fn interpreter(spec: &SandboxSpec, uid: Option<u32>, seccomp_fds: &[i32]) -> Command {
    let mut command = Command::new(&spec.bwrap);
    command.args(bwrap_args(spec, seccomp_fds)).arg(&spec.python).args(crate::start::cpython::INTERPRETER_FLAGS);
    command.env_clear().env("PATH", "/usr/bin:/bin");
    let limits = spec.limits;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || limits::enter(uid, &limits));
    }
    command
}

/// The tracer's boot file, as the interpreter inside names it.
pub fn boot_inside() -> PathBuf {
    Path::new(TRACER_INSIDE).join("forkline_boot.py")
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Whether edited programs can run here, and how.
#[derive(Debug, Clone)]
pub enum Editing {
    /// The sandbox, and the interpreter edited programs run on.
    On(std::sync::Arc<SandboxSpec>, crate::interpreters::Interpreter),
    Off(String),
}

impl Editing {
    pub fn reason_off(&self) -> Option<&str> {
        match self {
            Editing::On(..) => None,
            Editing::Off(why) => Some(why),
        }
    }
}

/// What `/healthz` says of editing: on or off (and why), and each limit in
/// force on this host.
pub fn health(editing: &Editing, max_source_bytes: usize, wall: std::time::Duration) -> serde_json::Value {
    match editing {
        Editing::Off(why) => serde_json::json!({ "enabled": false, "reason": why }),
        Editing::On(spec, python) => serde_json::json!({
            "enabled": true,
            "interpreter": python.label,
            "sandbox": "bubblewrap",
            "namespaces": ["user", "pid", "net", "ipc", "uts", "mount", "cgroup"],
            "capabilities": "none",
            "no_new_privs": true,
            "seccomp": { "refused": seccomp::REFUSED.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                         "also": "clone with a namespace flag; clone3 (ENOSYS, so clone is used); x32 calls" },
            "files": spec.binds.len(),
            "limits": {
                "wall_seconds": wall.as_secs(),
                "cpu_seconds_per_process": spec.limits.cpu_seconds,
                "address_space_bytes_per_process": spec.limits.address_space_bytes,
                "processes_and_threads": spec.limits.processes,
                "open_files_per_process": spec.limits.open_files,
                "file_bytes": spec.limits.file_bytes,
                "tmpfs_bytes": spec.limits.tmpfs_bytes,
                "source_bytes": max_source_bytes,
            },
            "cgroup": limits::cgroup_status(),
        }),
    }
}

/// Readies the sandbox for `python` (a path or a command), or says why it
/// cannot be had on this host.
pub fn prepare(bwrap: &Path, python: &str, tracer_dir: &Path, limits: Limits) -> Editing {
    match try_prepare(bwrap, python, tracer_dir, limits) {
        Ok((spec, interpreter)) => Editing::On(std::sync::Arc::new(spec), interpreter),
        Err(why) => Editing::Off(why),
    }
}

fn try_prepare(bwrap: &Path, python: &str, tracer_dir: &Path, limits: Limits) -> Result<(SandboxSpec, crate::interpreters::Interpreter), String> {
    if !bwrap.is_file() {
        return Err(format!("bubblewrap is not installed ({} is missing; scripts/setup installs it)", bwrap.display()));
    }
    let interpreter = crate::interpreters::probe(python).map_err(|e| e.to_string())?;
    let real = std::fs::canonicalize(&interpreter.path).map_err(|e| format!("{}: {e}", interpreter.path.display()))?;
    let binds = files::interpreter_files(&real)?;
    let root = files::stage_root(&binds, tracer_dir, &real)?;
    let spec = SandboxSpec { bwrap: bwrap.to_owned(), python: real, binds, root, limits };
    probe(&spec)?;
    let interpreter = crate::interpreters::Interpreter { path: spec.python.clone(), ..interpreter };
    Ok((spec, interpreter))
}

/// Runs the interpreter once inside the sandbox, as a run would (own uid,
/// limits, filters), and checks it ran there: unprivileged, alone in its
/// PID namespace, without the network.
fn probe(spec: &SandboxSpec) -> Result<(), String> {
    const CHECK: &str = "import os, socket\n\
        s = socket.socket()\n\
        try:\n    s.connect(('127.0.0.1', 9)); net = 'open'\n\
        except OSError: net = 'none'\n\
        print(os.getuid(), os.getpid(), net, os.path.exists('/etc/passwd'))\n";
    let filters = limits::seccomp_pipes().map_err(|e| format!("the seccomp filters: {e}"))?;
    let fds: Vec<i32> = filters.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    let uid = run_uid(std::process::id());
    let mut command = interpreter(&spec, uid, &fds);
    command.args(["-c", CHECK]);
    let output = files::output_within(command, std::time::Duration::from_secs(10))
        .map_err(|e| format!("the sandbox did not start: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("the sandbox did not start ({}): {}", output.status, stderr.trim()));
    }
    // SAFETY: getuid cannot fail.
    let expected = format!("{} 2 none False", uid.unwrap_or_else(|| unsafe { libc::getuid() }));
    if stdout.trim() != expected {
        return Err(format!("the sandbox is not what it should be: the probe printed {:?}, not {expected:?}", stdout.trim()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's tracer, as the server's default `--tracer-dir` finds it.
    const TRACER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python");

    #[test]
    fn the_sandbox_is_prepared_here_or_says_why_not() {
        let editing = prepare(Path::new("/usr/bin/bwrap"), "/usr/bin/python3", Path::new(TRACER_DIR), Limits::default());
        match &editing {
            Editing::On(spec, interpreter) => {
                assert!(spec.binds.contains(&spec.python), "{spec:?}");
                let repository = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
                assert!(spec.binds.iter().all(|b| b.is_absolute() && !b.starts_with("/root") && !b.starts_with(&repository)), "{:?}", spec.binds);
                assert!(interpreter.label.starts_with("CPython 3."));
                eprintln!("sandbox binds {} paths: {:?}", spec.binds.len(), spec.binds);
            }
            Editing::Off(why) => panic!("no sandbox on this machine: {why}"),
        }
        let missing = prepare(Path::new("/nonexistent/bwrap"), "/usr/bin/python3", Path::new(TRACER_DIR), Limits::default());
        assert!(missing.reason_off().is_some_and(|why| why.contains("bubblewrap is not installed")));
    }
}
