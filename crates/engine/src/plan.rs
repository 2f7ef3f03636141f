//! Requests, validation and the slice schedule.

use model::{ExchangeId, Pair, PairStatus, Side, Timestamp};
use rust_decimal::Decimal;

use crate::strategy::{Shape, Strategy, shape};

/// How a slice makes up for earlier slices that filled short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatchUp {
    /// Remaining quantity spread evenly over the remaining slices (default).
    Spread,
    /// The whole shortfall is added to the next slice.
    Next,
    /// Every slice asks for its fixed share; shortfall is abandoned.
    None,
}

crate::words::words!(CatchUp, "catch_up", { Spread => "spread", Next => "next", None => "none" });

/// The timing of a request: a duration (or an end time) cut by an interval (or a slice count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// `duration_secs` + `interval_secs`.
    DurationInterval {
        /// Total duration, seconds.
        duration_secs: u64,
        /// Seconds between slices.
        interval_secs: u64,
    },
    /// `duration_secs` + `slices`.
    DurationSlices {
        /// Total duration, seconds.
        duration_secs: u64,
        /// Number of slices.
        slices: u64,
    },
}

/// Most milliseconds of simulated latency an order may ask for.
pub const MAX_LATENCY_MS: u32 = 5_000;

/// An order request, already decoded (the HTTP layer maps its JSON spellings onto this).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    /// Client id, unique per user.
    pub token_id: crate::TokenId,
    /// Venue.
    pub exchange: ExchangeId,
    /// Buy or sell.
    pub side: Side,
    /// Base quantity.
    pub quantity: Decimal,
    /// Price cap (buy: at most; sell: at least).
    pub limit_price: Option<Decimal>,
    /// Duration and slicing.
    pub timing: Timing,
    /// First slice time; `None` = now.
    pub start_time: Option<Timestamp>,
    /// Catch-up policy.
    pub catch_up: CatchUp,
    /// The algorithm and its parameters (a VWAP's profile is computed by the caller, see
    /// [`crate::strategy::volume_profile`]).
    pub strategy: Strategy,
    /// Simulated latency: a slice decided at t fills against the book at t + latency.
    pub latency_ms: u32,
    /// `exchange: "best"`: the venues to walk (`exchange` is then the first of them).
    pub route: crate::route::Route,
}

/// Engine limits (DESIGN §4).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most slices per order.
    pub max_slices: u64,
    /// Longest order, seconds.
    pub max_duration_secs: u64,
    /// Shortest interval, seconds.
    pub min_interval_secs: u64,
    /// How far in the past a start time may be (clock skew), milliseconds.
    pub past_tolerance_ms: i64,
    /// How far ahead an order may be scheduled, seconds.
    pub max_schedule_ahead_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_slices: 10_000,
            max_duration_secs: 7 * 86_400,
            min_interval_secs: 1,
            past_tolerance_ms: 5_000,
            max_schedule_ahead_secs: 30 * 86_400,
        }
    }
}

/// Why a request was refused: a stable code and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Rejection {
    /// Stable snake_case code (`invalid_quantity`, …).
    pub code: &'static str,
    /// What was wrong and how to fix it.
    pub detail: String,
}

pub(crate) fn reject(code: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection {
        code,
        detail: detail.into(),
    }
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// First slice time.
    pub start: Timestamp,
    /// Milliseconds between slices.
    pub interval_ms: i64,
    /// Total duration in milliseconds (`end = start + duration`).
    pub duration_ms: i64,
    /// Number of slices.
    pub slices: u32,
    /// Total quantity.
    pub quantity: Decimal,
    /// Lot step every asked quantity stays on.
    pub step: Decimal,
    /// Milliseconds from `start` to the first slice (POV trades at the end of its first
    /// interval; the others at its start).
    pub lead_ms: i64,
    /// The strategy's fixed shape (jittered times, weighted sizes); default = even.
    pub shape: Shape,
}

