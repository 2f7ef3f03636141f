//! The strategy seam: how an order's quantity is spread over its slices. A strategy shapes
//! the schedule (slice times and cumulative targets, fixed at acceptance) or, for POV,
//! decides each slice from the market volume printed since the last one. Fills, catch-up,
//! liquidity, gating, durability and analytics are shared by every strategy.
//!
//! Every strategy is deterministic given (request, books, trades, clock): the same inputs
//! give the same schedule and the same asks (the lab relies on it).

use std::sync::Arc;

use model::Timestamp;
use rust_decimal::Decimal;

use model::Pair;

use crate::plan::{
    CatchUp, MAX_AMOUNT, MAX_LATENCY_MS, OrderRequest, Rejection, floor_to, is_multiple, reject,
};

/// Seeded randomization of a TWAP's slice times and sizes (DESIGN §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Jitter {
    /// Seed: the same seed gives the same schedule.
    pub seed: u64,
    /// Each slice time moves by at most `time_pct`/2 % of the interval either way (0–50).
    pub time_pct: u32,
    /// Each slice's size weight moves by at most `size_pct` % either way (0–50).
    pub size_pct: u32,
}

/// Most a jitter percentage may be.
pub const MAX_JITTER_PCT: u32 = 50;

/// Which algorithm an order runs, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Even slices (optionally jittered).
    Twap {
        /// Seeded randomization of times and sizes.
        jitter: Option<Jitter>,
    },
    /// Slices follow the venue's intraday volume profile.
    Vwap {
        /// Days of klines the profile averages.
        profile_days: u32,
        /// Each slice's share of the order (Σ = 1), fixed at acceptance.
        profile: Arc<[Decimal]>,
    },
    /// A share of the volume the market prints.
    Pov {
        /// Share of market volume, 0 < p ≤ 0.5.
        participation: Decimal,
        /// Most one slice may ask for.
        max_slice_qty: Option<Decimal>,
    },
}

/// The strategies' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrategyKind {
    /// Time-weighted.
    Twap,
    /// Volume-weighted by the intraday profile.
    Vwap,
    /// Percentage of volume.
    Pov,
}

crate::words::words!(StrategyKind, "strategy", { Twap => "twap", Vwap => "vwap", Pov => "pov" });

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Twap { jitter: None }
    }
}

impl Strategy {
    /// The strategy's name.
    pub fn kind(&self) -> StrategyKind {
        match self {
            Strategy::Twap { .. } => StrategyKind::Twap,
            Strategy::Vwap { .. } => StrategyKind::Vwap,
            Strategy::Pov { .. } => StrategyKind::Pov,
        }
    }

    /// How many slices a window of `duration_ms` cut every `interval_ms` holds: TWAP and
    /// VWAP trade at the start of each interval (`ceil`), POV at the end of each complete
    /// one (`floor`, at least one).
    pub fn slice_count(&self, duration_ms: u64, interval_ms: u64) -> u64 {
        let interval = interval_ms.max(1);
        match self {
            Strategy::Pov { .. } => (duration_ms / interval).max(1),
            _ => duration_ms.div_ceil(interval),
        }
    }

    /// Milliseconds from the order's start to its first slice.
    pub fn lead_ms(&self, interval_ms: i64) -> i64 {
        match self {
            Strategy::Pov { .. } => interval_ms,
            _ => 0,
        }
    }
}

/// The fixed shape of a schedule: per-slice time offsets and cumulative target fractions
/// (`None` = even times, even sizes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// Milliseconds added to slice `i`'s even time.
    pub offsets_ms: Option<Arc<[i64]>>,
    /// Fraction of the order targeted after slice `i` (non-decreasing; the last is 1).
    pub cumulative: Option<Arc<[Decimal]>>,
}

/// SplitMix64: a small, well-mixed generator; stable across versions (the schedule must
/// never change for a stored seed).
fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform integer in `[-k, k]` from the stream (seed, lane, i).
fn draw(seed: u64, lane: u64, i: u64, k: i64) -> i64 {
    if k <= 0 {
        return 0;
    }
    let r = splitmix(splitmix(seed ^ lane.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ i);
    let span = (2 * k + 1) as u64;
    (r % span) as i64 - k
}

/// Cumulative fractions from non-negative weights (`None` when they sum to zero).
pub fn cumulative_of(weights: &[Decimal]) -> Option<Arc<[Decimal]>> {
    let total: Decimal = weights.iter().copied().sum();
    if total <= Decimal::ZERO || weights.is_empty() {
        return None;
    }
    let mut run = Decimal::ZERO;
    let n = weights.len();
    Some(
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                run += *w;
                if i + 1 == n {
                    Decimal::ONE
                } else {
                    (run / total).min(Decimal::ONE)
                }
            })
            .collect(),
    )
}

