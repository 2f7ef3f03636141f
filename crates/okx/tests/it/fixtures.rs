use model::OrderBook;
use okx::parse::{OkxInbound, checksum, checksum_bits, checksum_input, parse_frame};

fn frames(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    v.iter().map(|f| f.to_string()).collect()
}

/// Replay a captured `books` sequence and verify the checksum of every message from the
/// book's exact integers: 0 false failures.
fn replay(name: &str, scales: (u32, u32)) -> usize {
    let mut book = OrderBook::with_scales(scales.0, scales.1).with_depth_cap(Some(400));
    let mut verified = 0;
    for (i, f) in frames(name).iter().enumerate() {
        match parse_frame(f).unwrap() {
            OkxInbound::Subscribed { channel, .. } => assert_eq!(channel, "books"),
            OkxInbound::Book(books) => {
                for b in books {
                    book.apply(&b.event).unwrap();
                    let want = b
                        .event
                        .checksum
                        .expect("every captured frame has a checksum");
                    assert_eq!(
                        checksum(&book),
                        want,
                        "frame {i}: input {}",
                        String::from_utf8_lossy(&checksum_input(&book))
                    );
                    verified += 1;
                }
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
    verified
}

#[test]
fn every_captured_checksum_verifies() {
    assert_eq!(
        replay("ws_books_btc_usd_220527_futures_sequence.json", (1, 0)),
        41
    );
    assert_eq!(replay("ws_books_uni_usd_swap_sequence.json", (3, 0)), 41);
}

#[test]
fn a_corrupted_level_fails_the_checksum() {
    let f = frames("ws_books_uni_usd_swap_sequence.json");
    let Ok(OkxInbound::Book(b)) = parse_frame(&f[1]) else {
        panic!()
    };
    let mut book = OrderBook::with_scales(3, 0);
    let mut ev = b[0].event.clone();
    let q = ev.bids[0].qty.get() + rust_decimal::Decimal::ONE;
    ev.bids[0].qty = model::Qty::try_from(q).unwrap();
    book.apply(&ev).unwrap();
    assert_ne!(Some(checksum(&book)), b[0].event.checksum);
    assert_eq!(checksum_bits(Some(-1)), Some(u32::MAX));
}

#[test]
fn books5_pushes_decode() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/ws_books5_doge_usdt.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // The old books5 shape has no action: it is not a `books` push.
    assert!(matches!(parse_frame(&text), Ok(OkxInbound::Other(c)) if c == "books5"));
}
