//! Load and measurement tools (binaries under `src/bin`), plus the small statistics they
//! share.
//!
//! # Invariant
//! Every loop a tool runs is bounded in count and time and stops by itself.

pub mod binance_feed;
pub mod sample_tape;

/// The sim's markets for `books` followed books: its default markets plus synthetic copies
/// of the first (`S001-USDT`, …), and the symbols to follow (the first `books`).
pub fn sim_books(books: usize) -> (Vec<sim::SimSpec>, Vec<String>) {
    let mut specs = sim::SimSpec::defaults();
    let mut symbols: Vec<String> = specs
        .iter()
        .map(|s| format!("{}-{}", s.base, s.quote))
        .collect();
    for i in 0..books.saturating_sub(specs.len()) {
        let Some(mut extra) = specs.first().cloned() else {
            break;
        };
        // A tool: the few names live for the whole run.
        extra.base = Box::leak(format!("S{:03}", i + 1).into_boxed_str());
        symbols.push(format!("{}-{}", extra.base, extra.quote));
        specs.push(extra);
    }
    symbols.truncate(books.max(1));
    (specs, symbols)
}

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
