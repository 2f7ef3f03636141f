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

/// Read a Parquet export back as the CSV's lines (decimals without trailing zeros).
fn parquet_lines(path: &std::path::Path, book: bool) -> Vec<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    let reader = SerializedFileReader::try_from(std::fs::File::open(path).unwrap()).unwrap();
    let dec = |d: &parquet::data_type::Decimal| {
        let bytes: [u8; 16] = d.data().try_into().unwrap();
        let scale = u32::try_from(d.scale()).unwrap();
        Decimal::from_i128_with_scale(i128::from_be_bytes(bytes), scale)
            .normalize()
            .to_string()
    };
    let mut out = vec![if book {
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount".to_owned()
    } else {
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount".to_owned()
    }];
    for row in reader.get_row_iter(None).unwrap() {
        let r = row.unwrap();
        let middle = if book {
            r.get_bool(4).unwrap().to_string()
        } else {
            r.get_string(4).unwrap().clone()
        };
        out.push(format!(
            "{},{},{},{},{middle},{},{},{}",
            r.get_string(0).unwrap(),
            r.get_string(1).unwrap(),
            r.get_timestamp_micros(2).unwrap(),
            r.get_timestamp_micros(3).unwrap(),
            r.get_string(5).unwrap(),
            dec(r.get_decimal(6).unwrap()),
            dec(r.get_decimal(7).unwrap()),
        ));
    }
    out
}

/// Parquet holds exactly the CSV's rows, typed: checked on the sample tape's whole Binance
/// NKN-USDT book (1 609 snapshot levels, 149 diffs) and on trades.
#[test]
fn parquet_exports_hold_the_csv_rows_typed_and_exact() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/replay/sample");
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("nkn.parquet");
    let base = [
        "tape",
        "export",
        "--dir",
        sample,
        "--exchange",
        "binance",
        "--symbol",
        "NKN-USDT",
    ];
    let (code, csv, err) = run(&base);
    assert_eq!(code, 0, "{err}");
    let mut args = base.to_vec();
    args.extend(["--format", "parquet", "--out", pq.to_str().unwrap()]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let csv: Vec<String> = csv.lines().map(str::to_owned).collect();
    assert!(csv.len() > 1_700, "{}", csv.len());
    assert_eq!(parquet_lines(&pq, true), csv);

    // Trades, with a text column for the id.
    let root = dir.path().join("tapes");
    let mut tapes = TapeDir::new(&root, WriterConfig::default()).unwrap();
    for (i, (p, q)) in [("101", "0.25"), ("100.99", "3"), ("101.5", "0.000001")]
        .iter()
        .enumerate()
    {
        let at = Timestamp::from_nanos(T0 + i as i64 * 1_000_000_000);
        tapes
            .append(
                "sim",
                "BTC-USDT",
                &TapeEvent::Trade(Trade {
                    trade_id: TradeId::Num(42 + i as u64),
                    exchange_ts: at,
                    local_ts: at,
                    price: p.parse().unwrap(),
                    qty: q.parse().unwrap(),
                    taker_side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                }),
            )
            .unwrap();
    }
    tapes.flush().unwrap();
    let root_s = root.to_str().unwrap();
    let trades = [
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
    ];
    let (code, csv, err) = run(&trades);
    assert_eq!(code, 0, "{err}");
    let tq = dir.path().join("t.parquet");
    let mut args = trades.to_vec();
    args.extend(["--format", "parquet", "--out", tq.to_str().unwrap()]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let csv: Vec<String> = csv.lines().map(str::to_owned).collect();
    assert_eq!(csv.len(), 4);
    assert_eq!(parquet_lines(&tq, false), csv);

    // Parquet goes to a file, never to a terminal.
    let mut args = trades.to_vec();
    args.extend(["--format", "parquet"]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--out"), "{err}");
}
