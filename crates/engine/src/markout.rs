//! Markouts: the mid 1 s, 5 s, 30 s and 60 s after each fill against the fill's price,
//! signed so that positive = the fill looks good afterwards (a buy the market then rose
//! above). Sampled by the engine's own timer from the live book, after the order may have
//! ended (an order stays "settling" until its last markout is in).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use model::Side;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

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

/// Sampled markout values kept compactly until published: bps × 10⁴ (markouts are rounded
/// to 4 places, so this is exact); [`NO_MID`] when no live mid was there.
type Compact = [i64; 4];

/// A horizon sampled with no live mid.
const NO_MID: i64 = i64::MIN;

fn compact(v: Option<Decimal>) -> i64 {
    v.and_then(|d| (d * Decimal::from(10_000)).trunc().to_i64())
        .filter(|x| *x != NO_MID)
        .unwrap_or(NO_MID)
}

fn expand(values: &Compact, upto: usize) -> Markouts {
    let mut out = [None; 4];
    for (h, v) in values.iter().enumerate().take(upto + 1) {
        if *v != NO_MID {
            out[h] = Some(Decimal::new(*v, 4).normalize());
        }
    }
    out
}

/// A filled slice whose markouts are not all taken (80 bytes: 600 000 of these are pending
/// at 10 000 filled slices a second).
#[derive(Debug)]
struct Pending {
    index: u32,
    /// When the slice executed, ns.
    at: i64,
    price: Decimal,
    qty: Decimal,
    values: Compact,
}

/// One order's pending slices, oldest first (an order's slices execute in order), and per
/// horizon how many of them (from the front) have it taken.
#[derive(Debug, Default)]
struct OrderMarks {
    pending: VecDeque<Pending>,
    taken: [usize; 4],
    /// The due time of this order's live entry in the heap.
    due: Option<i64>,
}

impl OrderMarks {
    /// When this order's next markout is due.
    fn next_due(&self) -> Option<i64> {
        (0..HORIZONS_MS.len())
            .filter_map(|h| {
                let p = self.pending.get(self.taken[h])?;
                Some(p.at.saturating_add(HORIZONS_MS[h] * 1_000_000))
            })
            .min()
    }
}

/// Horizons after which a slice's markouts are published (with the ones sampled before):
/// at 5 s (1 s and 5 s) and at 60 s (30 s and 60 s) — two store writes per filled slice,
/// not four.
const PUBLISH_AFTER: [bool; 4] = [false, true, false, true];

/// A slice's markouts to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The slice.
    pub(crate) index: u32,
    /// Its filled quantity (the weight of its markouts in the order's).
    pub(crate) qty: Decimal,
    /// The slice's markouts so far.
    pub(crate) values: Markouts,
    /// The horizons published now (their values are in `values`).
    pub(crate) publish: [usize; 2],
}

/// Every markout still to take: per order a queue of its filled slices, and a heap with one
/// live entry per order at its next due time (stale entries are skipped). Memory is about
/// 80 bytes per pending slice and the heap holds one entry per order, not one per markout.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    heap: BinaryHeap<Reverse<(i64, OrderId)>>,
    orders: HashMap<OrderId, OrderMarks>,
}

impl Marks {
    /// Schedule the markouts of a slice that filled.
    pub(crate) fn add(&mut self, order: OrderId, rec: &SliceRecord) {
        let Some(price) = rec.avg_price.filter(|_| rec.filled > Decimal::ZERO) else {
            return;
        };
        let m = self.orders.entry(order).or_default();
        // Kept in execution order (a slice never executes before the one before it).
        let at = m.pending.back().map_or(rec.executed_at.as_nanos(), |b| {
            b.at.max(rec.executed_at.as_nanos())
        });
        m.pending.push_back(Pending {
            index: rec.index,
            at,
            price,
            qty: rec.filled,
            values: [NO_MID; 4],
        });
        Self::reschedule(&mut self.heap, order, m);
    }

    fn reschedule(heap: &mut BinaryHeap<Reverse<(i64, OrderId)>>, id: OrderId, m: &mut OrderMarks) {
        let next = m.next_due();
        if next != m.due {
            m.due = next;
            if let Some(t) = next {
                heap.push(Reverse((t, id)));
            }
        }
    }

    /// When the earliest markout is due (ns); may be early by a stale entry, which
    /// [`Marks::pop_due`] then drops.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// An order with markouts due at `now_ns`, if any.
    pub(crate) fn pop_due(&mut self, now_ns: i64) -> Option<OrderId> {
        while let Some(Reverse((t, order))) = self.heap.peek().copied() {
            if t > now_ns {
                return None;
            }
            self.heap.pop();
            if let Some(m) = self.orders.get_mut(&order)
                && m.due == Some(t)
            {
                m.due = None;
                return Some(order);
            }
        }
        None
    }

