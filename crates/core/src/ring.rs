//! The event ring: how events travel from a run's processes to the server
//! without a system call each.
//!
//! One `write()` per event to a pipe shared by every process of the run was
//! correct (writes ≤ PIPE_BUF are atomic) but not cheap: two processes writing
//! at once queue on the pipe's kernel mutex, and each event woke the server.
//! Measured on 2 CPUs, a worker paid about 2.4 µs per event that way against
//! 0.6 µs for the same write uncontended. So events go through shared memory:
//!
//! ```text
//! server: memfd (sealed: it can never shrink under the server's mapping)
//!   └─ handed to the runner with its run (crate::handoff)
//!        └─ runner: mmap(MAP_SHARED), inherited by every fork
//!
//! page 0 (control)   reserved: u64   bytes handed out, only ever grows (fetch_add)
//!                    consumed: u64   bytes the server has read and cleared
//!                    waiting:  u32   1 while the server sleeps on the doorbell
//! data  (CAPACITY)   records at 64-byte-aligned offsets, wrapping:
//!                    [len + 1: u64][len bytes of one JSON event]…
//! ```
//!
//! A writer reserves its record with one atomic add, so records are ordered
//! the way the emits happened (a total order, as the pipe gave), copies the
//! event in, and commits by storing the length word last. Records start on
//! their own 64-byte line so two processes never write the same cache line.
//! The runner's stdout, which every process shares, stays as the *doorbell*: a
//! writer writes one `\n` to it only when the server said it is asleep, and
//! its end-of-file still means every process of the run is gone.
//!
//! Deciding whether to ring is a store-then-load on each side (the writer
//! commits, then reads `waiting`; the server sets `waiting`, then looks for a
//! commit), which needs a full barrier between the two on both sides, or a
//! wake-up can be lost. The writer's side would be an `mfence` per event, and
//! it waits for the event's cache-line misses to complete: measured in the
//! `lock` demo, 2% of its wall time. So the server pays it instead, once per
//! sleep, with `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, which runs a
//! barrier on every CPU running a process that registered for it; the runner
//! registers before it forks, and its children inherit that. Where the kernel
//! refuses registration, writers fence as before.
//!
//! Nothing in the ring is trusted by the server: it keeps its own read
//! position, checks every length, and validates every event as before.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{compiler_fence, fence, AtomicU32, AtomicU64, Ordering};

use crate::event::MAX_LINE;

/// Bytes of events the ring holds: thousands of events, so writers wait for
/// the server only in a flood.
pub const CAPACITY: usize = 2 << 20;
/// The control page in front of the data.
const CONTROL: usize = 4096;
/// Records start on their own cache line.
const ALIGN: u64 = 64;
/// The length word in front of every record.
const LEN_WORD: u64 = 8;
/// How far past its own record a writer asks for the ring's next lines:
/// each new line was last touched by the server (or another writer), and
/// fetching it on demand stalled the writer at its next atomic instruction
/// (the next event's reservation, a mutex release), 10–15 ns an event in the
/// `lock` demo. A compact record is one line, so this is about four events on.
const PREFETCH_AHEAD: u64 = 192;
/// The byte a writer puts on the doorbell.
pub const DOORBELL: u8 = b'\n';

const RESERVED: usize = 0;
const CONSUMED: usize = 64;
const WAITING: usize = 128;

/// Bytes a record of `len` payload bytes takes.
fn record_size(len: usize) -> u64 {
    (LEN_WORD + len as u64).div_ceil(ALIGN) * ALIGN
}

/// A mapping of a ring's memfd (control page + data).
struct Mapping {
    base: *mut u8,
}

