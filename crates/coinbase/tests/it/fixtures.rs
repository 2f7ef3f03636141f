use coinbase::parse::{CbInbound, granularity, parse_candles, parse_frame, parse_products};
use model::{Interval, OrderBook, PairStatus, Timestamp};
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The documented `level2` snapshot (as `l2_data`): a book of its two bids.
#[test]
fn captured_level2_snapshot() {
    let f = parse_frame(&fixture("ws_level2_l2_data_snapshot_docs.json")).unwrap();
    assert_eq!(f.seq, Some(0));
    let CbInbound::Books(books) = f.inbound else {
        panic!("not a book")
    };
    assert_eq!(books[0].product_id, "BTC-USD");
    let mut book = OrderBook::with_scales(2, 8);
    book.apply(&books[0].event).unwrap();
    let top = book.top(5);
    assert_eq!(top.bids().len(), 2);
    assert_eq!(top.bids()[0].price.get(), Decimal::new(2_192_173, 2));
    assert_eq!(top.bids()[1].qty.get(), Decimal::new(2, 2));
}

/// The reference's §4.5 sequence: the book after every frame, the orphan delete ignored.
#[test]
fn reference_sequence() {
    let frames = [
        r#"{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.101000000Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-07-01T12:00:00.100900Z","price_level":"67000.00","new_quantity":"0.50000000"},{"side":"bid","event_time":"2026-07-01T12:00:00.100900Z","price_level":"66999.99","new_quantity":"1.20000000"},{"side":"offer","event_time":"2026-07-01T12:00:00.100900Z","price_level":"67000.01","new_quantity":"0.25000000"},{"side":"offer","event_time":"2026-07-01T12:00:00.100900Z","price_level":"67000.50","new_quantity":"2.00000000"}]}]}"#,
        r#"{"channel":"subscriptions","client_id":"","timestamp":"2026-07-01T12:00:00.105211431Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}"#,
        r#"{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.350000000Z","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-07-01T12:00:00.349000Z","price_level":"67000.00","new_quantity":"0.80000000"}]}]}"#,
        r#"{"channel":"subscriptions","client_id":"","timestamp":"2026-07-01T12:00:00.360000000Z","sequence_num":3,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["heartbeats"]}}]}"#,
        r#"{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.512000000Z","sequence_num":4,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"offer","event_time":"2026-07-01T12:00:00.511000Z","price_level":"67000.01","new_quantity":"0"},{"side":"offer","event_time":"2026-07-01T12:00:00.511000Z","price_level":"67003.33","new_quantity":"0"}]}]}"#,
        r#"{"channel":"heartbeats","client_id":"","timestamp":"2026-07-01T12:00:01.000120000Z","sequence_num":5,"events":[{"current_time":"2026-07-01 12:00:00.999871 +0000 UTC m=+1.0","heartbeat_counter":1}]}"#,
    ];
    let mut book = OrderBook::with_scales(2, 8);
    let mut seq = coinbase::sync::ConnSeq::default();
    for text in frames {
        let f = parse_frame(text).unwrap();
        assert_eq!(seq.check(f.seq.unwrap()), coinbase::sync::Verdict::InOrder);
        if let CbInbound::Books(b) = f.inbound {
            book.apply(&b[0].event).unwrap();
        }
    }
    let top = book.top(5);
    assert_eq!(top.asks()[0].price.get(), Decimal::new(6_700_050, 2));
    assert_eq!(top.bids()[0].qty.get(), Decimal::new(8, 1));
    assert_eq!(book.orphan_deletes(), 1, "67003.33 was never published");
    // Skipping sequence 3 (a subscriptions frame) is a gap all the same.
    let mut seq = coinbase::sync::ConnSeq::default();
    for s in [0, 1, 2, 4] {
        let v = seq.check(s);
        assert_eq!(v == coinbase::sync::Verdict::InOrder, s != 4);
    }
}

#[test]
fn captured_products_and_candles() {
    let pairs = parse_products(&fixture("rest_products_list.json")).unwrap();
    assert_eq!(pairs.len(), 1, "BTC-USDC shares BTC-USD's book");
    let p = &pairs[0];
    assert_eq!(p.symbol.as_str(), "BTC-USD");
    assert_eq!(p.price_tick, Decimal::new(1, 2));
    assert_eq!(p.qty_step, Decimal::new(1, 8));
    assert_eq!(p.min_notional, Some(Decimal::ONE));
    assert_eq!(p.status, PairStatus::Trading);
    // The single-product body is the same object.
    let one = format!(
        r#"{{"products":[{}],"num_products":1}}"#,
        fixture("rest_product_btc_usd.json")
    );
    assert_eq!(parse_products(&one).unwrap()[0].symbol.as_str(), "BTC-USD");
    let k = parse_candles(
        &fixture("rest_candles_btc_usd.json"),
        Interval::H1,
        Timestamp::from_secs(1_712_196_000),
    )
    .unwrap();
    assert_eq!(k.len(), 2);
    assert!(k[0].open_time < k[1].open_time, "oldest first");
    assert_eq!(k[1].open.to_string(), "66312.4");
    assert!(k[0].closed && k[1].closed);
    assert_eq!(granularity(Interval::H4), ("TWO_HOUR", Interval::H2));
}
