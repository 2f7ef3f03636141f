//! The pre-trade preview: the schedule an order would run — computed by the same code as
//! execution ([`Order::target`], [`crate::Plan::slice_time`]) — with each slice walked against the
//! current book, and a square-root-law model estimate.

use model::{Kline, Side, Symbol, Timestamp};
use rust_decimal::{Decimal, MathematicalOps};

use crate::core::{Books, order_mid};
use crate::fill::Liquidity;
use crate::order::{Order, OrderStatus, Totals};
use crate::route::walk;

/// One slice of a preview.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewSlice {
    /// 0-based index.
    pub index: u32,
    /// When it would be decided.
    pub scheduled_at: Timestamp,
    /// What it would ask for, every earlier slice having filled in full.
    pub target: Decimal,
    /// VWAP of walking the current book for it within the limit.
    pub expected_vwap: Option<Decimal>,
    /// That VWAP's cost against the mid, bps (positive = cost).
    pub expected_cost_bps: Option<Decimal>,
    /// Fee on that fill.
    pub expected_fee: Decimal,
    /// Share of the target the book holds within the limit.
    pub fillable_ratio: Decimal,
    /// Σ price·qty of that walk.
    pub notional: Decimal,
    /// Quantity that walk took.
    pub fillable: Decimal,
}

/// A preview: the mid it is measured against, the slices and their totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The book's mid now.
    pub mid: Option<Decimal>,
    /// The slices.
    pub slices: Vec<PreviewSlice>,
    /// Σ targets.
    pub quantity: Decimal,
    /// VWAP over every slice's walk.
    pub expected_vwap: Option<Decimal>,
    /// Its cost against the mid, bps.
    pub expected_cost_bps: Option<Decimal>,
    /// Σ fees.
    pub expected_fees: Decimal,
    /// Σ fillable ÷ Σ targets.
    pub fillable_ratio: Decimal,
    /// Book-walk cost in quote currency: price against the mid plus fees.
    pub cost: Option<Decimal>,
    /// The same in bps of the previewed quantity's value at the mid.
    pub cost_bps: Option<Decimal>,
}

fn bps(side: Side, price: Decimal, mid: Decimal) -> Option<Decimal> {
    if mid.is_zero() {
        return None;
    }
    let s = match side {
        Side::Buy => Decimal::ONE,
        Side::Sell => Decimal::NEGATIVE_ONE,
    };
    Some(
        (s * (price - mid) / mid * Decimal::from(10_000))
            .round_dp(4)
            .normalize(),
    )
}

fn ratio(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        Decimal::ONE
    } else {
        (a / b).round_dp(8).normalize()
    }
}

