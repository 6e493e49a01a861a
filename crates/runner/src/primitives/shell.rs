//! `os.system(command)`: a real `/bin/sh -c` in a child process, its output
//! captured, its wait status returned raw.
//!
//! Why this is more than `std::process::Command`: every process of a run
//! inherits the event ring's doorbell as fd 1, where anything but a doorbell
//! byte fails the run, so a shell started the ordinary way would end the run
//! with its first line of output. Here the forked child first announces
//! itself (while it still has the ring mapped and fd 1 as the doorbell),
//! then points its stdout and stderr at a pipe of its own and execs the shell;
//! the caller relays what arrives there as `print` events. The shell and the
//! programs it starts cannot be instrumented from inside, so the caller
//! watches them through `/proc` while it waits (see [`super::procfs`]).
//!
//! ```text
//! runner ──fork──▶ child: proc.start, dup2(out, 1 and 2), execve /bin/sh -c …
//!   │                        └─fork─▶ the command's programs (seen via /proc)
//!   └─ poll(out) ▶ print events · scan /proc ▶ kernel.sample · waitpid ▶ status
//! ```

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::unistd::{fork, ForkResult, Pid};

use super::emit::{self, emit};
use super::procfs;
use super::process::die_with_parent;
use forkline_core::event::{Body, Phase};

/// How often the caller looks at the shell's descendants while it runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// Longest output relayed: the commands are fixed and small; this only keeps a
/// surprise from flooding the event stream.
const MAX_OUTPUT: usize = 16 * 1024;
/// Descendants followed at most.
const MAX_TRACKED: usize = 32;
/// The shell's environment: fixed, never from a request; without PATH the
/// shell would not find `ls` or `sleep` (the runner's environment is empty).
const SHELL_ENV: &str = "PATH=/usr/bin:/bin";

/// What one `os.system` call did.
#[derive(Debug, Clone)]
pub struct SystemOutcome {
    /// The shell's pid.
    pub shell: i32,
    /// The wait status, exactly as `os.system` returns it on Unix:
    /// exit code × 256, or the number of the signal that killed the shell.
    pub status: i32,
    /// The lines the command wrote to stdout and stderr.
    pub output: Vec<String>,
    /// Processes the shell started that were seen while it ran: (pid, name).
    pub children: Vec<(i32, String)>,
}

/// Runs `command` through `/bin/sh -c` and waits for it, as `os.system` does.
///
/// `command` is `'static` on purpose: only texts compiled into forkline can
/// reach the shell. Call while single-threaded (it forks).
pub fn system(command: &'static str) -> io::Result<SystemOutcome> {
    let sh = CString::new("/bin/sh").expect("no NUL");
    let argv = [CString::new("sh").expect("no NUL"), CString::new("-c").expect("no NUL"), CString::new(command)?];
    let envp = [CString::new(SHELL_ENV).expect("no NUL")];
    // O_CLOEXEC: the shell gets the write end only as its fd 1 and 2, and
    // never the read end, so EOF arrives when the last writer is done.
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let parent = nix::unistd::getpid();

    emit(Body::System { phase: Phase::Begin, command: command.to_owned().into(), status: None });
    // SAFETY: callers are single-threaded (see above); the child only calls
    // async-signal-safe functions after the fork besides emit, which is safe
    // here because no other thread existed to hold a lock.
    match unsafe { fork() }? {
        ForkResult::Child => {
            die_with_parent(parent);
            emit(Body::ProcStart { name: "sh".into(), ppid: parent.as_raw(), target: Some("os.system".into()) });
            // SAFETY: dup2 and execve get valid fds and NUL-terminated arrays
            // that live until execve replaces the process; _exit never returns.
            unsafe {
                if libc::dup2(out_w.as_raw_fd(), 1) < 0 || libc::dup2(out_w.as_raw_fd(), 2) < 0 {
                    libc::_exit(127);
                }
                let argv_ptrs = [argv[0].as_ptr(), argv[1].as_ptr(), argv[2].as_ptr(), std::ptr::null()];
                let envp_ptrs = [envp[0].as_ptr(), std::ptr::null()];
                libc::execve(sh.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
                // What a shell reports for a command it could not run.
                libc::_exit(127)
            }
        }
        ForkResult::Parent { child } => {
            drop(out_w);
            emit(Body::ProcSpawn { child: child.as_raw(), name: "sh".into() });
            emit(Body::ProcJoin { phase: Phase::Begin, child: child.as_raw(), code: None, signal: None });
            let watched = watch(child, out_r);
            let status = watched.status;
            let (code, signal) = if libc::WIFEXITED(status) {
                (Some(libc::WEXITSTATUS(status)), None)
            } else {
                (None, Some(libc::WTERMSIG(status)))
            };
            emit(Body::ProcJoin { phase: Phase::End, child: child.as_raw(), code, signal });
            emit(Body::System { phase: Phase::End, command: command.to_owned().into(), status: Some(status) });
            Ok(watched)
        }
    }
}

/// Relays the shell's output and samples its descendants until the shell has
/// been reaped and its output is drained.
fn watch(shell: Pid, out: OwnedFd) -> SystemOutcome {
    let pgrp = nix::unistd::getpgrp().as_raw();
    let mut outcome = SystemOutcome { shell: shell.as_raw(), status: 0, output: Vec::new(), children: Vec::new() };
    let mut pending: Vec<u8> = Vec::new();
    let mut relayed = 0usize;
    let mut open = true;
    let mut reaped = false;
    let mut seen: Vec<Watched> = Vec::new();
    while open || !reaped {
        // Look first, then wait for output: the shell's first moments are
        // the ones most worth catching.
        if !reaped {
            sample(shell.as_raw(), pgrp, &mut seen, &mut outcome.children);
            let mut status = 0;
            // SAFETY: waitpid writes only into `status`; WNOHANG never blocks.
            let rc = unsafe { libc::waitpid(shell.as_raw(), &mut status, libc::WNOHANG) };
            if rc == shell.as_raw() {
                reaped = true;
                outcome.status = status;
                // One last look, so what ended since the previous one is
                // marked gone (the shell included).
                sample(shell.as_raw(), pgrp, &mut seen, &mut outcome.children);
            } else if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                // Not our child any more: nothing left to wait for.
                reaped = true;
                outcome.status = -1;
            }
        }
        if open {
            open = read_some(&out, &mut pending);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                relay(&line[..line.len() - 1], &mut relayed, &mut outcome.output);
            }
            if !open && !pending.is_empty() {
                let rest = std::mem::take(&mut pending);
                relay(&rest, &mut relayed, &mut outcome.output);
            }
        } else {
            std::thread::sleep(SAMPLE_EVERY);
        }
    }
    outcome
}

