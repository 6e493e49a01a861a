//! The CPython engine inside the runner: a real interpreter runs the demo's
//! Python program with forkline's tracer loaded (`python/forkline_trace/`),
//! and the runner passes the tracer's events on into the run's event ring.
//!
//! ```text
//! runner (not part of the program: it has no lane)
//!   ├─ fork ─▶ kernel sampler (as for every run)
//!   └─ fork+exec ─▶ python -I -B forkline_boot.py  (MainProcess; PDEATHSIG=KILL, same pgid)
//!                     ├─ Process-1 …  (fork, spawn or forkserver: every one loads the tracer)
//!                     └─ each writes one JSON line per event, one write() each, to fd 3:
//!                        the event pipe, whose read end only the runner holds
//!   runner: read the pipe ▶ one ring record per line ▶ server (validates every line)
//! ```
//!
//! Why a pipe and not the ring: the tracer is Python and the standard library
//! only, which has no atomic add on shared memory. A write of at most PIPE_BUF
//! bytes to a pipe is atomic, so each event arrives whole and in the order it
//! was written, from every process, and the runner keeps that order.
//!
//! The interpreter is started with `-I` (no user site-packages, no `PYTHON*`
//! variables, no script folder on `sys.path`) and `-B`, its environment
//! cleared but for what the tracer needs; the program comes in an
//! environment variable, so nothing is written to disk. stdin is /dev/null.
//! Everything the program prints reaches the page as `print` events, from
//! the tracer, at the moment of the call; the interpreter's own stdout is a
//! second pipe the runner reads too, with CPython's real buffering, and when
//! what arrived there differs from the print events in order or content the
//! runner says so in a note (see [`StdoutCheck`]). stderr is the runner's,
//! for the interpreter's own fatal errors, which then explain a failed run.
//!
//! The pipe's end-of-file means every process holding the write end is gone.
//! The run ends when the interpreter has exited and the pipe is at
//! end-of-file; processes that outlive both are the server's to kill, with
//! the rest of the process group, as for every run.

use std::io::Read as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, Stdio};

use crate::demos::cpython::Program;
use crate::demos::readings::{self, Seen};
use crate::demos::{Demo, Params};
use forkline_core::event::{Body, MAX_LINE};
use crate::primitives::{emit, limits, sampler};
use forkline_core::spec::CpythonSpec;
use crate::sandbox::SandboxSpec;

/// How every interpreter of a run starts (spawn and forkserver children
/// inherit them, through CPython's own `_args_from_interpreter_flags`):
/// `-I`, isolated (no user site-packages, no `PYTHON*` variables, no script
/// folder on `sys.path`); `-S`, no `site` (the lesson's programs use the
/// standard library only, and `site` with a distribution's `.pth` files cost
/// 50 ms of every interpreter's start here; the tracer puts back `exit()` and
/// `quit()`, all `site` adds that a program might use); `-B`, no bytecode
/// written for the program.
pub const INTERPRETER_FLAGS: &[&str] = &["-I", "-S", "-B"];
/// Where the interpreter finds its event pipe.
const EVENT_FD: i32 = 3;
/// Where a stepped run's gate page is, in the interpreter (`FORKLINE_GATES_FD`).
const GATES_FD: i32 = 4;
/// Biggest pipe we ask for: room for a burst while the runner relays.
const EVENT_PIPE_BYTES: i32 = 1 << 20;
/// The pause after a read that emptied the pipe. While events flow, the
/// relay reads every millisecond rather than on every write: in the `lock`
/// program, two processes emitting every microsecond on a 2-CPU machine,
/// waking the relay for each line cost more than writing it.
const RELAY_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);
/// How long an interpreter may take to exit once the event pipe is closed
/// before the runner decides the program closed the pipe itself.
const EXIT_AFTER_EOF: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest program that still fits, escaped, in the `run.start` line
/// beside the parameters; the lesson's programs are under 2 KB.
pub const MAX_SOURCE_IN_EVENT: usize = 2800;

