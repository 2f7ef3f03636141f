use std::collections::BTreeMap;

use binance::parse::{
    BinanceInbound, parse_exchange_info, parse_frame, parse_klines, parse_snapshot,
};
use binance::sync::{DepthSync, SnapshotOutcome, Step};
use model::{BookEvent, BookSide, OrderBook, PairStatus, Timestamp};
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every element of a sequence fixture as its own frame text.
fn frames(name: &str) -> Vec<String> {
    let v: Vec<serde_json::Value> = serde_json::from_str(&fixture(name)).unwrap();
    v.iter().map(|f| f.to_string()).collect()
}

#[test]
fn captured_frames_decode() {
    // (fixture, expected kind, levels)
    let raw = fixture("ws_depth_update_btcusdt_raw_stream.json");
    match parse_frame(&raw).unwrap() {
        BinanceInbound::Depth { symbol, update } => {
            assert_eq!(symbol, "BTCUSDT");
            assert_eq!(
                (update.first, update.last),
                (38_531_387_766, 38_531_387_832)
            );
            assert!(
                update.bids.iter().any(|l| l.qty.is_zero()),
                "removals decode as zero"
            );
            assert_eq!(update.bids[0].price.get().to_string(), "26127.87000000");
        }
        other => panic!("{other:?}"),
    }
    let combined = fixture("ws_diff_depth_btcusdt_combined_2025.json");
    match parse_frame(combined.trim()).unwrap() {
        BinanceInbound::Depth { symbol, update } => {
            assert_eq!(symbol, "BTCUSDT");
            assert_eq!(
                (update.first, update.last),
                (80_630_991_978, 80_630_992_451)
            );
            // Exact counts of the capture (SOURCES.md rounds them to "140+ and 75").
            assert_eq!((update.bids.len(), update.asks.len()), (136, 74));
        }
        other => panic!("{other:?}"),
    }
    // Partial-depth frames are a stream we do not use: recognized, not an error.
    let partial = fixture("ws_depth20_flmusdt_combined_stream.json");
    assert!(matches!(
        parse_frame(partial.trim()),
        Ok(BinanceInbound::Other(_))
    ));
}

#[test]
fn captured_nknusdt_sequence_splices_with_its_snapshot_without_a_gap() {
    let snap = parse_snapshot(&fixture("rest_depth_nknusdt_limit1000.json")).unwrap();
    assert_eq!(snap.last_update_id, 499_869_752);
    assert_eq!((snap.bids.len(), snap.asks.len()), (609, 1000));
    let frames = frames("ws_diff_depth_nknusdt_sequence.json");
    assert_eq!(frames.len(), 150);

    let mut sync = DepthSync::default();
    let mut book = OrderBook::new();
    // Reference model: BTreeMaps fed the same levels.
    let mut bids: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    let mut asks: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    let mut apply_ref = |e: &BookEvent| {
        for (side, ls) in [(&mut bids, &e.bids), (&mut asks, &e.asks)] {
            if e.kind == model::BookEventKind::Snapshot {
                side.clear();
            }
            for l in ls {
                if l.qty.is_zero() {
                    side.remove(&l.price.get().normalize());
                } else {
                    side.insert(l.price.get().normalize(), l.qty.get().normalize());
                }
            }
        }
    };
    let mut pending_snapshot = Some(snap);
    let mut applied = 0;
    for f in &frames {
        let BinanceInbound::Depth { update, .. } = parse_frame(f).unwrap() else {
            panic!("depth frame expected")
        };
        match sync.on_update(update) {
            Step::NeedSnapshot => {
                let SnapshotOutcome::Synced(evs) =
                    sync.on_snapshot(pending_snapshot.take().unwrap())
                else {
                    panic!("the captured snapshot bridges the stream")
                };
                for e in &evs {
                    book.apply(e).unwrap();
                    apply_ref(e);
                }
                applied += evs.len() - 1;
            }
            Step::Apply(e) => {
                book.apply(&e).unwrap();
                apply_ref(&e);
                applied += 1;
            }
            Step::Nothing => {}
            Step::Gap { expected, got } => panic!("false gap: expected {expected}, got {got}"),
        }
    }
    // The first event (U=499869750, u=499869752) is covered by the snapshot and dropped.
    assert_eq!(applied, 149);
    assert_eq!(book.seq(), sync.book_id());
    assert!(!book.is_crossed());
    let got: Vec<(Decimal, Decimal)> = book
        .levels(BookSide::Bid)
        .map(|l| (l.price.get().normalize(), l.qty.get().normalize()))
        .collect();
    let want: Vec<(Decimal, Decimal)> = bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
    assert_eq!(got, want);
    let got: Vec<(Decimal, Decimal)> = book
        .levels(BookSide::Ask)
        .map(|l| (l.price.get().normalize(), l.qty.get().normalize()))
        .collect();
    let want: Vec<(Decimal, Decimal)> = asks.iter().map(|(p, q)| (*p, *q)).collect();
    assert_eq!(got, want);
}

#[test]
fn captured_exchange_info_and_klines_normalize() {
    let pairs = parse_exchange_info(&fixture("rest_exchange_info_2021_trimmed.json")).unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p.symbol.as_str()).collect();
    assert_eq!(
        names,
        ["LRC-BTC", "BLZ-ETH", "NKN-USDT", "RUNE-EUR"],
        "file order"
    );
    let nkn = &pairs[2];
    assert_eq!(nkn.exchange_symbol, "NKNUSDT");
    assert_eq!(nkn.ws_symbol, "nknusdt");
    assert_eq!(nkn.status, PairStatus::Trading);
    assert!(nkn.price_tick > Decimal::ZERO && nkn.qty_step > Decimal::ZERO);
    assert!(nkn.min_notional.is_some(), "legacy MIN_NOTIONAL is read");

    // Found by the binance_rest fuzz target: an entry with an empty native symbol was listed.
    // Such entries, and ones with a negative grid, are left out; the rest still parse.
    let mut info: serde_json::Value =
        serde_json::from_str(&fixture("rest_exchange_info_2021_trimmed.json")).unwrap();
    info["symbols"][0]["symbol"] = "".into();
    info["symbols"][1]["symbol"] = "BLZ ETH".into();
    let filters = info["symbols"][2]["filters"].as_array_mut().unwrap();
    for f in filters.iter_mut() {
        if f["filterType"] == "LOT_SIZE" {
            f["stepSize"] = "-0.1".into();
        }
    }
    let pairs = parse_exchange_info(&info.to_string()).unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p.symbol.as_str()).collect();
    assert_eq!(names, ["RUNE-EUR"]);

    let now = Timestamp::from_millis(1_634_943_840_000 + 30_000);
    let k = parse_klines(&fixture("rest_klines_btcusdt_1m.json"), now).unwrap();
    assert!(k.len() >= 2);
    assert_eq!(k[0].open_time, Timestamp::from_millis(1_634_943_780_000));
    assert_eq!(
        k[0].close_time,
        Timestamp::from_millis(1_634_943_840_000),
        "exclusive end"
    );
    assert_eq!(k[0].open.to_string(), "60685.22000000");
    assert!(k[0].closed);
    assert!(!k[1].closed, "the candle still running at `now` is flagged");
    for w in k.windows(2) {
        assert_eq!(w[0].close_time, w[1].open_time);
    }
}
