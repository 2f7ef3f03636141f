//! `papertwap tape ls|export` on a tape folder written with the tape crate.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use model::{BookEvent, Level, Price, Qty, Side, Timestamp, Trade, TradeId};
use rust_decimal::Decimal;
use tape::{TapeDir, TapeEvent, WriterConfig};

const T0: i64 = 1_765_000_000_000_000_000; // 2025-12-06T05:46:40Z

fn lvl(p: &str, q: &str) -> Level {
    Level::new(p.parse::<Price>().unwrap(), q.parse::<Qty>().unwrap())
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_papertwap"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tapes_are_listed_and_exported_with_tardis_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tapes");
    let mut tapes = TapeDir::new(&root, WriterConfig::default()).unwrap();
    let at = |s: i64| Timestamp::from_nanos(T0 + s * 1_000_000_000);
    let events = [
        TapeEvent::Book {
            local: at(0),
            event: BookEvent::snapshot(vec![lvl("100.5", "2")], vec![lvl("101", "1.50")]),
        },
        TapeEvent::Book {
            local: at(10),
            event: BookEvent::delta(vec![lvl("100.5", "0"), lvl("100.4", "3")], vec![]),
        },
        TapeEvent::Trade(Trade {
            trade_id: TradeId::Num(42),
            exchange_ts: at(19),
            local_ts: at(20),
            price: "101".parse().unwrap(),
            qty: Qty::try_from(Decimal::new(25, 2)).unwrap(),
            taker_side: Side::Buy,
        }),
        TapeEvent::Book {
            local: at(30),
            event: BookEvent::delta(vec![], vec![lvl("101", "1.25")]),
        },
    ];
    for e in &events {
        tapes.append("sim", "BTC-USDT", e).unwrap();
    }
    tapes.flush().unwrap();
    let root_s = root.to_str().unwrap();

    let (code, out, err) = run(&["tape", "ls", "--dir", root_s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sim") && out.contains("BTC-USDT") && out.contains("2025-12-06T05:00Z"),
        "{out}"
    );

    // From after the first delta: the book as it stood then, then the later changes.
    let (code, out, err) = run(&[
        "tape",
        "export",
        "--dir",
        root_s,
        "--exchange",
        "sim",
        "--symbol",
        "BTC-USDT",
        "--from",
        "2025-12-06T05:46:55",
    ]);
    assert_eq!(code, 0, "{err}");
    let us = |s: i64| (T0 + s * 1_000_000_000) / 1_000;
    let from = us(15);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount".to_owned(),
            format!("sim,BTC-USDT,{from},{from},true,bid,100.4,3"),
            format!("sim,BTC-USDT,{from},{from},true,ask,101,1.5"),
            format!("sim,BTC-USDT,{},{},false,ask,101,1.25", us(30), us(30)),
        ]
    );

    let (code, out, err) = run(&[
        "tape",
        "export",
        "--dir",
        root_s,
        "--exchange",
        "sim",
        "--symbol",
        "BTC-USDT",
        "--kind",
        "trades",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().nth(1).unwrap(),
        format!("sim,BTC-USDT,{},{},42,buy,101,0.25", us(19), us(20))
    );

    let (code, _, err) = run(&[
        "tape",
        "export",
        "--dir",
        root_s,
        "--exchange",
        "sim",
        "--symbol",
        "ETH-USDT",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no tape of sim ETH-USDT"), "{err}");
    let (code, _, err) = run(&[
        "tape",
        "export",
        "--dir",
        root_s,
        "--exchange",
        "sim",
        "--symbol",
        "BTC-USDT",
        "--from",
        "yesterday",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from") && err.contains("RFC 3339"), "{err}");
}
