//! Order-book benchmarks: applying deltas to a 1 000-level book, reading the top 10, walking.
//!
//! Run with `cargo bench -p model --bench book`. Throughput for `apply` is reported in level
//! updates per second (criterion's `elem/s`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::{BookEvent, Level, OrderBook, Price, Qty, Side};
use rust_decimal::Decimal;

/// A deterministic 1 000-level-a-side book around 67 000.00 with tick 0.01 and level sizes of
/// 0.5–1.5 (mean 1, so a walk of 25 units takes about 25 levels), and a stream of
/// Binance-like deltas (8-decimal strings parsed once up front, as an adapter would hand them
/// over): mostly size changes near the top, some inserts and deletes, a few orphan deletes.
fn setup() -> (OrderBook, Vec<BookEvent>) {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let lvl = |ticks: i64, q: u64| {
        Level::new(
            Price::try_from(Decimal::new(ticks * 1_000_000, 8)).unwrap(),
            Qty::try_from(Decimal::new(i64::try_from(q).unwrap(), 8)).unwrap(),
        )
    };
    let mid = 6_700_000i64;
    let bids: Vec<Level> = (1..=1_000)
        .map(|i| lvl(mid - i, 50_000_000 + (next() % 100_000_000)))
        .collect();
    let asks: Vec<Level> = (1..=1_000)
        .map(|i| lvl(mid + i, 50_000_000 + (next() % 100_000_000)))
        .collect();
    let mut book = OrderBook::new();
    book.apply(&BookEvent::snapshot(bids, asks)).unwrap();

    let mut events = Vec::new();
    for _ in 0..2_000 {
        let mut b = Vec::new();
        let mut a = Vec::new();
        for _ in 0..10 {
            // Distance from the touch: mostly within 20 ticks, sometimes deep.
            let r = next();
            let dist = if r % 10 < 8 {
                1 + (r >> 8) % 20
            } else {
                1 + (r >> 8) % 1_000
            } as i64;
            let q = match next() % 10 {
                0 => 0, // delete (sometimes an orphan)
                _ => 50_000_000 + next() % 100_000_000,
            };
            if next() % 2 == 0 {
                b.push(lvl(mid - dist, q));
            } else {
                a.push(lvl(mid + dist, q));
            }
        }
        events.push(BookEvent::delta(b, a));
    }
    (book, events)
}

fn bench_book(c: &mut Criterion) {
    let (book, events) = setup();
    let updates: usize = events.iter().map(|e| e.bids.len() + e.asks.len()).sum();

    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(updates as u64));
    g.bench_function("apply_deltas_1000_levels", |bch| {
        bch.iter_batched_ref(
            || book.clone(),
            |bk| {
                for e in &events {
                    black_box(bk.apply(e).unwrap());
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // Baseline on the same events: a plain BTreeMap<Decimal, Decimal> per side, the
    // representation the design notes measure at ~5.6 M updates/s on this machine.
    g.bench_function("apply_deltas_btreemap_baseline", |bch| {
        use std::collections::BTreeMap;
        let mut bids0 = BTreeMap::new();
        let mut asks0 = BTreeMap::new();
        for l in book.top(2_000).bids() {
            bids0.insert(l.price.get(), l.qty.get());
        }
        for l in book.top(2_000).asks() {
            asks0.insert(l.price.get(), l.qty.get());
        }
        bch.iter_batched_ref(
            || (bids0.clone(), asks0.clone()),
            |(bids, asks)| {
                for e in &events {
                    for l in &e.bids {
                        if l.qty.is_zero() {
                            bids.remove(&l.price.get());
                        } else {
                            bids.insert(l.price.get(), l.qty.get());
                        }
                    }
                    for l in &e.asks {
                        if l.qty.is_zero() {
                            asks.remove(&l.price.get());
                        } else {
                            asks.insert(l.price.get(), l.qty.get());
                        }
                    }
                }
                black_box((bids.len(), asks.len()));
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("book_read");
    g.bench_function("top_10", |bch| {
        bch.iter(|| black_box(black_box(&book).top(10)))
    });
    let qty = Qty::try_from(Decimal::new(25, 0)).unwrap();
    let limit = Price::try_from(Decimal::new(68_000, 0)).unwrap();
    g.bench_function("walk_25_units", |bch| {
        bch.iter(|| {
            let w = black_box(&book).walk(Side::Buy, black_box(qty), Some(limit));
            black_box((w.level_count(), w.short()))
        })
    });
    // The fixed cost of a walk (conversions, limit, result): one level taken.
    let small = Qty::try_from(Decimal::new(1, 2)).unwrap();
    g.bench_function("walk_one_level", |bch| {
        bch.iter(|| {
            let w = black_box(&book).walk(Side::Buy, black_box(small), Some(limit));
            black_box((w.level_count(), w.short()))
        })
    });
    g.bench_function("walk_25_units_with_vwap", |bch| {
        bch.iter(|| {
            let w = black_box(&book).walk(Side::Buy, black_box(qty), Some(limit));
            black_box(w.vwap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_book);
criterion_main!(benches);