/// The largest quantity or price an order may carry: 15 digits before the point, as the
/// API documents. Bounding inputs keeps every product the engine forms (quantity × slices,
/// quantity × price) inside `Decimal`'s 96-bit range, so no arithmetic can overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_7FFF, 0x0003_8D7E, 0, false, 0);

/// Most decimal places a quantity or price may have.
pub const MAX_SCALE: u32 = 18;

/// Round `x` (≥ 0) down to a multiple of `step` (`step` > 0): `x − (x mod step)`, which
/// never overflows (a quotient `x / step` can, for a tiny step).
pub fn floor_to(x: Decimal, step: Decimal) -> Decimal {
    if step.is_zero() {
        return x;
    }
    match x.checked_rem(step) {
        Some(r) => (x - r).normalize(),
        None => x,
    }
}

pub(crate) fn is_multiple(x: Decimal, step: Decimal) -> bool {
    step.is_zero() || (x % step).is_zero()
}

impl Plan {
    /// An even schedule (a plain TWAP): `slices` slices `interval_ms` apart from `start`.
    pub fn even(
        start: Timestamp,
        interval_ms: i64,
        duration_ms: i64,
        slices: u32,
        quantity: Decimal,
        step: Decimal,
    ) -> Plan {
        Plan {
            start,
            interval_ms,
            duration_ms,
            slices,
            quantity,
            step,
            lead_ms: 0,
            shape: Shape::default(),
        }
    }

    /// This schedule shaped by `strategy` (its lead, jittered times, weighted sizes): how a
    /// stored order's plan is rebuilt, exactly as it was accepted.
    pub fn shaped(mut self, strategy: &Strategy) -> Plan {
        self.lead_ms = strategy.lead_ms(self.interval_ms);
        self.shape = shape(strategy, self.slices, self.interval_ms, self.duration_ms);
        self
    }

    /// When slice `i` is due.
    pub fn slice_time(&self, i: u32) -> Timestamp {
        let offset = self
            .shape
            .offsets_ms
            .as_ref()
            .and_then(|o| o.get(i as usize).copied())
            .unwrap_or(0);
        self.start
            .plus_millis(self.lead_ms + self.interval_ms * i64::from(i) + offset)
    }

    /// Fraction of the order targeted after slice `i` (even when unshaped).
    fn cumulative_fraction(&self, i: u32) -> Option<Decimal> {
        self.shape
            .cumulative
            .as_ref()
            .and_then(|c| c.get(i as usize).copied())
    }

    /// The end of the order's window.
    pub fn end(&self) -> Timestamp {
        self.start.plus_millis(self.duration_ms)
    }

    /// Cumulative target after slice `i`: `quantity·(i+1)/n` rounded down to the step; the
    /// last slice targets everything.
    pub fn cumulative_target(&self, i: u32) -> Decimal {
        if i + 1 >= self.slices {
            return self.quantity;
        }
        if let Some(f) = self.cumulative_fraction(i) {
            return floor_to(self.quantity * f, self.step).min(self.quantity);
        }
        floor_to(
            self.quantity * Decimal::from(i + 1) / Decimal::from(self.slices),
            self.step,
        )
    }

    /// Slice `i`'s fixed share (dust lands on the last slice).
    pub fn share(&self, i: u32) -> Decimal {
        let before = if i == 0 {
            Decimal::ZERO
        } else {
            self.cumulative_target(i - 1)
        };
        self.cumulative_target(i) - before
    }

