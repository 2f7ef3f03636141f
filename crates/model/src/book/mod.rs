//! The L2 order book.
//!
//! # Representation
//! Each side is a `Vec` of `(price, qty)` pairs held as exact scaled integers (`u64` at a
//! per-book decimal scale for prices and another for quantities), sorted so that the **best
//! level is last**: bids ascending, asks descending. Almost all venue updates touch the top
//! of the book, so inserts and deletes there move only a few elements, lookups are a binary
//! search over plain integers, and reading the top N is a reverse walk of a contiguous slice.
//!
//! Scales only grow when a venue sends a value with more decimal places than seen before
//! (every stored level is then multiplied up, once), and shrink only when a quantity would
//! not fit in 64 bits at the current scale but does at a smaller exact one. No value is ever
//! rounded: a value that cannot be represented exactly is an error.

use rust_decimal::Decimal;

mod walk;

pub use walk::{VWAP_EXTRA_DECIMALS, Walk, WalkShort};

use crate::fixed::{POW10, ToFixed, decimal_from_scaled, natural_scale, to_fixed};
use crate::num::{Level, Price, Qty};
use crate::side::BookSide;
use crate::time::Timestamp;

/// Whether an event replaces the book or changes some levels of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookEventKind {
    /// A complete (possibly depth-limited) picture: replaces local state.
    Snapshot,
    /// Absolute quantities for some levels; zero deletes.
    Delta,
}

/// A normalized change to one book, as produced by an exchange adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookEvent {
    /// Snapshot or delta.
    pub kind: BookEventKind,
    /// Bid levels in wire order (applied in order).
    pub bids: Vec<Level>,
    /// Ask levels in wire order (applied in order).
    pub asks: Vec<Level>,
    /// The venue's sequence number after this event, where it has one (Binance `u`).
    pub seq: Option<u64>,
    /// The venue's event time, where it sends one.
    pub exchange_ts: Option<Timestamp>,
    /// The venue's checksum of the book after this event, where it sends one (Kraken).
    pub checksum: Option<u32>,
}

impl BookEvent {
    /// A snapshot event.
    pub fn snapshot(bids: Vec<Level>, asks: Vec<Level>) -> Self {
        BookEvent {
            kind: BookEventKind::Snapshot,
            bids,
            asks,
            seq: None,
            exchange_ts: None,
            checksum: None,
        }
    }

    /// A delta event.
    pub fn delta(bids: Vec<Level>, asks: Vec<Level>) -> Self {
        BookEvent {
            kind: BookEventKind::Delta,
            ..BookEvent::snapshot(bids, asks)
        }
    }
}

/// Why an event could not be applied. The book is left unchanged by a failed event only for
/// [`BookError::Unrepresentable`] raised before any level was written; callers treat any error
/// as "this book can no longer be vouched for" and resync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// A price or quantity cannot be held exactly in 64 bits at any scale that keeps every
    /// other level exact.
    #[error("{what} {value} cannot be represented exactly in this book")]
    Unrepresentable {
        /// `price` or `quantity`.
        what: &'static str,
        /// The offending value.
        value: Decimal,
    },
}

/// Counters from one [`OrderBook::apply`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Levels written (inserted, replaced or deleted).
    pub levels: u32,
    /// Deletes for prices the book did not hold (normal on Binance; counted, not fatal).
    pub orphan_deletes: u32,
}

/// Best-first levels of both sides, held in one allocation (bids, then asks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    levels: Vec<Level>,
    n_bids: usize,
}

impl Depth {
    /// Build from best-first bids and asks.
    pub fn new(bids: Vec<Level>, asks: Vec<Level>) -> Self {
        let n_bids = bids.len();
        let mut levels = bids;
        levels.extend(asks);
        Depth { levels, n_bids }
    }

    /// Bids, highest price first.
    pub fn bids(&self) -> &[Level] {
        &self.levels[..self.n_bids]
    }

