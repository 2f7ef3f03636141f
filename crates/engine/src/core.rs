//! The deterministic core: every open order in one timer heap, slices executed against the
//! books handed in, reports returned to the caller (which persists, then publishes them).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use model::{BookHealth, BookState, ExchangeId, OrderBook, Symbol, Timestamp};
use rust_decimal::Decimal;

use crate::fill::Liquidity;
use crate::markout::{Marks, markout_bps};
use crate::order::{Order, OrderId, OrderStatus, SkipReason, SliceRecord};

/// A book and its health, as handed to the engine.
pub type BookRef<'a> = Option<(&'a OrderBook, &'a BookHealth)>;

/// Read access to the current books.
pub trait Books {
    /// Call `f` with the current book of (exchange, symbol) and its health, or `None` when
    /// there is no book.
    fn with_book(&self, exchange: ExchangeId, symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>));

    /// The public trades of (exchange, symbol) received in `(after, upto]` (local receipt
    /// time): (Σ qty, Σ price·qty). `None` when the trade tape is not available.
    fn market_volume(
        &self,
        exchange: ExchangeId,
        symbol: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(Decimal, Decimal)> {
        let _ = (exchange, symbol, after, upto);
        None
    }
}

/// What changed in an order: the order after the change, and the slice that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The order as it now is (shared by the read view and every subscriber).
    pub order: Arc<Order>,
    /// The slice just recorded, if any.
    pub slice: Option<SliceRecord>,
    /// The status before the change.
    pub previous: OrderStatus,
    /// A markout taken: the slice's index and its markouts so far.
    pub markouts: Option<(u32, crate::markout::Markouts)>,
}

/// Why a cancel was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// No such open order in the engine.
    #[error("order not found")]
    NotFound,
    /// The order already ended this way.
    #[error("the order is already {}", .0.as_str())]
    AlreadyFinal(OrderStatus),
}

/// Slices whose time passed less than this long ago at a restart still run.
pub const RESTART_GRACE_MS: i64 = 1_000;

/// The engine core.
#[derive(Debug, Default)]
pub struct Engine {
    orders: HashMap<OrderId, Order>,
    /// (due ns, order, slice index), earliest first. Entries that no longer match the
    /// order's next slice are discarded when popped.
    timers: BinaryHeap<Reverse<(i64, OrderId, u32)>>,
    liquidity: Liquidity,
    /// Markouts still to take.
    marks: Marks,
    /// Orders that have ended but still have markouts to take.
    settling: HashMap<OrderId, Order>,
    /// Open orders per book they trade: a book's paper consumption is dropped when its
    /// last order ends.
    in_use: HashMap<(ExchangeId, Symbol), usize>,
}

fn mid_of(book: &OrderBook) -> (Option<Decimal>, Option<Decimal>, Option<Decimal>) {
    let bid = book.best_bid().map(|l| l.price.get());
    let ask = book.best_ask().map(|l| l.price.get());
    let mid = book.mid().map(|m| m.get());
    (bid, ask, mid)
}

impl Engine {
    /// An empty engine.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Open orders held.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// True when no order is open.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// An open order.
    pub fn get(&self, id: OrderId) -> Option<&Order> {
        self.orders.get(&id)
    }

    /// Set a new order's initial state before it is stored: `pending` when it starts in the
    /// future, else `working` with the arrival mid taken from the current book.
    pub fn admit(&self, order: &mut Order, now: Timestamp, books: &dyn Books) {
        order.created_at = now;
        order.next_index = 0;
        order.closed_at = None;
        if order.plan.start > now {
            order.status = OrderStatus::Pending;
        } else {
            order.status = OrderStatus::Working;
        }
        let mid = order_mid(books, order);
        order.totals.decision_mid = mid;
        if order.status == OrderStatus::Working {
            order.totals.arrival_mid = mid;
        }
    }

    /// Take a stored open order into the timer heap.
    pub fn schedule(&mut self, order: Order) {
        if !order.status.is_open() || order.next_index >= order.plan.slices {
            return;
        }
        let due = order.due(order.next_index).as_nanos();
        self.timers.push(Reverse((due, order.id, order.next_index)));
        let books = order.books();
        if self.orders.insert(order.id, order).is_none() {
            for k in books {
                *self.in_use.entry(k).or_insert(0) += 1;
            }
        }
    }

