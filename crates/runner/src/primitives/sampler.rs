//! The kernel sampler: what the scheduler really did with every process and
//! thread of a run, read from `/proc/<pid>/task/<tid>/stat`.
//!
//! Demos report what their code did; the kernel knows whether each thread was
//! running (`R`), sleeping (`S`), in uninterruptible wait (`D`) or a zombie
//! (`Z`), and on which CPU it last ran. The sampler looks every
//! `sample_interval_us` and emits a `kernel.sample` only when a thread's state
//! or CPU changed, plus, as the last sample of each thread, its CPU time at
//! the end when that moved since its previous sample.
//!
//! ```text
//! runner (MainProcess, pgid = its pid)
//!   ├─fork─▶ sampler   first thing, before the demo; no proc.spawn/proc.start,
//!   │                  so it is no lane; it emits only kernel.sample
//!   ├─fork─▶ p1 …      the demo's processes (and threads everywhere)
//!   ⋮
//!   └ after the demo: SIGTERM to the sampler, waitpid, then a `note` with its
//!     cost, then the runner's proc.exit
//! ```
//!
//! Why a process and not a thread: the runner forks the demo's children, and
//! fork in a multi-threaded process is only safe up to exec; a sampler thread
//! would make every demo fork from a threaded parent. A forked sampler keeps
//! the runner single-threaded, dies with it (PDEATHSIG) and is reaped by it.
//!
//! Finding the run: from the runner's pid down through
//! `/proc/<pid>/task/<pid>/children` where the kernel has it
//! (CONFIG_PROC_CHILDREN). That file lists the children one *thread* forked,
//! and only each process's main thread is read: every process of a run forks
//! only while it is single-threaded (see `process::spawn`; the shell of
//! `system` and what it runs are single-threaded programs), so the other
//! threads' files are always empty, and skipping them halves a pass over a
//! threaded process. Otherwise every process in `/proc` whose process
//! group is the runner's pid (every process of a run is in the runner's
//! group; a pid seen once as someone else's is not read again). The threads
//! of each process are the entries of `/proc/<pid>/task/`. Zombies keep their
//! `/proc` entries until reaped, so they are sampled as `Z`.
//!
//! Cost: the hot loop allocates nothing (paths are formatted into a reused
//! buffer, each thread's stat file stays open and is re-read with `pread` at
//! offset 0, directories stay open and are rewound, and listed again only
//! when the threads changed); only an emitted event allocates. A pass over
//! one process is one `pread` per thread plus one of its children file. The
//! sampler counts its passes, the time they took and the stat files it read
//! into a shared page; the runner reads that after reaping it, and takes the
//! sampler's CPU time from `wait4`.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::primitives::procfs::{self, parse_int, StatFields};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{fork, ForkResult, Pid};

use forkline_core::clock;
use forkline_core::event::Body;
use crate::primitives::emit;
use crate::primitives::process;
use crate::primitives::shm::Shared;

/// Slots of the shared statistics page.
mod slot {
    pub const PASSES: usize = 0;
    pub const PASS_NS: usize = 1;
    pub const READS: usize = 2;
    pub const EVENTS: usize = 3;
    pub const THREADS_MAX: usize = 4;
    pub const THREADS_SEEN: usize = 5;
    pub const CHILDREN_FILES: usize = 6;
    pub const LEN: usize = 7;
}

/// Longest the runner waits for a stopped sampler before it kills it.
const STOP_LIMIT: Duration = Duration::from_secs(2);
/// Stat files the sampler keeps open at once (the runner's RLIMIT_NOFILE is 256).
const MAX_OPEN_FILES: usize = 192;

/// A running sampler, as the runner holds it.
pub struct Sampler {
    pid: Pid,
    interval: Duration,
    started: Instant,
    stats: Shared<AtomicU64>,
}

/// What the sampler did and what it cost, read by the runner after reaping it.
#[derive(Debug, Clone)]
pub struct Report {
    pub pid: i32,
    pub interval_us: u64,
    pub wall_ns: u64,
    pub passes: u64,
    pub pass_ns: u64,
    pub reads: u64,
    pub events: u64,
    pub threads_max: u64,
    pub threads_seen: u64,
    pub cpu_ns: u64,
    pub children_files: bool,
    /// False when it had to be killed or died some other way.
    pub clean: bool,
}

impl Report {
    /// Microseconds one pass over every process and thread took.
    pub fn us_per_pass(&self) -> f64 {
        self.pass_ns as f64 / 1e3 / self.passes.max(1) as f64
    }

