//! Human and JSON output. Numbers shown to people are formatted for people: prices at the
//! pair's tick, averages (VWAPs, mids) two places finer, quantities at the lot, quote amounts
//! at the tick's places, basis points to 2 decimals; JSON keeps every digit.

use std::collections::HashMap;
use std::io::Write;

use papertwap_client::{Client, Decimal, wire};
use rust_decimal::RoundingStrategy;
use serde::Serialize;

/// How one pair's numbers print.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fmt {
    /// Decimal places of the tick and of the lot; `None` when the pair is not known (a routed
    /// order, a venue that is down): numbers print as given, without trailing zeros.
    places: Option<(u32, u32)>,
}

/// `d` rounded (half away from zero) and shown with exactly `dp` places.
fn fixed(d: Decimal, dp: u32) -> String {
    let r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    format!("{r:.prec$}", prec = dp as usize)
}

impl Fmt {
    /// The format of `pair`'s numbers.
    pub(crate) fn of(pair: &wire::Pair) -> Fmt {
        let places = |d: Decimal| d.normalize().scale();
        Fmt {
            places: Some((places(pair.price_tick), places(pair.qty_step))),
        }
    }

    fn with(&self, d: Decimal, pick: impl Fn((u32, u32)) -> u32) -> String {
        match self.places {
            Some(p) => fixed(d, pick(p)),
            None => d.normalize().to_string(),
        }
    }

    /// A price: at the tick.
    pub(crate) fn price(&self, d: Decimal) -> String {
        self.with(d, |(p, _)| p)
    }

    /// An average price (a VWAP, a mid): two places finer than the tick.
    pub(crate) fn avg(&self, d: Option<Decimal>) -> String {
        d.map_or_else(|| "-".to_owned(), |d| self.with(d, |(p, _)| p + 2))
    }

    /// A quantity: at the lot.
    pub(crate) fn qty(&self, d: Decimal) -> String {
        self.with(d, |(_, q)| q)
    }

    /// An amount of quote currency (fees, costs): at the tick's places, at least 2.
    pub(crate) fn quote(&self, d: Decimal) -> String {
        self.with(d, |(p, _)| p.max(2))
    }
}

/// Basis points: 2 decimals.
pub(crate) fn bps(d: Option<Decimal>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| fixed(d, 2))
}

/// Pairs' formats, each venue's pair list asked for once.
#[derive(Default)]
pub(crate) struct Fmts {
    venues: HashMap<String, HashMap<String, Fmt>>,
}

/// A spelling of a symbol without case or separators (`btcusdt`, `BTC/USDT` → `BTCUSDT`).
fn key(symbol: &str) -> String {
    symbol
        .chars()
        .filter(|c| !matches!(c, '-' | '/' | '_'))
        .flat_map(char::to_uppercase)
        .collect()
}

impl Fmts {
    /// The format of `exchange`'s `symbol`, in any spelling of the venue's (the default when
    /// either is unknown).
    pub(crate) async fn get(&mut self, client: &Client, exchange: &str, symbol: &str) -> Fmt {
        if !self.venues.contains_key(exchange) {
            let pairs = client.pairs(exchange, None).await.unwrap_or_default();
            let mut by_key = HashMap::new();
            for p in &pairs {
                for name in [&p.symbol, &p.exchange_symbol, &p.ws_symbol] {
                    by_key.entry(key(name)).or_insert_with(|| Fmt::of(p));
                }
            }
            self.venues.insert(exchange.to_owned(), by_key);
        }
        self.venues
            .get(exchange)
            .and_then(|m| m.get(&key(symbol)))
            .copied()
            .unwrap_or_default()
    }
}

pub(crate) fn print_json<T: Serialize>(v: &T) {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// The orders table's header, aligned with [`order_line`].
pub(crate) fn order_header() -> String {
    format!(
        "{:<24} {:<8} {:<10} {:<4} {:>14} {:>14} {:>9} {:>16} SLICES",
        "TOKEN ID", "EXCHANGE", "SYMBOL", "SIDE", "QUANTITY", "FILLED", "STATUS", "AVG PRICE"
    )
}

/// One order as a table row.
pub(crate) fn order_line(o: &wire::Order, f: Fmt) -> String {
    format!(
        "{:<24} {:<8} {:<10} {:<4} {:>14} {:>14} {:>9} {:>16} {}/{}",
        o.token_id,
        o.exchange,
        o.symbol,
        o.side,
        f.qty(o.quantity),
        f.qty(o.filled_quantity),
        o.status,
        f.avg(o.avg_price),
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

pub(crate) fn trade_line(t: &wire::Trade, f: Fmt) -> String {
    format!(
        "{:<26} {:<4} {:>16} {:>16} {:>14}",
        t.exchange_ts.format("%Y-%m-%d %H:%M:%S%.3f"),
        t.taker_side.as_str(),
        f.price(t.price),
        f.qty(t.qty),
        t.trade_id
    )
}

pub(crate) fn ladder(b: &wire::OrderBook, f: Fmt) -> String {
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
            (f.price(l.0), f.qty(l.1))
        });
        let (ap, aq) = b.asks.get(i).map_or((String::new(), String::new()), |l| {
            (f.price(l.0), f.qty(l.1))
        });
        s.push_str(&format!("{bq:>16} {bp:>14} | {ap:<14} {aq:<16}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn numbers_print_at_the_pairs_tick_and_lot() {
        let f = Fmt {
            places: Some((2, 5)),
        };
        assert_eq!(f.avg(Some(d("66999.817583333333"))), "66999.8176");
        assert_eq!(f.price(d("67000.1")), "67000.10");
        assert_eq!(f.qty(d("0.5")), "0.50000");
        assert_eq!(f.quote(d("1.005")), "1.01", "half away from zero");
        assert_eq!(f.avg(None), "-");
        assert_eq!(bps(Some(d("-12.345"))), "-12.35");
        assert_eq!(bps(Some(d("3"))), "3.00");
        // A pair with a coarse tick still shows quote amounts to the cent.
        let coarse = Fmt {
            places: Some((0, 8)),
        };
        assert_eq!(coarse.quote(d("0.125")), "0.13");
        // Unknown pair: as given, without trailing zeros.
        assert_eq!(Fmt::default().qty(d("0.50000000")), "0.5");
        assert_eq!(key("btc/usdt"), "BTCUSDT");
    }
}