/// The schedule's shape for `strategy` over `slices` slices `interval_ms` apart in a window
/// of `duration_ms`.
pub fn shape(strategy: &Strategy, slices: u32, interval_ms: i64, duration_ms: i64) -> Shape {
    match strategy {
        Strategy::Twap { jitter: None } | Strategy::Pov { .. } => Shape::default(),
        Strategy::Vwap { profile, .. } => Shape {
            offsets_ms: None,
            cumulative: cumulative_of(profile),
        },
        Strategy::Twap {
            jitter: Some(j), ..
        } => {
            let n = u64::from(slices);
            // Half the percentage either way: at 50 % a slice moves at most a quarter
            // interval, so slices never swap order.
            let k = interval_ms.saturating_mul(i64::from(j.time_pct.min(MAX_JITTER_PCT))) / 200;
            let offsets: Arc<[i64]> = (0..n)
                .map(|i| {
                    let base = interval_ms.saturating_mul(i as i64);
                    let off = draw(j.seed, 1, i, k);
                    // Never before the start, never after the end of the window.
                    (base + off).clamp(0, (duration_ms - 1).max(0)) - base
                })
                .collect();
            let s = i64::from(j.size_pct.min(MAX_JITTER_PCT)) * 100;
            let weights: Vec<Decimal> = (0..n)
                .map(|i| Decimal::from(10_000 + draw(j.seed, 2, i, s)))
                .collect();
            Shape {
                offsets_ms: (k > 0).then_some(offsets),
                cumulative: if s > 0 { cumulative_of(&weights) } else { None },
            }
        }
    }
}

/// What a POV slice asks for: `participation` × the volume printed in its window, plus the
/// catch-up of earlier shortfall against the running target (`participation` × the volume
/// printed before this window, never above the order), capped by `max_slice_qty` and what
/// remains, on the lot grid.
#[allow(clippy::too_many_arguments)]
pub fn pov_ask(
    participation: Decimal,
    max_slice_qty: Option<Decimal>,
    step: Decimal,
    quantity: Decimal,
    filled: Decimal,
    volume_before: Decimal,
    window_volume: Decimal,
    slices_left: u32,
    policy: CatchUp,
) -> Decimal {
    let remaining = (quantity - filled).max(Decimal::ZERO);
    if remaining.is_zero() {
        return Decimal::ZERO;
    }
    let share = |v: Decimal| v.checked_mul(participation).unwrap_or(quantity);
    let own = share(window_volume);
    let deficit = (share(volume_before).min(quantity) - filled).max(Decimal::ZERO);
    let want = match policy {
        CatchUp::None => own,
        CatchUp::Next => own + deficit,
        CatchUp::Spread => own + deficit / Decimal::from(slices_left.max(1)),
    };
    let capped = max_slice_qty.map_or(want, |m| want.min(m));
    floor_to(capped.min(remaining).max(Decimal::ZERO), step)
}

/// The volume profile of a window from past candles: for each slice `i` (due at
/// `times[i]`, covering `[times[i], times[i] + interval)`), the average over `days` of the
/// volume the candles of that day printed in the same time of day, each candle's volume
/// spread evenly over its span. Returns each slice's share (Σ = 1, 12 places, the
/// remainder on the largest) and how many days had any volume; `None` when none had.
pub fn volume_profile(
    times: &[Timestamp],
    interval_ms: i64,
    days: &[Vec<model::Kline>],
) -> Option<(Vec<Decimal>, u32)> {
    const DAY_MS: i64 = 86_400_000;
    let mut weights = vec![Decimal::ZERO; times.len()];
    let mut used = 0u32;
    for (d, candles) in days.iter().enumerate() {
        let back = DAY_MS * (d as i64 + 1);
        let mut any = false;
        for (i, t) in times.iter().enumerate() {
            let lo = t.plus_millis(-back).as_nanos() / 1_000_000;
            let hi = lo + interval_ms;
            for c in candles {
                let (c0, c1) = (
                    c.open_time.as_nanos() / 1_000_000,
                    c.close_time.as_nanos() / 1_000_000,
                );
                let span = c1 - c0;
                let overlap = hi.min(c1) - lo.max(c0);
                if span <= 0 || overlap <= 0 {
                    continue;
                }
                let v = c.volume.get() * Decimal::from(overlap) / Decimal::from(span);
                if v > Decimal::ZERO {
                    any = true;
                    weights[i] += v;
                }
            }
        }
        used += u32::from(any);
    }
    let total: Decimal = weights.iter().copied().sum();
    if used == 0 || total <= Decimal::ZERO {
        return None;
    }
    let mut shares: Vec<Decimal> = weights.iter().map(|w| (*w / total).round_dp(12)).collect();
    let sum: Decimal = shares.iter().copied().sum();
    if let Some(max) = shares
        .iter_mut()
        .max_by(|a, b| a.cmp(b))
        .filter(|_| sum != Decimal::ONE)
    {
        *max += Decimal::ONE - sum;
    }
    Some((shares.into_iter().map(|s| s.normalize()).collect(), used))
}