// SAFETY: the mapping is plain shared memory; every access to it goes through
// atomics or through copies whose bytes are validated afterwards.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    const LEN: usize = CONTROL + CAPACITY;

    fn map(fd: RawFd) -> std::io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of a file we hold; checked for failure.
        let base = unsafe {
            libc::mmap(std::ptr::null_mut(), Self::LEN, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { base: base.cast() })
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset.is_multiple_of(8) && offset + 8 <= Self::LEN);
        // SAFETY: in bounds and 8-aligned (the mapping is page-aligned).
        unsafe { &*self.base.add(offset).cast::<AtomicU64>() }
    }

    fn reserved(&self) -> &AtomicU64 {
        self.u64_at(RESERVED)
    }

    fn consumed(&self) -> &AtomicU64 {
        self.u64_at(CONSUMED)
    }

    fn waiting(&self) -> &AtomicU32 {
        // SAFETY: in bounds and aligned, as above.
        unsafe { &*self.base.add(WAITING).cast::<AtomicU32>() }
    }

    /// The length word of the record at ring position `pos` (64-aligned, so
    /// it never straddles the end of the data).
    fn len_word(&self, pos: u64) -> &AtomicU64 {
        self.u64_at(CONTROL + (pos % CAPACITY as u64) as usize)
    }

    /// Asks the CPU to fetch the line at ring position `pos` ready to be
    /// written, without waiting for it. Only a hint: no effect on what any
    /// reader sees.
    #[inline]
    fn prefetch_for_write(&self, pos: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let line = self.len_word(pos & !(ALIGN - 1)) as *const AtomicU64;
            // SAFETY: prefetchw only hints the cache, on an address inside
            // our mapping; it cannot fault and writes nothing. CPUs without
            // it execute it as a no-op.
            unsafe { std::arch::asm!("prefetchw [{0}]", in(reg) line, options(nostack, preserves_flags, readonly)) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = pos;
    }

    /// Copies `bytes` into the data at ring position `pos`, wrapping.
    fn write_wrapping(&self, pos: u64, bytes: &[u8]) {
        let at = (pos % CAPACITY as u64) as usize;
        let first = bytes.len().min(CAPACITY - at);
        // SAFETY: both ranges lie inside the data area.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(CONTROL + at), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), self.base.add(CONTROL), bytes.len() - first);
        }
    }

    /// Appends `len` bytes from ring position `pos` to `out`, wrapping.
    fn read_wrapping(&self, pos: u64, len: usize, out: &mut Vec<u8>) {
        let at = (pos % CAPACITY as u64) as usize;
        let first = len.min(CAPACITY - at);
        // SAFETY: both ranges lie inside the data area. Another process may
        // write them concurrently (only a broken or hostile one would); the
        // copy is validated as untrusted bytes afterwards either way.
        unsafe {
            out.extend_from_slice(std::slice::from_raw_parts(self.base.add(CONTROL + at), first));
            out.extend_from_slice(std::slice::from_raw_parts(self.base.add(CONTROL), len - first));
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what map() mapped.
        unsafe { libc::munmap(self.base.cast(), Self::LEN) };
    }
}

/// The server's side: creates the ring, hands its fd to a runner, reads it.
pub struct Reader {
    map: Mapping,
    memfd: OwnedFd,
    /// The next record to read. The server's own count: the ring's control
    /// words are the runner's to scribble on.
    pos: u64,
}

/// What the reader found at its position.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// One event, appended to the caller's buffer.
    Event,
    /// Nothing written past this point.
    Empty,
    /// A writer has reserved the next record but not yet committed it (it
    /// is copying, or it died in the middle).
    Uncommitted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("the runner wrote a line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("the runner wrote an empty event")]
    Empty,
}

impl Reader {
    /// A new, empty ring in a sealed memfd.
    pub fn create() -> std::io::Result<Reader> {
        let memfd = crate::memfd::sealed(c"forkline-events", Mapping::LEN)?;
        let map = Mapping::map(memfd.as_raw_fd())?;
        Ok(Reader { map, memfd, pos: 0 })
    }