    /// Asks, lowest price first.
    pub fn asks(&self) -> &[Level] {
        &self.levels[self.n_bids..]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lvl {
    px: u64,
    qty: u64,
}

/// An L2 order book with exact integer levels inside and `Decimal` at its edges.
#[derive(Clone, Debug)]
pub struct OrderBook {
    /// Ascending by price: the best bid is last.
    bids: Vec<Lvl>,
    /// Descending by price: the best ask is last.
    asks: Vec<Lvl>,
    px_scale: u32,
    qty_scale: u32,
    depth_cap: Option<usize>,
    seq: Option<u64>,
    exchange_ts: Option<Timestamp>,
    orphan_deletes: u64,
}

impl Default for OrderBook {
    fn default() -> Self {
        OrderBook::new()
    }
}

/// Which column of the book a conversion is for.
#[derive(Clone, Copy)]
enum Col {
    Px,
    Qty,
}

impl OrderBook {
    /// An empty book; scales are learnt from the data.
    pub fn new() -> Self {
        OrderBook::with_scales(0, 0)
    }

    /// An empty book whose prices and quantities start at these decimal scales (for example
    /// the pair's price and quantity precision). Venues that checksum the book rendered at
    /// the pair's precision (Kraken) rely on the book keeping exactly these scales.
    pub fn with_scales(price_scale: u32, qty_scale: u32) -> Self {
        OrderBook {
            bids: Vec::new(),
            asks: Vec::new(),
            px_scale: price_scale.min(28),
            qty_scale: qty_scale.min(28),
            depth_cap: None,
            seq: None,
            exchange_ts: None,
            orphan_deletes: 0,
        }
    }

    /// Keep at most `cap` levels per side, truncating the worst after every event.
    pub fn with_depth_cap(mut self, cap: Option<usize>) -> Self {
        self.depth_cap = cap;
        self.truncate();
        self
    }

    /// The depth cap, if any.
    pub fn depth_cap(&self) -> Option<usize> {
        self.depth_cap
    }

    /// The decimal scales of stored prices and quantities.
    pub fn scales(&self) -> (u32, u32) {
        (self.px_scale, self.qty_scale)
    }

    /// The venue sequence number of the last applied event that carried one.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The venue time of the last applied event that carried one.
    pub fn exchange_ts(&self) -> Option<Timestamp> {
        self.exchange_ts
    }

    /// Deletes for absent prices seen since the book was created.
    pub fn orphan_deletes(&self) -> u64 {
        self.orphan_deletes
    }

    /// Number of levels held on each side `(bids, asks)`.
    pub fn len(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// True when both sides are empty.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Remove every level (scales, cap and counters are kept).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Apply a snapshot or a delta. Levels are applied in wire order; a zero quantity deletes;
    /// a delete for an absent price is counted as an orphan. The depth cap is enforced after
    /// the whole event, as venues with a limited depth expect.
    pub fn apply(&mut self, ev: &BookEvent) -> Result<ApplyStats, BookError> {
        let mut stats = ApplyStats::default();
        match ev.kind {
            BookEventKind::Snapshot => self.replace(&ev.bids, &ev.asks, &mut stats)?,
            BookEventKind::Delta => {
                for l in &ev.bids {
                    self.set(BookSide::Bid, l.price, l.qty, &mut stats)?;
                }
                for l in &ev.asks {
                    self.set(BookSide::Ask, l.price, l.qty, &mut stats)?;
                }
            }
        }
        if ev.seq.is_some() {
            self.seq = ev.seq;
        }
        if ev.exchange_ts.is_some() {
            self.exchange_ts = ev.exchange_ts;
        }
        self.orphan_deletes += u64::from(stats.orphan_deletes);
        self.truncate();
        Ok(stats)
    }

    /// Set one level to an absolute quantity (0 deletes).
    pub fn set(
        &mut self,
        side: BookSide,
        price: Price,
        qty: Qty,
        stats: &mut ApplyStats,
    ) -> Result<(), BookError> {
        let px = self.fixed(Col::Px, price.get())?;
        let q = self.fixed(Col::Qty, qty.get())?;
        stats.levels += 1;
        let levels = match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        let found = match side {
            BookSide::Bid => levels.binary_search_by(|l| l.px.cmp(&px)),
            BookSide::Ask => levels.binary_search_by(|l| px.cmp(&l.px)),
        };
        match (found, q) {
            (Ok(i), 0) => {
                levels.remove(i);
            }
            (Ok(i), q) => levels[i].qty = q,
            (Err(_), 0) => stats.orphan_deletes += 1,
            (Err(i), q) => levels.insert(i, Lvl { px, qty: q }),
        }
        Ok(())
    }

    fn replace(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        stats: &mut ApplyStats,
    ) -> Result<(), BookError> {
        // The old levels must not constrain the new scales.
        self.clear();
        stats.levels += u32::try_from(bids.len() + asks.len()).unwrap_or(u32::MAX);
        // A value late in the snapshot may move a scale, which invalidates the integers
        // converted before it; the scales only move toward what every value needs, so a
        // second pass is stable. The third is a guard, never expected to run.
        for _ in 0..3 {
            let before = self.scales();
            let mut nb = Vec::with_capacity(bids.len());
            let mut na = Vec::with_capacity(asks.len());
            for (src, dst) in [(bids, &mut nb), (asks, &mut na)] {
                for l in src {
                    let px = self.fixed(Col::Px, l.price.get())?;
                    let qty = self.fixed(Col::Qty, l.qty.get())?;
                    dst.push(Lvl { px, qty });
                }
            }
            if self.scales() == before {
                finish_side(&mut nb, true);
                finish_side(&mut na, false);
                self.bids = nb;
                self.asks = na;
                return Ok(());
            }
        }
        let value = bids.first().or(asks.first()).map(|l| l.price.get());
        Err(BookError::Unrepresentable {
            what: "price",
            value: value.unwrap_or_default(),
        })
    }

    fn truncate(&mut self) {
        if let Some(cap) = self.depth_cap {
            for side in [&mut self.bids, &mut self.asks] {
                if side.len() > cap {
                    let excess = side.len() - cap;
                    side.drain(..excess);
                }
            }
        }
    }

    /// Convert a decimal to this book's integer representation, adjusting the column's scale
    /// when the value needs it (never losing exactness).
    #[inline]
    fn fixed(&mut self, col: Col, d: Decimal) -> Result<u64, BookError> {
        let scale = match col {
            Col::Px => self.px_scale,
            Col::Qty => self.qty_scale,
        };
        match to_fixed(d, scale) {
            ToFixed::Exact(v) => Ok(v),
            ToFixed::NeedsScale(s) => {
                self.rescale(col, s).map_err(|_| unrepresentable(col, d))?;
                match to_fixed(d, s) {
                    ToFixed::Exact(v) => Ok(v),
                    _ => Err(unrepresentable(col, d)),
                }
            }
            ToFixed::TooLarge => {
                // Try the smallest scale that keeps every stored value and this one exact.
                let need = natural_scale(d.mantissa().unsigned_abs(), d.scale());
                let floor = self.min_exact_scale(col).max(need);
                if floor < scale
                    && self.rescale(col, floor).is_ok()
                    && let ToFixed::Exact(v) = to_fixed(d, floor)
                {
                    return Ok(v);
                }
                Err(unrepresentable(col, d))
            }
        }
    }

    /// The smallest scale at which every stored value of the column stays exact.
    fn min_exact_scale(&self, col: Col) -> u32 {
        let scale = match col {
            Col::Px => self.px_scale,
            Col::Qty => self.qty_scale,
        };
        self.bids
            .iter()
            .chain(&self.asks)
            .map(|l| match col {
                Col::Px => l.px,
                Col::Qty => l.qty,
            })
            .map(|v| natural_scale(u128::from(v), scale))
            .max()
            .unwrap_or(0)
    }

    /// Move a column to a new scale; fails (leaving the book unchanged) if a value would
    /// overflow or lose digits.
    fn rescale(&mut self, col: Col, to: u32) -> Result<(), ()> {
        let from = match col {
            Col::Px => self.px_scale,
            Col::Qty => self.qty_scale,
        };
        if to > 28 {
            return Err(());
        }
        let conv = |v: u64| -> Option<u64> {
            if to >= from {
                let p = u64::try_from(POW10[(to - from) as usize]).ok()?;
                v.checked_mul(p)
            } else {
                let p = u64::try_from(POW10[(from - to) as usize]).ok()?;
                v.is_multiple_of(p).then_some(v / p)
            }
        };
        // Check first, then write, so failure leaves the book intact.
        let field = |l: &Lvl| match col {
            Col::Px => l.px,
            Col::Qty => l.qty,
        };
        if self
            .bids
            .iter()
            .chain(&self.asks)
            .any(|l| conv(field(l)).is_none())
        {
            return Err(());
        }
        for l in self.bids.iter_mut().chain(self.asks.iter_mut()) {
            let v = match col {
                Col::Px => &mut l.px,
                Col::Qty => &mut l.qty,
            };
            *v = conv(*v).ok_or(())?;
        }
        match col {
            Col::Px => self.px_scale = to,
            Col::Qty => self.qty_scale = to,
        }
        Ok(())
    }

    #[inline]
    fn level(&self, l: Lvl) -> Level {
        Level {
            price: Price::from_trusted(dec_u64(l.px, self.px_scale)),
            qty: Qty::from_trusted(dec_u64(l.qty, self.qty_scale)),
        }
    }

    /// The highest bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().map(|l| self.level(*l))
    }

    /// The lowest ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().map(|l| self.level(*l))
    }

    /// `(best_bid + best_ask) / 2`, exact (one more decimal place than the prices).
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.bids.last()?, self.asks.last()?);
        let sum = i128::from(b.px) + i128::from(a.px);
        Some(Price::from_trusted(
            decimal_from_scaled(sum * 5, self.px_scale + 1).normalize(),
        ))
    }

    /// `best_ask - best_bid` (negative when crossed).
    pub fn spread(&self) -> Option<Decimal> {
        let (b, a) = (self.bids.last()?, self.asks.last()?);
        Some(decimal_from_scaled(
            i128::from(a.px) - i128::from(b.px),
            self.px_scale,
        ))
    }

    /// True when the best bid is at or above the best ask: a book no venue would show.
    pub fn is_crossed(&self) -> bool {
        match (self.bids.last(), self.asks.last()) {
            (Some(b), Some(a)) => b.px >= a.px,
            _ => false,
        }
    }

    /// The best `n` levels of each side, best first.
    pub fn top(&self, n: usize) -> Depth {
        let nb = n.min(self.bids.len());
        let na = n.min(self.asks.len());
        let mut levels = Vec::with_capacity(nb + na);
        levels.extend(
            self.bids[self.bids.len() - nb..]
                .iter()
                .rev()
                .map(|l| self.level(*l)),
        );
        levels.extend(
            self.asks[self.asks.len() - na..]
                .iter()
                .rev()
                .map(|l| self.level(*l)),
        );
        Depth { levels, n_bids: nb }
    }

    /// Best-first levels of one side.
    pub fn levels(&self, side: BookSide) -> impl ExactSizeIterator<Item = Level> + '_ {
        let v = match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        };
        v.iter().rev().map(|l| self.level(*l))
    }

    /// The quantity resting at exactly `price` on `side`, if that level exists (binary search;
    /// a price that is not representable at the book's scale cannot be a level).
    pub fn qty_at(&self, side: BookSide, price: Price) -> Option<Qty> {
        let px = match to_fixed(price.get(), self.px_scale) {
            ToFixed::Exact(v) => v,
            _ => return None,
        };
        let (levels, found) = match side {
            BookSide::Bid => (&self.bids, self.bids.binary_search_by(|l| l.px.cmp(&px))),
            BookSide::Ask => (&self.asks, self.asks.binary_search_by(|l| px.cmp(&l.px))),
        };
        found.ok().map(|i| self.level(levels[i]).qty)
    }

    /// Best-first levels of one side as exact scaled integers `(price, qty)` at
    /// [`OrderBook::scales`]. Checksums that render numbers at a fixed precision use this to
    /// avoid any text round trip.
    pub fn fixed_levels(&self, side: BookSide) -> impl ExactSizeIterator<Item = (u64, u64)> + '_ {
        let v = match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        };
        v.iter().rev().map(|l| (l.px, l.qty))
    }
}

