//! Reading what the kernel says about a process from `/proc`.
//!
//! Some lesson concepts are only visible from outside a process: a child that
//! has exited but was not reaped is a zombie (state `Z`) that cannot report
//! anything itself, and the programs a shell starts are not ours to
//! instrument. Demos look at them the way `ps` does, through `/proc/<pid>/stat`.

use std::io;

use forkline_core::event::{Body, Text};

/// The fields of `/proc/<pid>/stat` the demos use (see proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// The executable's name, at most 15 bytes (`comm`).
    pub comm: String,
    /// `R` running, `S` sleeping, `D` disk wait, `Z` zombie, …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// Clock ticks spent in user and kernel mode.
    pub utime: u64,
    pub stime: u64,
    /// The CPU it last ran on.
    pub processor: i32,
}

impl Stat {
    /// This look as a `kernel.sample` of a process watched from outside (it
    /// has no events of its own, so its parent and name give it a lane).
    pub fn sample(&self) -> Body {
        Body::KernelSample {
            of_pid: self.pid,
            of_tid: self.pid,
            of_ppid: Some(self.ppid),
            name: Some(self.comm.clone().into()),
            state: state_text(self.state),
            on_cpu: self.processor,
            utime: Some(self.utime),
            stime: Some(self.stime),
        }
    }
}

/// The last look at a process the kernel has forgotten: proc(5)'s `X`, dead.
pub fn gone_sample(pid: i32) -> Body {
    Body::KernelSample {
        of_pid: pid,
        of_tid: pid,
        of_ppid: None,
        name: None,
        state: "X".into(),
        on_cpu: -1,
        utime: None,
        stime: None,
    }
}

/// Reads `/proc/<pid>/stat`. Fails with `NotFound` once the pid is gone
/// (reaped), which is itself an observation some demos report.
pub fn stat(pid: i32) -> io::Result<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// True while the kernel still has an entry for `pid`, zombies included.
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Parses one stat line. `comm` is in parentheses and may itself contain
/// spaces and parentheses, so the fields after it are found from the *last*
/// `)`, as procps does.
pub fn parse_stat(line: &str) -> io::Result<Stat> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc stat line: {line:?}"));
    let open = line.find('(').ok_or_else(bad)?;
    let close = line.rfind(')').ok_or_else(bad)?;
    let pid = line[..open].trim().parse().map_err(|_| bad())?;
    let comm = line.get(open + 1..close).ok_or_else(bad)?.to_owned();
    let f = stat_fields(line.as_bytes()).ok_or_else(bad)?;
    Ok(Stat { pid, comm, state: char::from(f.state), ppid: f.ppid, pgrp: f.pgrp, utime: f.utime, stime: f.stime, processor: f.cpu })
}

/// The fields of a task's stat line that forkline reads: the sampler on
/// every pass, without allocating, and [`parse_stat`] for the demos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    /// Threads in the whole process (field 20, the same in every thread's file).
    pub threads: i64,
    pub utime: u64,
    pub stime: u64,
    pub cpu: i32,
}

/// Parses a stat line without allocating: fields after the last `)` (comm
/// may hold spaces and parentheses), numbered as in proc(5).
pub fn stat_fields(line: &[u8]) -> Option<StatFields> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let mut out = StatFields { state: 0, ppid: 0, pgrp: 0, threads: 0, utime: 0, stime: 0, cpu: -1 };
    let mut seen = 0;
    for (i, field) in line[close + 1..].split(|&b| b == b' ' || b == b'\n').filter(|f| !f.is_empty()).enumerate() {
        match i + 3 {
            3 => out.state = *field.first()?,
            4 => out.ppid = parse_int(field)? as i32,
            5 => out.pgrp = parse_int(field)? as i32,
            14 => out.utime = parse_int(field)? as u64,
            15 => out.stime = parse_int(field)? as u64,
            20 => out.threads = parse_int(field)?,
            39 => {
                out.cpu = parse_int(field)? as i32;
                seen = 39;
                break;
            }
            _ => {}
        }
    }
    (seen == 39).then_some(out)
}

pub fn parse_int(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n })
}

/// Every live descendant of `ancestor` in the process group `pgrp`.
///
/// This kernel may lack `/proc/<pid>/task/<tid>/children`
/// (CONFIG_PROC_CHILDREN), so it scans `/proc`, keeping only the group's
/// members (all of a run's processes share the runner's group) and then
/// following parent links down from `ancestor`.
pub fn descendants(ancestor: i32, pgrp: i32) -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let members: Vec<Stat> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| stat(pid).ok())
        .filter(|s| s.pgrp == pgrp)
        .collect();
    let mut found: Vec<Stat> = Vec::new();
    let mut frontier = vec![ancestor];
    while let Some(parent) = frontier.pop() {
        for s in members.iter().filter(|s| s.ppid == parent) {
            if !found.iter().any(|f| f.pid == s.pid) {
                frontier.push(s.pid);
                found.push(s.clone());
            }
        }
    }
    found
}

/// The number of threads of the calling process right now.
pub fn own_thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Waits (up to `limit`) until the calling process is down to one thread.
///
/// A joined thread has finished running, but the kernel may take a moment
/// longer to remove its task entry; forking before it is gone would still be
/// safe (it runs no code), yet the spawn docs promise "single-threaded", so
/// demos that fork after joining threads check it rather than assume it.
pub fn wait_single_threaded(limit: std::time::Duration) -> io::Result<()> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let n = own_thread_count()?;
        if n <= 1 {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(io::Error::other(format!("still {n} threads; refusing to fork")));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A proc(5) state letter as event text, without allocating for the letters
/// Linux uses: the sampler writes one per thread every few milliseconds.
pub fn state_text(state: char) -> Text {
    const LETTERS: [&str; 12] = ["R", "S", "D", "Z", "T", "t", "X", "x", "K", "W", "P", "I"];
    LETTERS.into_iter().find(|l| l.starts_with(state)).map_or_else(|| Text::Owned(state.to_string()), Text::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_parentheses_and_spaces_in_comm_parses() {
        let line = "4242 (a (b) c) Z 17 4200 4200 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 53631 3133440 417 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "a (b) c");
        assert_eq!(s.state, 'Z');
        assert_eq!((s.ppid, s.pgrp), (17, 4200));
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(s.processor, 1);
    }

    #[test]
    fn own_stat_is_readable() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert_eq!(s.pid, me);
        assert!(exists(me));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_stat("").is_err());
        assert!(parse_stat("12 (x) ").is_err());
    }
}
