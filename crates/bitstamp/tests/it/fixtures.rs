use bitstamp::parse::{BtsInbound, parse_frame, parse_order_book};
use bitstamp::sync::{DiffChain, Step};
use model::OrderBook;
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The captured ETH/USD diffs and the REST book fetched while they flowed: the book is
/// placed on the stream (12 diffs it covers dropped), the 73 that follow applied; the
/// result, checked against an independent computation of the same splice, is not crossed.
#[test]
fn captured_diffs_spliced_with_the_captured_rest_book() {
    let (at, snapshot) = parse_order_book(&fixture("rest_order_book_ethusd.json")).unwrap();
    assert_eq!(at, 1_641_343_695_681_418);
    let frames: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("ws_diff_order_book_ethusd_sequence.json")).unwrap();
    assert!(matches!(
        parse_frame(&frames[0].to_string()),
        Ok(BtsInbound::Subscribed(c)) if c == "diff_order_book_ethusd"
    ));
    let mut chain = DiffChain::new(1_000);
    for f in &frames[1..] {
        let Ok(BtsInbound::Diff(d)) = parse_frame(&f.to_string()) else {
            panic!("not a diff: {f}")
        };
        assert_eq!(d.pair, "ethusd");
        assert_eq!(chain.diff(d.micros, d.event), Step::Buffered);
    }
    let follow = chain
        .place(at)
        .expect("the stream reaches back to the snapshot");
    assert_eq!(follow.len(), 73);
    let mut book = OrderBook::with_scales(2, 8);
    book.apply(&snapshot).unwrap();
    for e in &follow {
        book.apply(e).unwrap();
    }
    assert!(!book.is_crossed());
    let top = book.top(1);
    assert_eq!(top.bids()[0].price.get(), Decimal::new(380_078, 2));
    assert_eq!(top.asks()[0].price.get(), Decimal::new(380_358, 2));
    assert_eq!(book.len(), (2_013, 1_977));
}

/// The reference's §7.5 deletion as a diff, and a diff whose time goes back.
#[test]
fn reference_diff_and_a_step_back() {
    let d = r#"{"data":{"timestamp":"1782907201","microtimestamp":"1782907201023456","bids":[],"asks":[["67000.01","0.00000000"],["67001.00","0.75000000"]]},"channel":"diff_order_book_btcusd","event":"data"}"#;
    let Ok(BtsInbound::Diff(d)) = parse_frame(d) else {
        panic!()
    };
    let mut chain = DiffChain::new(10);
    chain.diff(d.micros - 1, model::BookEvent::delta(vec![], vec![]));
    assert_eq!(chain.place(d.micros - 1).map(|f| f.len()), Some(0));
    assert!(matches!(chain.diff(d.micros, d.event), Step::Apply(_)));
    assert_eq!(
        chain.diff(d.micros - 500_000, model::BookEvent::delta(vec![], vec![])),
        Step::Broken {
            last: d.micros,
            got: d.micros - 500_000
        }
    );
}
