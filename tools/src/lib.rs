//! Load and measurement tools (binaries under `src/bin`), plus the small statistics they
//! share.
//!
//! # Invariant
//! Every loop a tool runs is bounded in count and time and stops by itself.

/// Percentiles of a sample (sorted copy): `(p50, p99, max)`.
pub fn percentiles(samples: &[f64]) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99), v[v.len() - 1])
}

/// Resident set size of this process in MB (Linux `/proc/self/status`), if available.
pub fn rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_sample() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(&v), (51.0, 99.0, 100.0));
        assert_eq!(percentiles(&[]), (0.0, 0.0, 0.0));
    }
}
