//! Orders, slices and analytics.

use std::collections::BTreeMap;

use model::{ExchangeId, Side, Symbol, Timestamp};
use rust_decimal::Decimal;

use crate::fill::ShortReason;
use crate::plan::{CatchUp, Plan};
use crate::token::TokenId;

/// Store-assigned order id.
pub type OrderId = i64;

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Accepted; starts in the future.
    Pending,
    /// Executing slices.
    Working,
    /// The whole quantity filled.
    Filled,
    /// The window ended short (`filled_quantity` tells how much).
    Expired,
    /// Cancelled by the user.
    Cancelled,
}

crate::words::words!(OrderStatus, "status", {
    Pending => "pending", Working => "working", Filled => "filled", Expired => "expired", Cancelled => "cancelled",
});

impl OrderStatus {
    /// `pending` or `working`.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Working)
    }
}

/// Why a slice was not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The book was not `live` (stale, resyncing, down).
    StaleBook,
    /// No book for the symbol (never synced).
    NoBook,
    /// The book was crossed.
    CrossedBook,
    /// The server was down at the slice's time.
    ServerDown,
    /// The order was cancelled before the slice's time.
    Cancelled,
}

crate::words::words!(SkipReason, "skip reason", {
    StaleBook => "stale_book", NoBook => "no_book", CrossedBook => "crossed_book",
    ServerDown => "server_down", Cancelled => "cancelled",
});

/// One executed or skipped slice.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRecord {
    /// 0-based index in the schedule.
    pub index: u32,
    /// When it was due.
    pub scheduled_at: Timestamp,
    /// When it ran (or was recorded as skipped).
    pub executed_at: Timestamp,
    /// What it asked for.
    pub target: Decimal,
    /// What it got.
    pub filled: Decimal,
    /// Σ price·qty of its fills.
    pub notional: Decimal,
    /// VWAP of its fills.
    pub avg_price: Option<Decimal>,
    /// Fee charged.
    pub fee: Decimal,
    /// `(price, qty)` taken, best first.
    pub fills: Vec<(Decimal, Decimal)>,
    /// Best bid at that moment.
    pub best_bid: Option<Decimal>,
    /// Best ask at that moment.
    pub best_ask: Option<Decimal>,
    /// Mid at that moment.
    pub mid: Option<Decimal>,
    /// The venue sequence number of the book used.
    pub book_seq: Option<u64>,
    /// Age of the book used, ms.
    pub book_age_ms: Option<i64>,
    /// Why it was not attempted.
    pub skipped: Option<SkipReason>,
    /// Why it filled less than its target.
    pub short: Option<ShortReason>,
}

impl SliceRecord {
    /// A slice not attempted.
    pub fn skipped(
        index: u32,
        scheduled_at: Timestamp,
        at: Timestamp,
        target: Decimal,
        why: SkipReason,
    ) -> Self {
        SliceRecord {
            index,
            scheduled_at,
            executed_at: at,
            target,
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            avg_price: None,
            fee: Decimal::ZERO,
            fills: Vec::new(),
            best_bid: None,
            best_ask: None,
            mid: None,
            book_seq: None,
            book_age_ms: None,
            skipped: Some(why),
            short: None,
        }
    }
}

/// An order and its running totals: everything needed to resume it and to report it.
/// Only the engine changes an order; everyone else reads it through accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Store id.
    pub(crate) id: OrderId,
    /// Owner.
    pub(crate) user_id: i64,
    /// Client id.
    pub(crate) token_id: TokenId,
    /// Venue.
    pub(crate) exchange: ExchangeId,
    /// Canonical symbol.
    pub(crate) symbol: Symbol,
    /// Buy or sell.
    pub(crate) side: Side,
    /// Price cap.
    pub(crate) limit_price: Option<Decimal>,
    /// Catch-up policy.
    pub(crate) catch_up: CatchUp,
    /// The schedule (quantity included).
    pub(crate) plan: Plan,
    /// Fee in basis points.
    pub(crate) fee_bps: Decimal,
    /// Acceptance time.
    pub(crate) created_at: Timestamp,
    /// Lifecycle state.
    pub(crate) status: OrderStatus,
    /// When it reached a final state.
    pub(crate) closed_at: Option<Timestamp>,
    /// Next slice to run.
    pub(crate) next_index: u32,
    /// Totals.
    pub(crate) totals: Totals,
}