/// The strategy's own parameters and the latency, against the pair and the schedule.
pub(crate) fn check(
    req: &OrderRequest,
    pair: &Pair,
    slices: u64,
    interval_ms: u64,
) -> Result<(), Rejection> {
    if req.latency_ms > MAX_LATENCY_MS {
        return Err(reject(
            "invalid_latency",
            format!(
                "latency_ms must be between 0 and {MAX_LATENCY_MS}, not {}",
                req.latency_ms
            ),
        ));
    }
    if u64::from(req.latency_ms) >= interval_ms {
        return Err(reject(
            "invalid_latency",
            format!(
                "latency_ms ({}) must be shorter than the interval ({interval_ms} ms): a slice fills before the next is decided",
                req.latency_ms
            ),
        ));
    }
    match &req.strategy {
        Strategy::Twap { jitter: Some(j) } => {
            for (name, pct) in [("time_pct", j.time_pct), ("size_pct", j.size_pct)] {
                if pct > MAX_JITTER_PCT {
                    return Err(reject(
                        "invalid_jitter",
                        format!("jitter.{name} must be between 0 and {MAX_JITTER_PCT}, not {pct}"),
                    ));
                }
            }
        }
        Strategy::Twap { jitter: None } => {}
        Strategy::Vwap {
            profile_days,
            profile,
        } => {
            if !(1..=MAX_PROFILE_DAYS).contains(profile_days) {
                return Err(reject(
                    "invalid_profile_days",
                    format!(
                        "profile_days must be between 1 and {MAX_PROFILE_DAYS}, not {profile_days}"
                    ),
                ));
            }
            let total: Decimal = profile.iter().copied().sum();
            if profile.len() as u64 != slices
                || profile.iter().any(|s| *s < Decimal::ZERO)
                || total <= Decimal::ZERO
            {
                return Err(reject(
                    "no_volume_profile",
                    format!(
                        "no volume profile for {} {}: the venue's klines over the last {profile_days} days show no volume at this time of day",
                        pair.exchange, pair.symbol
                    ),
                ));
            }
        }
        Strategy::Pov {
            participation,
            max_slice_qty,
        } => {
            if *participation <= Decimal::ZERO || *participation > MAX_PARTICIPATION {
                return Err(reject(
                    "invalid_participation",
                    format!(
                        "participation must be above 0 and at most {MAX_PARTICIPATION}, not {participation}"
                    ),
                ));
            }
            if let Some(m) = max_slice_qty {
                if *m < pair.min_qty.max(pair.qty_step) || *m > MAX_AMOUNT {
                    return Err(reject(
                        "invalid_max_slice_qty",
                        format!(
                            "max_slice_qty {m} is below the pair's minimum {}",
                            pair.min_qty.max(pair.qty_step).normalize()
                        ),
                    ));
                }
                if !is_multiple(*m, pair.qty_step) {
                    return Err(reject(
                        "invalid_max_slice_qty",
                        format!(
                            "max_slice_qty {m} is not a multiple of the lot step {}",
                            pair.qty_step.normalize()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Most days a VWAP profile may average.
pub const MAX_PROFILE_DAYS: u32 = 30;

/// Largest POV participation.
pub const MAX_PARTICIPATION: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_seeded_and_stays_in_the_window() {
        let j = Strategy::Twap {
            jitter: Some(Jitter {
                seed: 7,
                time_pct: 50,
                size_pct: 50,
            }),
        };
        let a = shape(&j, 10, 1_000, 10_000);
        assert_eq!(a, shape(&j, 10, 1_000, 10_000), "same seed, same schedule");
        let offs = a.offsets_ms.clone().unwrap();
        assert!(offs.iter().all(|o| o.abs() <= 250));
        assert!(offs[0] >= 0);
        let cum = a.cumulative.unwrap();
        assert_eq!(cum[9], Decimal::ONE);
        assert!(cum.windows(2).all(|w| w[0] <= w[1]));
        let other = Strategy::Twap {
            jitter: Some(Jitter {
                seed: 8,
                time_pct: 50,
                size_pct: 50,
            }),
        };
        assert_ne!(shape(&other, 10, 1_000, 10_000).offsets_ms, Some(offs));
    }

    #[test]
    fn pov_asks_its_share_and_catches_up() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let ask = |filled, before, window, policy| {
            pov_ask(
                d("0.1"),
                Some(d("5")),
                d("0.001"),
                d("10"),
                d(filled),
                d(before),
                d(window),
                4,
                policy,
            )
        };
        assert_eq!(ask("0", "0", "12.3456", CatchUp::None), d("1.234"));
        assert_eq!(ask("0", "20", "10", CatchUp::Next), d("3"));
        assert_eq!(ask("0", "20", "10", CatchUp::Spread), d("1.5"));
        assert_eq!(ask("0", "200", "10", CatchUp::Next), d("5"), "capped");
        assert_eq!(ask("9.9995", "0", "100", CatchUp::None), d("0"), "grid");
    }
}