/// Preview `order` (built as it would be accepted, not stored): each slice's target as
/// execution computes it, assuming every earlier slice filled in full (POV: assuming each
/// window prints `pov_window_volume`), walked on its own against the current `books` — the
/// order's venue, or every venue of its route (the venues refill between slices; paper
/// consumption by other orders is not counted). Only live, uncrossed books are walked.
pub fn preview(order: &Order, books: &dyn Books, pov_window_volume: Decimal) -> Preview {
    let mut o = order.clone();
    o.status = OrderStatus::Working;
    o.totals = Totals::default();
    let mid = order_mid(books, &o);
    let now = o.created_at;
    let fee_rate = o.fee_bps / Decimal::from(10_000);
    let mut slices = Vec::with_capacity(o.plan.slices as usize);
    let (mut qty, mut notional, mut fees, mut fillable, mut vs_mid) = (
        Decimal::ZERO,
        Decimal::ZERO,
        Decimal::ZERO,
        Decimal::ZERO,
        Decimal::ZERO,
    );
    let symbol: Symbol = o.symbol.clone();
    for i in 0..o.plan.slices {
        let target = o.target(i, Some(pov_window_volume));
        let (fill, fee) = match &o.route {
            Some(route) => {
                let w = walk(
                    &mut Liquidity::default(),
                    books,
                    route,
                    &symbol,
                    o.side,
                    target,
                    o.limit_price,
                    now,
                );
                (w.fill, w.fee)
            }
            None => {
                let mut fill = crate::fill::Fill::default();
                books.with_book(o.exchange, &symbol, &mut |b| {
                    if let Some((book, health)) = b
                        && health.is_tradeable()
                        && !book.is_crossed()
                    {
                        fill = Liquidity::default().take(
                            o.exchange,
                            &symbol,
                            book,
                            o.side,
                            target,
                            o.limit_price,
                        );
                    }
                });
                let fee = (fill.notional * fee_rate).round_dp(12).normalize();
                (fill, fee)
            }
        };
        let vwap = fill.vwap().map(|p| p.round_dp(12).normalize());
        if let Some(m) = mid {
            let s = match o.side {
                Side::Buy => Decimal::ONE,
                Side::Sell => Decimal::NEGATIVE_ONE,
            };
            vs_mid += s * (fill.notional - m * fill.qty);
        }
        slices.push(PreviewSlice {
            index: i,
            scheduled_at: o.plan.slice_time(i),
            target,
            expected_vwap: vwap,
            expected_cost_bps: vwap.zip(mid).and_then(|(p, m)| bps(o.side, p, m)),
            expected_fee: fee,
            fillable_ratio: ratio(fill.qty, target),
            notional: fill.notional,
            fillable: fill.qty,
        });
        qty += target;
        notional += fill.notional;
        fees += fee;
        fillable += fill.qty;
        // As if it filled in full: the next slice's target follows the plan.
        o.totals.filled += target;
        o.totals.market_volume += pov_window_volume;
        o.next_index = i + 1;
    }
    let expected_vwap =
        (!fillable.is_zero()).then(|| (notional / fillable).round_dp(12).normalize());
    let cost = mid.map(|_| (vs_mid + fees).round_dp(8).normalize());
    let value = mid.map(|m| m * qty).filter(|v| !v.is_zero());
    Preview {
        mid,
        slices,
        quantity: qty,
        expected_vwap,
        expected_cost_bps: expected_vwap
            .zip(mid)
            .and_then(|(p, m)| bps(order.side, p, m)),
        expected_fees: fees.round_dp(12).normalize(),
        fillable_ratio: ratio(fillable, qty),
        cost,
        cost_bps: cost
            .zip(value)
            .map(|(c, v)| (c / v * Decimal::from(10_000)).round_dp(4).normalize()),
    }
}

/// The mid an order would be measured against now: its venue's live mid, or for a route the
/// mid of the best bid and ask across its live venues.
pub fn current_mid(order: &Order, books: &dyn Books) -> Option<Decimal> {
    order_mid(books, order)
}

/// The square-root law's inputs and answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqrtLaw {
    /// Standard deviation of daily log returns.
    pub sigma_daily: Decimal,
    /// Mean daily volume (base units).
    pub daily_volume: Decimal,
    /// σ · √(quantity / daily volume) · 10 000.
    pub cost_bps: Decimal,
}

/// The square-root market-impact law (Y = 1): cost ≈ σ_daily · √(Q / V_daily), with σ and
/// V from closed daily candles (oldest first; at least 3). `None` without enough data.
pub fn square_root_law(daily: &[Kline], quantity: Decimal) -> Option<SqrtLaw> {
    let closed: Vec<&Kline> = daily.iter().filter(|k| k.closed).collect();
    if closed.len() < 3 {
        return None;
    }
    let returns: Vec<Decimal> = closed
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0].close.get(), w[1].close.get());
            (a > Decimal::ZERO && b > Decimal::ZERO)
                .then(|| (b / a).checked_ln())
                .flatten()
        })
        .collect();
    if returns.len() < 2 {
        return None;
    }
    let n = Decimal::from(returns.len());
    let mean = returns.iter().copied().sum::<Decimal>() / n;
    let var = returns
        .iter()
        .map(|r| (*r - mean) * (*r - mean))
        .sum::<Decimal>()
        / (n - Decimal::ONE);
    let sigma = var.sqrt()?;
    let volume =
        closed.iter().map(|k| k.volume.get()).sum::<Decimal>() / Decimal::from(closed.len());
    if volume <= Decimal::ZERO {
        return None;
    }
    // Checked: an order far larger than the venue's volume must not overflow.
    let cost = quantity
        .checked_div(volume)?
        .sqrt()?
        .checked_mul(sigma)?
        .checked_mul(Decimal::from(10_000))?;
    Some(SqrtLaw {
        sigma_daily: sigma.round_dp(8).normalize(),
        daily_volume: volume.round_dp(8).normalize(),
        cost_bps: cost.round_dp(4).normalize(),
    })
}
