//! Execution analytics of an order, from its running totals (definitions and worked
//! examples in `docs/ANALYTICS.md`).

use std::collections::BTreeMap;

use model::Side;
use rust_decimal::Decimal;

use crate::order::{Order, SkipReason};

/// Execution quality figures (definitions in `docs/ANALYTICS.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    /// filled / quantity.
    pub fill_ratio: Decimal,
    /// notional / filled.
    pub avg_price: Option<Decimal>,
    /// Mid when the order started working.
    pub arrival_mid: Option<Decimal>,
    /// side·(avg_price − arrival_mid)/arrival_mid·10 000.
    pub slippage_vs_arrival_bps: Option<Decimal>,
    /// Mean of the mids sampled at slice times.
    pub market_twap: Option<Decimal>,
    /// side·(avg_price − market_twap)/market_twap·10 000.
    pub slippage_vs_market_twap_bps: Option<Decimal>,
    /// Σ side·(price − mid at the slice)·qty, quote currency.
    pub spread_cost: Decimal,
    /// Skipped slices by reason.
    pub skipped_by_reason: BTreeMap<SkipReason, u32>,
    /// VWAP of the market's public trades over the slices' windows.
    pub market_vwap: Option<Decimal>,
    /// side·(avg_price − market_vwap)/market_vwap·10 000.
    pub slippage_vs_market_vwap_bps: Option<Decimal>,
    /// filled / market volume over the slices' windows.
    pub participation_rate: Option<Decimal>,
    /// The implementation shortfall against the decision price, quote currency.
    pub shortfall: Option<Shortfall>,
    /// The same, in basis points of the order's value at the decision price.
    pub shortfall_bps: Option<Shortfall>,
    /// Quantity-weighted markouts at 1/5/30/60 s, bps (`None` until one is sampled).
    pub markouts_bps: crate::markout::Markouts,
}

/// The implementation-shortfall decomposition (Perold 1988) against the decision price (the
/// mid at acceptance); positive = cost. `total` is exactly the sum of `delay_cost`,
/// `timing_cost`, `spread_cost`, `impact_cost`, `opportunity_cost` and `fees`;
/// `execution_cost` = `spread_cost` + `impact_cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shortfall {
    /// Every part's sum.
    pub total: Decimal,
    /// The mid's move from the decision to the first slice, on the filled quantity.
    pub delay_cost: Decimal,
    /// `spread_cost` + `impact_cost`.
    pub execution_cost: Decimal,
    /// Half the spread paid: the touch against the mid at each slice.
    pub spread_cost: Decimal,
    /// Depth walked beyond the touch.
    pub impact_cost: Decimal,
    /// The mid's drift from the first slice to each later one, on what each filled.
    pub timing_cost: Decimal,
    /// The unfilled quantity marked at the latest mid against the decision price.
    pub opportunity_cost: Decimal,
    /// Fees paid.
    pub fees: Decimal,
}

impl Shortfall {
    fn from_parts(
        delay: Decimal,
        spread: Decimal,
        impact: Decimal,
        timing: Decimal,
        opportunity: Decimal,
        fees: Decimal,
    ) -> Shortfall {
        Shortfall {
            total: delay + spread + impact + timing + opportunity + fees,
            delay_cost: delay,
            execution_cost: spread + impact,
            spread_cost: spread,
            impact_cost: impact,
            timing_cost: timing,
            opportunity_cost: opportunity,
            fees,
        }
    }