    /// Resume an order loaded at start: slices whose time passed while the server was down
    /// are recorded `skipped: server_down`; an order whose window is over ends. Returns the
    /// updates to persist (the order is scheduled if still open).
    pub fn restore(&mut self, mut order: Order, now: Timestamp) -> Vec<Update> {
        let mut out = Vec::new();
        while order.status.is_open()
            && order.next_index < order.plan.slices
            && now.millis_since(order.due(order.next_index)) > RESTART_GRACE_MS
        {
            let previous = order.status;
            let i = order.next_index;
            let target = order.target(i, None);
            let rec = SliceRecord::skipped(
                i,
                order.plan.slice_time(i),
                now,
                target,
                SkipReason::ServerDown,
            );
            order.record(&rec);
            if order.status == OrderStatus::Pending {
                order.status = OrderStatus::Working;
            }
            finish_if_done(&mut order, now);
            out.push(Update {
                order: Arc::new(order.clone()),
                slice: Some(rec),
                previous,
                markouts: None,
            });
        }
        self.schedule(order);
        out
    }

    /// When the earliest slice or markout is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        let slice = self.timers.peek().map(|Reverse((t, _, _))| *t);
        match (slice, self.marks.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(Timestamp::from_nanos)
    }

    /// Take every markout due at `now` from the live books.
    fn run_marks(&mut self, now: Timestamp, books: &dyn Books, out: &mut Vec<Update>) {
        while let Some(id) = self.marks.pop_due(now.as_nanos()) {
            let Some(order) = self
                .orders
                .get_mut(&id)
                .or_else(|| self.settling.get_mut(&id))
            else {
                self.marks.forget(id);
                continue;
            };
            // One mid for every markout of the order due now.
            let mid = order_mid(books, order);
            let side = order.side;
            let (taken, done) = self.marks.take(id, now.as_nanos(), |price| {
                mid.and_then(|m| markout_bps(side, price, m))
            });
            for t in taken {
                // The order's totals take a slice's markouts when the slice's row does.
                for h in t.publish {
                    order.totals.markouts_taken += 1;
                    if let Some(v) = t.values[h] {
                        order.totals.markout_qty[h] += t.qty;
                        order.totals.markout_sum[h] += t.qty * v;
                    }
                }
                out.push(Update {
                    order: Arc::new(order.clone()),
                    slice: None,
                    previous: order.status,
                    markouts: Some((t.index, t.values)),
                });
            }
            if done {
                self.settling.remove(&id);
            }
        }
    }

    /// Run every slice due at `now`, in due order, against `books`.
    pub fn run_due(&mut self, now: Timestamp, books: &dyn Books) -> Vec<Update> {
        let mut out = Vec::new();
        while let Some(Reverse((t, id, idx))) = self.timers.peek().copied() {
            if t > now.as_nanos() {
                break;
            }
            self.timers.pop();
            let current = self
                .orders
                .get(&id)
                .is_some_and(|o| o.status.is_open() && o.next_index == idx);
            if current && let Some(u) = self.run_slice(id, now, books) {
                out.push(u);
            }
        }
        self.run_marks(now, books, &mut out);
        out
    }

