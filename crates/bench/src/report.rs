//! The benchmark's output: one row per figure, printed as a table and saved
//! as JSON so figures can be tracked across commits.

use std::path::Path;

use serde::Serialize;

use super::Stats;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The case of issue 8's table it belongs to.
    pub case: String,
    /// What exactly was measured.
    pub metric: String,
    pub unit: String,
    /// None: not measured, and `note` says why.
    pub stats: Option<Stats>,
    /// The target it is read against, or why it is missing.
    pub note: String,
}

impl Row {
    pub fn new(case: &str, metric: &str, unit: &str, samples: &[f64], note: &str) -> Row {
        let stats = Stats::of(samples);
        let note = if stats.is_none() && note.is_empty() { "no samples".to_owned() } else { note.to_owned() };
        Row { case: case.into(), metric: metric.into(), unit: unit.into(), stats, note }
    }

    /// A ratio of two medians (`a / b`), when both exist.
    pub fn ratio(case: &str, metric: &str, a: Option<&Row>, b: Option<&Row>, note: &str) -> Row {
        let value = match (a.and_then(|r| r.stats), b.and_then(|r| r.stats)) {
            (Some(a), Some(b)) if b.median > 0.0 => Some(Stats::single(a.median / b.median)),
            _ => None,
        };
        let note = if value.is_none() { format!("{note} (a side is missing)") } else { note.to_owned() };
        Row { case: case.into(), metric: metric.into(), unit: "×".into(), stats: value, note }
    }

    /// The same row under another metric name.
    pub fn named(mut self, metric: &str) -> Row {
        self.metric = metric.into();
        self
    }

    pub fn skipped(case: &str, metric: &str, why: &str) -> Row {
        Row { case: case.into(), metric: metric.into(), unit: String::new(), stats: None, note: why.into() }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub quick: bool,
    pub machine: Machine,
    pub rows: Vec<Row>,
}

/// Enough about the host to read the figures against.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    /// 1-minute load average when the bench started: a busy host explains a lot.
    pub load_average: String,
}

impl Report {
    pub fn new(quick: bool) -> Self {
        Report { quick, machine: Machine::here(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn extend(&mut self, rows: Vec<Row>) {
        self.rows.extend(rows);
    }

    pub fn table(&self) -> String {
        let header = ["case", "metric", "median", "min", "max", "unit", "target / note"];
        let mut lines = vec![header.map(str::to_owned).to_vec()];
        for row in &self.rows {
            let (median, min, max) = match row.stats {
                Some(s) if s.n > 1 => (fmt(s.median), fmt(s.min), fmt(s.max)),
                Some(s) => (fmt(s.median), String::new(), String::new()),
                None => ("—".into(), String::new(), String::new()),
            };
            lines.push(vec![row.case.clone(), row.metric.clone(), median, min, max, row.unit.clone(), row.note.clone()]);
        }
        let mut out = format!(
            "forkline-bench{} — {} CPUs, {}, load {}\n\n",
            if self.quick { " --quick" } else { "" },
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.load_average
        );
        for (i, cells) in lines.iter().enumerate() {
            out.push_str("| ");
            out.push_str(&cells.join(" | "));
            out.push_str(" |\n");
            if i == 0 {
                out.push_str(&format!("|{}\n", "---|".repeat(cells.len())));
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)
    }
}

/// Three significant figures, with k/M for big numbers.
pub fn fmt(x: f64) -> String {
    let (value, suffix) = match x.abs() {
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e4 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    let digits = match value.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.digits$}{suffix}")
}

impl Machine {
    fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_owned();
        Machine { cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1), cpu_model, kernel, load_average }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_three_significant_digits() {
        assert_eq!(fmt(1_234_567.0), "1.23M");
        assert_eq!(fmt(45_600.0), "45.6k");
        assert_eq!(fmt(0.456), "0.46");
        assert_eq!(fmt(512.0), "512");
    }
}
