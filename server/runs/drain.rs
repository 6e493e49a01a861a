//! The thread that drains one run's event ring into the run's log.
//!
//! How the reader waits decides what an event costs its writer. Asleep on
//! the doorbell, the reader is woken by the first event after a quiet spell,
//! and that writer pays for a `write()` and a wake-up across CPUs: measured
//! here, a fresh worker's first event took 21–24 µs when it did not have to
//! ring and 31–80 µs when it did. Polling costs writers nothing, but tokio's
//! timers tick in milliseconds, which would hold every event back by up to
//! one. So each live run gets a thread that waits with `ppoll`:
//!
//! ```text
//! drain thread (one per live run; ends with the run)
//!   events came in the last ACTIVE_WINDOW → poll the ring every POLL_INTERVAL
//!                                            (faster just after a wake-up);
//!                                            writers never ring
//!   quiet for ACTIVE_WINDOW               → sleep on the doorbell; the next
//!                                            event rings it and is read at once
//!   ppoll on: doorbell (runner's stdout; end-of-file: every process is gone)
//!             stop     (the supervising task dropped its end: timeout, cancel)
//!   drain: ring ▶ Numberer (validate, number) ▶ EventLog
//!   hands back (Finish, Numberer, the ring) when it ends
//! ```
//!
//! A poll is only as timely as the scheduler lets it be. The thread asks for
//! a short time slice (Linux 6.12's custom slices for ordinary threads; an
//! older kernel ignores the request): it needs the CPU for microseconds at a
//! time, and with the default slice (1.4 ms here) a woken poll could wait
//! behind a demo process's whole slice. It gets no more CPU than before, only
//! sooner. At a run's start, while runner, sampler, first worker and the next
//! spare share two CPUs, the first worker's `proc.start` was read 1.15–1.31 ms
//! after the run's origin without it and 0.98–1.02 ms with it (p50 of 50 runs,
//! three A/B pairs).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::ingest::Numberer;
use super::Run;
use crate::config::Config;
use crate::event::MAX_LINE;
use crate::ring::{self, Next};

/// While events keep coming, how often the ring is read. Each wake-up costs
/// the server 10+ µs of CPU under virtualisation: at 200 µs the thread took
/// 7% of a core during a run emitting every millisecond or so, at 1 ms 1.5%,
/// and a millisecond's delay is invisible on a timeline.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Just after the doorbell woke the thread (a run starting, a burst after a
/// pause), more events usually follow within a fraction of a millisecond,
/// and someone may be waiting for them: poll faster for this long.
const WOKEN_WINDOW: Duration = Duration::from_millis(2);
const WOKEN_POLL_INTERVAL: Duration = Duration::from_micros(200);
/// How long after the last event the thread keeps polling before it sleeps
/// on the doorbell.
const ACTIVE_WINDOW: Duration = Duration::from_millis(5);
/// Most events taken in one drain, so a flood reaches the log in pieces.
const DRAIN_MAX: usize = 8192;
/// How long a reserved record may stay uncommitted: a writer copies an event
/// in well under a microsecond, so this means it died in the middle.
const UNCOMMITTED_LIMIT: Duration = Duration::from_secs(1);

/// How the thread ended.
#[derive(Debug)]
pub enum Finish {
    /// The doorbell closed: every process of the run is gone. `cut_off`:
    /// a record was left reserved and never committed.
    Eof { cut_off: bool },
    Failed(String),
    /// Asked to stop (the run timed out or was cancelled).
    Stopped,
}

/// The supervising task's handle on the thread.
pub struct Drainer {
    /// Dropping this tells the thread to stop.
    stop: Option<OwnedFd>,
    done: oneshot::Receiver<Ended>,
    run: Arc<Run>,
}

/// What the thread hands back: how it ended, the numberer to go on with, and
/// the ring, for another run once every process of this one is gone (none
/// if the thread panicked).
pub type Ended = (Finish, Numberer, Option<ring::Reader>);

