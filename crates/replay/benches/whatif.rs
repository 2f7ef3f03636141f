//! The what-if bar of DESIGN §17: a 1 h order (360 slices) re-run on a 10 Hz book (36 000
//! book events and their trades) in ≤ 1 s, reading the tapes included.
//!
//! Run with `cargo bench -p replay --bench whatif`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod common;

use std::time::Instant;

use common::{SECOND, market, order, record};
use criterion::{Criterion, criterion_group, criterion_main};
use model::{ExchangeId, OrderBook, Symbol, Timestamp};
use rust_decimal::Decimal;

fn bench(c: &mut Criterion) {
    let hour = 3_600 * SECOND;
    // From 20 minutes into an hour: the window spans two hour files.
    let t0 = Timestamp::from_nanos(1_765_000_000 * SECOND / hour * hour + 20 * 60 * SECOND);
    let dir = tempfile::tempdir().unwrap();
    let events = record(dir.path(), t0, 37_200);
    let (_, pair) = market(t0);
    let start = Timestamp::from_nanos(t0.as_nanos() + 30 * SECOND);
    let o = order(&pair, start, Decimal::from(36), 3_600, 10);
    let new_book = |_: ExchangeId, _: &Symbol| {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    };
    let run = || replay::whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    let t = Instant::now();
    let w = run();
    let slices = w.run.slices.len();
    let filled = w.run.order.totals().filled;
    println!(
        "whatif: {events} book events on tape, {slices} slices re-run (filled {filled}) in {:?} (first run)",
        t.elapsed()
    );
    assert_eq!(slices, 360);
    c.bench_function("whatif_1h_order_on_10hz_book", |b| b.iter(run));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