/// Sort a freshly built side into storage order, merge duplicate prices (last in wire order
/// wins, so a later zero deletes an earlier level) and drop zero levels.
fn finish_side(v: &mut Vec<Lvl>, bids: bool) {
    // Stable sort keeps wire order among equal prices, so "last wins" below is wire order.
    if bids {
        v.sort_by_key(|a| a.px);
    } else {
        v.sort_by_key(|l| std::cmp::Reverse(l.px));
    }
    let mut out: Vec<Lvl> = Vec::with_capacity(v.len());
    for l in v.drain(..) {
        match out.last_mut() {
            Some(prev) if prev.px == l.px => *prev = l,
            _ => out.push(l),
        }
    }
    out.retain(|l| l.qty != 0);
    *v = out;
}

fn unrepresentable(col: Col, value: Decimal) -> BookError {
    BookError::Unrepresentable {
        what: match col {
            Col::Px => "price",
            Col::Qty => "quantity",
        },
        value,
    }
}

/// A `Decimal` from a `u64` at a scale the book guarantees is at most 28.
#[inline]
fn dec_u64(v: u64, scale: u32) -> Decimal {
    Decimal::from_parts(v as u32, (v >> 32) as u32, 0, false, scale)
}

fn sat_i128(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}
#[cfg(test)]
mod tests {

