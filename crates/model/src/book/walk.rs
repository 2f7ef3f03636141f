//! Walking a book: the liquidity an aggressive order would take, best level first, within
//! a limit price — exact integers from the first level to the VWAP.

use rust_decimal::Decimal;

use super::{Lvl, OrderBook, sat_i128};
use crate::fixed::{POW10, decimal_from_scaled};
use crate::num::{Level, Price, Qty};
use crate::side::Side;

impl OrderBook {
    /// Walk the side an aggressive `side` order takes, best level first, for up to `qty`,
    /// never taking a level beyond `limit` (buy: price ≤ limit; sell: price ≥ limit).
    ///
    /// The walk itself does no allocation and no decimal arithmetic; the taken levels and
    /// the VWAP are derived from it on demand.
    pub fn walk(&self, side: Side, qty: Qty, limit: Option<Price>) -> Walk<'_> {
        let levels: &[Lvl] = match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        };
        // Work at a quantity scale that holds both the book and the request exactly.
        let qs = self.qty_scale.max(qty.get().scale());
        let up = POW10[(qs - self.qty_scale) as usize];
        let want = to_fixed_u128(qty.get(), qs).unwrap_or(u128::MAX);
        let bound = limit.map_or(LimitBound::Everything, |p| {
            limit_bound(side, p.get(), self.px_scale)
        });
        // Accept a level iff `lo <= px <= hi`: one of the two bounds is always open.
        let (lo, hi) = match (side, bound) {
            (_, LimitBound::Everything) => (0, u64::MAX),
            (_, LimitBound::Nothing) => (u64::MAX, 0),
            (Side::Buy, LimitBound::At(max)) => (0, max),
            (Side::Sell, LimitBound::At(min)) => (min, u64::MAX),
        };
        let mut remaining = want;
        let mut notional: u128 = 0;
        let mut full = 0usize;
        let mut last_part = 0u128;
        let mut short = None;
        if want == 0 {
            // Nothing asked, nothing taken.
        } else if up == 1 && want <= u128::from(u64::MAX) {
            // Fast path: request and book at the same scale, all in 64-bit quantities with
            // a widening multiply for the notional; whole levels are taken without a `min`,
            // and only the bound that can cut (a buy's maximum, a sell's minimum) is tested.
            let cut = match side {
                Side::Buy => walk_fast(levels, want as u64, |px| px > hi),
                Side::Sell => walk_fast(levels, want as u64, |px| px < lo),
            };
            notional = cut.notional;
            full = cut.full;
            last_part = u128::from(cut.last_part);
            remaining = u128::from(cut.rem);
            short = cut.short;
        } else {
            for l in levels.iter().rev() {
                if remaining == 0 {
                    break;
                }
                if l.px < lo || l.px > hi {
                    short = Some(WalkShort::LimitPrice);
                    break;
                }
                let avail = u128::from(l.qty).saturating_mul(up);
                let take = avail.min(remaining);
                notional = notional.saturating_add(take.saturating_mul(u128::from(l.px)));
                remaining -= take;
                if take == avail {
                    full += 1;
                } else {
                    last_part = take;
                }
            }
        }
        if remaining > 0 && short.is_none() {
            short = Some(WalkShort::Depth);
        }
        Walk {
            book: self,
            levels,
            full,
            last_part,
            qty_scale: qs,
            filled: want - remaining,
            notional,
            short,
        }
    }
}

/// The fast walk's result.
struct FastWalk {
    notional: u128,
    full: usize,
    last_part: u64,
    rem: u64,
    short: Option<WalkShort>,
}