/// Every field of an [`Order`], for a store rebuilding one it wrote
/// ([`Order::from_parts`], [`Order::into_parts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderParts {
    /// Store id.
    pub id: OrderId,
    /// Owner.
    pub user_id: i64,
    /// Client id.
    pub token_id: TokenId,
    /// Venue.
    pub exchange: ExchangeId,
    /// Canonical symbol.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Price cap.
    pub limit_price: Option<Decimal>,
    /// Catch-up policy.
    pub catch_up: CatchUp,
    /// The schedule (quantity included).
    pub plan: Plan,
    /// Fee in basis points.
    pub fee_bps: Decimal,
    /// Acceptance time.
    pub created_at: Timestamp,
    /// Lifecycle state.
    pub status: OrderStatus,
    /// When it reached a final state.
    pub closed_at: Option<Timestamp>,
    /// Next slice to run.
    pub next_index: u32,
    /// Totals.
    pub totals: Totals,
}

impl Order {
    /// Rebuild an order from its stored parts.
    pub fn from_parts(p: OrderParts) -> Order {
        let OrderParts {
            id,
            user_id,
            token_id,
            exchange,
            symbol,
            side,
            limit_price,
            catch_up,
            plan,
            fee_bps,
            created_at,
            status,
            closed_at,
            next_index,
            totals,
        } = p;
        Order {
            id,
            user_id,
            token_id,
            exchange,
            symbol,
            side,
            limit_price,
            catch_up,
            plan,
            fee_bps,
            created_at,
            status,
            closed_at,
            next_index,
            totals,
        }
    }
}

impl Order {
    /// Every field, for a store writing the order.
    pub fn into_parts(self) -> OrderParts {
        let Order {
            id,
            user_id,
            token_id,
            exchange,
            symbol,
            side,
            limit_price,
            catch_up,
            plan,
            fee_bps,
            created_at,
            status,
            closed_at,
            next_index,
            totals,
        } = self;
        OrderParts {
            id,
            user_id,
            token_id,
            exchange,
            symbol,
            side,
            limit_price,
            catch_up,
            plan,
            fee_bps,
            created_at,
            status,
            closed_at,
            next_index,
            totals,
        }
    }

    /// Store id.
    pub fn id(&self) -> OrderId {
        self.id
    }

    /// Owner.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// Client id.
    pub fn token_id(&self) -> &TokenId {
        &self.token_id
    }

    /// Venue.
    pub fn exchange(&self) -> ExchangeId {
        self.exchange
    }

    /// Canonical symbol.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Price cap.
    pub fn limit_price(&self) -> Option<Decimal> {
        self.limit_price
    }

    /// Catch-up policy.
    pub fn catch_up(&self) -> CatchUp {
        self.catch_up
    }

    /// The schedule (quantity included).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Fee in basis points.
    pub fn fee_bps(&self) -> Decimal {
        self.fee_bps
    }

    /// Acceptance time.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Lifecycle state.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// When it reached a final state.
    pub fn closed_at(&self) -> Option<Timestamp> {
        self.closed_at
    }

    /// Next slice to run.
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// Totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
}

/// Running totals of an order (persisted with every slice).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Σ filled.
    pub filled: Decimal,
    /// Σ price·qty.
    pub notional: Decimal,
    /// Σ fees.
    pub fees: Decimal,
    /// Mid when the order started working.
    pub arrival_mid: Option<Decimal>,
    /// Σ of mids sampled at slice times (live books only).
    pub mid_sum: Decimal,
    /// Number of mids sampled.
    pub mid_samples: u32,
    /// Σ side·(price − mid)·qty over fills.
    pub spread_cost: Decimal,
    /// Slices attempted (filled or short).
    pub slices_done: u32,
    /// Slices skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u32>,
}

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
    /// Total quantity.
    pub fn quantity(&self) -> Decimal {
        self.plan.quantity
    }

    /// Slices skipped, all reasons.
    pub fn slices_skipped(&self) -> u32 {
        self.totals.skipped.values().sum()
    }

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
        }
    }

    /// Fold a slice into the totals.
    pub(crate) fn record(&mut self, s: &SliceRecord) {
        let t = &mut self.totals;
        match s.skipped {
            Some(r) => *t.skipped.entry(r).or_insert(0) += 1,
            None => t.slices_done += 1,
        }
        t.filled += s.filled;
        t.notional += s.notional;
        t.fees += s.fee;
        if let Some(m) = s.mid {
            t.mid_sum += m;
            t.mid_samples += 1;
            let sign = match self.side {
                Side::Buy => Decimal::ONE,
                Side::Sell => Decimal::NEGATIVE_ONE,
            };
            for (p, q) in &s.fills {
                t.spread_cost += sign * (*p - m) * *q;
            }
        }
        self.next_index = self.next_index.max(s.index + 1);
    }
}
