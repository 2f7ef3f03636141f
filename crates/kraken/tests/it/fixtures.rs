use kraken::parse::{
    KrakenInbound, RestBodyError, checksum, checksum_input, parse_asset_pairs, parse_frame,
    parse_ohlc,
};
use model::{BookEvent, OrderBook, PairStatus};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn book_events(frame: &str) -> Vec<BookEvent> {
    match parse_frame(frame).unwrap() {
        KrakenInbound::Book(b) => b.into_iter().map(|b| b.event).collect(),
        other => panic!("not a book frame: {other:?}"),
    }
}

fn input_string(book: &OrderBook, p: u32, q: u32) -> String {
    let mut s = Vec::new();
    checksum_input(book, p, q, &mut |b| s.extend_from_slice(b));
    String::from_utf8(s).unwrap()
}

/// The reference's §3.5 sequence: every checksum and every checksum input string.
#[test]
fn reference_sequence_checksums() {
    let frames = [
        r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":67000.0,"qty":0.50000000},{"price":66999.9,"qty":1.20000000},{"price":66999.5,"qty":0.01500000}],"asks":[{"price":67000.1,"qty":0.25000000},{"price":67000.5,"qty":2.00000000},{"price":67001.0,"qty":0.75000000}],"checksum":1778154725,"timestamp":"2026-07-01T12:00:00.101000Z"}]}"#,
        r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":67000.0,"qty":0.80000000}],"asks":[],"checksum":3028042185,"timestamp":"2026-07-01T12:00:00.350112Z"}]}"#,
        r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[{"price":67000.1,"qty":0.00000000},{"price":67001.5,"qty":0.10000000}],"checksum":102433424,"timestamp":"2026-07-01T12:00:00.512877Z"}]}"#,
        r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":67000.1,"qty":0.05000000}],"asks":[],"checksum":1027494767,"timestamp":"2026-07-01T12:00:01.730004Z"}]}"#,
    ];
    let inputs = [
        "6700012500000067000520000000067001075000000670000500000006699991200000006699951500000",
        "6700012500000067000520000000067001075000000670000800000006699991200000006699951500000",
        "6700052000000006700107500000067001510000000670000800000006699991200000006699951500000",
        "67000520000000067001075000000670015100000006700015000000670000800000006699991200000006699951500000",
    ];
    let expected = [1_778_154_725u32, 3_028_042_185, 102_433_424, 1_027_494_767];
    let mut book = OrderBook::with_scales(1, 8).with_depth_cap(Some(10));
    for ((f, input), sum) in frames.iter().zip(inputs).zip(expected) {
        for ev in book_events(f) {
            assert_eq!(ev.checksum, Some(sum));
            assert!(ev.exchange_ts.is_some());
            book.apply(&ev).unwrap();
        }
        assert_eq!(input_string(&book, 1, 8), input);
        assert_eq!(checksum(&book, 1, 8), sum);
        assert_eq!(crc32fast::hash(input.as_bytes()), sum);
        assert_eq!(
            testkit::kraken::text_checksum(
                &book
                    .top(10)
                    .bids()
                    .iter()
                    .map(|l| (l.price.get(), l.qty.get()))
                    .collect::<Vec<_>>(),
                &book
                    .top(10)
                    .asks()
                    .iter()
                    .map(|l| (l.price.get(), l.qty.get()))
                    .collect::<Vec<_>>(),
                1,
                8
            ),
            sum,
            "the mock's independent checksum agrees"
        );
    }
    // The reference's pitfall: a wrong checksum is detected, the book is contaminated.
    let mut bad = OrderBook::with_scales(1, 8).with_depth_cap(Some(10));
    for ev in book_events(frames[0]) {
        bad.apply(&ev).unwrap();
    }
    assert_ne!(checksum(&bad, 1, 8), expected[2]);
}

/// A real depth-25 BTC/USDT snapshot: the checksum covers only the top 10.
#[test]
fn captured_depth25_snapshot_checksum() {
    let text = fixture("ws_v2_book_snapshot_btcusdt_depth25.json");
    let evs = book_events(&text);
    let mut book = OrderBook::with_scales(1, 8).with_depth_cap(Some(25));
    book.apply(&evs[0]).unwrap();
    assert_eq!(book.len(), (25, 25));
    assert_eq!(evs[0].checksum, Some(4_162_058_887));
    assert_eq!(checksum(&book, 1, 8), 4_162_058_887);
    // Trailing zeros survive: 105906.7 / 0.09440620.
    let best = book.best_bid().unwrap();
    assert_eq!(best.price.get(), Decimal::new(1_059_067, 1));
    assert_eq!(best.qty.get(), Decimal::new(9_440_620, 8));
}

/// Kraken's documentation example, with prices and quantities as quoted strings.
#[test]
fn documented_checksum_guide_with_quoted_numbers() {
    let text = fixture("ws_v2_book_snapshot_btcusd_docs_checksum_guide.json");
    let evs = book_events(&text);
    let mut book = OrderBook::with_scales(1, 8).with_depth_cap(Some(10));
    book.apply(&evs[0]).unwrap();
    assert_eq!(checksum(&book, 1, 8), 3_310_070_434);
}

/// Decimal places of the first price and quantity in a v1 snapshot frame.
fn wire_decimals(v2_snapshot: &str) -> (u32, u32) {
    let evs = book_events(v2_snapshot);
    let l = evs[0].asks[0];
    (l.price.get().scale(), l.qty.get().scale())
}