    /// Allocates the ring's pages, which creating it does not, to stay quick:
    /// a function holding its own handle on the ring, to run on any thread
    /// (a spare runner's ring is allocated off the path of the run that
    /// just took the previous spare). Afterwards a demo's processes only map
    /// the pages they write to, 0.85 µs per 4 KiB in a forked child here,
    /// instead of allocating and zeroing each one inside whatever the demo
    /// is timing, 2.5 µs.
    pub fn page_allocator(&self) -> std::io::Result<impl FnOnce() + Send + 'static> {
        let memfd = self.memfd.try_clone()?;
        Ok(move || {
            // SAFETY: fallocate within the file's sealed size, on a descriptor
            // we own; a failure only leaves pages to be allocated when touched.
            unsafe { libc::fallocate(memfd.as_raw_fd(), 0, 0, Mapping::LEN as libc::off_t) };
        })
    }

    /// Makes a ring ready for another run, once every process that wrote to
    /// it is gone (the caller's promise): positions back to zero, and every
    /// length word a writer left set (committed but never read, or reserved)
    /// cleared. The bytes of old records stay, but no length word points at
    /// them, so a reader never takes them for events. Reusing a ring saves
    /// allocating and zeroing its pages again (see [`Reader::page_allocator`]).
    pub fn reset(&mut self) {
        let reserved = self.map.reserved().load(Ordering::Acquire);
        // Records the reader has passed were cleared as it went; the rest,
        // up to a whole ring's worth, may hold a length word.
        let mut at = self.pos;
        while at < reserved && at < self.pos + CAPACITY as u64 {
            self.map.len_word(at).store(0, Ordering::Relaxed);
            at += ALIGN;
        }
        self.map.reserved().store(0, Ordering::Relaxed);
        self.map.consumed().store(0, Ordering::Relaxed);
        self.map.waiting().store(0, Ordering::Relaxed);
        self.pos = 0;
    }

    /// The memfd to hand to the runner.
    pub fn fd(&self) -> RawFd {
        self.memfd.as_raw_fd()
    }

    /// Reads the record at the current position into `out` (appended).
    pub fn next(&mut self, out: &mut Vec<u8>) -> Result<Next, RingError> {
        let word = self.map.len_word(self.pos).load(Ordering::Acquire);
        if word == 0 {
            let reserved = self.map.reserved().load(Ordering::Acquire);
            // Wrapping: positions are counts that only grow.
            return Ok(if (reserved.wrapping_sub(self.pos) as i64) > 0 { Next::Uncommitted } else { Next::Empty });
        }
        let len = word - 1;
        if len == 0 {
            return Err(RingError::Empty);
        }
        if len > MAX_LINE as u64 {
            return Err(RingError::TooLong);
        }
        self.map.read_wrapping(self.pos + LEN_WORD, len as usize, out);
        let size = record_size(len as usize);
        // Clear every place a later record's length word could land, so a
        // stale length is never taken for a new commit.
        let mut at = self.pos;
        while at < self.pos + size {
            self.map.len_word(at).store(0, Ordering::Relaxed);
            at += ALIGN;
        }
        self.pos += size;
        Ok(Next::Event)
    }

    /// Tells writers the space up to here is free again (after a batch).
    pub fn release(&self) {
        self.map.consumed().store(self.pos, Ordering::Release);
    }

    /// Says the server is awake again, so writers stop ringing.
    pub fn announce_awake(&self) {
        self.map.waiting().store(0, Ordering::Relaxed);
    }

    /// Says the server is about to sleep on the doorbell; returns whether
    /// something arrived meanwhile (then it must not sleep).
    pub fn announce_sleep(&self) -> bool {
        self.map.waiting().store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        barrier_on_writers();
        self.map.len_word(self.pos).load(Ordering::Acquire) != 0
    }
}

/// Registers this process, and every process it forks from now on, for
/// the server's barrier; false where the kernel refuses. It takes the kernel
/// 150–200 µs here, so a runner does it while it waits for its run.
pub fn join_server_barriers() -> bool {
    // SAFETY: membarrier takes plain integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, libc::MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 }
}

/// A full memory barrier on every CPU that is running a registered writer,
/// and so in effect between every such writer's commit and its read of
/// `waiting`. A writer not running at the time passed through one when the
/// kernel switched it out. Where the kernel lacks the command, it refused
/// registration too, and every writer fences by itself.
fn barrier_on_writers() {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_membarrier, libc::MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) };
}