/// Walk `levels` (best last) for `want`, stopping at the first level `beyond` the limit.
///
/// Blocks of four levels that lie wholly within the limit (the block's worst price is
/// checked: levels are sorted) and leave quantity to take are consumed without a branch per
/// level; the last, partial block goes level by level. Exact integers throughout.
#[inline(always)]
fn walk_fast(levels: &[Lvl], want: u64, beyond: impl Fn(u64) -> bool) -> FastWalk {
    let mut out = FastWalk {
        notional: 0,
        full: 0,
        last_part: 0,
        rem: want,
        short: None,
    };
    let mut rest = levels;
    while let [.., a, b, c, d] = rest {
        // `d` is the best of the block, `a` the worst.
        if beyond(a.px) {
            break;
        }
        let q = u128::from(a.qty) + u128::from(b.qty) + u128::from(c.qty) + u128::from(d.qty);
        if q >= u128::from(out.rem) {
            break;
        }
        out.notional += u128::from(d.qty) * u128::from(d.px)
            + u128::from(c.qty) * u128::from(c.px)
            + u128::from(b.qty) * u128::from(b.px)
            + u128::from(a.qty) * u128::from(a.px);
        // `q < rem`, so it fits in 64 bits.
        out.rem -= q as u64;
        out.full += 4;
        rest = &rest[..rest.len() - 4];
    }
    for l in rest.iter().rev() {
        if beyond(l.px) {
            out.short = Some(WalkShort::LimitPrice);
            return out;
        }
        if l.qty >= out.rem {
            out.notional += u128::from(out.rem) * u128::from(l.px);
            if l.qty == out.rem {
                out.full += 1;
            } else {
                out.last_part = out.rem;
            }
            out.rem = 0;
            return out;
        }
        out.notional += u128::from(l.qty) * u128::from(l.px);
        out.rem -= l.qty;
        out.full += 1;
    }
    out
}

/// Decimal places a VWAP carries beyond the book's price scale.
pub const VWAP_EXTRA_DECIMALS: u32 = 10;

/// `n / d · 10^k`, rounded half to even: one multiply, one division, integers only. `None`
/// when `d` is 0 or `n · 10^k` does not fit in 128 bits.
pub(super) fn div_round(n: u128, d: u128, k: u32) -> Option<u128> {
    if d == 0 {
        return None;
    }
    let x = n.checked_mul(*POW10.get(k as usize)?)?;
    let q = x / d;
    let r = x - q * d;
    // Half to even; `r < d`, so `2r` overflows only when `d` is above 2^127.
    let twice = r.checked_mul(2)?;
    if twice > d || (twice == d && q % 2 == 1) {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

/// `m / 10^scale` as a `Decimal` without trailing zeros (the mantissa must fit in 96 bits).
pub(super) fn decimal_trimmed(mut m: u128, mut scale: u32) -> Option<Decimal> {
    // Trim in 64 bits where the value allows (the common case): division by the constant
    // 10 is a multiply there.
    if let Ok(mut small) = u64::try_from(m) {
        if small == 0 {
            return Some(Decimal::ZERO);
        }
        // Strip zeros 8, 4, 2, 1 at a time: at most 4 steps for the common 9–12.
        for (p, n) in [(100_000_000u64, 8u32), (10_000, 4), (100, 2), (10, 1)] {
            while scale >= n && small.is_multiple_of(p) {
                small /= p;
                scale -= n;
            }
        }
        m = u128::from(small);
    } else {
        while scale > 0 && m != 0 && m.is_multiple_of(10) {
            m /= 10;
            scale -= 1;
        }
    }
    Decimal::try_from_i128_with_scale(i128::try_from(m).ok()?, scale).ok()
}

/// `10^0 ..= 10^19`, the powers that fit in 64 bits.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `m · 10^k` in 64 bits when it fits (the common case: one multiply, no 128-bit work).
#[inline(always)]
fn scale_up_u64(m: u128, k: u32) -> Option<u64> {
    let m = u64::try_from(m).ok()?;
    m.checked_mul(*POW10_U64.get(k as usize)?)
}

fn to_fixed_u128(d: Decimal, scale: u32) -> Option<u128> {
    if d.is_sign_negative() {
        return Some(0);
    }
    let m = d.mantissa().unsigned_abs();
    let s = d.scale();
    if s <= scale {
        if let Some(v) = scale_up_u64(m, scale - s) {
            return Some(u128::from(v));
        }
        m.checked_mul(POW10[(scale - s) as usize])
    } else {
        Some(m / POW10[(s - scale) as usize])
    }
}

#[derive(Clone, Copy, Debug)]
enum LimitBound {
    /// The limit excludes every level.
    Nothing,
    /// The limit excludes no level.
    Everything,
    /// Buy: max price; sell: min price, at the book's price scale.
    At(u64),
}

/// Translate a limit price to the book's integer grid without changing which levels pass:
/// a buy accepts `px ≤ floor(limit)`, a sell `px ≥ ceil(limit)`.
fn limit_bound(side: Side, limit: Decimal, px_scale: u32) -> LimitBound {
    // Sign and zero tests on the representation: cheaper than a `Decimal` comparison.
    if limit.is_sign_negative() || limit.is_zero() {
        return match side {
            Side::Buy => LimitBound::Nothing,
            Side::Sell => LimitBound::Everything,
        };
    }
    let m = limit.mantissa().unsigned_abs();
    let s = limit.scale();
    let scaled = if s <= px_scale {
        if let Some(v) = scale_up_u64(m, px_scale - s) {
            return LimitBound::At(v);
        }
        m.checked_mul(POW10[(px_scale - s) as usize])
    } else {
        let p = POW10[(s - px_scale) as usize];
        let q = m / p;
        Some(match side {
            Side::Buy => q,
            Side::Sell => q + u128::from(!m.is_multiple_of(p)),
        })
    };
    match scaled.map(u64::try_from) {
        Some(Ok(v)) => LimitBound::At(v),
        // Larger than any price the book can hold.
        _ => match side {
            Side::Buy => LimitBound::Everything,
            Side::Sell => LimitBound::Nothing,
        },
    }
}

/// Why a walk filled less than asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkShort {
    /// The next level was beyond the limit price.
    LimitPrice,
    /// The side ran out of levels.
    Depth,
}

/// The result of [`OrderBook::walk`]: a best-first prefix of one side, the last level possibly
/// taken in part.
#[derive(Clone, Copy, Debug)]
pub struct Walk<'a> {
    book: &'a OrderBook,
    /// The side walked, in storage order (best last).
    levels: &'a [Lvl],
    /// Levels taken in full.
    full: usize,
    /// Quantity taken from the level after the full ones (0 if none), at `qty_scale`.
    last_part: u128,
    qty_scale: u32,
    filled: u128,
    /// Σ price·qty at `px_scale + qty_scale`.
    notional: u128,
    short: Option<WalkShort>,
}

