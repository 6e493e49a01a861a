//! Moves the runner's code into huge pages before it forks anything, so that
//! every process it forks starts with all of its code already mapped.
//!
//! fork copies the page tables of anonymous memory, but not those of a file
//! mapping: the kernel leaves them for the child to fault back in. The
//! binary's code is a file mapping, so a freshly forked demo worker owns none
//! of it, and every 64 KiB of code it runs is a page fault. A worker that
//! only starts, reports and exits took 35 faults, 15 of them for our code
//! (4 more for read-only data), at several µs each under virtualisation:
//! more than its events themselves.
//!
//! So a spare runner, while single-threaded and waiting for its run, copies
//! each 2 MiB stretch of its code into an anonymous 2 MiB (transparent huge)
//! page and swaps it in at the same address with `mremap`. The bytes are the
//! same; what changes is that the stretch is now anonymous memory held by one
//! page-table entry, which fork copies along with the rest. `build.rs` links
//! the binary with 2 MiB segment alignment so that every stretch of code
//! lines up with one.
//!
//! A stretch takes about half a millisecond (the kernel zeroes the huge page,
//! then we copy into it), so a run that arrives meanwhile must not wait for
//! all of them: the caller says when to stop, and is asked before each one.
//! Each stretch is also 2 MiB of memory per runner (a runner's children
//! share it), which is why read-only data, worth 4 faults, is left alone.
//!
//! Everything here is best effort. A stretch is left as it was when it shares
//! its 2 MiB with anything but our code, or when the kernel has no huge page
//! to give (a copy in 4 KiB pages would make every fork copy
//! thousands of entries instead, which is slower than the faults it saves).

use std::ops::Range;

/// One transparent huge page on x86-64 and on arm64 with 4 KiB pages.
const HUGE: usize = 2 << 20;

/// A line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    range: Range<usize>,
    perms: String,
    /// `dev inode`, which names the file a mapping comes from.
    file: String,
}

/// Stretches moved in this process (and so in its forks) so far.
static MOVED_CHUNKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many 2 MiB stretches of code this process runs from huge pages: the
/// benchmark reports it beside what it measures in a runner.
pub fn moved_chunks() -> usize {
    MOVED_CHUNKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// What the remapping did, for tests and the bench to look at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub chunks: usize,
    pub skipped: usize,
}

/// Moves the eligible 2 MiB stretches of this binary's code into huge pages,
/// one by one until `stop` says so. Call only while the process is
/// single-threaded.
pub fn move_into_huge_pages(mut stop: impl FnMut() -> bool) -> Moved {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Moved::default();
    };
    let maps: Vec<Mapping> = maps.lines().filter_map(parse_line).collect();
    let here = parse_line as fn(&str) -> Option<Mapping> as usize;
    // Our binary, by device and inode; inode 0 is no file at all (our code
    // already moved, or not in a file to begin with).
    let Some(ours) = maps.iter().find(|m| m.range.contains(&here)).map(|m| m.file.clone()).filter(|f| !f.ends_with(" 0")) else {
        return Moved::default();
    };
    let mut moved = Moved::default();
    for chunk in eligible_chunks(&maps, &ours) {
        if stop() {
            break;
        }
        let parts: Vec<Range<usize>> = maps
            .iter()
            .filter(|m| overlaps(&m.range, &chunk))
            .map(|m| m.range.start.max(chunk.start)..m.range.end.min(chunk.end))
            .collect();
        // SAFETY: the chunk holds only our own code (checked by
        // eligible_chunks) and the process is single-threaded (the caller's
        // promise), so replacing it by a byte-for-byte copy changes nothing
        // any code can observe.
        match unsafe { swap_in_huge_copy(chunk.start, &parts) } {
            Ok(()) => {
                moved.chunks += 1;
                MOVED_CHUNKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(_) => moved.skipped += 1,
        }
    }
    moved
}