    #[test]
    fn qty_at_finds_exact_levels_only() {
        let mut b = OrderBook::with_scales(2, 3);
        let l = |p: &str, q: &str| Level::new(p.parse().unwrap(), q.parse().unwrap());
        b.apply(&BookEvent::snapshot(
            vec![l("99.50", "1.5"), l("99", "2")],
            vec![l("100.25", "0.125")],
        ))
        .unwrap();
        let px = |p: &str| -> Price { p.parse().unwrap() };
        assert_eq!(
            b.qty_at(BookSide::Bid, px("99.5"))
                .unwrap()
                .get()
                .to_string(),
            "1.500"
        );
        assert_eq!(
            b.qty_at(BookSide::Bid, px("99"))
                .unwrap()
                .get()
                .normalize()
                .to_string(),
            "2"
        );
        assert!(b.qty_at(BookSide::Bid, px("100.25")).is_none());
        assert!(b.qty_at(BookSide::Ask, px("100.25")).is_some());
        assert!(b.qty_at(BookSide::Ask, px("100.255")).is_none());
    }

    use super::walk::{decimal_trimmed, div_round};
    use super::*;
    use crate::side::Side;
    use std::str::FromStr;

    fn lv(p: &str, q: &str) -> Level {
        Level::parse(p, q).unwrap()
    }
    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn sample() -> OrderBook {
        let mut b = OrderBook::new();
        b.apply(&BookEvent::snapshot(
            vec![
                lv("67000.01000000", "0.50000000"),
                lv("67000.00000000", "1.20000000"),
                lv("66999.50000000", "0.01500000"),
            ],
            vec![
                lv("67000.02000000", "0.40000000"),
                lv("67000.50000000", "2.00000000"),
                lv("67001.00000000", "0.75000000"),
            ],
        ))
        .unwrap();
        b
    }