impl Walk<'_> {
    /// Total quantity taken.
    pub fn filled(&self) -> Qty {
        Qty::from_trusted(decimal_from_scaled(sat_i128(self.filled), self.qty_scale))
    }

    /// True when nothing was taken.
    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Σ price × qty over the levels taken, exact (quote currency).
    pub fn notional(&self) -> Decimal {
        decimal_from_scaled(sat_i128(self.notional), self.book.px_scale + self.qty_scale)
    }

    /// Volume-weighted average price of the levels taken: `notional / filled` rounded half
    /// to even at the book's price scale plus [`VWAP_EXTRA_DECIMALS`] places (28 at most),
    /// without trailing zeros; `None` when nothing was taken. Computed in integers from the
    /// walk's exact sums (one multiply, one division); only sums too large for 128 bits fall
    /// back to `Decimal` division (28 significant digits).
    pub fn vwap(&self) -> Option<Price> {
        if self.filled == 0 {
            return None;
        }
        let ps = self.book.px_scale;
        let k = VWAP_EXTRA_DECIMALS.min(28u32.saturating_sub(ps));
        let exact =
            div_round(self.notional, self.filled, k).and_then(|m| decimal_trimmed(m, ps + k));
        let v = match exact {
            Some(v) => v,
            None => self
                .notional()
                .checked_div(self.filled().get())?
                .round_dp_with_strategy(ps + k, rust_decimal::RoundingStrategy::MidpointNearestEven)
                .normalize(),
        };
        Some(Price::from_trusted(v))
    }

    /// Why the walk filled less than asked, if it did.
    pub fn short(&self) -> Option<WalkShort> {
        self.short
    }

    /// Number of levels touched (including a partly taken last one).
    pub fn level_count(&self) -> usize {
        self.full + usize::from(self.last_part > 0)
    }

    /// The levels taken, best first, each with the quantity taken from it.
    pub fn levels(&self) -> impl Iterator<Item = Level> + '_ {
        let n = self.level_count();
        let up = POW10[(self.qty_scale - self.book.qty_scale) as usize];
        self.levels
            .iter()
            .rev()
            .take(n)
            .enumerate()
            .map(move |(i, l)| {
                let qty = if i < self.full {
                    u128::from(l.qty).saturating_mul(up)
                } else {
                    self.last_part
                };
                Level {
                    price: Price::from_trusted(decimal_from_scaled(
                        i128::from(l.px),
                        self.book.px_scale,
                    )),
                    qty: Qty::from_trusted(decimal_from_scaled(sat_i128(qty), self.qty_scale)),
                }
            })
    }

    /// The best price taken.
    pub fn best_price(&self) -> Option<Price> {
        self.levels().next().map(|l| l.price)
    }

    /// The worst price taken.
    pub fn worst_price(&self) -> Option<Price> {
        self.levels().last().map(|l| l.price)
    }
}
