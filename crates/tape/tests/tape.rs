//! Tapes written and read back: exactly, with checkpoints that equal the book, seeks that
//! reach the same book as reading from the start, and torn tails survived.
#![allow(clippy::unwrap_used)]

use model::{
    BookEvent, BookSide, BookState, Level, OrderBook, Price, Qty, Side, Timestamp, Trade, TradeId,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rust_decimal::Decimal;
use tape::{TapeEvent, TapeHeader, TapeReader, TapeWriter, WriterConfig};

const SECOND: i64 = 1_000_000_000;

fn header() -> TapeHeader {
    TapeHeader {
        exchange: "binance".into(),
        symbol: "BTC-USDT".into(),
        created: Timestamp::from_nanos(1_765_000_000 * SECOND),
    }
}

fn lvl(p: i64, q: i64, scale: u32) -> Level {
    Level::new(
        Price::try_from(Decimal::new(p, 2)).unwrap(),
        Qty::try_from(Decimal::new(q, scale)).unwrap(),
    )
}

/// A random but valid event stream: a snapshot first, then deltas around a drifting mid,
/// trades (numeric and text ids), state changes and paper consumption, 1–300 ms apart.
fn stream() -> impl Strategy<Value = Vec<TapeEvent>> {
    let step = (
        0u8..11,
        1i64..300,
        -3i64..=3,
        proptest::collection::vec((0i64..20, 0i64..5_000, 0u32..9), 1..6),
        any::<u64>(),
    );
    proptest::collection::vec(step, 1..200).prop_map(|steps| {
        let mut t = 1_765_000_000 * SECOND;
        let mut mid = 6_700_000i64;
        let mut out = vec![TapeEvent::Book {
            local: Timestamp::from_nanos(t),
            event: BookEvent::snapshot(
                (1..=5).map(|i| lvl(mid - i, 100 * i, 3)).collect(),
                (1..=5).map(|i| lvl(mid + i, 100 * i, 3)).collect(),
            ),
        }];
        for (kind, gap_ms, drift, levels, x) in steps {
            t += gap_ms * 1_000_000 + (x % 1_000) as i64;
            mid += drift;
            let local = Timestamp::from_nanos(t);
            out.push(match kind {
                0..=5 => {
                    let side = |sign: i64| {
                        levels
                            .iter()
                            .map(|(off, q, s)| lvl(mid + sign * (1 + off), *q, *s))
                            .collect::<Vec<_>>()
                    };
                    let mut event = BookEvent::delta(side(-1), side(1));
                    event.seq = (x % 3 != 0).then_some(x >> 8);
                    event.exchange_ts = (x % 2 == 0).then(|| Timestamp::from_nanos(t - 3_000_000));
                    event.checksum = (x % 5 == 0).then_some(x as u32);
                    TapeEvent::Book { local, event }
                }
                6 | 7 => TapeEvent::Trade(Trade {
                    trade_id: if kind == 6 {
                        TradeId::Num(x >> 12)
                    } else {
                        TradeId::Text(format!("t-{x}").into())
                    },
                    exchange_ts: Timestamp::from_nanos(t - 7_000_000),
                    local_ts: local,
                    price: Price::try_from(Decimal::new(mid, 2)).unwrap(),
                    qty: Qty::try_from(Decimal::new((x % 100_000) as i64, 5)).unwrap(),
                    taker_side: if x % 2 == 0 { Side::Buy } else { Side::Sell },
                }),
                8 => TapeEvent::State {
                    local,
                    state: [BookState::Live, BookState::Stale, BookState::Resyncing]
                        [(x % 3) as usize],
                },
                10 => TapeEvent::Released { local },
                _ => TapeEvent::Consumed {
                    local,
                    order: (x % 1_000_000) as i64,
                    side: if x % 2 == 0 {
                        BookSide::Bid
                    } else {
                        BookSide::Ask
                    },
                    price: Price::try_from(Decimal::new(mid + 1, 2)).unwrap(),
                    qty: Qty::try_from(Decimal::new(3, 3)).unwrap(),
                    shown: Qty::try_from(Decimal::new((x % 9_999 + 1) as i64, 3)).unwrap(),
                },
            });
        }
        out
    })
}

fn write(
    dir: &tempfile::TempDir,
    events: &[TapeEvent],
    config: WriterConfig,
) -> std::path::PathBuf {
    let path = dir.path().join("t.tape");
    let mut w = TapeWriter::create(&path, &header(), config).unwrap();
    for (i, e) in events.iter().enumerate() {
        w.append(e).unwrap();
        if i % 7 == 0 {
            w.flush().unwrap();
        }
    }
    w.sync().unwrap();
    path
}

fn small() -> WriterConfig {
    WriterConfig {
        checkpoint_every_ns: Some(2 * SECOND),
        block_bytes: 512,
    }
}

/// The book after applying these events (checkpoints replace it, as a snapshot does).
fn book_of<'a>(events: impl IntoIterator<Item = &'a TapeEvent>) -> OrderBook {
    let mut book = OrderBook::new();
    for e in events {
        match e {
            TapeEvent::Book { event, .. } => {
                let _ = book.apply(event);
            }
            TapeEvent::Checkpoint { bids, asks, .. } => {
                let _ = book.apply(&BookEvent::snapshot(bids.clone(), asks.clone()));
            }
            _ => {}
        }
    }
    book
}