/// Runs `program` under `spec`'s interpreter; returns the runner's exit code.
pub fn main(demo: &Demo, program: &Program, params: &Params, spec: &CpythonSpec) -> i32 {
    let source = spec.source.clone().unwrap_or_else(|| program.render(params));
    emit::emit(Body::RunStart {
        demo: demo.name.into(),
        params: params.to_json(),
        engine: Some("cpython".into()),
        interpreter: Some(spec.label.clone().into()),
        file: Some(program.file.into()),
        source: (source.len() <= MAX_SOURCE_IN_EVENT).then(|| source.clone().into()),
    });
    if let Some(sandbox) = &spec.sandbox {
        emit::note(sandbox_note(sandbox, crate::sandbox::run_uid(std::process::id()).is_some()));
    }
    // The sampler reads the host's /proc, where a sandboxed run's pids are
    // not the ones its program sees.
    // Nor in a stepped run, whose processes wait for clicks (see start/mod.rs).
    let stepped = crate::primitives::step::is_stepped_run();
    let sampler = (params.bool("sample") && spec.sandbox.is_none() && !stepped).then(|| {
        let interval = std::time::Duration::from_micros(params.int("sample_interval_us") as u64);
        sampler::start(interval).map_err(|e| emit::note(format!("the kernel sampler did not start: {e}"))).ok()
    });
    let outcome = run_interpreter(program, &source, spec);
    if let Ok(ended) = &outcome {
        if let Some(note) = ended.stdout.note(program.file) {
            emit::note(note);
        }
    }
    if let Some(report) = sampler.flatten().map(sampler::Sampler::stop) {
        emit::note(report.text());
    }
    match outcome {
        Ok(Ended { status, closed_early, seen, .. }) => {
            let (mut text, code, signal) = match (status.code(), status.signal()) {
                (Some(code), _) => (format!("{} exited with code {code}", program.file), Some(code), None),
                (None, Some(signal)) => (format!("{} was killed by signal {signal}", program.file), None, Some(signal)),
                _ => (format!("{} ended", program.file), None, None),
            };
            let mut data = serde_json::Map::new();
            // The lesson's own program, run to its end, is read as its
            // native demo reports; an edited one prints what it likes.
            if code == Some(0) && spec.source.is_none() {
                if let Some(reading) = readings::read(demo.name, &seen, params, crate::primitives::process::allowed_cpus().map_or(0, |cpus| cpus.len())) {
                    text = reading.text;
                    data = reading.data;
                }
            }
            data.insert("exit_code".into(), serde_json::json!(code));
            data.insert("signal".into(), serde_json::json!(signal));
            data.insert("interpreter".into(), serde_json::json!(spec.label));
            emit::result(text, serde_json::Value::Object(data));
            if closed_early {
                eprintln!("the program closed forkline's event channel (fd {EVENT_FD}) while it was still running");
                return 1;
            }
            0
        }
        Err(e) => {
            eprintln!("could not run {}: {e}", spec.python.display());
            1
        }
    }
}

struct Ended {
    status: std::process::ExitStatus,
    stdout: StdoutCheck,
    seen: Seen,
    /// The event pipe reached end-of-file while the interpreter still ran:
    /// the program closed the tracer's channel, so events were lost.
    closed_early: bool,
}

/// What the page says of a sandboxed run, once, as it starts.
fn sandbox_note(sandbox: &SandboxSpec, own_user: bool) -> String {
    let l = &sandbox.limits;
    let who = if own_user { "a user of its own with no privileges" } else { "the server's user with no privileges" };
    format!(
        "This edited program ran in forkline's sandbox (bubblewrap): {who}, \
         its own PID namespace (so its pids are the sandbox's: MainProcess is pid 2, under the sandbox's pid 1), \
         no network, and only the interpreter's files, read-only. Limits: {} CPU s and {} MiB of address space \
         per process, {} processes and threads, {} MiB per file, {} MiB in /tmp.",
        l.cpu_seconds,
        l.address_space_bytes >> 20,
        l.processes,
        l.file_bytes >> 20,
        l.tmpfs_bytes >> 20
    )
}

