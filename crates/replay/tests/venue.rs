//! The replay venue through the hub, on a paused clock: the sample tape plays as a live
//! venue, ends on the book the tape ends on, loops, keeps trade ids unique across passes,
//! builds candles from the trades it played, and a folder of tapes lists its books.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use market::{Exchange, Hub, HubConfig, KlineQuery};
use model::{
    BookEvent, BookSide, BookState, ExchangeId, Interval, Level, OrderBook, Price, Qty, Side,
    Timestamp, Trade, TradeId,
};
use replay::{ReplayConfig, ReplayError, ReplayExchange};
use rust_decimal::Decimal;
use tape::{TapeDir, TapeEvent, TapeReader, WriterConfig};
use tokio_util::sync::CancellationToken;

const SAMPLE_NKN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sample/binance/NKN-USDT/20211012T00.tape"
);

fn levels(b: &OrderBook, side: BookSide) -> Vec<Level> {
    b.levels(side).collect()
}

/// The book the tape ends on, and the first snapshot's sequence number.
fn tape_book(path: &str) -> (OrderBook, Option<u64>) {
    let r = TapeReader::open(path).unwrap();
    let mut book = OrderBook::new();
    let mut first_seq = None;
    for e in r.events() {
        if let TapeEvent::Book { event, .. } = e.unwrap() {
            if first_seq.is_none() {
                first_seq = event.seq;
            }
            book.apply(&event).unwrap();
        }
    }
    (book, first_seq)
}