fn levels(b: &OrderBook) -> (Vec<Level>, Vec<Level>) {
    (
        b.levels(BookSide::Bid).collect(),
        b.levels(BookSide::Ask).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Without its checkpoints, a tape reads back exactly what was appended; each checkpoint
    /// is the book every event before it made.
    #[test]
    fn a_tape_reads_back_exactly(events in stream()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &events, small());
        let r = TapeReader::open(&path).unwrap();
        prop_assert_eq!(r.header(), &header());
        prop_assert_eq!(r.torn_bytes(), 0);
        let read: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
        let plain: Vec<TapeEvent> =
            read.iter().filter(|e| !matches!(e, TapeEvent::Checkpoint { .. })).cloned().collect();
        prop_assert_eq!(&plain, &events);
        // The cursor reads the same events, reusing its buffers.
        let mut c = r.events().cursor();
        let mut via_cursor = Vec::new();
        while let Some(e) = c.next_event() {
            via_cursor.push(e.unwrap().clone());
        }
        prop_assert_eq!(&via_cursor, &read);
        for (i, e) in read.iter().enumerate() {
            if let TapeEvent::Checkpoint { bids, asks, .. } = e {
                let before = book_of(read[..i].iter());
                prop_assert_eq!(levels(&before), (bids.clone(), asks.clone()));
            }
        }
        prop_assert_eq!(r.end().unwrap(), events.last().map(TapeEvent::local));
    }

    /// Reading from a seek reaches the same book at any time as reading from the start.
    #[test]
    fn a_seek_reaches_the_same_book(events in stream(), at in 0usize..200) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &events, small());
        let r = TapeReader::open(&path).unwrap();
        let t = events[at % events.len()].local();
        let upto = |e: &&TapeEvent| e.local() <= t;
        let from_start: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
        let sought: Vec<TapeEvent> = r.seek(t).map(|e| e.unwrap()).collect();
        // A seek that skipped anything starts at a checkpoint.
        if sought.len() < from_start.len() {
            let starts_at_checkpoint = matches!(sought[0], TapeEvent::Checkpoint { .. });
            prop_assert!(starts_at_checkpoint);
        }
        prop_assert_eq!(
            levels(&book_of(from_start.iter().take_while(upto))),
            levels(&book_of(sought.iter().take_while(upto)))
        );
    }
}

#[test]
fn a_torn_tail_is_skipped_and_cut_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let events = stream().new_tree(&mut runner).unwrap().current();
    let path = write(&dir, &events, small());
    let clean = std::fs::read(&path).unwrap();
    // A crash in the middle of writing a block: its header and half its payload made it.
    let mut w = TapeWriter::open(&path, small()).unwrap();
    let extra = TapeEvent::State {
        local: Timestamp::from_nanos(events.last().unwrap().local().as_nanos() + SECOND),
        state: BookState::Down,
    };
    for _ in 0..50 {
        w.append(&extra).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let full = std::fs::read(&path).unwrap();
    let cut = clean.len() + (full.len() - clean.len()) / 2;
    std::fs::write(&path, &full[..cut]).unwrap();

    let r = TapeReader::open(&path).unwrap();
    assert_eq!(r.torn_bytes(), cut - clean.len());
    let read: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
    assert!(
        read.iter()
            .filter(|e| !matches!(e, TapeEvent::Checkpoint { .. }))
            .eq(events.iter())
    );

    // Flipped bits in the last block: its CRC fails and it is skipped too.
    let mut bad = clean.clone();
    let n = bad.len();
    bad[n - 2] ^= 0x55;
    let r = TapeReader::from_bytes(bad).unwrap();
    assert!(r.torn_bytes() > 0);
    assert!(r.events().all(|e| e.is_ok()));

    // Reopened, the torn bytes are cut and new blocks follow the good ones.
    let mut w = TapeWriter::open(&path, small()).unwrap();
    w.append(&extra).unwrap();
    w.sync().unwrap();
    let r = TapeReader::open(&path).unwrap();
    assert_eq!(r.torn_bytes(), 0);
    let read: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
    assert_eq!(read.last(), Some(&extra));
    assert_eq!(read.len(), r.events().count());
}

