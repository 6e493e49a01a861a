//! Real processes and threads for demos, each instrumented the way the lesson
//! talks about them: `Process(...).start()`, `join()`, `Thread(...)`, `sleep`.
//!
//! Who owns whom inside a run:
//!
//! ```text
//! server ──spawn──▶ runner (MainProcess, pgid = its pid, PDEATHSIG=KILL)
//!                     ├─fork─▶ p1 (PDEATHSIG=KILL, same pgid)
//!                     └─fork─▶ p2 (PDEATHSIG=KILL, same pgid)
//! ```
//!
//! Every child is reaped by the process that forked it (`join`), and every child
//! dies with its parent, so a runner that is killed takes its children along
//! even before the server kills the whole group.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use std::sync::atomic::{AtomicUsize, Ordering};

use forkline_core::event::{Body, Phase, Text};
use crate::primitives::emit::emit;
use crate::primitives::step;
use crate::primitives::limits::MAX_CHILDREN;

/// Children this process has forked, against [`MAX_CHILDREN`].
static CHILDREN_FORKED: AtomicUsize = AtomicUsize::new(0);
/// Threads [`spawn_thread`] started that are not joined yet: while any is,
/// [`spawn`] refuses to fork.
static THREADS_ALIVE: AtomicUsize = AtomicUsize::new(0);

/// A started child process, like a started `multiprocessing.Process`.
#[derive(Debug)]
pub struct ChildProcess {
    pid: Pid,
    name: Text,
}

/// How a joined child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ChildProcess {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `p.join()`: waits for the child and reaps it, emitting the wait as a span.
    pub fn join(self) -> std::io::Result<ExitStatus> {
        step::before("proc.join:begin", || format!("join {}", self.name));
        emit(Body::ProcJoin { phase: Phase::Begin, child: self.pid(), code: None, signal: None });
        let status = wait_for(self.pid)?;
        let (code, signal) = match status {
            ExitStatus::Code(c) => (Some(c), None),
            ExitStatus::Signal(s) => (None, Some(s)),
        };
        emit(Body::ProcJoin { phase: Phase::End, child: self.pid(), code, signal });
        Ok(status)
    }
}

/// Joins every child in order and names those that did not exit with 0
/// (`"p2 Signal(9)"`), so a demo can report them instead of failing silently.
pub fn join_all(children: impl IntoIterator<Item = ChildProcess>) -> std::io::Result<Vec<String>> {
    let mut failed = Vec::new();
    for child in children {
        let name = child.name().to_owned();
        let status = child.join()?;
        if status != ExitStatus::Code(0) {
            failed.push(format!("{name} {status:?}"));
        }
    }
    Ok(failed)
}

/// Waits for one child, retrying on EINTR, ignoring stop/continue reports.
pub fn wait_for(pid: Pid) -> std::io::Result<ExitStatus> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Code(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signal(sig as i32)),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `Process(target=..., name=...).start()`: forks a real child that runs `body`
/// and exits with the code it returns.
///
/// Refused while a thread [`spawn_thread`] started is still running or not
/// yet joined: fork copies only the calling thread, and a lock another
/// thread held (the allocator's, the emitter's) would stay locked forever in
/// the child. The runner makes threads only through `spawn_thread`, so the
/// count is the whole truth, and checking it costs one atomic load.
///
/// The child moves `name` into its `proc.start` and `target` is a literal, so
/// a fresh child allocates nothing to announce itself: each allocation there
/// would copy a page it shares with its parent.
pub fn spawn(name: impl Into<Text>, target: Option<&'static str>, body: impl FnOnce() -> i32) -> std::io::Result<ChildProcess> {
    let name: Text = name.into();
    let threads = THREADS_ALIVE.load(Ordering::SeqCst);
    if threads > 0 {
        return Err(std::io::Error::other(format!("cannot fork {name}: {threads} thread(s) of this process are still running (join them first)")));
    }
    if CHILDREN_FORKED.fetch_add(1, Ordering::Relaxed) >= MAX_CHILDREN {
        return Err(std::io::Error::other(format!("a process of a run may fork at most {MAX_CHILDREN} children")));
    }
    step::before("proc.spawn", || format!("start {name}"));
    let parent = nix::unistd::getpid();
    // SAFETY: no thread but this one runs (checked above), so the child
    // inherits no lock held by a thread that isn't there.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            emit(Body::ProcSpawn { child: child.as_raw(), name: name.clone() });
            Ok(ChildProcess { pid: child, name })
        }
        ForkResult::Child => {
            CHILDREN_FORKED.store(0, Ordering::Relaxed);
            die_with_parent(parent);
            let panicked = || format!("{name} panicked");
            emit(Body::ProcStart { name: name.clone(), ppid: parent.as_raw(), target: target.map(Text::Borrowed) });
            let code = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
                emit(Body::Note { text: panicked().into() });
                1
            });
            exit_child(code)
        }
    }
}