/// Parses `start-end perms offset dev inode [path]`.
fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?.to_owned();
    let _offset = fields.next()?;
    let file = format!("{} {}", fields.next()?, fields.next()?);
    Some(Mapping { range, perms, file })
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// The 2 MiB-aligned stretches that touch our code (`r-xp`) and hold
/// nothing else (one huge page has one protection); gaps between segments
/// are fine.
fn eligible_chunks(maps: &[Mapping], ours: &str) -> Vec<Range<usize>> {
    let code = |m: &Mapping| m.file == ours && m.perms == "r-xp";
    let mut chunks: Vec<Range<usize>> = Vec::new();
    for m in maps.iter().filter(|m| code(m)) {
        let mut at = m.range.start / HUGE * HUGE;
        while at < m.range.end {
            let chunk = at..at + HUGE;
            if !chunks.contains(&chunk) {
                chunks.push(chunk);
            }
            at += HUGE;
        }
    }
    chunks.retain(|chunk| {
        let inside: Vec<&Mapping> = maps.iter().filter(|m| overlaps(&m.range, chunk)).collect();
        inside.iter().all(|m| code(m))
    });
    chunks
}

/// Copies `parts` (inside the 2 MiB at `at`) into a fresh huge page and
/// moves that page over `at`, replacing whatever was there.
///
/// # Safety
/// `parts` must be readable, everything in the 2 MiB at `at` must be code
/// nobody writes, and no other thread may run meanwhile.
unsafe fn swap_in_huge_copy(at: usize, parts: &[Range<usize>]) -> std::io::Result<()> {
    let copy = HugeRegion::new()?;
    for part in parts {
        // SAFETY: the source is readable (our own mapping, the caller says);
        // the destination is our fresh writable region, and the part lies
        // within its 2 MiB at the same offset.
        unsafe { std::ptr::copy_nonoverlapping(part.start as *const u8, copy.at.add(part.start - at), part.len()) };
    }
    // Make sure the copy really is one huge page. MADV_COLLAPSE (Linux 6.1)
    // builds one now if the first touch did not get one; where it fails or
    // is unknown, the copy is dropped.
    copy.advise(libc::MADV_COLLAPSE)?;
    // SAFETY: our own region, its whole length.
    if unsafe { libc::mprotect(copy.at.cast(), HUGE, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: moves our region over `at`. Code running from the old mapping
    // finds the same bytes at the same addresses afterwards; the system call
    // itself runs in libc, which is not being moved.
    let moved = unsafe {
        libc::mremap(copy.at.cast(), HUGE, HUGE, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, at as *mut libc::c_void)
    };
    if moved == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    std::mem::forget(copy);
    Ok(())
}

/// A 2 MiB-aligned anonymous 2 MiB region asking for a huge page; unmapped
/// on drop unless it has been moved into place.
struct HugeRegion {
    at: *mut u8,
}

impl HugeRegion {
    fn new() -> std::io::Result<HugeRegion> {
        // Twice the size, then trim to the aligned 2 MiB inside: mmap only
        // promises page alignment.
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let raw = unsafe {
            libc::mmap(std::ptr::null_mut(), 2 * HUGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if raw == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let raw = raw as usize;
        let at = raw.next_multiple_of(HUGE);
        // SAFETY: both trims lie inside the mapping just made and unmap only
        // its unaligned head and tail.
        unsafe {
            if at > raw {
                libc::munmap(raw as *mut libc::c_void, at - raw);
            }
            libc::munmap((at + HUGE) as *mut libc::c_void, raw + 2 * HUGE - (at + HUGE));
        }
        let region = HugeRegion { at: at as *mut u8 };
        region.advise(libc::MADV_HUGEPAGE)?;
        Ok(region)
    }

    fn advise(&self, advice: libc::c_int) -> std::io::Result<()> {
        // SAFETY: madvise on our own mapping, its whole length.
        if unsafe { libc::madvise(self.at.cast(), HUGE, advice) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for HugeRegion {
    fn drop(&mut self) {
        // SAFETY: our own mapping, not moved (forget skips this after a move).
        unsafe { libc::munmap(self.at.cast(), HUGE) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(start: usize, end: usize, perms: &str, file: &str) -> Mapping {
        Mapping { range: start..end, perms: perms.into(), file: file.into() }
    }

    const BIN: &str = "fd:01 42";

    #[test]
    fn parses_a_maps_line() {
        let m = parse_line("55d0a4000000-55d0a41af000 r--p 00000000 fd:01 42    /usr/bin/forkline").unwrap();
        assert_eq!(m, map(0x55d0a4000000, 0x55d0a41af000, "r--p", BIN));
        let anon = parse_line("7f00a0000000-7f00a0021000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!(anon.file, "00:00 0");
    }

    #[test]
    fn takes_the_stretches_of_a_binary_linked_with_2_mib_segments() {
        // The layout `build.rs` gives: data, code and writable data each start
        // in their own 2 MiB, with gaps between them.
        let maps = [
            map(0x0, 0x1af000, "r--p", BIN),
            map(0x3ae000, 0x917000, "r-xp", BIN),
            map(0xb16000, 0xb4d000, "r--p", BIN),
            map(0xb4d000, 0xb52000, "rw-p", BIN),
            map(0xb52000, 0xb60000, "rw-p", "00:00 0"),
        ];
        let chunks = eligible_chunks(&maps, BIN);
        let starts: Vec<usize> = chunks.iter().map(|c| c.start / HUGE).collect();
        // [2, 10) MiB: the code, with gaps before and after it.
        assert_eq!(starts, vec![1, 2, 3, 4]);
    }

    #[test]
    fn stops_when_asked() {
        // Asked to stop before the first stretch: nothing is touched.
        assert_eq!(move_into_huge_pages(|| true), Moved::default());
    }

    #[test]
    fn leaves_stretches_shared_with_anything_but_our_code() {
        // Packed segments (4 KiB alignment): only the 2 MiB wholly inside
        // the code are taken.
        let maps = [
            map(0x0, 0x1af000, "r--p", BIN),
            map(0x1af000, 0x71b000, "r-xp", BIN),
            map(0x71b000, 0x752000, "r--p", BIN),
            map(0x752000, 0x758000, "rw-p", BIN),
        ];
        let starts: Vec<usize> = eligible_chunks(&maps, BIN).iter().map(|c| c.start / HUGE).collect();
        assert_eq!(starts, vec![1, 2]);
        let other = [map(0x200000, 0x300000, "r-xp", BIN), map(0x300000, 0x301000, "r-xp", "fd:01 7")];
        assert!(eligible_chunks(&other, BIN).is_empty());
    }

    #[test]
    fn a_moved_process_still_runs_its_code_and_its_forks_do_too() {
        // Run in a forked child, so the test binary itself is left as it was
        // and other test threads are not running in the child.
        // SAFETY: the child calls only what it needs and leaves with _exit.
        match unsafe { libc::fork() } {
            0 => {
                let moved = move_into_huge_pages(|| false);
                let still_runs = format!("{:?}", parse_line("0-1000 r--p 0 00:00 0")).len() > 10;
                // A grandchild runs the moved code too.
                // SAFETY: as above.
                let grandchild_ok = match unsafe { libc::fork() } {
                    0 => unsafe { libc::_exit(if overlaps(&(0..2), &(1..3)) { 7 } else { 8 }) },
                    pid => {
                        let mut status = 0;
                        // SAFETY: waits for our own child.
                        unsafe { libc::waitpid(pid, &mut status, 0) };
                        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7
                    }
                };
                let code = if !still_runs { 1 } else if !grandchild_ok { 2 } else if moved.chunks + moved.skipped == 0 { 3 } else { 0 };
                // SAFETY: leaves the forked test child at once.
                unsafe { libc::_exit(code) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert!(libc::WIFEXITED(status), "the moved child crashed: status {status:#x}");
                // 1: the moved code misbehaved; 2: so did a fork of it;
                // 3: nothing to move (see build.rs).
                assert_eq!(libc::WEXITSTATUS(status), 0);
            }
        }
    }
}