/// A one-level book's snapshot, then `n` deltas ten a second.
fn ten_hz(n: i64) -> Vec<TapeEvent> {
    let mut t = 1_765_000_000 * SECOND;
    let mut events = vec![TapeEvent::Book {
        local: Timestamp::from_nanos(t),
        event: BookEvent::snapshot(vec![lvl(100, 1, 0)], vec![lvl(101, 1, 0)]),
    }];
    for i in 0..n {
        t += SECOND / 10;
        events.push(TapeEvent::Book {
            local: Timestamp::from_nanos(t),
            event: BookEvent::delta(vec![lvl(100 - i % 7, i % 5, 0)], vec![]),
        });
    }
    events
}

#[test]
fn a_seek_late_in_a_long_tape_decodes_little() {
    let dir = tempfile::tempdir().unwrap();
    let events = ten_hz(3_600);
    let path = write(&dir, &events, WriterConfig::default());
    let r = TapeReader::open(&path).unwrap();
    let late = events[3_000].local();
    let n = r
        .seek(late)
        .take_while(|e| e.as_ref().is_ok_and(|e| e.local() < late))
        .count();
    // One checkpoint a minute at 10 events a second: at most about 600 events before it.
    assert!(n < 1_200, "{n} events decoded");
    assert_eq!(
        levels(&book_of(events.iter().take(3_001))),
        levels(&book_of(
            r.seek(late)
                .map(|e| e.unwrap())
                .collect::<Vec<_>>()
                .iter()
                .take_while(|e| e.local() <= late)
        ))
    );
}

/// A writer without its own book writes the checkpoints it is given, each starting a block
/// a seek can begin at.
#[test]
fn given_checkpoints_are_seek_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.tape");
    let config = WriterConfig {
        checkpoint_every_ns: None,
        ..WriterConfig::default()
    };
    let mut w = TapeWriter::create(&path, &header(), config).unwrap();
    let at = |s: i64| Timestamp::from_nanos(1_765_000_000 * SECOND + s * SECOND);
    let events = [
        TapeEvent::Book {
            local: at(0),
            event: BookEvent::snapshot(vec![lvl(100, 1, 0)], vec![lvl(101, 1, 0)]),
        },
        TapeEvent::Book {
            local: at(1),
            event: BookEvent::delta(vec![lvl(100, 2, 0)], vec![]),
        },
        TapeEvent::Checkpoint {
            local: at(1),
            bids: vec![lvl(100, 2, 0)],
            asks: vec![lvl(101, 1, 0)],
        },
        TapeEvent::Book {
            local: at(2),
            event: BookEvent::delta(vec![], vec![lvl(101, 3, 0)]),
        },
    ];
    for e in &events {
        w.append(e).unwrap();
    }
    w.sync().unwrap();
    assert_eq!(w.stats().checkpoints, 1);
    let r = TapeReader::open(&path).unwrap();
    let all: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
    assert_eq!(all, events);
    let sought: Vec<TapeEvent> = r.seek(at(2)).map(|e| e.unwrap()).collect();
    assert_eq!(sought, events[2..]);
}

#[test]
fn not_a_tape_is_a_clear_error() {
    let e = TapeReader::from_bytes(b"hello world, this is not a tape".to_vec()).unwrap_err();
    assert!(e.to_string().contains("not a tape"), "{e}");
}

/// Block by block, the events are the tape's events, in order.
#[test]
fn blocks_decoded_one_at_a_time_are_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let events = ten_hz(2_000);
    let path = write(&dir, &events, WriterConfig::default());
    let r = TapeReader::open(&path).unwrap();
    assert!(r.blocks() > 1, "checkpoints start new blocks");
    let by_block: Vec<TapeEvent> = (0..r.blocks())
        .flat_map(|i| r.block_events(i).unwrap().unwrap())
        .collect();
    let all: Vec<TapeEvent> = r.events().map(|e| e.unwrap()).collect();
    assert_eq!(by_block, all);
    assert!(r.block_events(r.blocks()).is_none());
}
