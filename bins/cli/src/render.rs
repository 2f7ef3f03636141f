//! Human and JSON output.

use std::io::Write;

use papertwap_client::wire;
use serde::Serialize;

pub(crate) fn print_json<T: Serialize>(v: &T) {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

pub(crate) fn order_line(o: &wire::Order) -> String {
    format!(
        "{:<24} {:<8} {:<10} {:<4} {:>12} {:>12} {:>9} {:>14} {}/{}",
        o.token_id,
        o.exchange,
        o.symbol,
        o.side,
        o.quantity,
        o.filled_quantity,
        o.status,
        opt(&o.avg_price),
        o.slices_done + o.slices_skipped,
        o.slices_total
    )
}

pub(crate) fn trades_header() -> String {
    format!(
        "{:<26} {:<4} {:>16} {:>16} {:>14}",
        "time (venue)", "side", "price", "qty", "id"
    )
}

pub(crate) fn trade_line(t: &wire::Trade) -> String {
    format!(
        "{:<26} {:<4} {:>16} {:>16} {:>14}",
        t.exchange_ts.format("%Y-%m-%d %H:%M:%S%.3f"),
        t.taker_side.as_str(),
        t.price,
        t.qty,
        t.trade_id
    )
}

pub(crate) fn ladder(b: &wire::OrderBook) -> String {
    let mut s = format!(
        "{} {}  seq {}  {}  health {} (age {} ms)\n",
        b.exchange,
        b.symbol,
        opt(&b.seq),
        b.ts,
        b.health.state,
        opt(&b.health.age_ms)
    );
    s.push_str(&format!(
        "{:>16} {:>14} | {:<14} {:<16}\n",
        "bid qty", "bid", "ask", "ask qty"
    ));
    let n = b.bids.len().max(b.asks.len());
    for i in 0..n {
        let (bp, bq) = b.bids.get(i).map_or((String::new(), String::new()), |l| {
            (l.0.to_string(), l.1.to_string())
        });
        let (ap, aq) = b.asks.get(i).map_or((String::new(), String::new()), |l| {
            (l.0.to_string(), l.1.to_string())
        });
        s.push_str(&format!("{bq:>16} {bp:>14} | {ap:<14} {aq:<16}\n"));
    }
    s
}