    /// Microseconds per thread looked at.
    pub fn us_per_thread(&self) -> f64 {
        self.pass_ns as f64 / 1e3 / self.reads.max(1) as f64
    }

    /// The sampler's CPU time as a share of one CPU over the run.
    pub fn cpu_share(&self) -> f64 {
        self.cpu_ns as f64 / self.wall_ns.max(1) as f64
    }

    pub fn text(&self) -> String {
        let how = if self.children_files { "children files" } else { "process-group scan of /proc" };
        format!(
            "sampler (pid {}, not part of the demo): {} passes, one every {} µs; {:.1} µs per pass, \
             {:.2} µs per thread; up to {} threads at once, {} seen; {} kernel.sample events; \
             CPU {:.1} ms = {:.1}% of one CPU; found the run by {how}{}",
            self.pid,
            self.passes,
            self.interval_us,
            self.us_per_pass(),
            self.us_per_thread(),
            self.threads_max,
            self.threads_seen,
            self.events,
            self.cpu_ns as f64 / 1e6,
            100.0 * self.cpu_share(),
            if self.clean { "" } else { " (it did not stop cleanly)" },
        )
    }
}

/// Forks the sampler. The caller must be single-threaded (it is the runner,
/// before the demo runs) and the run's events must already have started.
/// Returns at once: the sampler's first look runs alongside the demo's start
/// rather than delaying it (waiting for it cost a run 1–2 ms on a 2-CPU
/// machine; a sample is at most one interval late either way).
pub fn start(interval: Duration) -> io::Result<Sampler> {
    let stats = Shared::<AtomicU64>::zeroed_slice(slot::LEN)?;
    let runner = nix::unistd::getpid();
    // SAFETY: the runner is single-threaded here (see above).
    match unsafe { fork() }? {
        ForkResult::Child => {
            process::die_with_parent(runner);
            install_stop_handler();
            let mut walker = Walker::new(runner.as_raw(), stats.as_slice());
            walker.run(interval);
            // SAFETY: leaves the forked sampler without the runner's destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            Ok(Sampler { pid: child, interval, started: Instant::now(), stats })
        }
    }
}

