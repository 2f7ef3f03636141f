//! Property tests: the integer book behaves exactly like a `BTreeMap<Decimal, Decimal>`
//! reference, and walks obey their limit and report a VWAP inside the prices they took.

use std::collections::BTreeMap;

use model::{BookEvent, BookSide, Level, OrderBook, Price, Qty, Side};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn price() -> impl Strategy<Value = Decimal> {
    // Mantissa and scale vary so the book has to grow its scale mid-stream.
    (1i64..5_000, 0u32..4).prop_map(|(m, s)| Decimal::new(m, s))
}

fn qty() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        1 => Just(Decimal::ZERO),
        1 => (0u32..4).prop_map(|s| Decimal::new(0, s)),
        6 => (1i64..100_000, 0u32..6).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn levels() -> impl Strategy<Value = Vec<(Decimal, Decimal)>> {
    prop::collection::vec((price(), qty()), 0..40)
}

#[derive(Debug, Clone)]
enum Ev {
    Snap(Vec<(Decimal, Decimal)>, Vec<(Decimal, Decimal)>),
    Delta(Vec<(Decimal, Decimal)>, Vec<(Decimal, Decimal)>),
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    let ev = prop_oneof![
        1 => (levels(), levels()).prop_map(|(b, a)| Ev::Snap(b, a)),
        6 => (levels(), levels()).prop_map(|(b, a)| Ev::Delta(b, a)),
    ];
    prop::collection::vec(ev, 1..30)
}

fn to_levels(v: &[(Decimal, Decimal)]) -> Vec<Level> {
    v.iter()
        .map(|(p, q)| Level::new(Price::try_from(*p).unwrap(), Qty::try_from(*q).unwrap()))
        .collect()
}

#[derive(Default)]
struct Reference {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    orphans: u64,
}

impl Reference {
    fn apply(&mut self, ev: &Ev) {
        let (b, a, snap) = match ev {
            Ev::Snap(b, a) => (b, a, true),
            Ev::Delta(b, a) => (b, a, false),
        };
        if snap {
            self.bids.clear();
            self.asks.clear();
        }
        for (side, src) in [(&mut self.bids, b), (&mut self.asks, a)] {
            for (p, q) in src {
                if q.is_zero() {
                    if side.remove(&p.normalize()).is_none() && !snap {
                        self.orphans += 1;
                    }
                } else {
                    side.insert(p.normalize(), q.normalize());
                }
            }
        }
    }
}

fn book_after(evs: &[Ev]) -> (OrderBook, Reference) {
    let mut book = OrderBook::new();
    let mut reference = Reference::default();
    for e in evs {
        let ev = match e {
            Ev::Snap(b, a) => BookEvent::snapshot(to_levels(b), to_levels(a)),
            Ev::Delta(b, a) => BookEvent::delta(to_levels(b), to_levels(a)),
        };
        book.apply(&ev).unwrap();
        reference.apply(e);
    }
    (book, reference)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn book_equals_reference_sorted_and_without_zero_levels(evs in events()) {
        let (book, reference) = book_after(&evs);
        let bids: Vec<_> = book.levels(BookSide::Bid).map(|l| (l.price.get(), l.qty.get())).collect();
        let asks: Vec<_> = book.levels(BookSide::Ask).map(|l| (l.price.get(), l.qty.get())).collect();
        let want_bids: Vec<_> = reference.bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
        let want_asks: Vec<_> = reference.asks.iter().map(|(p, q)| (*p, *q)).collect();
        prop_assert_eq!(&bids, &want_bids);
        prop_assert_eq!(&asks, &want_asks);
        prop_assert!(bids.windows(2).all(|w| w[0].0 > w[1].0), "bids strictly descending");
        prop_assert!(asks.windows(2).all(|w| w[0].0 < w[1].0), "asks strictly ascending");
        prop_assert!(bids.iter().chain(&asks).all(|(_, q)| !q.is_zero()));
        prop_assert_eq!(book.orphan_deletes(), reference.orphans);
        let crossed = match (bids.first(), asks.first()) {
            (Some(b), Some(a)) => b.0 >= a.0,
            _ => false,
        };
        prop_assert_eq!(book.is_crossed(), crossed);
    }

    #[test]
    fn walk_never_crosses_limit_and_vwap_lies_between_taken_prices(
        evs in events(),
        buy in any::<bool>(),
        want in (1i64..500_000, 0u32..7).prop_map(|(m, s)| Decimal::new(m, s)),
        limit in prop::option::of((1i64..5_000_000, 0u32..6).prop_map(|(m, s)| Decimal::new(m, s))),
    ) {
        let (book, reference) = book_after(&evs);
        let side = if buy { Side::Buy } else { Side::Sell };
        let limit_p = limit.map(|l| Price::try_from(l).unwrap());
        let w = book.walk(side, Qty::try_from(want).unwrap(), limit_p);
        let taken: Vec<Level> = w.levels().collect();

        // Never beyond the limit.
        if let Some(l) = limit {
            for t in &taken {
                if buy { prop_assert!(t.price.get() <= l) } else { prop_assert!(t.price.get() >= l) }
            }
        }
        // Filled = Σ taken ≤ requested, and equals what the reference can give.
        let sum: Decimal = taken.iter().map(|t| t.qty.get()).sum();
        prop_assert_eq!(sum, w.filled().get());
        prop_assert!(w.filled().get() <= want);
        let avail: Decimal = if buy {
            reference.asks.iter().filter(|(p, _)| limit.is_none_or(|l| **p <= l)).map(|(_, q)| *q).sum()
        } else {
            reference.bids.iter().filter(|(p, _)| limit.is_none_or(|l| **p >= l)).map(|(_, q)| *q).sum()
        };
        prop_assert_eq!(w.filled().get(), want.min(avail));
        // Notional is exact.
        let notional: Decimal = taken.iter().map(|t| t.price.get() * t.qty.get()).sum();
        prop_assert_eq!(notional, w.notional());
        // VWAP between best and worst taken.
        if let Some(v) = w.vwap() {
            let best = w.best_price().unwrap().get();
            let worst = w.worst_price().unwrap().get();
            let (lo, hi) = if best <= worst { (best, worst) } else { (worst, best) };
            prop_assert!(lo <= v.get() && v.get() <= hi, "vwap {} outside [{}, {}]", v, lo, hi);
            // The integer VWAP is the exact quotient rounded half to even at the price scale
            // + 10 places: `Decimal` (28 significant digits) rounded the same way agrees.
            let places = (book.scales().0 + model::VWAP_EXTRA_DECIMALS).min(28);
            let dec = (w.notional() / w.filled().get())
                .round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointNearestEven)
                .normalize();
            prop_assert_eq!(v.get(), dec);
        } else {
            prop_assert!(taken.is_empty());
        }
        // Taken prices are the best ones, in order.
        let prices: Vec<Decimal> = taken.iter().map(|t| t.price.get()).collect();
        if buy {
            prop_assert!(prices.windows(2).all(|p| p[0] < p[1]));
        } else {
            prop_assert!(prices.windows(2).all(|p| p[0] > p[1]));
        }
    }
}