    #[test]
    fn reference_binance_sequence_ends_in_the_documented_book() {
        // reference/exchanges.md §2.5, events applied after the snapshot splice.
        let mut b = sample();
        let evs = [
            BookEvent::delta(
                vec![lv("67000.01000000", "0.80000000")],
                vec![lv("67000.02000000", "0.25000000")],
            ),
            BookEvent::delta(
                vec![lv("67000.00000000", "0.00000000")],
                vec![lv("67000.50000000", "1.50000000")],
            ),
            BookEvent::delta(
                vec![lv("66998.00000000", "3.00000000")],
                vec![
                    lv("67000.02000000", "0.00000000"),
                    lv("67003.00000000", "0.00000000"),
                ],
            ),
        ];
        let mut orphans = 0;
        for e in &evs {
            orphans += b.apply(e).unwrap().orphan_deletes;
        }
        assert_eq!(orphans, 1);
        assert_eq!(b.orphan_deletes(), 1);
        let top = b.top(10);
        let show = |v: &[Level]| {
            v.iter()
                .map(|l| (l.price.get(), l.qty.get()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            show(top.bids()),
            vec![
                (d("67000.01"), d("0.8")),
                (d("66999.5"), d("0.015")),
                (d("66998"), d("3"))
            ]
        );
        assert_eq!(
            show(top.asks()),
            vec![(d("67000.5"), d("1.5")), (d("67001"), d("0.75"))]
        );
        assert!(!b.is_crossed());
        assert_eq!(b.spread(), Some(d("0.49")));
        assert_eq!(b.mid().unwrap().get(), d("67000.255"));
    }

    #[test]
    fn snapshot_replaces_sorts_and_drops_zero_levels() {
        let mut b = sample();
        b.apply(&BookEvent::snapshot(
            vec![lv("10", "1"), lv("12", "0"), lv("11", "2"), lv("11", "3")],
            vec![lv("14", "1"), lv("13", "5")],
        ))
        .unwrap();
        let t = b.top(5);
        assert_eq!(t.bids().len(), 2);
        assert_eq!(t.bids()[0].price.get(), d("11"));
        assert_eq!(t.bids()[0].qty.get(), d("3"), "last duplicate wins");
        assert_eq!(t.asks()[0].price.get(), d("13"));
    }

    #[test]
    fn scale_grows_and_values_stay_exact() {
        let mut b = OrderBook::with_scales(1, 2);
        b.apply(&BookEvent::snapshot(
            vec![lv("100.5", "1.25")],
            vec![lv("101.0", "2")],
        ))
        .unwrap();
        // A finer price arrives: the book rescales once and stays exact.
        b.apply(&BookEvent::delta(vec![lv("100.55", "0.125")], vec![]))
            .unwrap();
        assert_eq!(b.scales(), (2, 3));
        let t = b.top(5);
        assert_eq!(t.bids()[0].price.get(), d("100.55"));
        assert_eq!(t.bids()[0].qty.get(), d("0.125"));
        assert_eq!(t.bids()[1].price.get(), d("100.5"));
        assert_eq!(t.bids()[1].qty.get(), d("1.25"));
    }

    #[test]
    fn snapshot_with_mixed_scales_is_exact() {
        let mut b = OrderBook::new();
        b.apply(&BookEvent::snapshot(
            vec![lv("1", "1"), lv("0.5", "0.001"), lv("0.25", "3")],
            vec![lv("2", "1"), lv("2.125", "7")],
        ))
        .unwrap();
        let t = b.top(5);
        assert_eq!(
            t.bids().iter().map(|l| l.price.get()).collect::<Vec<_>>(),
            vec![d("1"), d("0.5"), d("0.25")]
        );
        assert_eq!(t.bids()[1].qty.get(), d("0.001"));
        assert_eq!(t.asks()[1].price.get(), d("2.125"));
    }

    #[test]
    fn huge_quantity_shrinks_scale_instead_of_failing() {
        let mut b = OrderBook::with_scales(8, 8);
        b.apply(&BookEvent::snapshot(
            vec![lv("0.00001234", "1000.00000000")],
            vec![lv("0.00001240", "500000000000.00000000")],
        ))
        .unwrap();
        assert_eq!(
            b.best_ask().unwrap().qty.get(),
            d("500000000000"),
            "5e11 does not fit u64 at scale 8 but does at scale 0"
        );
        // Something that cannot be exact in 64 bits at all is an error, not a rounding.
        let err = b
            .apply(&BookEvent::delta(
                vec![lv("0.00001230", "99999999999999999999.5")],
                vec![],
            ))
            .unwrap_err();
        assert!(matches!(
            err,
            BookError::Unrepresentable {
                what: "quantity",
                ..
            }
        ));
    }

    #[test]
    fn depth_cap_truncates_worst_levels() {
        let mut b = OrderBook::new().with_depth_cap(Some(2));
        b.apply(&BookEvent::snapshot(
            vec![lv("10", "1"), lv("9", "1"), lv("8", "1")],
            vec![lv("11", "1"), lv("12", "1"), lv("13", "1")],
        ))
        .unwrap();
        assert_eq!(b.len(), (2, 2));
        assert_eq!(b.top(5).bids().last().unwrap().price.get(), d("9"));
        assert_eq!(b.top(5).asks().last().unwrap().price.get(), d("12"));
    }

    #[test]
    fn div_round_is_one_division_rounded_half_to_even() {
        assert_eq!(div_round(2, 3, 4), Some(6_667));
        assert_eq!(div_round(5, 4, 2), Some(125), "exact");
        assert_eq!(div_round(5, 4, 1), Some(12), "1.25 → 1.2 (half to even)");
        assert_eq!(div_round(7, 4, 1), Some(18), "1.75 → 1.8 (half to even)");
        assert_eq!(div_round(1, 3, 0), Some(0));
        assert_eq!(div_round(2, 3, 0), Some(1));
        assert_eq!(div_round(1, 0, 3), None);
        assert_eq!(
            div_round(u128::MAX / 2, 3, 2),
            None,
            "too large: the caller falls back"
        );
        assert_eq!(decimal_trimmed(6_700_030_800, 7), Some(d("670.00308")));
        assert_eq!(decimal_trimmed(0, 7), Some(Decimal::ZERO));
    }

    #[test]
    fn walk_respects_limit_and_reports_vwap() {
        let b = sample();
        // Buy 1.0: 0.4 @ 67000.02 + 0.6 @ 67000.50.
        let w = b.walk(Side::Buy, "1.0".parse().unwrap(), None);
        assert_eq!(w.filled().get(), d("1"));
        assert_eq!(w.level_count(), 2);
        assert_eq!(w.notional(), d("67000.308"));
        assert_eq!(w.vwap().unwrap().get(), d("67000.308"));
        assert_eq!(w.short(), None);
        let taken: Vec<_> = w.levels().map(|l| (l.price.get(), l.qty.get())).collect();
        assert_eq!(
            taken,
            vec![(d("67000.02"), d("0.4")), (d("67000.5"), d("0.6"))]
        );

        // Limit below the second level stops the walk there.
        let w = b.walk(
            Side::Buy,
            "1.0".parse().unwrap(),
            Some("67000.49".parse().unwrap()),
        );
        assert_eq!(w.filled().get(), d("0.4"));
        assert_eq!(w.short(), Some(WalkShort::LimitPrice));

        // A limit with finer precision than the book behaves as the exact comparison.
        let w = b.walk(
            Side::Sell,
            "2".parse().unwrap(),
            Some("67000.001".parse().unwrap()),
        );
        assert_eq!(
            w.filled().get(),
            d("0.5"),
            "67000.00 < 67000.001 is excluded"
        );
        let w = b.walk(Side::Sell, "5".parse().unwrap(), None);
        assert_eq!(w.filled().get(), d("1.715"));
        assert_eq!(w.short(), Some(WalkShort::Depth));
        assert_eq!(w.worst_price().unwrap().get(), d("66999.5"));

        // Requests finer than the book's quantity scale are exact too.
        let w = b.walk(Side::Buy, "0.123456789".parse().unwrap(), None);
        assert_eq!(w.filled().get(), d("0.123456789"));
        assert_eq!(
            w.notional(),
            d("67000.02") * d("0.123456789"),
            "exact product"
        );
    }

    #[test]
    fn empty_and_one_sided_books_are_safe() {
        let b = OrderBook::new();
        assert_eq!(b.mid(), None);
        assert_eq!(b.spread(), None);
        assert!(!b.is_crossed());
        let w = b.walk(Side::Buy, "1".parse().unwrap(), None);
        assert!(w.is_empty());
        assert_eq!(w.vwap(), None);
        assert_eq!(w.short(), Some(WalkShort::Depth));
    }
}