/// Starts the thread for `run`, reading `ring` and waiting on `doorbell`.
pub fn start(run: Arc<Run>, config: Arc<Config>, ring: ring::Reader, doorbell: OwnedFd, numberer: Numberer) -> std::io::Result<Drainer> {
    let (stop_read, stop_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (tx, done) = oneshot::channel();
    let thread_run = run.clone();
    std::thread::Builder::new().name("forkline-drain".into()).spawn(move || {
        ask_for_a_short_slice();
        let mut drain = Drain { run: thread_run, config, ring, numberer, line: Vec::with_capacity(MAX_LINE) };
        let finish = drain.run(doorbell.as_raw_fd(), stop_read.as_raw_fd());
        let _ = tx.send((finish, drain.numberer, Some(drain.ring)));
    })?;
    Ok(Drainer { stop: Some(stop_write), done, run })
}

impl Drainer {
    /// Waits for the thread to end on its own (end-of-file or a failure).
    pub async fn finished(&mut self) -> Ended {
        let result = (&mut self.done).await;
        self.outcome(result)
    }

    /// Tells the thread to stop and waits until it has.
    pub async fn stop(mut self) -> Ended {
        drop(self.stop.take());
        let result = (&mut self.done).await;
        self.outcome(result)
    }

    fn outcome(&self, result: Result<Ended, oneshot::error::RecvError>) -> Ended {
        // The thread panicked: number on from what reached the log.
        result.unwrap_or_else(|_| {
            (Finish::Failed("the server's event reader failed".into()), Numberer::resume(self.run.log.len() as u64), None)
        })
    }
}

struct Drain {
    run: Arc<Run>,
    config: Arc<Config>,
    ring: ring::Reader,
    numberer: Numberer,
    line: Vec<u8>,
}

/// What one drain of the ring took.
struct Drained {
    events: usize,
    /// It stopped at a record a writer has reserved but not yet committed.
    uncommitted: bool,
}

impl Drain {
    fn run(&mut self, doorbell: RawFd, stop: RawFd) -> Finish {
        let mut last_event = Instant::now();
        let mut woken = Instant::now();
        let mut uncommitted_since: Option<Instant> = None;
        loop {
            let drained = match self.drain() {
                Ok(drained) => drained,
                Err(reason) => return Finish::Failed(reason),
            };
            if drained.events >= DRAIN_MAX {
                continue;
            }
            if drained.events > 0 {
                last_event = Instant::now();
            }
            if drained.uncommitted {
                if uncommitted_since.get_or_insert_with(Instant::now).elapsed() > UNCOMMITTED_LIMIT {
                    return Finish::Failed("a process of the run died in the middle of writing an event".into());
                }
            } else {
                uncommitted_since = None;
            }
            let active = drained.uncommitted || last_event.elapsed() < ACTIVE_WINDOW;
            if !active && self.ring.announce_sleep() {
                // An event arrived while we were saying we would sleep.
                self.ring.announce_awake();
                continue;
            }
            let interval = if woken.elapsed() < WOKEN_WINDOW { WOKEN_POLL_INTERVAL } else { POLL_INTERVAL };
            let ready = wait(doorbell, stop, active.then_some(interval));
            if !active {
                self.ring.announce_awake();
                woken = Instant::now();
            }
            if ready.stop {
                return Finish::Stopped;
            }
            if ready.doorbell {
                let mut rings = [0u8; 256];
                // SAFETY: reads into a live buffer from our own fd.
                let n = unsafe { libc::read(doorbell, rings.as_mut_ptr().cast(), rings.len()) };
                match n {
                    // Every process is gone: take all they committed last.
                    0 => return self.drain_to_the_end(),
                    n if n > 0 => {
                        if rings[..n as usize].iter().any(|&b| b != ring::DOORBELL) {
                            return Finish::Failed("a process of the run wrote to its stdout, which carries no events".into());
                        }
                    }
                    _ => match std::io::Error::last_os_error().raw_os_error() {
                        Some(libc::EINTR | libc::EAGAIN) => {}
                        _ => return Finish::Failed(format!("reading the doorbell failed: {}", std::io::Error::last_os_error())),
                    },
                }
            }
        }
    }

    /// After end-of-file: everything left in the ring, however many drains
    /// that takes.
    fn drain_to_the_end(&mut self) -> Finish {
        loop {
            match self.drain() {
                Ok(drained) if drained.events >= DRAIN_MAX => continue,
                Ok(drained) => return Finish::Eof { cut_off: drained.uncommitted },
                Err(reason) => return Finish::Failed(reason),
            }
        }
    }

    /// Moves the events committed to the ring into the log, as one batch.
    fn drain(&mut self) -> Result<Drained, String> {
        let (run, config) = (&self.run, &self.config);
        let mut batch = Vec::new();
        let result = loop {
            if batch.len() >= DRAIN_MAX {
                break Ok(false);
            }
            self.line.clear();
            match self.ring.next(&mut self.line) {
                Ok(Next::Event) => {
                    if self.numberer.last_seq() as usize >= config.max_events {
                        break Err(format!("the run wrote more than {} events", config.max_events));
                    }
                    if self.numberer.bytes() >= config.max_event_bytes {
                        break Err(format!("the run wrote more than {} bytes of events", config.max_event_bytes));
                    }
                    match self.numberer.accept(&self.line) {
                        Ok(event) => batch.push(event),
                        Err(e) => break Err(e.to_string()),
                    }
                }
                Ok(Next::Empty) => break Ok(false),
                Ok(Next::Uncommitted) => break Ok(true),
                Err(e) => break Err(e.to_string()),
            }
        };
        self.ring.release();
        let events = batch.len();
        // Events that arrived before a bad one still belong to the run.
        if !batch.is_empty() {
            run.log.append(batch);
        }
        result.map(|uncommitted| Drained { events, uncommitted })
    }
}

/// The time slice this thread asks for: the shortest the kernel grants.
const SLICE: Duration = Duration::from_micros(100);

/// Asks the scheduler to give this thread the CPU soon after it wakes, in
/// slices of [`SLICE`] (see the module's docs), keeping its nice value. A
/// refusal (an older kernel, a sandbox) leaves it as it was.
fn ask_for_a_short_slice() {
    if cfg!(forkline_without = "sched_slice") {
        return; // compiled out for the bench's A/B runs (docs/performance.md)
    }
    // SAFETY: errno and getpriority concern only the calling thread.
    let nice = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    if nice == -1 && std::io::Error::last_os_error().raw_os_error() != Some(0) {
        return;
    }
    // SAFETY: all-zero is a valid sched_attr; the fields that matter are set below.
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    attr.size = std::mem::size_of::<libc::sched_attr>() as u32;
    attr.sched_policy = libc::SCHED_OTHER as u32;
    attr.sched_nice = nice;
    attr.sched_runtime = SLICE.as_nanos() as u64;
    // SAFETY: applies to the calling thread (0); the kernel reads `size` bytes of attr.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const libc::sched_attr, 0) };
}

struct Ready {
    doorbell: bool,
    stop: bool,
}

/// Waits until the doorbell or the stop pipe is readable (or closed), or
/// `timeout` passes.
fn wait(doorbell: RawFd, stop: RawFd, timeout: Option<Duration>) -> Ready {
    let mut fds = [
        libc::pollfd { fd: doorbell, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: stop, events: libc::POLLIN, revents: 0 },
    ];
    let limit = timeout.map(|d| libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long });
    let limit_ptr = limit.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: two valid pollfds and an optional valid timespec; no signal mask.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, limit_ptr, std::ptr::null()) };
    if n <= 0 {
        // Timed out, or interrupted: the caller drains and waits again.
        return Ready { doorbell: false, stop: false };
    }
    Ready { doorbell: fds[0].revents != 0, stop: fds[1].revents != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn a_run() -> (Arc<Run>, Arc<Config>) {
        let demo = crate::demos::find("cpu_count").expect("cpu_count exists");
        let params = demo.validate(&serde_json::json!({})).expect("defaults are valid");
        (Arc::new(Run::new(crate::runs::RunId::random(), demo, params, crate::runs::Engine::Native, None, None)), Arc::new(Config::with_runner(crate::config::default_runner_exe())))
    }

    #[tokio::test]
    async fn everything_committed_before_the_end_reaches_the_log_however_much() {
        let (run, config) = a_run();
        let reader = ring::Reader::create().unwrap();
        // SAFETY: a dup of a descriptor we own, owned from here on.
        let copy = unsafe { OwnedFd::from_raw_fd(libc::dup(reader.fd())) };
        let writer = ring::Writer::from_fd(copy, ring::join_server_barriers()).unwrap();
        let (doorbell, doorbell_writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let drainer = start(run.clone(), config, reader, doorbell, Numberer::default()).unwrap();
        // Long enough for the thread to go to sleep on the doorbell.
        tokio::time::sleep(ACTIVE_WINDOW * 4).await;
        // Writers that ring somewhere else: the thread sleeps on while the
        // ring fills with more than one drain takes.
        let elsewhere = std::fs::File::create("/dev/null").unwrap();
        let start_line = br#"{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"run.start","demo":"cpu_count","params":{}}"#;
        writer.push(start_line, elsewhere.as_raw_fd());
        let events = DRAIN_MAX + 3000;
        for i in 0..events {
            let line = format!(r#"{{"t":{i},"pid":2,"tid":2,"cpu":0,"kind":"print","text":"{i}"}}"#);
            writer.push(line.as_bytes(), elsewhere.as_raw_fd());
        }
        assert_eq!(run.log.len(), 0, "the thread slept through the writes");
        // The last process goes: end-of-file on the doorbell.
        drop(doorbell_writer);
        let mut drainer = drainer;
        let (finish, numberer, _) = drainer.finished().await;
        assert!(matches!(finish, Finish::Eof { cut_off: false }), "{finish:?}");
        assert_eq!(run.log.len(), events + 1);
        assert_eq!(numberer.last_seq(), events as u64 + 1);
    }
}