impl Sampler {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Stops the sampler (SIGTERM: it finishes with one last pass and the
    /// threads' final CPU times), reaps it and reports what it cost.
    pub fn stop(self) -> Report {
        let _ = signal::kill(self.pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_LIMIT;
        // Reaped with wait4, whose rusage is the sampler's CPU time: no clock
        // read in the sampler's own loop.
        // SAFETY: an all-zero rusage is a valid value to pass for output.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let mut status = 0;
        let clean = loop {
            // SAFETY: wait4 writes only into `status` and `usage`.
            let reaped = unsafe { libc::wait4(self.pid.as_raw(), &mut status, libc::WNOHANG, &mut usage) };
            match reaped {
                r if r == self.pid.as_raw() => break libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                0 if Instant::now() >= deadline => {
                    let _ = signal::kill(self.pid, Signal::SIGKILL);
                    // SAFETY: as above, blocking this time.
                    unsafe { libc::wait4(self.pid.as_raw(), &mut status, 0, &mut usage) };
                    break false;
                }
                0 => std::thread::sleep(Duration::from_micros(200)),
                _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
                _ => break false,
            }
        };
        let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
        let cpu_ns = ns(usage.ru_utime) + ns(usage.ru_stime);
        let s = self.stats.as_slice();
        let get = |i: usize| s[i].load(Ordering::Acquire);
        Report {
            pid: self.pid.as_raw(),
            interval_us: self.interval.as_micros() as u64,
            wall_ns: self.started.elapsed().as_nanos() as u64,
            passes: get(slot::PASSES),
            pass_ns: get(slot::PASS_NS),
            reads: get(slot::READS),
            events: get(slot::EVENTS),
            threads_max: get(slot::THREADS_MAX),
            threads_seen: get(slot::THREADS_SEEN),
            cpu_ns,
            children_files: get(slot::CHILDREN_FILES) != 0,
            clean,
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_handler() {
    // No SA_RESTART: the sleep between passes returns early on SIGTERM.
    let action = SigAction::new(SigHandler::Handler(on_stop), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe { signal::sigaction(Signal::SIGTERM, &action) };
}

/// What the sampler remembers of one thread.
struct Track {
    pid: i32,
    /// Its stat file, kept open and re-read at offset 0 (not kept past
    /// [`MAX_OPEN_FILES`]); closed when the track is dropped.
    stat: Option<OwnedFd>,
    /// Its children file, likewise (children-file mode only).
    children: Option<OwnedFd>,
    fields: StatFields,
    /// When `fields` were read.
    t: u64,
    /// CPU time carried by the last sample emitted for it.
    sent: (u64, u64),
    gen: u32,
}

/// One process of the run: its open task directory and what it last listed.
struct Proc {
    dir: Dir,
    tids: Vec<i32>,
    gen: u32,
}

/// The sampler's state; lives only in the sampler process.
struct Walker<'a> {
    runner: i32,
    me: i32,
    stats: &'a [AtomicU64],
    children_files: bool,
    /// `/proc` itself, without children files.
    proc_dir: Option<Dir>,
    path: Vec<u8>,
    buf: Box<[u8; 4096]>,
    threads: HashMap<i32, Track>,
    procs: HashMap<i32, Proc>,
    /// Pids seen in /proc that are not the run's, with the pass that last saw them.
    foreign: HashMap<i32, u32>,
    pids: Vec<i32>,
    tids: Vec<i32>,
    /// `/proc`'s entries, reused from pass to pass.
    names: Vec<i32>,
    gen: u32,
    open_fds: usize,
    passes: u64,
    pass_ns: u64,
    reads: u64,
    events: u64,
    threads_max: u64,
    threads_seen: u64,
}

impl<'a> Walker<'a> {
    fn new(runner: i32, stats: &'a [AtomicU64]) -> Self {
        let mut w = Walker {
            runner,
            me: std::process::id() as i32,
            stats,
            children_files: false,
            proc_dir: None,
            path: Vec::with_capacity(64),
            buf: Box::new([0; 4096]),
            threads: HashMap::with_capacity(64),
            procs: HashMap::with_capacity(16),
            foreign: HashMap::with_capacity(512),
            pids: Vec::with_capacity(64),
            tids: Vec::with_capacity(64),
            names: Vec::with_capacity(512),
            gen: 0,
            open_fds: 0,
            passes: 0,
            pass_ns: 0,
            reads: 0,
            events: 0,
            threads_max: 0,
            threads_seen: 0,
        };
        w.set_path(format_args!("/proc/{runner}/task/{runner}/children"));
        // SAFETY: path is NUL-terminated (set_path).
        w.children_files = unsafe { libc::access(w.path.as_ptr().cast(), libc::R_OK) } == 0;
        if !w.children_files {
            w.proc_dir = Dir::open(b"/proc\0");
        }
        w.stats[slot::CHILDREN_FILES].store(u64::from(w.children_files), Ordering::Relaxed);
        w
    }

    fn run(&mut self, interval: Duration) {
        let pause = libc::timespec { tv_sec: interval.as_secs() as _, tv_nsec: interval.subsec_nanos() as _ };
        loop {
            self.pass();
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            // SAFETY: nanosleep reads the timespec we own; an early return
            // (EINTR from SIGTERM) only shortens this pause.
            unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
            if STOP.load(Ordering::Relaxed) {
                // One last look, so the end states are in.
                self.pass();
                break;
            }
        }
        // The last sample of each thread carries its CPU time at the end.
        for (&tid, track) in &self.threads {
            if final_sample(tid, track) {
                self.events += 1;
            }
        }
        self.publish();
    }

    /// Formats a NUL-terminated path into the reused buffer.
    fn set_path(&mut self, args: std::fmt::Arguments) {
        self.path.clear();
        let _ = self.path.write_fmt(args);
        self.path.push(0);
    }

    fn pass(&mut self) {
        let started = clock::monotonic_ns();
        self.gen = self.gen.wrapping_add(1);
        self.pids.clear();
        self.pids.push(self.runner);
        if !self.children_files {
            self.scan_group();
        }
        // In children-file mode, visit() appends each process's children.
        let mut i = 0;
        while i < self.pids.len() {
            let pid = self.pids[i];
            self.visit(pid);
            i += 1;
        }
        let gen = self.gen;
        let mut events = 0;
        let mut open_fds = self.open_fds;
        self.threads.retain(|&tid, track| {
            if track.gen == gen {
                return true;
            }
            // Gone (reaped, or a thread that ended): its CPU time at the end.
            if final_sample(tid, track) {
                events += 1;
            }
            open_fds -= open_files(track);
            false
        });
        self.open_fds = open_fds;
        self.events += events;
        self.procs.retain(|_, p| p.gen == gen);
        self.threads_max = self.threads_max.max(self.threads.len() as u64);
        self.passes += 1;
        self.pass_ns += clock::monotonic_ns().saturating_sub(started);
        self.publish();
    }

    fn publish(&self) {
        let s = self.stats;
        s[slot::PASSES].store(self.passes, Ordering::Relaxed);
        s[slot::PASS_NS].store(self.pass_ns, Ordering::Relaxed);
        s[slot::READS].store(self.reads, Ordering::Relaxed);
        s[slot::EVENTS].store(self.events, Ordering::Relaxed);
        s[slot::THREADS_MAX].store(self.threads_max, Ordering::Relaxed);
        s[slot::THREADS_SEEN].store(self.threads_seen, Ordering::Release);
    }

    /// Without children files: every process in /proc whose group is the
    /// runner's pid. A pid once found foreign is not read again while it lives.
    fn scan_group(&mut self) {
        let Some(proc_dir) = self.proc_dir.take() else { return };
        let gen = self.gen;
        let mut names = std::mem::take(&mut self.names);
        proc_dir.numbers(&mut names);
        for &pid in &names {
            if pid == self.me || pid == self.runner {
                continue;
            }
            if let Some(seen) = self.foreign.get_mut(&pid) {
                *seen = gen;
                continue;
            }
            if self.procs.contains_key(&pid) {
                self.pids.push(pid);
                continue;
            }
            self.set_path(format_args!("/proc/{pid}/stat"));
            let ours = read_path(&self.path, &mut self.buf)
                .and_then(|n| procfs::stat_fields(&self.buf[..n]))
                .is_some_and(|f| f.pgrp == self.runner);
            if ours {
                self.pids.push(pid);
            } else {
                self.foreign.insert(pid, gen);
            }
        }
        self.foreign.retain(|_, seen| *seen == gen);
        self.names = names;
        self.proc_dir = Some(proc_dir);
    }

    /// Samples every thread of `pid` (and, with children files, queues its children).
    ///
    /// Listing `/proc/<pid>/task` costs two system calls, a sixth of a pass,
    /// so it is skipped when the threads listed last time all still answer
    /// and the process still counts that many (a thread that ended and one
    /// that began between two passes would leave the count alone, but the
    /// ended one no longer answers).
    fn visit(&mut self, pid: i32) {
        let gen = self.gen;
        self.tids.clear();
        // Out of the map while its threads are read, back in at the end.
        let known = self.procs.remove(&pid);
        let mut proc = if let Some(mut proc) = known {
            proc.gen = gen;
            self.tids.extend_from_slice(&proc.tids);
            let mut all_answered = true;
            let mut counted = None;
            for i in 0..self.tids.len() {
                let tid = self.tids[i];
                match self.sample(pid, tid) {
                    Some(fields) if tid == pid => counted = Some(fields.threads),
                    Some(_) => {}
                    None => all_answered = false,
                }
            }
            if all_answered && counted == Some(self.tids.len() as i64) {
                self.procs.insert(pid, proc);
                self.queue_main_thread_children(pid);
                return;
            }
            proc.dir.numbers(&mut self.tids);
            proc
        } else {
            self.set_path(format_args!("/proc/{pid}/task"));
            let Some(dir) = Dir::open(&self.path) else { return };
            dir.numbers(&mut self.tids);
            Proc { dir, tids: Vec::new(), gen }
        };
        // Threads already sampled this pass (from the last listing) are not
        // read twice.
        for i in 0..self.tids.len() {
            let tid = self.tids[i];
            if self.threads.get(&tid).is_none_or(|track| track.pid != pid || track.gen != gen) {
                self.sample(pid, tid);
            }
        }
        proc.tids.clear();
        proc.tids.extend_from_slice(&self.tids);
        self.procs.insert(pid, proc);
        self.queue_main_thread_children(pid);
    }

    /// Only a main thread ever forks in a run (see the module's notes).
    fn queue_main_thread_children(&mut self, pid: i32) {
        if self.children_files {
            self.queue_children(pid, pid);
        }
    }

    fn queue_children(&mut self, pid: i32, tid: i32) {
        // Only threads sampled this pass; their children file stays open.
        let gen = self.gen;
        let Some(track) = self.threads.get_mut(&tid).filter(|tr| tr.pid == pid && tr.gen == gen) else { return };
        if track.children.is_none() && self.open_fds < MAX_OPEN_FILES {
            self.path.clear();
            let _ = write!(self.path, "/proc/{pid}/task/{tid}/children\0");
            track.children = open_readonly(&self.path);
            self.open_fds += usize::from(track.children.is_some());
        }
        let n = if let Some(children) = &track.children {
            pread0(children.as_fd(), &mut self.buf)
        } else {
            self.set_path(format_args!("/proc/{pid}/task/{tid}/children"));
            read_path(&self.path, &mut self.buf)
        };
        let Some(n) = n else { return };
        for word in self.buf[..n].split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
            if let Some(child) = parse_int(word).map(|c| c as i32) {
                if child != self.me && !self.pids.contains(&child) {
                    self.pids.push(child);
                }
            }
        }
    }

    /// Reads one thread's stat file and emits a sample if its state or CPU
    /// changed; returns what it read, or None when the thread is gone.
    fn sample(&mut self, pid: i32, tid: i32) -> Option<StatFields> {
        let t = emit::now();
        let known = self.threads.get(&tid).filter(|tr| tr.pid == pid);
        let is_known = known.is_some();
        let kept = known.and_then(|tr| tr.stat.as_ref()).map(|fd| pread0(fd.as_fd(), &mut self.buf));
        let (n, new_fd) = match kept {
            Some(Some(n)) => (n, None),
            Some(None) => return None, // gone: dropped at the end of the pass
            None => {
                self.set_path(format_args!("/proc/{pid}/task/{tid}/stat"));
                let fd = open_readonly(&self.path)?;
                let n = pread0(fd.as_fd(), &mut self.buf)?;
                // Kept only for a thread seen the first time (one not kept
                // then is read by path from then on) while there is room.
                let keep = !is_known && self.open_fds < MAX_OPEN_FILES;
                (n, keep.then_some(fd))
            }
        };
        let fields = procfs::stat_fields(&self.buf[..n])?;
        self.reads += 1;
        let gen = self.gen;
        match self.threads.get_mut(&tid) {
            Some(track) if track.pid == pid => {
                let changed = track.fields.state != fields.state || track.fields.cpu != fields.cpu;
                track.fields = fields;
                track.t = t;
                track.gen = gen;
                if changed {
                    track.sent = (fields.utime, fields.stime);
                    emit_sample(t, pid, tid, fields);
                    self.events += 1;
                }
            }
            stale => {
                if let Some(old) = stale {
                    // The tid now names a thread of another process (its
                    // files close as the insert below drops its track).
                    self.open_fds -= open_files(old);
                }
                self.open_fds += usize::from(new_fd.is_some());
                self.threads.insert(
                    tid,
                    Track { pid, stat: new_fd, children: None, fields, t, sent: (fields.utime, fields.stime), gen },
                );
                self.threads_seen += 1;
                emit_sample(t, pid, tid, fields);
                self.events += 1;
            }
        }
        Some(fields)
    }
}

/// How many files a track holds open (they close when it is dropped).
fn open_files(track: &Track) -> usize {
    usize::from(track.stat.is_some()) + usize::from(track.children.is_some())
}

/// A directory of `/proc` kept open and listed again from its start each
/// pass; closed when dropped.
struct Dir(NonNull<libc::DIR>);

impl Dir {
    /// `path` ends in NUL.
    fn open(path: &[u8]) -> Option<Dir> {
        debug_assert_eq!(path.last(), Some(&0));
        // SAFETY: a NUL-terminated path; a null result is no directory.
        NonNull::new(unsafe { libc::opendir(path.as_ptr().cast()) }).map(Dir)
    }

    /// Its entries whose names are numbers (pids, tids), into `out`.
    fn numbers(&self, out: &mut Vec<i32>) {
        out.clear();
        // SAFETY: an open DIR of ours.
        unsafe { libc::rewinddir(self.0.as_ptr()) };
        loop {
            // SAFETY: as above; the entry is valid until the next readdir.
            let entry = unsafe { libc::readdir(self.0.as_ptr()) };
            if entry.is_null() {
                break;
            }
            // SAFETY: d_name is NUL-terminated inside the entry.
            if let Some(n) = name_number(unsafe { &(*entry).d_name }) {
                out.push(n);
            }
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: our own DIR, closed once.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

/// Opens a NUL-terminated path for reading.
fn open_readonly(path: &[u8]) -> Option<OwnedFd> {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: a NUL-terminated path; the descriptor is checked, then owned.
    let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: a descriptor just opened, owned by nothing else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Emits the thread's CPU time at the end when it moved since its last sample.
fn final_sample(tid: i32, track: &Track) -> bool {
    if (track.fields.utime, track.fields.stime) == track.sent {
        return false;
    }
    emit_sample(track.t, track.pid, tid, track.fields);
    true
}

fn emit_sample(t: u64, pid: i32, tid: i32, f: StatFields) {
    emit::emit_at(
        t,
        Body::KernelSample {
            of_pid: pid,
            of_tid: tid,
            state: crate::primitives::procfs::state_text(char::from(f.state)),
            on_cpu: f.cpu,
            utime: Some(f.utime),
            stime: Some(f.stime),
            of_ppid: None,
            name: None,
        },
    );
}

/// A directory entry's name as a number, for /proc's pid and tid entries.
fn name_number(name: &[libc::c_char]) -> Option<i32> {
    let mut n: i32 = 0;
    let mut len = 0;
    for &c in name {
        let b = c as u8;
        if b == 0 {
            break;
        }
        if !b.is_ascii_digit() || len >= 9 {
            return None;
        }
        n = n * 10 + i32::from(b - b'0');
        len += 1;
    }
    (len > 0).then_some(n)
}

/// Reads a file from its start into `buf`; `None` when it is gone.
fn pread0(fd: BorrowedFd<'_>, buf: &mut [u8; 4096]) -> Option<usize> {
    loop {
        // SAFETY: reads into our buffer, within its length.
        let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 {
            return Some(n as usize);
        }
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// Opens, reads and closes a NUL-terminated path.
fn read_path(path: &[u8], buf: &mut [u8; 4096]) -> Option<usize> {
    pread0(open_readonly(path)?.as_fd(), buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_it_needs_without_allocating() {
        let line = b"4242 (a (b) c) Z 17 4200 4200 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 53631 3133440 417 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let f = procfs::stat_fields(line).unwrap();
        assert_eq!(f, StatFields { state: b'Z', ppid: 17, pgrp: 4200, threads: 1, utime: 7, stime: 3, cpu: 1 });
        assert!(procfs::stat_fields(b"12 (x) S 1 2").is_none());
        assert!(procfs::stat_fields(b"").is_none());
    }

    #[test]
    fn own_task_stat_parses() {
        // The test runs on a thread of its own: look at that thread, running.
        let (me, tid) = (std::process::id(), clock::current_tid());
        let line = std::fs::read(format!("/proc/{me}/task/{tid}/stat")).unwrap();
        let f = procfs::stat_fields(&line).unwrap();
        assert_eq!(f.state, b'R');
        assert!(f.cpu >= 0);
    }

    #[test]
    fn a_kept_directory_lists_its_numbered_entries_each_time_it_is_asked() {
        let me = std::process::id() as i32;
        let tid = clock::current_tid() as i32;
        let task = Dir::open(format!("/proc/{me}/task\0").as_bytes()).unwrap();
        let mut tids = Vec::new();
        task.numbers(&mut tids);
        assert!(tids.contains(&me) && tids.contains(&tid), "{tids:?}");
        // Listed again from its start, not from where the last listing ended.
        task.numbers(&mut tids);
        assert!(tids.contains(&me) && tids.contains(&tid), "{tids:?}");
        assert!(Dir::open(b"/proc/0/task\0").is_none());
    }

    #[test]
    fn a_thread_stat_file_is_read_again_from_its_start() {
        let (me, tid) = (std::process::id(), clock::current_tid());
        let fd = open_readonly(format!("/proc/{me}/task/{tid}/stat\0").as_bytes()).unwrap();
        let mut buf = [0; 4096];
        for _ in 0..2 {
            let n = pread0(fd.as_fd(), &mut buf).unwrap();
            assert_eq!(procfs::stat_fields(&buf[..n]).unwrap().state, b'R');
        }
        assert!(open_readonly(b"/proc/0/stat\0").is_none());
        assert!(read_path(format!("/proc/{me}/stat\0").as_bytes(), &mut buf).is_some());
    }

    #[test]
    fn dir_names_that_are_not_numbers_are_skipped() {
        let c = |s: &str| s.bytes().map(|b| b as libc::c_char).chain([0]).collect::<Vec<_>>();
        assert_eq!(name_number(&c("4242")), Some(4242));
        assert_eq!(name_number(&c("self")), None);
        assert_eq!(name_number(&c("")), None);
        assert_eq!(name_number(&c("12345678901")), None);
    }
}
