//! Markouts: the mid 1 s, 5 s, 30 s and 60 s after each fill against the fill's price,
//! signed so that positive = the fill looks good afterwards (a buy the market then rose
//! above). Sampled by the engine's own timer from the live book, after the order may have
//! ended (an order stays "settling" until its last markout is in).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use model::Side;
use rust_decimal::Decimal;

use crate::order::{OrderId, SliceRecord};

/// The horizons, milliseconds after the slice executed.
pub const HORIZONS_MS: [i64; 4] = [1_000, 5_000, 30_000, 60_000];

/// The horizons' names on the wire.
pub const HORIZON_NAMES: [&str; 4] = ["1s", "5s", "30s", "60s"];

/// One markout per horizon, bps; `None` until sampled, or when no live mid was there.
pub type Markouts = [Option<Decimal>; 4];

/// side·(mid − price)/price·10 000, 4 places.
pub fn markout_bps(side: Side, price: Decimal, mid: Decimal) -> Option<Decimal> {
    if price.is_zero() {
        return None;
    }
    let s = match side {
        Side::Buy => Decimal::ONE,
        Side::Sell => Decimal::NEGATIVE_ONE,
    };
    Some(
        (s * (mid - price) / price * Decimal::from(10_000))
            .round_dp(4)
            .normalize(),
    )
}

#[derive(Debug)]
struct Pending {
    price: Decimal,
    qty: Decimal,
    values: Markouts,
    /// Horizons sampled but not yet published.
    unpublished: usize,
    left: usize,
}

/// Horizons after which a slice's markouts are published (with the ones sampled before):
/// at 5 s (1 s and 5 s) and at 60 s (30 s and 60 s) — two store writes per filled slice,
/// not four.
const PUBLISH_AFTER: [bool; 4] = [false, true, false, true];

/// A markout sampled: what to publish, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The slice's markouts so far.
    pub(crate) values: Markouts,
    /// Horizons to publish now (their values are in `values`); empty: wait for the next.
    pub(crate) publish: Vec<usize>,
    /// The order has no markouts left to take.
    pub(crate) order_done: bool,
}

/// A markout that is due: which slice, which horizon, and that slice's fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) order: OrderId,
    pub(crate) index: u32,
    pub(crate) horizon: usize,
    pub(crate) price: Decimal,
    pub(crate) qty: Decimal,
}

/// Every markout still to take, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    heap: BinaryHeap<Reverse<(i64, OrderId, u32, usize)>>,
    slices: HashMap<(OrderId, u32), Pending>,
    per_order: HashMap<OrderId, usize>,
}

impl Marks {
    /// Schedule the markouts of a slice that filled.
    pub(crate) fn add(&mut self, order: OrderId, rec: &SliceRecord) {
        let Some(price) = rec.avg_price.filter(|_| rec.filled > Decimal::ZERO) else {
            return;
        };
        for (h, ms) in HORIZONS_MS.iter().enumerate() {
            let due = rec.executed_at.plus_millis(*ms).as_nanos();
            self.heap.push(Reverse((due, order, rec.index, h)));
        }
        self.slices.insert(
            (order, rec.index),
            Pending {
                price,
                qty: rec.filled,
                values: [None; 4],
                unpublished: 0,
                left: HORIZONS_MS.len(),
            },
        );
        *self.per_order.entry(order).or_insert(0) += HORIZONS_MS.len();
    }

    /// When the earliest markout is due (ns).
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, ..))| *t)
    }

    /// The earliest markout due at `now_ns`, if any.
    pub(crate) fn pop_due(&mut self, now_ns: i64) -> Option<Due> {
        while let Some(Reverse((t, order, index, horizon))) = self.heap.peek().copied() {
            if t > now_ns {
                return None;
            }
            self.heap.pop();
            if let Some(p) = self.slices.get(&(order, index)) {
                return Some(Due {
                    order,
                    index,
                    horizon,
                    price: p.price,
                    qty: p.qty,
                });
            }
        }
        None
    }

    /// Record a sampled markout (or `None`: no live mid): the slice's markouts so far, the
    /// horizons to publish now, and whether the order has none left to take.
    pub(crate) fn settle(&mut self, due: &Due, value: Option<Decimal>) -> Settled {
        let mut out = Settled {
            values: [None; 4],
            publish: Vec::new(),
            order_done: false,
        };
        if let Some(p) = self.slices.get_mut(&(due.order, due.index)) {
            p.values[due.horizon] = value;
            p.left = p.left.saturating_sub(1);
            p.unpublished += 1;
            out.values = p.values;
            if PUBLISH_AFTER[due.horizon] || p.left == 0 {
                out.publish = (due.horizon + 1 - p.unpublished..=due.horizon).collect();
                p.unpublished = 0;
            }
            if p.left == 0 {
                self.slices.remove(&(due.order, due.index));
            }
        }
        out.order_done = match self.per_order.get_mut(&due.order) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => true,
        };
        if out.order_done {
            self.per_order.remove(&due.order);
        }
        out
    }

    /// True while the order has markouts to take.
    pub(crate) fn pending(&self, order: OrderId) -> bool {
        self.per_order.get(&order).is_some_and(|n| *n > 0)
    }

    /// Drop an order's markouts (its owner was removed).
    pub(crate) fn forget(&mut self, order: OrderId) {
        self.per_order.remove(&order);
        self.slices.retain(|(o, _), _| *o != order);
    }
}