/// Waits up to [`SAMPLE_EVERY`] for output and appends what came; false at EOF.
fn read_some(out: &OwnedFd, pending: &mut Vec<u8>) -> bool {
    let mut pfd = libc::pollfd { fd: out.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, for the duration of the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, SAMPLE_EVERY.as_millis() as i32) };
    if ready <= 0 {
        return true;
    }
    let mut buf = [0u8; 4096];
    // SAFETY: reads into a buffer we own, at most its length.
    let n = unsafe { libc::read(out.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        0 => false,
        n if n > 0 => {
            pending.extend_from_slice(&buf[..n as usize]);
            true
        }
        _ => io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
    }
}

fn relay(line: &[u8], relayed: &mut usize, output: &mut Vec<String>) {
    if *relayed >= MAX_OUTPUT {
        return;
    }
    *relayed += line.len() + 1;
    let text = String::from_utf8_lossy(line).into_owned();
    emit::print(&text);
    output.push(text);
    if *relayed >= MAX_OUTPUT {
        emit::note("the command wrote more output than the playground relays; the rest is dropped");
    }
}

/// A process the caller watches from outside, as last seen.
struct Watched {
    pid: i32,
    state: char,
    comm: String,
    gone: bool,
}

/// Reports the shell and every descendant whose state or program changed
/// since the last look, as `kernel.sample` events (with parent and program,
/// since these processes have no events of their own to give them a lane), a
/// note the first time a process is seen, and a last sample in state `X` once
/// a watched process has disappeared.
fn sample(shell: i32, pgrp: i32, seen: &mut Vec<Watched>, children: &mut Vec<(i32, String)>) {
    let mut now: Vec<procfs::Stat> = procfs::stat(shell).into_iter().collect();
    now.extend(procfs::descendants(shell, pgrp));
    for w in seen.iter_mut().filter(|w| !w.gone && !now.iter().any(|s| s.pid == w.pid)) {
        w.gone = true;
        emit(procfs::gone_sample(w.pid));
    }
    for s in now {
        let known = seen.iter().position(|w| w.pid == s.pid);
        if known.is_none() && seen.len() >= MAX_TRACKED {
            continue;
        }
        if let Some(i) = known {
            if seen[i].state == s.state && seen[i].comm == s.comm {
                continue;
            }
        }
        if s.pid == shell {
            if let Some(i) = known {
                if seen[i].comm == "sh" && s.comm != "sh" {
                    emit::note(format!(
                        "the shell ran its last command, {}, in its own process (exec, no extra fork)",
                        s.comm
                    ));
                }
            }
        } else {
            match children.iter_mut().find(|(pid, _)| *pid == s.pid) {
                None => {
                    emit::note(format!("the shell started process {} ({})", s.pid, s.comm));
                    children.push((s.pid, s.comm.clone()));
                }
                Some((_, name)) if *name != s.comm => {
                    emit::note(format!("process {} now runs {}", s.pid, s.comm));
                    *name = s.comm.clone();
                }
                Some(_) => {}
            }
        }
        emit(s.sample());
        let watched = Watched { pid: s.pid, state: s.state, comm: s.comm, gone: false };
        match known {
            Some(i) => seen[i] = watched,
            None => seen.push(watched),
        }
    }
}
