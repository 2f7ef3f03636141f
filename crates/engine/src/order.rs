//! Orders, slices and analytics.

use std::collections::BTreeMap;

use model::{ExchangeId, Side, Symbol, Timestamp};
use rust_decimal::Decimal;

use crate::plan::{CatchUp, Plan};
use crate::route::{Route, Venue, fee_on};
pub use crate::slice::{SkipReason, SliceRecord};
use crate::strategy::{Strategy, pov_ask};
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
    /// The algorithm.
    pub(crate) strategy: Strategy,
    /// The venues a routed order (`exchange: "best"`) walks; `None` for one venue.
    pub(crate) route: Route,
    /// Simulated latency, ms.
    pub(crate) latency_ms: u32,
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
    /// The algorithm.
    pub strategy: Strategy,
    /// The venues a routed order (`exchange: "best"`) walks; `None` for one venue.
    pub route: Route,
    /// Simulated latency, ms.
    pub latency_ms: u32,
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
            strategy,
            route,
            latency_ms,
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
            strategy,
            route,
            latency_ms,
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
            strategy,
            route,
            latency_ms,
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
            strategy,
            route,
            latency_ms,
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

    /// The algorithm.
    pub fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// The venues a routed order walks (`None`: one venue, [`Order::exchange`]).
    pub fn route(&self) -> Option<&[Venue]> {
        self.route.as_deref()
    }

    /// The exchanges the order trades on (its venue, or its route's), without allocating.
    pub fn exchanges(&self) -> impl Iterator<Item = ExchangeId> + '_ {
        let route = self.route.as_deref().unwrap_or(&[]);
        route
            .iter()
            .map(|v| v.exchange)
            .chain(self.route.is_none().then_some(self.exchange))
    }

    /// Every (exchange, symbol) book the order trades on.
    pub fn books(&self) -> Vec<(ExchangeId, Symbol)> {
        match &self.route {
            Some(v) => v
                .iter()
                .map(|v| (v.exchange, self.symbol.clone()))
                .collect(),
            None => vec![(self.exchange, self.symbol.clone())],
        }
    }

    /// Simulated latency, ms.
    pub fn latency_ms(&self) -> u32 {
        self.latency_ms
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
    /// Mid at acceptance (the decision price), or at the first slice that saw a live book
    /// when there was none at acceptance.
    pub decision_mid: Option<Decimal>,
    /// Mid at the first slice that saw a live book.
    pub start_mid: Option<Decimal>,
    /// Mid at the latest slice that saw a live book.
    pub last_mid: Option<Decimal>,
    /// Σ mid at the slice · filled.
    pub mid_notional: Decimal,
    /// Σ touch at the slice (best ask for a buy, best bid for a sell) · filled.
    pub touch_notional: Decimal,
    /// Σ market volume over the slices' windows.
    pub market_volume: Decimal,
    /// Σ market price·qty over the slices' windows.
    pub market_notional: Decimal,
    /// Per markout horizon: Σ filled of the slices sampled.
    pub markout_qty: [Decimal; 4],
    /// Per markout horizon: Σ filled·markout (bps) of the slices sampled.
    pub markout_sum: [Decimal; 4],
    /// Markouts taken so far (sampled or found without a live mid).
    pub markouts_taken: u32,
    /// A routed order's fills by venue.
    pub by_venue: BTreeMap<ExchangeId, VenueTotals>,
}

/// What a routed order took from one venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VenueTotals {
    /// Σ filled there.
    pub filled: Decimal,
    /// Σ price·qty there.
    pub notional: Decimal,
    /// Σ fees there.
    pub fees: Decimal,
}