    fn run_slice(&mut self, id: OrderId, now: Timestamp, books: &dyn Books) -> Option<Update> {
        let order = self.orders.get_mut(&id)?;
        let previous = order.status;
        let i = order.next_index;
        let scheduled = order.plan.slice_time(i);
        let (from, upto) = order.window(i);
        let market = order_volume(books, order, from, upto);
        let target = order.target(i, market.map(|m| m.0));
        let (exchange, symbol, side, limit) = (
            order.exchange,
            order.symbol.clone(),
            order.side,
            order.limit_price,
        );
        let fee_bps = order.fee_bps;
        let liquidity = &mut self.liquidity;
        let mut rec = SliceRecord::skipped(i, scheduled, now, target, SkipReason::NoBook);
        rec.market_volume = market.map(|m| m.0);
        rec.market_notional = market.map(|m| m.1);
        if let Some(route) = order.route.clone() {
            let w = crate::route::walk(liquidity, books, &route, &symbol, side, target, limit, now);
            rec.best_bid = w.best_bid;
            rec.best_ask = w.best_ask;
            rec.book_age_ms = w.age_ms;
            rec.book_time = w.book_time;
            rec.skipped = w.skipped;
            if w.skipped.is_none() {
                rec.mid = w
                    .best_bid
                    .zip(w.best_ask)
                    .map(|(b, a)| ((b + a) / Decimal::TWO).normalize());
                rec.avg_price = w.fill.vwap().map(|p| p.round_dp(12).normalize());
                rec.fee = w.fee;
                rec.filled = w.fill.qty;
                rec.notional = w.fill.notional;
                rec.short = if w.fill.qty < target {
                    w.fill.short
                } else {
                    None
                };
                rec.fills = w.fill.levels;
                rec.fill_shown = w.fill.shown;
                rec.fill_venues = w.venues;
            }
        } else {
            single_venue(
                liquidity, books, exchange, &symbol, side, target, limit, fee_bps, now, &mut rec,
            );
        }
        if rec.skipped.is_none() && order.totals.arrival_mid.is_none() {
            order.totals.arrival_mid = rec.mid;
        }
        order.record(&rec);
        if order.status == OrderStatus::Pending {
            order.status = OrderStatus::Working;
        }
        finish_if_done(order, now);
        let snapshot = order.clone();
        // The record is kept (read view) while the order is open: no spare capacity (a
        // walk's vector holds 4 levels when 1 or 2 were taken).
        rec.fills.shrink_to_fit();
        rec.fill_venues.shrink_to_fit();
        rec.fill_shown.shrink_to_fit();
        self.marks.add(id, &rec);
        if order.status.is_open() {
            let due = order.due(order.next_index).as_nanos();
            self.timers.push(Reverse((due, id, order.next_index)));
        } else {
            self.close(id);
        }
        Some(Update {
            order: Arc::new(snapshot),
            slice: Some(rec),
            previous,
            markouts: None,
        })
    }

    /// Cancel an open order. A slice already due but not yet run is recorded
    /// `skipped: cancelled`; later slices never run.
    pub fn cancel(&mut self, id: OrderId, now: Timestamp) -> Result<Update, CancelError> {
        let order = self.orders.get_mut(&id).ok_or(CancelError::NotFound)?;
        if !order.status.is_open() {
            return Err(CancelError::AlreadyFinal(order.status));
        }
        let previous = order.status;
        let i = order.next_index;
        let slice = (i < order.plan.slices && order.plan.slice_time(i) <= now).then(|| {
            let target = order.target(i, None);
            SliceRecord::skipped(
                i,
                order.plan.slice_time(i),
                now,
                target,
                SkipReason::Cancelled,
            )
        });
        if let Some(s) = &slice {
            order.record(s);
        }
        order.status = OrderStatus::Cancelled;
        order.closed_at = Some(now);
        let snapshot = order.clone();
        self.close(id);
        Ok(Update {
            order: Arc::new(snapshot),
            slice,
            previous,
            markouts: None,
        })
    }

    /// The open orders trading `symbol` (on any venue).
    pub fn ids_on(&self, symbol: &Symbol) -> Vec<OrderId> {
        let mut v: Vec<OrderId> = self
            .orders
            .values()
            .filter(|o| o.symbol() == symbol)
            .map(Order::id)
            .collect();
        v.sort_unstable();
        v
    }

    /// Drop an open order without recording anything (its owner was removed, and the
    /// store with it).
    pub fn forget(&mut self, id: OrderId) -> Option<Order> {
        let o = self.orders.get(&id).cloned();
        self.close(id);
        self.marks.forget(id);
        self.settling.remove(&id);
        o
    }

    fn close(&mut self, id: OrderId) {
        if let Some(o) = self.orders.remove(&id) {
            if self.marks.pending(id) {
                self.settling.insert(id, o.clone());
            }
            for k in o.books() {
                if let Some(n) = self.in_use.get_mut(&k) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.in_use.remove(&k);
                        self.liquidity.forget(k.0, &k.1);
                    }
                }
            }
        }
    }

    /// Replay into the shared ledger what the recording says of it (a re-run,
    /// [`crate::lab`]): liquidity another order took, or a release of a book's ledger.
    pub fn replay_ledger(&mut self, e: &crate::lab::LedgerEvent) {
        match e {
            crate::lab::LedgerEvent::Consumed(c) => {
                self.liquidity
                    .inject(c.exchange, &c.symbol, c.side, c.price, c.shown, c.qty);
            }
            crate::lab::LedgerEvent::Released { exchange, symbol } => {
                self.liquidity.forget(*exchange, symbol);
            }
        }
    }

    /// The (exchange, symbol) pairs open orders trade.
    pub fn books_in_use(&self) -> Vec<(ExchangeId, Symbol)> {
        let mut v: Vec<(ExchangeId, Symbol)> = self.in_use.keys().cloned().collect();
        v.sort();
        v
    }
}