/// A process's side: writes records. Shared by every process of the run
/// through fork, and by every thread.
pub struct Writer {
    map: Mapping,
    /// Whether each commit needs its own full barrier: only where the
    /// kernel would not register this process for the server's (see the
    /// module's docs).
    fenced: bool,
}

impl Writer {
    /// Maps the ring the server handed over. The fd is closed afterwards
    /// (the mapping stays), so programs a demo execs never inherit it.
    /// `joined_barriers`: what [`join_server_barriers`] returned in this
    /// process (or the one it was forked from).
    pub fn from_fd(fd: OwnedFd, joined_barriers: bool) -> std::io::Result<Writer> {
        let size = std::fs::File::from(fd.try_clone()?).metadata()?.len();
        if size != Mapping::LEN as u64 {
            return Err(std::io::Error::other(format!("the event ring has {size} bytes, not {}", Mapping::LEN)));
        }
        Ok(Writer { map: Mapping::map(fd.as_raw_fd())?, fenced: !joined_barriers })
    }

    /// Appends one event (at most a quarter of the ring). Waits while the
    /// ring is full. `doorbell` is the fd to ring when the server sleeps.
    /// Only async-signal-safe calls, so a freshly forked child may use it.
    pub fn push(&self, bytes: &[u8], doorbell: RawFd) {
        assert!(!bytes.is_empty() && bytes.len() <= CAPACITY / 4, "event size out of range");
        let size = record_size(bytes.len());
        let start = self.map.reserved().fetch_add(size, Ordering::Relaxed);
        while start + size - self.map.consumed().load(Ordering::Acquire) > CAPACITY as u64 {
            // Full: the server may be asleep with the doorbell unrung.
            self.ring_if_waiting(doorbell);
            let pause = libc::timespec { tv_sec: 0, tv_nsec: 20_000 };
            // SAFETY: nanosleep with a valid timespec.
            unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        }
        self.map.write_wrapping(start + LEN_WORD, bytes);
        self.map.len_word(start).store(bytes.len() as u64 + 1, Ordering::Release);
        self.map.prefetch_for_write(start + size + PREFETCH_AHEAD);
        // Orders the commit before reading `waiting`: either the server's
        // re-check sees the commit, or this sees the server waiting. Where
        // this process takes part in the server's barrier, that barrier
        // does this, and the compiler only must not reorder the two.
        if self.fenced {
            fence(Ordering::SeqCst);
        } else {
            compiler_fence(Ordering::SeqCst);
        }
        self.ring_if_waiting(doorbell);
    }

    /// Reserves a record and never commits it: what a process killed in the
    /// middle of an emit leaves behind. Only tests call this: the ring's own,
    /// and the testkit's fault demo (crates/testkit), through which the API
    /// tests check that the server survives it.
    pub fn abandon_a_record(&self) {
        self.map.reserved().fetch_add(ALIGN, Ordering::Relaxed);
    }