/// Real captured sequences (v1, carried into v2 frames with their number text unchanged):
/// every update's checksum must match after applying it to a book of depth 1000.
#[test]
fn captured_sequences_verify_every_checksum() {
    for (name, updates) in [
        ("ws_v1_book_sequence_xmrusd.json", 60),
        ("ws_v1_book_sequence_grteth_complete.json", 20),
    ] {
        let text = fixture(name);
        let raw: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
        let frames = testkit::kraken::v1_to_v2(&raw);
        let (pd, qd) = wire_decimals(&frames[0]);
        let mut book = OrderBook::with_scales(pd, qd).with_depth_cap(Some(1_000));
        let mut verified = 0;
        for f in &frames {
            for ev in book_events(f) {
                book.apply(&ev).unwrap();
                if let Some(sum) = ev.checksum {
                    assert_eq!(
                        checksum(&book, pd, qd),
                        sum,
                        "{name} after {verified} updates"
                    );
                    verified += 1;
                }
            }
            assert!(!book.is_crossed(), "{name}");
        }
        assert_eq!(verified, updates, "{name}");
    }
}

#[test]
fn asset_pairs_2021_normalize() {
    let pairs = parse_asset_pairs(&fixture("rest_asset_pairs_2021_trimmed.json")).unwrap();
    assert_eq!(pairs.len(), 5);
    let btc = pairs
        .iter()
        .find(|p| p.pair.symbol.as_str() == "BTC-CHF")
        .unwrap();
    assert_eq!(btc.pair.exchange_symbol, "XBTCHF");
    assert_eq!(btc.pair.ws_symbol, "BTC/CHF");
    assert!(btc.pair.aliases.contains(&"XBT/CHF".to_owned()));
    assert_eq!((btc.price_decimals, btc.qty_decimals), (1, 8));
    // No tick_size in 2021: the tick is 10^-pair_decimals.
    assert_eq!(btc.pair.price_tick, Decimal::new(1, 1));
    assert_eq!(btc.pair.qty_step, Decimal::new(1, 8));
    let xmr = pairs
        .iter()
        .find(|p| p.pair.symbol.as_str() == "XMR-USD")
        .unwrap();
    assert_eq!(xmr.pair.exchange_symbol, "XMRUSD");
    assert!(xmr.pair.aliases.contains(&"XXMRZUSD".to_owned()));
    assert_eq!(xmr.pair.status, PairStatus::Trading);
    let grt = pairs
        .iter()
        .find(|p| p.pair.symbol.as_str() == "GRT-ETH")
        .unwrap();
    assert_eq!(grt.price_decimals, 7);
}

#[test]
fn asset_pairs_2025_normalize() {
    let pairs = parse_asset_pairs(&fixture("rest_asset_pairs_xbtusdt_2025.json")).unwrap();
    assert_eq!(pairs.len(), 1);
    let p = &pairs[0].pair;
    assert_eq!(p.symbol.as_str(), "BTC-USDT");
    assert_eq!(p.ws_symbol, "BTC/USDT");
    assert_eq!(p.exchange_symbol, "XBTUSDT");
    assert_eq!(p.price_tick, Decimal::new(1, 1));
    assert!(p.min_qty > Decimal::ZERO);
    assert!(p.min_notional.is_some());
    assert_eq!(p.status, PairStatus::Trading);
}

#[test]
fn asset_pairs_skip_dark_pool_and_equities_and_read_status() {
    let body = r#"{"error":[],"result":{
        "XBTUSD.d":{"altname":"XBTUSD.d","aclass_base":"currency","pair_decimals":1,"lot_decimals":8},
        "AAPLxUSD":{"altname":"AAPLxUSD","wsname":"AAPLx/USD","aclass_base":"tokenized_asset","pair_decimals":2,"lot_decimals":8},
        "NOWS":{"altname":"NOWS","aclass_base":"currency","pair_decimals":2,"lot_decimals":8},
        "XDGUSD":{"altname":"XDGUSD","wsname":"XDG/USD","aclass_base":"currency","pair_decimals":7,"lot_decimals":8,"tick_size":"0.0000001","ordermin":"50","costmin":"0.5","status":"cancel_only"}}}"#;
    let pairs = parse_asset_pairs(body).unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].pair.symbol.as_str(), "DOGE-USD");
    assert_eq!(pairs[0].pair.ws_symbol, "DOGE/USD");
    assert_eq!(pairs[0].pair.status, PairStatus::CancelOnly);
    assert!(matches!(
        parse_asset_pairs(r#"{"error":["EService:Unavailable"]}"#),
        Err(RestBodyError::Api(_))
    ));
    assert!(matches!(
        parse_asset_pairs("<html>"),
        Err(RestBodyError::Parse(_))
    ));
}

#[test]
fn ohlc_rows_normalize_with_in_progress_last() {
    let k = parse_ohlc(&fixture("rest_ohlc_xbtusdt_1m_trimmed.json"), 1).unwrap();
    assert_eq!(k.len(), 30);
    assert_eq!(k[0].open_time.as_secs(), 1_762_818_480);
    assert_eq!(k[0].close_time.as_secs(), 1_762_818_540);
    assert_eq!(k[0].open.get(), Decimal::new(1_062_628, 1));
    assert_eq!(k[0].volume.get(), Decimal::new(61_262, 8));
    assert!(k[..29].iter().all(|k| k.closed));
    assert!(!k[29].closed, "the last candle is in progress");
    // Empty buckets (vwap 0.0, volume 0) are kept.
    assert!(k[1].volume.get().is_zero());
    assert!(k.windows(2).all(|w| w[0].open_time < w[1].open_time));
    assert!(matches!(
        parse_ohlc(r#"{"error":["EQuery:Unknown asset pair"]}"#, 1),
        Err(RestBodyError::Api(e)) if e.0[0] == "EQuery:Unknown asset pair"
    ));
}