    /// What slice `i` asks for, given `filled` so far and the catch-up policy. Always on the
    /// step grid, never more than what remains, never negative.
    pub fn ask(&self, i: u32, filled: Decimal, policy: CatchUp) -> Decimal {
        let remaining = (self.quantity - filled).max(Decimal::ZERO);
        if i >= self.slices || remaining.is_zero() {
            return Decimal::ZERO;
        }
        let last = i + 1 == self.slices;
        let want = match policy {
            CatchUp::Spread if last => remaining,
            CatchUp::Spread => match self.cumulative_fraction(i) {
                // Shaped: this slice's share, plus the shortfall so far in this slice's
                // part of the weight still ahead.
                Some(f) => {
                    let (before, target_before) = if i == 0 {
                        (Decimal::ZERO, Decimal::ZERO)
                    } else {
                        (
                            self.cumulative_fraction(i - 1).unwrap_or(Decimal::ZERO),
                            self.cumulative_target(i - 1),
                        )
                    };
                    let deficit = (target_before - filled).max(Decimal::ZERO);
                    let ahead = Decimal::ONE - before;
                    let catch = if ahead <= Decimal::ZERO {
                        Decimal::ZERO
                    } else {
                        floor_to(deficit * (f - before) / ahead, self.step)
                    };
                    self.share(i) + catch
                }
                None => floor_to(remaining / Decimal::from(self.slices - i), self.step),
            },
            CatchUp::Next => self.cumulative_target(i) - filled,
            CatchUp::None => self.share(i),
        };
        want.max(Decimal::ZERO).min(remaining)
    }
}