/// Ends a forked child: reports the exit and leaves without running the
/// parent's destructors or atexit handlers, as `os._exit` does.
pub fn exit_child(code: i32) -> ! {
    emit(Body::ProcExit { code });
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// For the runner: when the server dies, the whole run goes with it.
///
/// Each process forkline forks asks for PDEATHSIG itself, but the kernel
/// clears it in every fork child, so what a demo's processes start on their
/// own (a shell's `sleep`, CPython's `multiprocessing` children) would
/// outlive a `kill -9` of the server, re-parented to init. They all stay in
/// the runner's process group, though: so the runner's death signal is
/// caught, and its handler SIGKILLs that whole group, the runner included.
pub fn take_group_down_with_parent(expected_parent: Pid) {
    extern "C" fn kill_the_group(_: libc::c_int) {
        // SAFETY: kill is async-signal-safe; 0 names this process's group.
        unsafe { libc::kill(0, libc::SIGKILL) };
    }
    let signal = libc::SIGRTMIN();
    // SAFETY: an all-zero sigaction is valid; the handler only calls kill.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = kill_the_group as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong);
    }
    if nix::unistd::getppid() != expected_parent {
        // SAFETY: see exit_child.
        unsafe { libc::_exit(1) }
    }
}

/// Asks the kernel to SIGKILL this process when its parent dies, then checks
/// the parent did not die before we asked (then we were re-parented already).
pub fn die_with_parent(expected_parent: Pid) {
    let _ = nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL));
    if nix::unistd::getppid() != expected_parent {
        // SAFETY: see exit_child.
        unsafe { libc::_exit(1) }
    }
}

/// `time.sleep(ms / 1000)`, drawn as a sleep span.
pub fn sleep_ms(ms: u64) {
    step::before("sleep", || format!("sleep {ms} ms"));
    emit(Body::Sleep { phase: Phase::Begin, ms: Some(ms) });
    std::thread::sleep(Duration::from_millis(ms));
    emit(Body::Sleep { phase: Phase::End, ms: None });
}

/// A started thread, like a started `threading.Thread`.
pub struct ChildThread<T> {
    tid: i32,
    name: Text,
    handle: std::thread::JoinHandle<T>,
}

impl<T> ChildThread<T> {
    pub fn tid(&self) -> i32 {
        self.tid
    }

    /// `t.join()`, drawn as a wait span.
    pub fn join(self) -> T {
        step::before("thread.join:begin", || format!("join {}", self.name));
        emit(Body::ThreadJoin { phase: Phase::Begin, child: self.tid });
        let joined = self.handle.join();
        THREADS_ALIVE.fetch_sub(1, Ordering::SeqCst);
        let value = joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        emit(Body::ThreadJoin { phase: Phase::End, child: self.tid });
        value
    }
}

/// `threading.Thread(target=..., name=...).start()`: a real OS thread.
///
/// The creator learns the new thread's tid before returning, so `thread.spawn`
/// always names its child and precedes the child's `thread.start` in intent.
pub fn spawn_thread<T: Send + 'static>(name: impl Into<Text>, body: impl FnOnce() -> T + Send + 'static) -> std::io::Result<ChildThread<T>> {
    let name: Text = name.into();
    step::before("thread.spawn", || format!("start {name}"));
    THREADS_ALIVE.fetch_add(1, Ordering::SeqCst);
    let (tid_tx, tid_rx) = std::sync::mpsc::sync_channel(1);
    let (go_tx, go_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let thread_name = name.clone();
    let handle = std::thread::Builder::new().name(name.chars().take(15).collect()).spawn(move || {
        let _ = tid_tx.send(forkline_core::clock::current_tid());
        // Wait until the creator has announced us, so the page sees the spawn
        // before the start.
        let _ = go_rx.recv();
        emit(Body::ThreadStart { name: thread_name });
        let value = body();
        emit(Body::ThreadExit {});
        value
    }).inspect_err(|_| {
        THREADS_ALIVE.fetch_sub(1, Ordering::SeqCst);
    })?;
    let Ok(tid) = tid_rx.recv() else {
        let _ = handle.join();
        THREADS_ALIVE.fetch_sub(1, Ordering::SeqCst);
        return Err(std::io::Error::other("thread died before starting"));
    };
    emit(Body::ThreadSpawn { child: tid, name: name.clone() });
    let _ = go_tx.send(());
    Ok(ChildThread { tid, name, handle })
}

/// The CPUs this process may run on (its affinity mask), as
/// `os.sched_getaffinity(0)` lists them.
pub fn allowed_cpus() -> nix::Result<Vec<usize>> {
    let set = nix::sched::sched_getaffinity(Pid::from_raw(0))?;
    Ok((0..nix::sched::CpuSet::count()).filter(|&cpu| set.is_set(cpu).unwrap_or(false)).collect())
}