    /// The parts that add up to `total`, in display order.
    pub fn parts(&self) -> [(&'static str, Decimal); 6] {
        [
            ("delay_cost", self.delay_cost),
            ("spread_cost", self.spread_cost),
            ("impact_cost", self.impact_cost),
            ("timing_cost", self.timing_cost),
            ("opportunity_cost", self.opportunity_cost),
            ("fees", self.fees),
        ]
    }
}

fn bps(side: Side, price: Decimal, reference: Decimal) -> Option<Decimal> {
    if reference.is_zero() {
        return None;
    }
    let sign = match side {
        Side::Buy => Decimal::ONE,
        Side::Sell => Decimal::NEGATIVE_ONE,
    };
    Some(
        (sign * (price - reference) / reference * Decimal::from(10_000))
            .round_dp(4)
            .normalize(),
    )
}

impl Order {
    /// The figures of `docs/ANALYTICS.md`, from the running totals.
    pub fn analytics(&self) -> Analytics {
        let t = &self.totals;
        let avg_price =
            (!t.filled.is_zero()).then(|| (t.notional / t.filled).round_dp(12).normalize());
        let market_twap = (t.mid_samples > 0).then(|| {
            (t.mid_sum / Decimal::from(t.mid_samples))
                .round_dp(12)
                .normalize()
        });
        let market_vwap = (t.market_volume > Decimal::ZERO).then(|| {
            (t.market_notional / t.market_volume)
                .round_dp(12)
                .normalize()
        });
        let (shortfall, shortfall_bps) = match self.shortfall() {
            Some((q, b)) => (Some(q), b),
            None => (None, None),
        };
        Analytics {
            fill_ratio: if self.quantity().is_zero() {
                Decimal::ZERO
            } else {
                (t.filled / self.quantity()).round_dp(8).normalize()
            },
            avg_price,
            arrival_mid: t.arrival_mid,
            slippage_vs_arrival_bps: avg_price
                .zip(t.arrival_mid)
                .and_then(|(p, m)| bps(self.side, p, m)),
            market_twap,
            slippage_vs_market_twap_bps: avg_price
                .zip(market_twap)
                .and_then(|(p, m)| bps(self.side, p, m)),
            spread_cost: t.spread_cost.round_dp(12).normalize(),
            skipped_by_reason: t.skipped.clone(),
            market_vwap,
            slippage_vs_market_vwap_bps: avg_price
                .zip(market_vwap)
                .and_then(|(p, m)| bps(self.side, p, m)),
            participation_rate: (t.market_volume > Decimal::ZERO)
                .then(|| (t.filled / t.market_volume).round_dp(8).normalize()),
            shortfall,
            shortfall_bps,
            markouts_bps: std::array::from_fn(|h| {
                (t.markout_qty[h] > Decimal::ZERO).then(|| {
                    (t.markout_sum[h] / t.markout_qty[h])
                        .round_dp(4)
                        .normalize()
                })
            }),
        }
    }

    /// The shortfall decomposition in quote currency and in bps (each part rounded, the
    /// totals summed from the rounded parts so they add up exactly).
    fn shortfall(&self) -> Option<(Shortfall, Option<Shortfall>)> {
        let t = &self.totals;
        let pd = t.decision_mid?;
        let s = match self.side {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        };
        let qf = t.filled;
        let p0 = t.start_mid.unwrap_or(pd);
        let pf = t.last_mid.unwrap_or(pd);
        let unfilled = (self.quantity() - qf).max(Decimal::ZERO);
        let r = |x: Decimal| x.round_dp(8).normalize();
        let quote = [
            r(s * (p0 - pd) * qf),
            r(s * (t.touch_notional - t.mid_notional)),
            r(s * (t.notional - t.touch_notional)),
            r(s * (t.mid_notional - p0 * qf)),
            r(s * (pf - pd) * unfilled),
            r(t.fees),
        ];
        let q = Shortfall::from_parts(quote[0], quote[1], quote[2], quote[3], quote[4], quote[5]);
        let value = pd * self.quantity();
        let in_bps = (!value.is_zero()).then(|| {
            let b = |x: Decimal| (x / value * Decimal::from(10_000)).round_dp(4).normalize();
            Shortfall::from_parts(
                b(quote[0]),
                b(quote[1]),
                b(quote[2]),
                b(quote[3]),
                b(quote[4]),
                b(quote[5]),
            )
        });
        Some((q, in_bps))
    }
}
