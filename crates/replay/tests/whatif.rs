//! What-ifs on a recorded sim market: the window must be on tape, a torn tail is survived,
//! and a re-run is the same run every time.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../benches/common/mod.rs"]
mod common;

use common::{SECOND, market, order, order_with, record};
use engine::Strategy;
use model::{ExchangeId, OrderBook, Symbol, Timestamp};
use replay::{LabError, whatif};
use rust_decimal::Decimal;

fn at(t: Timestamp, secs: i64) -> Timestamp {
    Timestamp::from_nanos(t.as_nanos() + secs * SECOND)
}

/// Five minutes of the sim's BTC-USDT book on tape, from `t0`; its pair.
fn recorded() -> (tempfile::TempDir, Timestamp, model::Pair) {
    let t0 = Timestamp::from_nanos(1_765_000_000 * SECOND + 7 * SECOND);
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), t0, 3_000);
    let (_, pair) = market(t0);
    (dir, t0, pair)
}

#[test]
fn a_rerun_needs_its_window_on_tape_and_is_the_same_every_time() {
    let (dir, t0, pair) = recorded();
    let new_book = |_: ExchangeId, _: &Symbol| {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    };
    // Inside the recording: every slice fills, and twice the same.
    let o = order(&pair, at(t0, 60), Decimal::from(3), 120, 10);
    let a = whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    assert_eq!(a.run.slices.len(), 12);
    assert_eq!(a.run.order.totals().filled, Decimal::from(3));
    assert!(
        a.run
            .slices
            .iter()
            .all(|s| s.skipped.is_none() && s.book_time.is_some())
    );
    let b = whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    assert_eq!(a.run, b.run);
    // The original's own slices: it reproduces itself.
    let c = whatif(
        dir.path(),
        &a.run.order,
        &a.run.slices,
        o.clone(),
        &new_book,
    )
    .unwrap();
    assert!(c.reproduces_original);
    // Before the recording, or beyond it: not recorded, with the span in the message.
    for (start, secs) in [(at(t0, -60), 120), (at(t0, 200), 600)] {
        let o = order(&pair, start, Decimal::from(1), secs, 10);
        match whatif(dir.path(), &o, &[], o.clone(), &new_book) {
            Err(LabError::NotRecorded(why)) => assert!(why.contains("sim BTC-USDT"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    // Another book: nothing recorded.
    let other = tempfile::tempdir().unwrap();
    assert!(matches!(
        whatif(other.path(), &o, &[], o.clone(), &new_book),
        Err(LabError::NotRecorded(_))
    ));
}

#[test]
fn a_torn_tail_is_survived() {
    let (dir, t0, pair) = recorded();
    let new_book = |_: ExchangeId, _: &Symbol| {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    };
    let o = order(&pair, at(t0, 30), Decimal::from(2), 60, 10);
    let before = whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    // A crash cut the last block short: the tape still serves the window before it.
    let f = &tape::dir::list(dir.path()).unwrap()[0];
    let len = std::fs::metadata(&f.path).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&f.path)
        .unwrap();
    file.set_len(len - 7).unwrap();
    assert!(tape::TapeReader::open(&f.path).unwrap().torn_bytes() > 0);
    let after = whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    assert_eq!(before.run, after.run);
}

#[test]
fn a_slice_counts_the_market_volume_its_original_counted_in_the_same_window() {
    let (dir, t0, pair) = recorded();
    let new_book = |_: ExchangeId, _: &Symbol| {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    };
    let pov = Strategy::Pov {
        participation: Decimal::new(2, 1),
        max_slice_qty: None,
    };
    // Far more than the window's volume: every slice asks for its share, uncapped.
    let o = order_with(&pair, at(t0, 60), Decimal::from(1_000), 120, 10, pov);
    let a = whatif(dir.path(), &o, &[], o.clone(), &new_book).unwrap();
    let k = a
        .run
        .slices
        .iter()
        .position(|s| {
            s.market_volume.is_some_and(|v| v > Decimal::ZERO) && s.target > Decimal::ZERO
        })
        .expect("a slice with market volume");
    // Live, a trade received just before the window closed was still on its way to the trade
    // tape when the slice ran: the original counted less than the tape holds.
    let mut seen = a.run.slices.clone();
    let full = seen[k].market_volume.unwrap();
    seen[k].market_volume = Some(full / Decimal::TWO);
    seen[k].market_notional = seen[k].market_notional.map(|n| n / Decimal::TWO);
    let b = whatif(dir.path(), &a.run.order, &seen, o.clone(), &new_book).unwrap();
    assert_eq!(b.run.slices[k].market_volume, seen[k].market_volume);
    assert_eq!(b.run.slices[k].market_notional, seen[k].market_notional);
    assert!(b.run.slices[k].target < a.run.slices[k].target);
    // Another window (a later start) counts the tape.
    let later = order_with(
        &pair,
        at(t0, 61),
        Decimal::from(1_000),
        120,
        10,
        o.strategy().clone(),
    );
    let c = whatif(dir.path(), &a.run.order, &seen, later, &new_book).unwrap();
    assert!(c.run.slices.iter().all(|s| s.market_volume.is_some()));
    assert_ne!(c.run.slices[k].scheduled_at, seen[k].scheduled_at);
}