fn start(venue: ReplayExchange, symbols: &[&str]) -> (Hub, CancellationToken) {
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        HubConfig {
            default_symbols: [(
                ExchangeId::Replay,
                symbols.iter().map(|s| s.to_string()).collect(),
            )]
            .into(),
            stale_after: Duration::from_secs(5),
            ..HubConfig::default()
        },
        vec![Arc::new(venue) as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    (hub, shutdown)
}

/// Wait (on the paused clock, bounded) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(start_paused = true)]
async fn the_sample_plays_as_a_live_venue_to_its_last_book_and_loops() {
    let venue = ReplayExchange::new(ReplayConfig {
        speed: 10.0,
        ..ReplayConfig::default()
    })
    .unwrap();
    let mut symbols: Vec<String> = venue.symbols().iter().map(|s| s.to_string()).collect();
    symbols.sort();
    assert_eq!(symbols, ["ETH-USD", "NKN-USDT"]);
    let pairs = venue.pairs().await.unwrap();
    let nkn = pairs
        .iter()
        .find(|p| p.symbol.as_str() == "NKN-USDT")
        .unwrap();
    assert_eq!(nkn.exchange, ExchangeId::Replay);
    assert_eq!(
        nkn.price_tick,
        Decimal::new(1, 4),
        "the rules Binance listed"
    );
    assert_eq!(venue.source_of(&nkn.symbol), Some("binance"));

    let (hub, shutdown) = start(venue, &["NKN-USDT", "ETH-USD"]);
    hub.pairs_within(ExchangeId::Replay, Duration::from_secs(5))
        .await
        .unwrap();
    let first = hub
        .snapshot_live_within(ExchangeId::Replay, "nknusdt", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(first.health.state, BookState::Live);

    // The tape's whole day plays (30 s of tape at 10×): the book ends as the tape does.
    let (last, first_seq) = tape_book(SAMPLE_NKN);
    let mut w = hub.watch(ExchangeId::Replay, "NKN-USDT").unwrap();
    let mut reached = false;
    let mut looped = false;
    for _ in 0..5_000 {
        let snap = w.changed().await.unwrap();
        if snap.book.seq() == last.seq() {
            assert_eq!(
                levels(&snap.book, BookSide::Bid),
                levels(&last, BookSide::Bid)
            );
            assert_eq!(
                levels(&snap.book, BookSide::Ask),
                levels(&last, BookSide::Ask)
            );
            reached = true;
        } else if reached && snap.book.seq() <= first_seq.map(|s| s + 1) {
            // The next pass starts over from the tape's first snapshot.
            looped = true;
            break;
        }
    }
    assert!(reached, "the replay reached the tape's last book");
    assert!(looped, "the replay started over");
    // The other book plays too, with the venue's rules read from its folder.
    let eth = hub
        .snapshot_live_within(ExchangeId::Replay, "ETH-USD", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!eth.book.is_crossed());
    assert_eq!(eth.pair.price_tick, Decimal::new(1, 2));
    shutdown.cancel();
    hub.wait().await;
}

const SECOND: i64 = 1_000_000_000;

fn lvl(p: i64, q: i64) -> Level {
    Level::new(
        Price::try_from(Decimal::new(p, 2)).unwrap(),
        Qty::try_from(Decimal::new(q, 3)).unwrap(),
    )
}

/// A folder with one book (no `pair.json`) that trades: 10 s, a trade a second.
fn folder_with_trades(root: &std::path::Path, exchange: &str) {
    let mut dir = TapeDir::new(root, WriterConfig::default()).unwrap();
    let t0 = 1_765_000_000 * SECOND;
    let sym = "BTC-USDT";
    dir.append(
        exchange,
        sym,
        &TapeEvent::Book {
            local: Timestamp::from_nanos(t0),
            event: BookEvent::snapshot(vec![lvl(10_000, 1_000)], vec![lvl(10_001, 2_000)]),
        },
    )
    .unwrap();
    for i in 1..=10i64 {
        let at = Timestamp::from_nanos(t0 + i * SECOND);
        dir.append(
            exchange,
            sym,
            &TapeEvent::Trade(Trade {
                trade_id: TradeId::Num(100 + i as u64),
                exchange_ts: at,
                local_ts: at,
                price: Price::try_from(Decimal::new(10_001, 2)).unwrap(),
                qty: Qty::try_from(Decimal::new(i, 3)).unwrap(),
                taker_side: Side::Buy,
            }),
        )
        .unwrap();
        dir.append(
            exchange,
            sym,
            &TapeEvent::Book {
                local: at,
                event: BookEvent::delta(vec![lvl(10_000, 1_000 + i)], vec![]),
            },
        )
        .unwrap();
    }
    dir.flush().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_folder_of_tapes_plays_with_unique_trade_ids_and_candles_from_its_trades() {
    let tmp = tempfile::tempdir().unwrap();
    folder_with_trades(tmp.path(), "binance");
    // The same symbol from a second venue cannot be served under the same name.
    folder_with_trades(tmp.path(), "kraken");
    let venue = ReplayExchange::new(ReplayConfig {
        tape_dir: Some(tmp.path().to_path_buf()),
        speed: 5.0,
        looped: true,
    })
    .unwrap();
    let pairs = venue.pairs().await.unwrap();
    assert_eq!(pairs.len(), 1, "one book per symbol");
    assert_eq!(venue.source_of(&pairs[0].symbol), Some("binance"));
    // No pair.json: the rules are read off the tape (the finest tick and step it shows).
    assert_eq!(pairs[0].price_tick, Decimal::new(1, 2));
    assert_eq!(pairs[0].qty_step, Decimal::new(1, 3));
    let venue = Arc::new(venue);
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        HubConfig {
            default_symbols: [(ExchangeId::Replay, vec!["BTC-USDT".to_owned()])].into(),
            ..HubConfig::default()
        },
        vec![venue.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Replay, Duration::from_secs(5))
        .await
        .unwrap();
    // Three passes of ten trades: thirty trades, none dropped as a repeat.
    eventually("three passes of trades", || {
        hub.trades(ExchangeId::Replay, "BTC-USDT", None, None, 1_000)
            .is_ok_and(|(_, t)| t.len() >= 30)
    })
    .await;
    let (_, trades) = hub
        .trades(ExchangeId::Replay, "BTC-USDT", None, None, 1_000)
        .unwrap();
    let mut ids: Vec<String> = trades.iter().map(|t| t.trade_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), trades.len(), "ids unique across passes");
    assert!(
        trades
            .windows(2)
            .all(|w| w[0].exchange_ts <= w[1].exchange_ts)
    );
    // Candles are the trades played.
    let q = KlineQuery {
        pair: pairs[0].clone(),
        interval: Interval::M1,
        start: None,
        end: None,
        limit: 1_000,
    };
    let candles = venue.klines(q).await.unwrap();
    let volume: Decimal = candles.iter().map(|k| k.volume.get()).sum();
    let traded: Decimal = trades.iter().map(|t| t.qty.get()).sum();
    assert!(volume >= traded, "{volume} < {traded}");
    shutdown.cancel();
    hub.wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_replay_that_does_not_loop_goes_quiet_and_stale() {
    let tmp = tempfile::tempdir().unwrap();
    folder_with_trades(tmp.path(), "binance");
    let venue = ReplayExchange::new(ReplayConfig {
        tape_dir: Some(tmp.path().to_path_buf()),
        speed: 1.0,
        looped: false,
    })
    .unwrap();
    let venue = Arc::new(venue);
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        HubConfig {
            default_symbols: [(ExchangeId::Replay, vec!["BTC-USDT".to_owned()])].into(),
            stale_after: Duration::from_secs(5),
            ..HubConfig::default()
        },
        vec![venue.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Replay, Duration::from_secs(5))
        .await
        .unwrap();
    eventually("the book goes stale after the tape's end", || {
        hub.snapshot(ExchangeId::Replay, "BTC-USDT")
            .is_ok_and(|s| s.health.state == BookState::Stale)
    })
    .await;
    let (_, trades) = hub
        .trades(ExchangeId::Replay, "BTC-USDT", None, None, 1_000)
        .unwrap();
    assert_eq!(trades.len(), 10, "one pass only");
    // Its candles hold exactly the trades played: 0.001 + … + 0.010.
    let pair = venue.pairs().await.unwrap().remove(0);
    let candles = venue
        .klines(KlineQuery {
            pair,
            interval: Interval::M1,
            start: None,
            end: None,
            limit: 1_000,
        })
        .await
        .unwrap();
    let volume: Decimal = candles.iter().map(|k| k.volume.get()).sum();
    assert_eq!(volume, Decimal::new(55, 3));
    let snap = hub.snapshot(ExchangeId::Replay, "BTC-USDT").unwrap();
    let last = lvl(10_000, 1_010);
    assert_eq!(
        snap.book.qty_at(BookSide::Bid, last.price),
        Some(last.qty),
        "the tape's last book"
    );
    shutdown.cancel();
    hub.wait().await;
}

#[test]
fn speeds_outside_the_range_are_refused() {
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY, 1_001.0] {
        let e = ReplayExchange::new(ReplayConfig {
            speed,
            ..ReplayConfig::default()
        })
        .unwrap_err();
        assert!(matches!(e, ReplayError::Speed(_)), "{e}");
    }
}