    /// Take every markout of `order` due at `now_ns` with the order's mid now (`mark`
    /// turns a fill price into the markout; `None`: no live mid). Returns what to publish,
    /// and whether the order has no markouts left to take.
    pub(crate) fn take(
        &mut self,
        order: OrderId,
        now_ns: i64,
        mark: impl Fn(Decimal) -> Option<Decimal>,
    ) -> (Vec<Taken>, bool) {
        let mut out = Vec::new();
        let Some(m) = self.orders.get_mut(&order) else {
            return (out, true);
        };
        for (h, horizon_ms) in HORIZONS_MS.iter().enumerate() {
            while let Some(p) = m.pending.get_mut(m.taken[h])
                && p.at.saturating_add(horizon_ms * 1_000_000) <= now_ns
            {
                p.values[h] = compact(mark(p.price));
                if PUBLISH_AFTER[h] {
                    out.push(Taken {
                        index: p.index,
                        qty: p.qty,
                        values: expand(&p.values, h),
                        publish: [h - 1, h],
                    });
                }
                m.taken[h] += 1;
            }
        }
        // Lower horizons are never behind higher ones: the front slices taken at the last
        // horizon are done.
        while m.taken[HORIZONS_MS.len() - 1] > 0 {
            m.pending.pop_front();
            for t in &mut m.taken {
                *t = t.saturating_sub(1);
            }
        }
        if m.pending.is_empty() {
            self.orders.remove(&order);
            return (out, true);
        }
        Self::reschedule(&mut self.heap, order, m);
        (out, false)
    }

    /// True while the order has markouts to take.
    pub(crate) fn pending(&self, order: OrderId) -> bool {
        self.orders.contains_key(&order)
    }

    /// Drop an order's markouts (its owner was removed).
    pub(crate) fn forget(&mut self, order: OrderId) {
        self.orders.remove(&order);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::slice::SkipReason;
    use model::Timestamp;

    const S: i64 = 1_000_000_000;

    fn filled(index: u32, at_s: i64, price: i64) -> SliceRecord {
        let at = Timestamp::from_nanos(at_s * S);
        let mut r = SliceRecord::skipped(index, at, at, Decimal::ONE, SkipReason::NoBook);
        r.skipped = None;
        r.filled = Decimal::from(2);
        r.avg_price = Some(Decimal::from(price));
        r
    }

    /// Drive the marks second by second with a mid of 101 (a fill at 100 marks +100 bps).
    fn run(marks: &mut Marks, from_s: i64, to_s: i64) -> Vec<(i64, Taken, bool)> {
        let mut out = Vec::new();
        for t in from_s..=to_s {
            while let Some(id) = marks.pop_due(t * S) {
                let (taken, done) =
                    marks.take(id, t * S, |p| markout_bps(Side::Buy, p, Decimal::from(101)));
                out.extend(taken.into_iter().map(|k| (t, k, done)));
            }
        }
        out
    }

    #[test]
    fn each_slice_publishes_twice_with_every_value_so_far() {
        let mut m = Marks::default();
        m.add(7, &filled(0, 0, 100));
        m.add(7, &filled(1, 1, 100));
        let got = run(&mut m, 0, 70);
        let at: Vec<(i64, u32, [usize; 2])> = got
            .iter()
            .map(|(t, k, _)| (*t, k.index, k.publish))
            .collect();
        assert_eq!(
            at,
            vec![
                (5, 0, [0, 1]),
                (6, 1, [0, 1]),
                (60, 0, [2, 3]),
                (61, 1, [2, 3])
            ]
        );
        let hundred = Some(Decimal::from(100));
        assert_eq!(got[0].1.values, [hundred, hundred, None, None]);
        assert_eq!(got[3].1.values, [hundred; 4]);
        assert_eq!(got[3].1.qty, Decimal::from(2));
        // Only the last publication ends the order's markouts.
        assert_eq!(
            got.iter().map(|g| g.2).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert!(!m.pending(7));
        assert_eq!(m.next_due(), None);
    }

    #[test]
    fn a_late_wake_takes_every_horizon_due_in_order() {
        let mut m = Marks::default();
        m.add(1, &filled(0, 0, 100));
        m.add(2, &filled(0, 0, 99));
        let id = m.pop_due(100 * S).unwrap();
        let (taken, done) = m.take(id, 100 * S, |_| None);
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[1].values, [None; 4]);
        assert!(done);
        assert!(m.pending(if id == 1 { 2 } else { 1 }));
    }

    #[test]
    fn unfilled_slices_and_forgotten_orders_take_nothing() {
        let mut m = Marks::default();
        let mut r = filled(0, 0, 100);
        r.filled = Decimal::ZERO;
        m.add(1, &r);
        assert!(!m.pending(1));
        m.add(2, &filled(0, 0, 100));
        m.forget(2);
        assert!(run(&mut m, 0, 70).is_empty());
    }

    #[test]
    fn compact_values_round_trip_exactly() {
        for v in ["0", "-12.3456", "99999.9999", "0.0001"] {
            let d: Decimal = v.parse().unwrap();
            assert_eq!(expand(&[compact(Some(d)); 4], 0)[0], Some(d.normalize()));
        }
        assert_eq!(expand(&[compact(None); 4], 3), [None; 4]);
    }
}