/// Validate a request against its pair and the limits. `reference_price` (the book's mid,
/// if known) checks the minimum notional of a slice when no limit price is given.
pub fn validate(
    req: &OrderRequest,
    pair: &Pair,
    now: Timestamp,
    limits: &Limits,
    reference_price: Option<Decimal>,
) -> Result<Plan, Rejection> {
    if pair.status != PairStatus::Trading {
        return Err(reject(
            "pair_not_trading",
            format!(
                "{} {} is not open for trading (status: {})",
                pair.exchange,
                pair.symbol,
                pair.status.as_str()
            ),
        ));
    }
    let q = req.quantity;
    if q <= Decimal::ZERO {
        return Err(reject(
            "invalid_quantity",
            format!("quantity must be positive, not {q}"),
        ));
    }
    if q > MAX_AMOUNT || q.scale() > MAX_SCALE {
        return Err(reject(
            "invalid_quantity",
            "quantity may have at most 15 digits before the decimal point and 18 after",
        ));
    }
    let step = pair.qty_step;
    if !is_multiple(q, step) {
        return Err(reject(
            "invalid_quantity",
            format!(
                "quantity {q} is not a multiple of the lot step {step}; nearest valid below: {}",
                floor_to(q, step)
            ),
        ));
    }
    if q < pair.min_qty {
        return Err(reject(
            "invalid_quantity",
            format!(
                "quantity {q} is below the pair's minimum {}",
                pair.min_qty.normalize()
            ),
        ));
    }
    if let Some(l) = req.limit_price {
        if l <= Decimal::ZERO {
            return Err(reject(
                "invalid_limit_price",
                format!("limit_price must be positive, not {l}"),
            ));
        }
        if l > MAX_AMOUNT || l.scale() > MAX_SCALE {
            return Err(reject(
                "invalid_limit_price",
                "limit_price may have at most 15 digits before the decimal point and 18 after",
            ));
        }
        if !is_multiple(l, pair.price_tick) {
            return Err(reject(
                "invalid_limit_price",
                format!(
                    "limit_price {l} is not a multiple of the price tick {}",
                    pair.price_tick.normalize()
                ),
            ));
        }
    }
    let (duration_secs, interval_ms, slices) = match req.timing {
        Timing::DurationInterval {
            duration_secs,
            interval_secs,
        } => {
            if interval_secs < limits.min_interval_secs {
                return Err(reject(
                    "invalid_schedule",
                    format!("interval must be at least {} s", limits.min_interval_secs),
                ));
            }
            if duration_secs < interval_secs {
                return Err(reject(
                    "invalid_schedule",
                    format!(
                        "duration ({duration_secs} s) must be at least the interval ({interval_secs} s)"
                    ),
                ));
            }
            let n = req.strategy.slice_count(
                duration_secs.saturating_mul(1_000),
                interval_secs.saturating_mul(1_000),
            );
            (duration_secs, interval_secs.saturating_mul(1_000), n)
        }
        Timing::DurationSlices {
            duration_secs,
            slices,
        } => {
            if slices == 0 {
                return Err(reject("invalid_schedule", "slices must be at least 1"));
            }
            let interval_ms = duration_secs.saturating_mul(1_000) / slices;
            if interval_ms < limits.min_interval_secs * 1_000 {
                return Err(reject(
                    "invalid_schedule",
                    format!(
                        "{slices} slices over {duration_secs} s is less than {} s apart; use at most {} slices",
                        limits.min_interval_secs,
                        duration_secs / limits.min_interval_secs.max(1)
                    ),
                ));
            }
            (duration_secs, interval_ms, slices)
        }
    };
    if duration_secs > limits.max_duration_secs {
        return Err(reject(
            "invalid_schedule",
            format!(
                "duration must be at most {} s (7 days)",
                limits.max_duration_secs
            ),
        ));
    }
    if slices > limits.max_slices {
        return Err(reject(
            "invalid_schedule",
            format!(
                "{slices} slices is more than the maximum {}; use a longer interval",
                limits.max_slices
            ),
        ));
    }
    let start = req.start_time.unwrap_or(now);
    if start.millis_since(now) < -limits.past_tolerance_ms {
        return Err(reject("invalid_start_time", "start_time is in the past"));
    }
    let ahead_ms =
        i64::try_from(limits.max_schedule_ahead_secs).unwrap_or(i64::MAX / 2_000) * 1_000;
    if start.millis_since(now) > ahead_ms {
        return Err(reject(
            "invalid_start_time",
            format!(
                "start_time may be at most {} days ahead",
                limits.max_schedule_ahead_secs / 86_400
            ),
        ));
    }
    crate::strategy::check(req, pair, slices, interval_ms)?;
    let n = Decimal::from(slices);
    let slice_qty = floor_to(q / n, step);
    // A POV slice's size follows the market, not the schedule: only its cap is checked.
    let sized = !matches!(req.strategy, Strategy::Pov { .. });
    if sized && slice_qty < pair.min_qty.max(step) {
        // The most slices that keep each at the minimum, and the interval that gives.
        let max_n = (q / pair.min_qty.max(step)).floor();
        let smallest = if max_n.is_zero() {
            None
        } else {
            Some((Decimal::from(duration_secs) / max_n).ceil())
        };
        return Err(reject(
            "slice_too_small",
            match smallest {
                Some(s) => format!(
                    "each of the {slices} slices would be {slice_qty}, below the pair's minimum {}; use an interval of at least {s} s",
                    pair.min_qty.max(step).normalize()
                ),
                None => "the quantity is below the pair's minimum".to_owned(),
            },
        ));
    }
    if let (true, Some(min_notional), Some(price)) = (
        sized,
        pair.min_notional,
        req.limit_price.or(reference_price),
    ) && slice_qty
        .checked_mul(price)
        .is_some_and(|notional| notional < min_notional)
    {
        // Here q·price < min_notional·slices: small, no overflow.
        let max_n = (q * price / min_notional).floor();
        let hint = if max_n.is_zero() {
            "the whole order is below it".to_owned()
        } else {
            format!(
                "use an interval of at least {} s",
                (Decimal::from(duration_secs) / max_n).ceil()
            )
        };
        return Err(reject(
            "slice_too_small",
            format!(
                "each slice would be worth about {} {}, below the pair's minimum notional {}; {hint}",
                (slice_qty * price).round_dp(8).normalize(),
                pair.symbol.quote(),
                min_notional.normalize()
            ),
        ));
    }
    let duration_ms = i64::try_from(duration_secs).unwrap_or(i64::MAX / 1_000) * 1_000;
    Ok(Plan::even(
        start,
        i64::try_from(interval_ms).unwrap_or(i64::MAX),
        duration_ms,
        u32::try_from(slices).unwrap_or(u32::MAX),
        q,
        step,
    )
    .shaped(&req.strategy))
}
