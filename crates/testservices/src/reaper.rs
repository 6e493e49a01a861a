//! How a service a test started dies with the test process, however that
//! process ends.
//!
//! ```text
//! test process
//!   └─ "testkit-services" thread (parked for the process's life)
//!        └─ fork: setgid/setuid (the service's user), then PR_SET_PDEATHSIG(SIGQUIT)
//!             └─ exec the service (postgres, nginx master), which reaps its own children
//! ```
//!
//! PR_SET_PDEATHSIG fires when the *thread* that forked the child exits,
//! so the fork happens on one thread that never exits before the process
//! does; and it is cleared by a change of user, so it is set after
//! setuid, in the child, just before exec. A normal exit also stops every
//! service from an `atexit` hook and waits for it, so its folder can be
//! removed; a killed test process leaves only that folder, which the next
//! start sweeps (see [`sweep_stale`]).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Spawn = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Services started, stopped at exit: (pid, its folder, the signal that stops it).
static STARTED: Mutex<Vec<(i32, PathBuf, i32)>> = Mutex::new(Vec::new());

fn spawner() -> &'static Mutex<mpsc::Sender<Spawn>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Spawn>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Spawn>();
        std::thread::Builder::new()
            .name("testkit-services".into())
            .spawn(move || {
                while let Ok((mut command, reply)) = rx.recv() {
                    let _ = reply.send(command.spawn());
                }
                // Kept alive: its exit would fire every service's PDEATHSIG.
                loop {
                    std::thread::park();
                }
            })
            .expect("a thread for the services");
        // SAFETY: registering a plain extern "C" fn.
        unsafe { libc::atexit(stop_all_at_exit) };
        Mutex::new(tx)
    })
}

/// Starts `command` as `user` (uid, gid; None: as this process), bound to
/// die with this process (by `stop_signal`: SIGQUIT is PostgreSQL's
/// immediate shutdown, SIGTERM nginx's fast one), and to be stopped at exit
/// with `folder` removed.
pub(crate) fn spawn(mut command: Command, user: Option<(u32, u32)>, folder: PathBuf, stop_signal: i32) -> std::io::Result<Child> {
    let parent = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = user {
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, stop_signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have gone between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner().lock().expect("spawner lock").send((command, reply)).expect("the services thread");
    let child = answer.recv().expect("the services thread answers")?;
    STARTED.lock().expect("started lock").push((child.id() as i32, folder, stop_signal));
    Ok(child)
}

/// Stops a service now, by the signal it was started with, and waits for
/// it, up to a few seconds, then SIGKILL.
pub(crate) fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let signal = STARTED.lock().expect("started lock").iter().find(|(p, ..)| *p == pid.as_raw()).map_or(libc::SIGTERM, |s| s.2);
    // SAFETY: kill with a pid of our own child and a plain signal number.
    unsafe { libc::kill(pid.as_raw(), signal) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    let mut started = STARTED.lock().expect("started lock");
    if let Some(at) = started.iter().position(|(p, ..)| *p == pid.as_raw()) {
        let (_, folder, _) = started.remove(at);
        let _ = std::fs::remove_dir_all(folder);
    }
}

extern "C" fn stop_all_at_exit() {
    let Ok(mut started) = STARTED.lock() else { return };
    for (pid, folder, signal) in started.drain(..) {
        // SAFETY: as in `stop`.
        unsafe { libc::kill(pid, signal) };
        let pid = nix::unistd::Pid::from_raw(pid);
        for _ in 0..500 {
            match nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => std::thread::sleep(std::time::Duration::from_millis(10)),
                _ => break,
            }
        }
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        let _ = std::fs::remove_dir_all(folder);
    }
}

/// Removes folders `prefix-<pid>` of test processes that no longer exist
/// (killed before their exit hook ran); their services died with them.
pub(crate) fn sweep_stale(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