impl Order {
    /// A new order from a submission and its validated plan, not yet admitted or stored
    /// (id 0, `pending`); `decision_mid` is the mid at acceptance, when known.
    pub(crate) fn draft(
        s: &crate::Submission,
        plan: Plan,
        fee_bps: Decimal,
        now: Timestamp,
        decision_mid: Option<Decimal>,
    ) -> Order {
        let r = &s.request;
        Order {
            id: 0,
            user_id: s.user_id,
            token_id: r.token_id.clone(),
            exchange: r.exchange,
            symbol: s.pair.symbol.clone(),
            side: r.side,
            limit_price: r.limit_price,
            catch_up: r.catch_up,
            strategy: r.strategy.clone(),
            route: r.route.clone(),
            latency_ms: r.latency_ms,
            plan,
            fee_bps,
            created_at: now,
            status: OrderStatus::Pending,
            closed_at: None,
            next_index: 0,
            totals: Totals {
                decision_mid,
                ..Totals::default()
            },
        }
    }

    /// Total quantity.
    pub fn quantity(&self) -> Decimal {
        self.plan.quantity
    }

    /// Slices skipped, all reasons.
    pub fn slices_skipped(&self) -> u32 {
        self.totals.skipped.values().sum()
    }

    /// When slice `i` executes: its scheduled time plus the order's latency.
    pub fn due(&self, i: u32) -> Timestamp {
        self.plan
            .slice_time(i)
            .plus_millis(i64::from(self.latency_ms))
    }

    /// The market window slice `i` accounts for: since the previous slice's time (the
    /// order's start for the first), up to its own.
    pub fn window(&self, i: u32) -> (Timestamp, Timestamp) {
        let from = if i == 0 {
            self.plan.start
        } else {
            self.plan.slice_time(i - 1)
        };
        (from, self.plan.slice_time(i))
    }

    /// What slice `i` asks for given the market volume printed in its window: the
    /// strategy's target with the catch-up policy, on the lot grid, never above what
    /// remains.
    pub fn target(&self, i: u32, window_volume: Option<Decimal>) -> Decimal {
        match &self.strategy {
            Strategy::Pov {
                participation,
                max_slice_qty,
            } => {
                if i >= self.plan.slices {
                    return Decimal::ZERO;
                }
                pov_ask(
                    *participation,
                    *max_slice_qty,
                    self.plan.step,
                    self.plan.quantity,
                    self.totals.filled,
                    self.totals.market_volume,
                    window_volume.unwrap_or(Decimal::ZERO),
                    self.plan.slices - i,
                    self.catch_up,
                )
            }
            _ => self.plan.ask(i, self.totals.filled, self.catch_up),
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
        if let Some(route) = &self.route {
            for v in route.iter() {
                let (mut q, mut n) = (Decimal::ZERO, Decimal::ZERO);
                for ((p, fq), e) in s.fills.iter().zip(&s.fill_venues) {
                    if *e == v.exchange {
                        q += *fq;
                        n += *p * *fq;
                    }
                }
                if !q.is_zero() {
                    let e = t.by_venue.entry(v.exchange).or_default();
                    e.filled += q;
                    e.notional += n;
                    e.fees += fee_on(n, v.fee_bps);
                }
            }
        }
        t.market_volume += s.market_volume.unwrap_or(Decimal::ZERO);
        t.market_notional += s.market_notional.unwrap_or(Decimal::ZERO);
        if let Some(m) = s.mid {
            t.mid_sum += m;
            t.mid_samples += 1;
            t.start_mid.get_or_insert(m);
            t.decision_mid.get_or_insert(m);
            t.last_mid = Some(m);
            let sign = match self.side {
                Side::Buy => Decimal::ONE,
                Side::Sell => Decimal::NEGATIVE_ONE,
            };
            for (p, q) in &s.fills {
                t.spread_cost += sign * (*p - m) * *q;
            }
            t.mid_notional += m * s.filled;
            let touch = match self.side {
                Side::Buy => s.best_ask,
                Side::Sell => s.best_bid,
            };
            t.touch_notional += touch.unwrap_or(m) * s.filled;
        }
        self.next_index = self.next_index.max(s.index + 1);
    }
}
