use bybit::parse::{BybitInbound, parse_frame};
use bybit::sync::{UpdateChain, Verdict};
use model::OrderBook;
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn frames(name: &str) -> Vec<String> {
    let v: Vec<serde_json::Value> = serde_json::from_str(&fixture(name)).unwrap();
    v.iter().map(|f| f.to_string()).collect()
}

/// The captured 200-level BTCUSDT sequence: the ack, the snapshot, the next delta applied on
/// top of it by the continuity rule, the result checked level by level against the frames.
#[test]
fn captured_orderbook200_sequence() {
    let f = frames("ws_orderbook200_btcusdt_spot_ack_snapshot_delta.json");
    assert!(matches!(parse_frame(&f[0]), Ok(BybitInbound::Ack { .. })));
    let Ok(BybitInbound::Book(snap)) = parse_frame(&f[1]) else {
        panic!("no snapshot")
    };
    let Ok(BybitInbound::Book(delta)) = parse_frame(&f[2]) else {
        panic!("no delta")
    };
    assert_eq!(snap.symbol, "BTCUSDT");
    assert_eq!((snap.event.bids.len(), snap.event.asks.len()), (200, 200));
    let mut chain = UpdateChain::default();
    assert_eq!(chain.snapshot(snap.update_id), Verdict::Apply);
    assert_eq!(chain.delta(delta.update_id), Verdict::Apply, "u + 1");
    let mut book = OrderBook::with_scales(2, 6).with_depth_cap(Some(200));
    book.apply(&snap.event).unwrap();
    book.apply(&delta.event).unwrap();
    assert!(!book.is_crossed());
    // Every level of the delta is now what it says (or gone when it says 0).
    let raw: serde_json::Value = serde_json::from_str(&f[2]).unwrap();
    let top = book.top(200);
    for (side, key) in [(top.bids(), "b"), (top.asks(), "a")] {
        for l in raw["data"][key].as_array().unwrap() {
            let p: Decimal = l[0].as_str().unwrap().parse().unwrap();
            let q: Decimal = l[1].as_str().unwrap().parse().unwrap();
            let found = side
                .iter()
                .find(|x| x.price.get() == p)
                .map(|x| x.qty.get());
            if q.is_zero() {
                assert_eq!(found, None, "{p} deleted");
            } else if let Some(found) = found {
                assert_eq!(found, q, "{p}");
            }
        }
    }
    // A snapshot replaced by the 50-level captured snapshot and its (unrelated) delta: the
    // later delta's u does not continue the chain, which must be a gap.
    let Ok(BybitInbound::Book(s50)) =
        parse_frame(&fixture("ws_orderbook50_btcusdt_snapshot_trimmed.json"))
    else {
        panic!()
    };
    let Ok(BybitInbound::Book(d50)) = parse_frame(&fixture("ws_orderbook50_btcusdt_delta.json"))
    else {
        panic!()
    };
    assert_eq!(chain.snapshot(s50.update_id), Verdict::Apply);
    assert_eq!(
        chain.delta(d50.update_id),
        Verdict::Gap {
            expected: s50.update_id + 1,
            got: d50.update_id
        }
    );
    assert_eq!(s50.event.bids[0].price.get(), Decimal::new(2_923_081, 2));
}

/// The reference's §6.5 sequence: the top after two deltas, then a restart snapshot
/// (`u = 1`) replaces the book without a gap; a later jump is a gap.
#[test]
fn reference_sequence() {
    let f = [
        r#"{"topic":"orderbook.50.BTCUSDT","ts":1782907200101,"type":"snapshot","data":{"s":"BTCUSDT","b":[["67000.00","0.500000"],["66999.90","1.200000"]],"a":[["67000.10","0.250000"],["67000.50","2.000000"]],"u":1000,"seq":88123001},"cts":1782907200099}"#,
        r#"{"topic":"orderbook.50.BTCUSDT","ts":1782907200121,"type":"delta","data":{"s":"BTCUSDT","b":[["67000.00","0.800000"]],"a":[],"u":1001,"seq":88123017},"cts":1782907200119}"#,
        r#"{"topic":"orderbook.50.BTCUSDT","ts":1782907200141,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[["67000.10","0"],["67001.00","0.750000"]],"u":1002,"seq":88123040},"cts":1782907200140}"#,
        r#"{"success":true,"ret_msg":"pong","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","op":"ping"}"#,
        r#"{"topic":"orderbook.50.BTCUSDT","ts":1782907300000,"type":"snapshot","data":{"s":"BTCUSDT","b":[["67010.00","0.300000"]],"a":[["67010.10","0.100000"]],"u":1,"seq":88130000},"cts":1782907299990}"#,
    ];
    let mut book = OrderBook::with_scales(2, 6).with_depth_cap(Some(50));
    let mut chain = UpdateChain::default();
    for (i, text) in f.iter().enumerate() {
        match parse_frame(text).unwrap() {
            BybitInbound::Book(b) => {
                let v = if b.event.kind == model::BookEventKind::Snapshot {
                    chain.snapshot(b.update_id)
                } else {
                    chain.delta(b.update_id)
                };
                assert_eq!(v, Verdict::Apply, "frame {i}");
                book.apply(&b.event).unwrap();
            }
            BybitInbound::Pong => {}
            other => panic!("{other:?}"),
        }
        if i == 2 {
            let top = book.top(2);
            assert_eq!(top.asks()[0].price.get(), Decimal::new(6_700_050, 2));
            assert_eq!(top.bids()[0].qty.get(), Decimal::new(8, 1));
        }
    }
    let top = book.top(5);
    assert_eq!(
        (top.bids().len(), top.asks().len()),
        (1, 1),
        "replaced, not merged"
    );
    assert_eq!(
        chain.delta(4),
        Verdict::Gap {
            expected: 2,
            got: 4
        }
    );
}