pub(crate) fn live_mid(
    books: &dyn Books,
    exchange: ExchangeId,
    symbol: &Symbol,
) -> Option<Decimal> {
    let mut mid = None;
    books.with_book(exchange, symbol, &mut |b| {
        if let Some((book, health)) = b
            && health.is_tradeable()
        {
            mid = book.mid().map(|m| m.get());
        }
    });
    mid
}

/// Filled when everything filled; expired when the last slice has run short.
fn finish_if_done(order: &mut Order, now: Timestamp) {
    if order.totals.filled >= order.plan.quantity {
        order.status = OrderStatus::Filled;
        order.closed_at = Some(now);
    } else if order.next_index >= order.plan.slices {
        order.status = OrderStatus::Expired;
        order.closed_at = Some(now);
    }
}

/// One venue's slice: the book gated (live, uncrossed), then walked.
#[allow(clippy::too_many_arguments)]
fn single_venue(
    liquidity: &mut Liquidity,
    books: &dyn Books,
    exchange: ExchangeId,
    symbol: &Symbol,
    side: model::Side,
    target: Decimal,
    limit: Option<Decimal>,
    fee_bps: Decimal,
    now: Timestamp,
    rec: &mut SliceRecord,
) {
    books.with_book(exchange, symbol, &mut |b| {
        let Some((book, health)) = b else {
            return;
        };
        let (bid, ask, mid) = mid_of(book);
        rec.book_seq = health.seq;
        rec.book_age_ms = health.age_ms(now);
        rec.book_time = health.last_update;
        rec.best_bid = bid;
        rec.best_ask = ask;
        if health.crossed || book.is_crossed() {
            rec.skipped = Some(SkipReason::CrossedBook);
            return;
        }
        match health.state {
            BookState::Live => {}
            BookState::Syncing if health.last_update.is_none() => return,
            _ => {
                rec.skipped = Some(SkipReason::StaleBook);
                return;
            }
        }
        rec.skipped = None;
        rec.mid = mid;
        let fill = liquidity.take(exchange, symbol, book, side, target, limit);
        rec.avg_price = fill.vwap().map(|p| p.round_dp(12).normalize());
        rec.fee = (fill.notional * fee_bps / Decimal::from(10_000))
            .round_dp(12)
            .normalize();
        rec.filled = fill.qty;
        rec.notional = fill.notional;
        rec.short = if fill.qty < target { fill.short } else { None };
        rec.fills = fill.levels;
        rec.fill_shown = fill.shown;
    });
}

/// The market volume of an order's window: its venue's, or the sum over a route's venues
/// (`None` when no venue's tape is available).
fn order_volume(
    books: &dyn Books,
    order: &Order,
    from: Timestamp,
    upto: Timestamp,
) -> Option<(Decimal, Decimal)> {
    // Per slice: no allocation (a route's venues are iterated in place).
    order
        .exchanges()
        .filter_map(|e| books.market_volume(e, &order.symbol, from, upto))
        .reduce(|a, b| (a.0 + b.0, a.1 + b.1))
}

/// An order's live mid: its venue's, or for a route the mid of the best bid and ask across
/// its live venues.
pub(crate) fn order_mid(books: &dyn Books, order: &Order) -> Option<Decimal> {
    if order.route.is_none() {
        return live_mid(books, order.exchange, &order.symbol);
    }
    let (mut bid, mut ask): (Option<Decimal>, Option<Decimal>) = (None, None);
    for e in order.exchanges() {
        books.with_book(e, &order.symbol, &mut |b| {
            if let Some((book, health)) = b
                && health.is_tradeable()
                && !book.is_crossed()
            {
                bid = bid.max(book.best_bid().map(|l| l.price.get()));
                if let Some(a) = book.best_ask().map(|l| l.price.get()) {
                    ask = Some(ask.map_or(a, |x| x.min(a)));
                }
            }
        });
    }
    bid.zip(ask)
        .map(|(b, a)| ((b + a) / Decimal::TWO).normalize())
}