/// The interpreter as a run starts it: directly, or inside bubblewrap
/// (then the returned descriptors hold the seccomp filters, to be closed
/// once it started).
fn interpreter_command(spec: &CpythonSpec) -> std::io::Result<(Command, Vec<OwnedFd>)> {
    let Some(sandbox) = &spec.sandbox else {
        let mut command = Command::new(&spec.python);
        command.args(INTERPRETER_FLAGS).arg(spec.tracer_dir.join("forkline_boot.py"));
        command.env("FORKLINE_TRACER_DIR", &spec.tracer_dir);
        return Ok((command, Vec::new()));
    };
    let filters = crate::sandbox::limits::seccomp_pipes()?;
    let fds: Vec<i32> = filters.iter().map(AsRawFd::as_raw_fd).collect();
    let mut command = Command::new(&sandbox.bwrap);
    command.args(crate::sandbox::bwrap_args(sandbox, &fds)).arg(&sandbox.python).args(INTERPRETER_FLAGS).arg(crate::sandbox::boot_inside());
    command.env("FORKLINE_TRACER_DIR", crate::sandbox::TRACER_INSIDE);
    Ok((command, filters))
}

fn run_interpreter(program: &Program, source: &str, spec: &CpythonSpec) -> std::io::Result<Ended> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (stdout_read, stdout_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: fcntl on a pipe we own; failure only leaves the default size.
    unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, EVENT_PIPE_BYTES) };
    let runner = nix::unistd::getpid();
    let write_fd = write_end.as_raw_fd();
    let gates_fd = crate::primitives::step::gates_fd();
    let (mut command, filters) = interpreter_command(spec)?;
    let sandbox = spec.sandbox.as_ref().map(|s| (crate::sandbox::run_uid(runner.as_raw() as u32), s.limits));
    command
        .env_clear()
        .env("FORKLINE_EVENT_FD", EVENT_FD.to_string())
        .env("FORKLINE_ORIGIN_NS", emit::origin_ns().to_string())
        .env("FORKLINE_PROGRAM", source)
        .env("FORKLINE_PROGRAM_FILE", program.file)
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout_write))
        .stderr(Stdio::inherit());
    if gates_fd.is_some() {
        command.env("FORKLINE_GATES_FD", GATES_FD.to_string());
    }
    // SAFETY: the runner is single-threaded (the sampler is a process), so
    // the forked child may do anything before exec; it only makes system
    // calls on its own descriptors and limits.
    unsafe {
        command.pre_exec(move || {
            // The gates first out of the way (up to 10), so placing the
            // event pipe at 3 cannot close them, whatever number they had.
            let gates = match gates_fd {
                Some(fd) => Some(libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10)).filter(|&g| g >= 0).ok_or_else(std::io::Error::last_os_error).map(Some)?,
                None => None,
            };
            if libc::dup2(write_fd, EVENT_FD) < 0 || libc::fcntl(EVENT_FD, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(g) = gates {
                if libc::dup2(g, GATES_FD) < 0 || libc::fcntl(GATES_FD, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            match &sandbox {
                // Its own user, limits and death signal, before bubblewrap.
                Some((uid, limits)) => crate::sandbox::limits::enter(*uid, limits)?,
                None => {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    limits::allow_shared_memory_files();
                }
            }
            if libc::getppid() != runner.as_raw() {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    drop(filters);
    // Only the interpreter and what it starts hold the write end now, so
    // end-of-file means they all let go of it.
    drop(write_end);
    drop(command);
    let stdout = relay_until_eof(read_end, stdout_read);
    // An interpreter that is exiting closes the pipe a moment before it is
    // a zombie; one still running a while later closed it on purpose.
    let deadline = std::time::Instant::now() + EXIT_AFTER_EOF;
    let closed_early = loop {
        match child.try_wait()? {
            Some(_) => break false,
            None if std::time::Instant::now() >= deadline => break true,
            None => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    };
    let status = child.wait()?;
    let Watch { mut stdout, seen } = stdout;
    stdout.finish();
    Ok(Ended { status, stdout, seen, closed_early })
}

/// Passes every line of the pipe on as one event, until end-of-file, in the
/// order of the times they carry (see [`Reorder`]). A line longer than any
/// event is passed on cut to one byte more than the longest the server
/// accepts, so the server fails the run and says why; the rest of it is
/// skipped.
fn relay_until_eof(pipe: OwnedFd, stdout: OwnedFd) -> Watch {
    let fd = pipe.as_raw_fd();
    let mut pipe = std::fs::File::from(pipe);
    let mut check = Watch::default();
    let mut stdout = Some(std::fs::File::from(stdout));
    let mut buffer = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::with_capacity(MAX_LINE + 1);
    let mut skipping = false;
    let mut order = Reorder::default();
    loop {
        // With lines held back, wake in time to let them go.
        let wait_ms = if order.is_empty() { -1 } else { (REORDER_WINDOW_NS / 1_000_000) as i32 };
        let out_fd = stdout.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: out_fd, events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: two pollfds on descriptors we own (a negative fd is ignored).
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, wait_ms) };
        if fds[1].revents != 0 {
            if let Some(out) = stdout.as_mut() {
                if !check.stdout.read_from(out) {
                    stdout = None;
                }
            }
        }
        if ready <= 0 || fds[0].revents == 0 {
            order.release(emit::now().saturating_sub(REORDER_WINDOW_NS), &mut check);
            continue;
        }
        let n = match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buffer[..n];
        while let Some(newline) = memchr::memchr(b'\n', chunk) {
            let (line, rest) = (&chunk[..newline], &chunk[newline + 1..]);
            if !skipping {
                if pending.is_empty() {
                    order.push(cut(line), &mut check);
                } else {
                    pending.extend_from_slice(line);
                    order.push(cut(&pending), &mut check);
                }
            }
            pending.clear();
            skipping = false;
            chunk = rest;
        }
        if !skipping {
            pending.extend_from_slice(chunk);
            if pending.len() > MAX_LINE {
                order.push(cut(&pending), &mut check);
                pending.clear();
                skipping = true;
            }
        }
        order.release(emit::now().saturating_sub(REORDER_WINDOW_NS), &mut check);
        // A read that found less than a buffer's worth means the writers are
        // ahead of nothing: wait a little before the next, so their writes
        // pile up instead of each waking this process on the CPU they need.
        if n < buffer.len() {
            std::thread::sleep(RELAY_PAUSE);
        }
    }
    if !skipping && !pending.is_empty() {
        // A last line without its newline: a process died mid-write, or
        // someone wrote garbage. The server judges it.
        order.push(cut(&pending), &mut check);
    }
    order.release(u64::MAX, &mut check);
    check.stdout.stdout = stdout;
    check
}

/// What the runner keeps of the lines it relays: the prints, to compare
/// with the real stdout, and what a reading of the run needs.
#[derive(Default)]
struct Watch {
    stdout: StdoutCheck,
    seen: Seen,
}

/// What the program printed, as the tracer saw it (a line at the moment of
/// each call) and as CPython's own stdout delivered it (block-buffered on a
/// pipe, as it would be for `python3 prog.py > out.txt`).
#[derive(Default)]
struct StdoutCheck {
    printed: Vec<String>,
    real: Vec<u8>,
    /// The interpreter's stdout, still open when the events ended.
    stdout: Option<std::fs::File>,
    /// `os.system` output is shown as the shell's lines, not on this
    /// stdout, so the two cannot be compared.
    uncomparable: bool,
}

/// Bytes of the real stdout kept for the comparison.
const STDOUT_KEEP: usize = 64 * 1024;

impl StdoutCheck {
    /// Notes a relayed line: a stdout print, or an `os.system`.
    fn saw(&mut self, line: &[u8]) {
        if memchr::memmem::find(line, br#""kind":"system""#).is_some() {
            self.uncomparable = true;
        }
        if memchr::memmem::find(line, br#""kind":"print""#).is_none() || self.printed.len() >= 10_000 {
            return;
        }
        #[derive(serde::Deserialize)]
        struct Print {
            text: String,
            stream: Option<String>,
        }
        if let Ok(Print { text, stream: None }) = serde_json::from_slice(line) {
            self.printed.push(text);
        }
    }

    /// Reads what is there; false at end-of-file.
    fn read_from(&mut self, out: &mut std::fs::File) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match out.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                let room = STDOUT_KEEP.saturating_sub(self.real.len());
                self.real.extend_from_slice(&chunk[..n.min(room)]);
                if n > room {
                    self.uncomparable = true;
                }
                true
            }
        }
    }

    /// Takes what is left on the interpreter's stdout (its last flush at
    /// exit) without waiting: whatever still holds it open is not the
    /// program's business any more.
    fn finish(&mut self) {
        let Some(mut out) = self.stdout.take() else { return };
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        while self.read_from(&mut out) {}
    }

    /// A teaching note when the real stream says something else than the
    /// print events, in order or in content; None when they agree.
    fn note(&self, file: &str) -> Option<String> {
        if self.uncomparable {
            return None;
        }
        let real: Vec<&str> = std::str::from_utf8(&self.real).ok()?.lines().collect();
        let printed: Vec<&str> = self.printed.iter().map(String::as_str).collect();
        if real == printed {
            return None;
        }
        let shown = real.iter().take(12).copied().collect::<Vec<_>>().join(" | ");
        let more = if real.len() > 12 { " | …" } else { "" };
        let (mut a, mut b) = (real.clone(), printed.clone());
        a.sort_unstable();
        b.sort_unstable();
        let why = if a == b {
            "the same lines in another order: on a pipe or a file CPython's stdout is block-buffered, \
             so each process's lines leave together when it flushes (at its exit, or every 8 KiB)"
        } else if real.len() > printed.len() {
            "more lines than were printed: a child of a bare os.fork() inherits whatever was still \
             in its parent's buffer and writes it out again"
        } else {
            "not every printed line: a process that ends with os._exit() or is killed loses what was \
             still in its buffer"
        };
        Some(format!(
            "Run by hand with stdout on a pipe or a file (python3 {file} > out.txt), CPython's real stdout \
             would read: {shown}{more}. That is {why}. The console shows each line at the moment print() was called."
        ))
    }
}

/// How long a line is held back for lines from other processes that carry
/// an earlier time: longer than the tracer keeps a batch (2 ms).
const REORDER_WINDOW_NS: u64 = 5_000_000;

/// The pipe's lines put back in the order of their `t`. Each process writes
/// its own lines in order, but batches (the tracer's `emit_hot`) from two
/// processes can reach the pipe in another order than their lines were
/// emitted; holding each line for [`REORDER_WINDOW_NS`] and passing lines on
/// by time undoes that, so `seq` follows the events' order, as for native
/// runs. A line with no readable time is passed on at once, for the server
/// to refuse.
#[derive(Default)]
struct Reorder {
    held: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64, Vec<u8>)>>,
    arrived: u64,
}

