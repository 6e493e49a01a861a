//! Whether the machine's CPUs have been idle lately: what a spare runner asks
//! before it spends CPU on its own preparation (see `huge_code`), so that it
//! never takes time from a run in progress on a small machine.
//!
//! The figure is the kernel's own accounting: the first line of `/proc/stat`,
//! summed over all CPUs, compared between two readings.

/// Share of all CPU time that must have been idle since the last reading.
const IDLE_ENOUGH: f64 = 0.9;

/// Successive readings of the CPUs' idle and total time.
#[derive(Debug, Default)]
pub struct IdleMeter {
    last: Option<(u64, u64)>,
}

impl IdleMeter {
    /// Whether the CPUs were at least 90% idle since the previous call; false
    /// on the first call (nothing to compare with) or when `/proc/stat`
    /// cannot be read.
    pub fn idle_since_last(&mut self) -> bool {
        let now = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| idle_and_total(&stat));
        let idle = match (self.last, now) {
            (Some((idle0, total0)), Some((idle1, total1))) if total1 > total0 => {
                (idle1.saturating_sub(idle0)) as f64 / (total1 - total0) as f64 >= IDLE_ENOUGH
            }
            _ => false,
        };
        self.last = now;
        idle
    }
}

/// From `cpu  user nice system idle iowait irq softirq steal …`: idle time
/// (idle + iowait) and all time, in ticks. Guest time is already in user.
fn idle_and_total(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line.split_ascii_whitespace().take(8).map(str::parse).collect::<Result<_, _>>().ok()?;
    let [_user, _nice, _system, idle, iowait, ..] = ticks[..] else { return None };
    Some((idle + iowait, ticks.iter().sum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_idle_and_total_ticks() {
        let stat = "cpu  100 5 50 800 20 0 25 0 0 0\ncpu0 50 2 25 400 10 0 12 0 0 0\n";
        assert_eq!(idle_and_total(stat), Some((820, 1000)));
        assert_eq!(idle_and_total("intr 1 2 3"), None);
    }

    #[test]
    fn a_busy_cpu_is_not_idle() {
        let mut meter = IdleMeter::default();
        assert!(!meter.idle_since_last(), "no earlier reading to compare with");
        // Keep one CPU busy for a while: on any machine with fewer than ten
        // CPUs that is more than a tenth of all CPU time.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 10 {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(60);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            assert!(!meter.idle_since_last());
        }
    }
}
