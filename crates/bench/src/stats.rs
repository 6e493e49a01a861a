//! Median, min, max and percentiles of a case's samples.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Samples the figures come from.
    pub n: usize,
}

impl Stats {
    /// None when there are no samples (the case could not run).
    pub fn of(samples: &[f64]) -> Option<Stats> {
        let sorted = sorted(samples)?;
        Some(Stats { median: percentile_sorted(&sorted, 50.0), min: sorted[0], max: sorted[sorted.len() - 1], n: sorted.len() })
    }

    /// A derived figure (a ratio of medians): no spread of its own.
    pub fn single(value: f64) -> Stats {
        Stats { median: value, min: value, max: value, n: 1 }
    }
}

/// The `p`th percentile (nearest rank) of the samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    sorted(samples).map(|s| percentile_sorted(&s, p))
}

fn sorted(samples: &[f64]) -> Option<Vec<f64>> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    Some(s)
}

fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    if p == 50.0 && sorted.len().is_multiple_of(2) {
        let mid = sorted.len() / 2;
        return (sorted[mid - 1] + sorted[mid]) / 2.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_and_p99() {
        let s = Stats::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 99.0), Some(99.0));
        assert_eq!(Stats::of(&[]), None);
    }
}