    fn ring_if_waiting(&self, doorbell: RawFd) {
        let waiting = self.map.waiting();
        if waiting.load(Ordering::Relaxed) != 0 && waiting.swap(0, Ordering::AcqRel) != 0 {
            loop {
                // SAFETY: a one-byte write from a live buffer.
                let n = unsafe { libc::write(doorbell, [DOORBELL].as_ptr().cast(), 1) };
                if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    // A full pipe (only if nobody reads) or a closed one: the
                    // server is gone or already has a wake-up pending.
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_of(reader: &Reader) -> Writer {
        Writer { map: Mapping::map(reader.fd()).unwrap(), fenced: true }
    }

    fn drain(reader: &mut Reader) -> Vec<String> {
        let mut events = Vec::new();
        let mut buf = Vec::new();
        while reader.next(&mut buf).unwrap() == Next::Event {
            events.push(String::from_utf8(std::mem::take(&mut buf)).unwrap());
        }
        reader.release();
        events
    }

    #[test]
    fn a_reset_ring_reads_as_new_whatever_its_writers_left() {
        let mut reader = Reader::create().unwrap();
        let writer = writer_of(&reader);
        for i in 0..3 {
            writer.push(format!("old {i}").as_bytes(), -1);
        }
        assert_eq!(drain(&mut reader), ["old 0", "old 1", "old 2"]);
        // Left behind: a committed record never read, then one reserved and
        // never committed.
        writer.push(b"unread", -1);
        writer.abandon_a_record();
        reader.reset();
        let mut line = Vec::new();
        assert_eq!(reader.next(&mut line).unwrap(), Next::Empty);
        // A new run's writer starts from the beginning, and only its events
        // come out: once the reader is past them, at the slot of the record
        // left unread, it finds nothing there.
        let writer = writer_of(&reader);
        for i in 0..3 {
            writer.push(format!("new {i}").as_bytes(), -1);
        }
        assert_eq!(drain(&mut reader), ["new 0", "new 1", "new 2"]);
        assert_eq!(reader.next(&mut line).unwrap(), Next::Empty);
    }

    #[test]
    fn records_come_out_in_order_across_the_wrap() {
        let mut reader = Reader::create().unwrap();
        let writer = writer_of(&reader);
        let sink = std::fs::File::open("/dev/null").unwrap();
        let mut expected = 0;
        // Far more than the capacity, in batches the ring can hold.
        for round in 0..40 {
            for i in 0..1000 {
                writer.push(format!("{{\"round\":{round},\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 300)).as_bytes(), sink.as_raw_fd());
            }
            for (i, event) in drain(&mut reader).into_iter().enumerate() {
                assert!(event.starts_with(&format!("{{\"round\":{round},\"i\":{i},")), "{event}");
                expected += 1;
            }
        }
        assert_eq!(expected, 40_000);
    }

    #[test]
    fn an_uncommitted_record_holds_the_reader_and_lies_are_refused() {
        let mut reader = Reader::create().unwrap();
        let writer = writer_of(&reader);
        let mut buf = Vec::new();
        assert_eq!(reader.next(&mut buf), Ok(Next::Empty));
        // Reserved but not committed: a writer mid-copy.
        writer.map.reserved().fetch_add(64, Ordering::SeqCst);
        assert_eq!(reader.next(&mut buf), Ok(Next::Uncommitted));
        writer.map.len_word(0).store(MAX_LINE as u64 + 2, Ordering::SeqCst);
        assert_eq!(reader.next(&mut buf), Err(RingError::TooLong));
        writer.map.len_word(0).store(1, Ordering::SeqCst);
        assert_eq!(reader.next(&mut buf), Err(RingError::Empty));
    }

    #[test]
    fn the_doorbell_rings_only_for_a_sleeping_reader() {
        let mut reader = Reader::create().unwrap();
        let writer = writer_of(&reader);
        let (read, write) = nix::unistd::pipe().unwrap();
        nix::fcntl::fcntl(read.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
        let rung = || {
            let mut buf = [0u8; 16];
            nix::unistd::read(read.as_raw_fd(), &mut buf).unwrap_or(0)
        };
        writer.push(b"{}", write.as_raw_fd());
        assert_eq!(rung(), 0, "the reader was awake");
        assert!(reader.announce_sleep(), "an event was already there");
        drain(&mut reader);
        assert!(!reader.announce_sleep());
        writer.push(b"{}", write.as_raw_fd());
        writer.push(b"{}", write.as_raw_fd());
        assert_eq!(rung(), 1, "one ring for the sleeping reader, not one per event");
    }

    /// Every event here is the last one for a while: the writer waits for
    /// the reader to take it, and the reader announces a sleep whenever the
    /// ring is empty, so each event races the reader's announcement, and a
    /// single lost wake-up stalls both. The writer commits without a fence of
    /// its own, as in a real run (exit 1 if the kernel would not register it).
    /// The hardware's side of that race, a load passing a store, opens for a
    /// few nanoseconds, which a test cannot reliably hit; that part rests on
    /// membarrier's documented guarantee.
    #[test]
    fn no_wake_up_is_lost_between_a_sleeping_reader_and_a_writer() {
        const EVENTS: u64 = 20_000;
        let mut reader = Reader::create().unwrap();
        let (doorbell_read, doorbell_write) = nix::unistd::pipe().unwrap();
        let memfd = reader.memfd.try_clone().unwrap();
        // SAFETY: the child only maps the ring, writes to it and _exits.
        let child = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let writer = Writer::from_fd(memfd, join_server_barriers()).unwrap();
                for i in 0..EVENTS {
                    writer.push(format!("{i}").as_bytes(), doorbell_write.as_raw_fd());
                    let since = std::time::Instant::now();
                    let end = writer.map.reserved().load(Ordering::Relaxed);
                    while writer.map.consumed().load(Ordering::Acquire) < end {
                        if since.elapsed() > std::time::Duration::from_secs(2) {
                            // SAFETY: leave without the harness's destructors.
                            unsafe { libc::_exit(2) }
                        }
                        std::hint::spin_loop();
                    }
                    if i % 100 == 0 {
                        // Now and then long enough for the reader to be
                        // sure to sleep first.
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                }
                // SAFETY: as above.
                unsafe { libc::_exit(if writer.fenced { 1 } else { 0 }) }
            }
            nix::unistd::ForkResult::Parent { child } => child,
        };
        drop(memfd);
        let (mut read, mut announced, mut sleeps) = (0u64, 0u64, 0u64);
        let mut buf = Vec::new();
        let mut lost = false;
        while read < EVENTS {
            while reader.next(&mut buf).unwrap() == Next::Event {
                assert_eq!(std::str::from_utf8(&buf).unwrap(), read.to_string());
                buf.clear();
                read += 1;
            }
            reader.release();
            if read == EVENTS {
                break;
            }
            announced += 1;
            if reader.announce_sleep() {
                reader.announce_awake();
                continue;
            }
            sleeps += 1;
            let mut fds = [libc::pollfd { fd: doorbell_read.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(fds.as_mut_ptr(), 1, 2000) } != 1 {
                lost = true;
                break;
            }
            let mut rings = [0u8; 64];
            let _ = nix::unistd::read(doorbell_read.as_raw_fd(), &mut rings);
            reader.announce_awake();
        }
        let status = nix::sys::wait::waitpid(child, None).unwrap();
        assert!(!lost, "the reader slept through event {read} (it had slept {sleeps} times)");
        assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0), "exit 1: the kernel refused membarrier registration");
        assert!(
            announced >= EVENTS && sleeps >= EVENTS / 200,
            "the reader announced a sleep {announced} times and slept {sleeps}: the race was hardly tried"
        );
    }

    #[test]
    fn writers_in_forked_processes_share_one_total_order() {
        let mut reader = Reader::create().unwrap();
        let writer = writer_of(&reader);
        let sink = std::fs::File::open("/dev/null").unwrap();
        let mut children = Vec::new();
        for p in 0..2 {
            // SAFETY: the child only writes to shared memory and _exits.
            match unsafe { nix::unistd::fork() }.unwrap() {
                nix::unistd::ForkResult::Child => {
                    for i in 0..20_000 {
                        writer.push(format!("{p}:{i}").as_bytes(), sink.as_raw_fd());
                    }
                    // SAFETY: leave without running the test harness's destructors.
                    unsafe { libc::_exit(0) }
                }
                nix::unistd::ForkResult::Parent { child } => children.push(child),
            }
        }
        let mut next = [0usize; 2];
        let mut buf = Vec::new();
        while next != [20_000, 20_000] {
            match reader.next(&mut buf).unwrap() {
                Next::Event => {
                    let text = String::from_utf8(std::mem::take(&mut buf)).unwrap();
                    let (p, i) = text.split_once(':').unwrap();
                    let p: usize = p.parse().unwrap();
                    assert_eq!(i.parse::<usize>().unwrap(), next[p], "each writer's records in its order");
                    next[p] += 1;
                }
                Next::Empty | Next::Uncommitted => {
                    reader.release();
                    std::thread::yield_now();
                }
            }
        }
        for child in children {
            nix::sys::wait::waitpid(child, None).unwrap();
        }
    }
}