impl Reorder {
    fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn push(&mut self, line: &[u8], check: &mut Watch) {
        match time_of(line) {
            Some(t) => {
                self.arrived += 1;
                self.held.push(std::cmp::Reverse((t, self.arrived, line.to_vec())));
            }
            None => {
                self.release(u64::MAX, check);
                emit::relay(line);
            }
        }
    }

    /// Passes on every held line stamped at or before `until`, earliest
    /// first. The stdout check sees them in this order too: the order the
    /// console shows, which is what the real stdout is compared with.
    fn release(&mut self, until: u64, check: &mut Watch) {
        while self.held.peek().is_some_and(|std::cmp::Reverse((t, _, _))| *t <= until) {
            if let Some(std::cmp::Reverse((_, _, line))) = self.held.pop() {
                check.stdout.saw(&line);
                check.seen.line(&line);
                emit::relay(&line);
            }
        }
    }
}

/// The `t` a tracer line starts with (`{"t":123,…`).
fn time_of(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(b"{\"t\":")?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

fn cut(line: &[u8]) -> &[u8] {
    &line[..line.len().min(MAX_LINE + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_put_back_in_the_order_of_their_times() {
        assert_eq!(time_of(br#"{"t":123,"pid":1}"#), Some(123));
        assert_eq!(time_of(b"garbage"), None);
        assert_eq!(time_of(br#"{"t":"x"}"#), None);
        let mut order = Reorder::default();
        for line in [&br#"{"t":30,"a":1}"#[..], br#"{"t":10,"a":2}"#, br#"{"t":20,"a":3}"#, br#"{"t":10,"a":4}"#] {
            order.push(line, &mut Watch::default());
        }
        let mut out = Vec::new();
        while let Some(std::cmp::Reverse((t, arrived, _))) = order.held.pop() {
            out.push((t, arrived));
        }
        assert_eq!(out, [(10, 2), (10, 4), (20, 3), (30, 1)], "by time, then as they arrived");
    }
}
