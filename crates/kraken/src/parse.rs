//! Kraken frames and REST bodies → normalized `model` values, and the book checksum.

use market::parse_level;
use model::{
    BookEvent, ExchangeId, Interval, Kline, Level, OrderBook, Pair, PairStatus, Price, Qty, Side,
    Symbol, Timestamp, Trade, TradeId, decimal_from_str,
};
use model::{BookSide, canonical_asset};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use crate::msg::{
    KrakenAssetPair, KrakenBookMessage, KrakenEnvelope, KrakenLevel, KrakenRest, KrakenStatus,
    KrakenSubResult, KrakenTradeMessage,
};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// One symbol's part of a `book` message, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct KrakenBook {
    /// WS v2 symbol as sent (`BTC/USD`).
    pub symbol: String,
    /// The event (snapshot or delta) with the venue's checksum and time.
    pub event: BookEvent,
}

/// What a WS v2 frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum KrakenInbound {
    /// `book` snapshot or update, one entry per symbol in the frame.
    Book(Vec<KrakenBook>),
    /// `{"channel":"heartbeat"}`: the connection is alive.
    Heartbeat,
    /// `status`: the venue's trading state (`online`, `maintenance`…).
    Status {
        /// `system`.
        system: String,
    },
    /// A successful subscribe answer for one symbol.
    Subscribed {
        /// The symbol.
        symbol: String,
    },
    /// A successful unsubscribe answer for one symbol.
    Unsubscribed {
        /// The symbol.
        symbol: String,
    },
    /// Public trades, oldest first: `(WS v2 symbol, trade)` (local times set by the caller).
    Trades(Vec<(String, Trade)>),
    /// A failed subscribe or unsubscribe.
    MethodFailed {
        /// The request's id, if echoed.
        req_id: Option<u64>,
        /// `subscribe` or `unsubscribe`.
        method: String,
        /// The symbol, when the venue names it.
        symbol: Option<String>,
        /// The venue's reason.
        error: String,
    },
    /// Answer to our application ping.
    Pong,
    /// An error not tied to a request (`{"Error":"Exceeded msg rate"}`).
    VenueError(String),
    /// A message type we do not use.
    Other(String),
}

/// The text of a JSON number or string as it was on the wire (quotes removed).
fn raw_text(v: &RawValue) -> &str {
    let t = v.get().trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

fn levels(raw: &[KrakenLevel<'_>], frame: &str) -> Result<Vec<Level>, ParseError> {
    raw.iter()
        .map(|l| parse_level(raw_text(l.price), raw_text(l.qty), frame))
        .collect()
}

/// Parse an RFC 3339 venue time (see [`market::parse_rfc3339`]).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    market::parse_rfc3339(s)
}

fn book_message(text: &str) -> Result<KrakenInbound, ParseError> {
    let m: KrakenBookMessage<'_> = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed book message: {e}"), text))?;
    let snapshot = match m.kind {
        "snapshot" => true,
        "update" => false,
        other => return Err(err(format!("unknown book message type `{other}`"), text)),
    };
    let mut out = Vec::with_capacity(m.data.len());
    for d in &m.data {
        let bids = levels(&d.bids, text)?;
        let asks = levels(&d.asks, text)?;
        let mut event = if snapshot {
            BookEvent::snapshot(bids, asks)
        } else {
            BookEvent::delta(bids, asks)
        };
        event.checksum = d.checksum;
        event.exchange_ts = d.timestamp.and_then(parse_time);
        out.push(KrakenBook {
            symbol: d.symbol.to_owned(),
            event,
        });
    }
    Ok(KrakenInbound::Book(out))
}

fn trade_message(text: &str) -> Result<KrakenInbound, ParseError> {
    let m: KrakenTradeMessage<'_> = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed trade message: {e}"), text))?;
    if !matches!(m.kind, "snapshot" | "update") {
        return Err(err(
            format!("unknown trade message type `{}`", m.kind),
            text,
        ));
    }
    let mut out = Vec::with_capacity(m.data.len());
    for d in &m.data {
        let level = parse_level(raw_text(d.price), raw_text(d.qty), text)?;
        if level.qty.is_zero() {
            return Err(err("trade of zero quantity", text));
        }
        let taker_side = match d.side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => return Err(err(format!("unknown trade side `{other}`"), text)),
        };
        let at = parse_time(d.timestamp).ok_or_else(|| err("bad trade timestamp", text))?;
        out.push((
            d.symbol.to_owned(),
            Trade {
                trade_id: TradeId::Num(d.trade_id),
                exchange_ts: at,
                local_ts: at,
                price: level.price,
                qty: level.qty,
                taker_side,
            },
        ));
    }
    Ok(KrakenInbound::Trades(out))
}

/// Decode one WS v2 text frame.
pub fn parse_frame(text: &str) -> Result<KrakenInbound, ParseError> {
    // Fast path: almost every frame is a book message.
    if text.starts_with(r#"{"channel":"book""#) {
        return book_message(text);
    }
    let env: KrakenEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| err(format!("not a Kraken frame: {e}"), text))?;
    if let Some(e) = env.legacy_error {
        return Ok(KrakenInbound::VenueError(e));
    }
    if let Some(method) = env.method {
        return Ok(match (method, env.success) {
            ("pong", _) => KrakenInbound::Pong,
            (m @ ("subscribe" | "unsubscribe"), Some(true)) => {
                let r: KrakenSubResult = env
                    .result
                    .map(|r| serde_json::from_str(r.get()))
                    .transpose()
                    .map_err(|e| err(format!("malformed {m} result: {e}"), text))?
                    .unwrap_or(KrakenSubResult {
                        channel: None,
                        symbol: None,
                    });
                if r.channel.as_deref().is_some_and(|c| c != "book") {
                    return Ok(KrakenInbound::Other(format!("{m} ack for another channel")));
                }
                let symbol = r
                    .symbol
                    .or(env.symbol)
                    .ok_or_else(|| err(format!("{m} ack without a symbol"), text))?;
                if m == "subscribe" {
                    KrakenInbound::Subscribed { symbol }
                } else {
                    KrakenInbound::Unsubscribed { symbol }
                }
            }
            (m, Some(false)) => KrakenInbound::MethodFailed {
                req_id: env.req_id,
                method: m.to_owned(),
                symbol: env.symbol,
                error: env.error.unwrap_or_else(|| "unspecified error".to_owned()),
            },
            (m, _) => KrakenInbound::Other(format!("method {m}")),
        });
    }
    match env.channel {
        Some("heartbeat") => Ok(KrakenInbound::Heartbeat),
        Some("book") => book_message(text),
        Some("trade") => trade_message(text),
        Some("status") => {
            let data = env
                .data
                .ok_or_else(|| err("status message without data", text))?;
            let st: Vec<KrakenStatus> = serde_json::from_str(data.get())
                .map_err(|e| err(format!("malformed status: {e}"), text))?;
            let system = st
                .into_iter()
                .find_map(|s| s.system)
                .unwrap_or_else(|| "unknown".to_owned());
            Ok(KrakenInbound::Status { system })
        }
        Some(other) => Ok(KrakenInbound::Other(other.to_owned())),
        None => match env.kind {
            Some(k) => Ok(KrakenInbound::Other(k.to_owned())),
            None => Err(err("frame has neither a channel nor a method", text)),
        },
    }
}

/// Appends the decimal digits of `n` (no leading zeros) to the checksum input.
fn digits(n: u128, out: &mut impl FnMut(&[u8])) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    // 64-bit division is several times cheaper than 128-bit; prices and quantities at the
    // pair's precision fit in 64 bits.
    match u64::try_from(n) {
        Ok(mut n) => loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        },
        Err(_) => {
            let mut n = n;
            loop {
                i -= 1;
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
    }
    out(&buf[i..]);
}

/// `m` (a mantissa at decimal `scale`) rendered at `precision` decimals, as an integer: the
/// wire text with `.` and leading zeros removed. A value with more decimals than
/// `precision` keeps them (it cannot be what the venue sent, and the checksum will say so).
fn at_precision(m: u64, scale: u32, precision: u32) -> u128 {
    let m = u128::from(m);
    match precision.cmp(&scale) {
        std::cmp::Ordering::Equal => m,
        std::cmp::Ordering::Greater => m * 10u128.pow((precision - scale).min(30)),
        std::cmp::Ordering::Less => {
            let d = 10u128.pow((scale - precision).min(30));
            if m % d == 0 { m / d } else { m }
        }
    }
}

/// Feed the checksum input of `book` (top 10 asks ascending, then top 10 bids descending;
/// price then quantity at the pair's precisions) to `out`.
pub fn checksum_input(
    book: &OrderBook,
    price_decimals: u32,
    qty_decimals: u32,
    out: &mut impl FnMut(&[u8]),
) {
    let (ps, qs) = book.scales();
    for side in [BookSide::Ask, BookSide::Bid] {
        for (p, q) in book.fixed_levels(side).take(10) {
            digits(at_precision(p, ps, price_decimals), out);
            digits(at_precision(q, qs, qty_decimals), out);
        }
    }
}

/// Kraken's v2 book checksum: CRC-32 (IEEE) of [`checksum_input`].
pub fn checksum(book: &OrderBook, price_decimals: u32, qty_decimals: u32) -> u32 {
    // At most 40 numbers of at most 39 digits: collect on the stack, hash once.
    let mut buf = [0u8; 1_600];
    let mut len = 0;
    checksum_input(book, price_decimals, qty_decimals, &mut |b| {
        let end = (len + b.len()).min(buf.len());
        buf[len..end].copy_from_slice(&b[..end - len]);
        len = end;
    });
    crc32fast::hash(&buf[..len])
}

/// A Kraken pair with the precisions its checksum is computed at.
#[derive(Debug, Clone, PartialEq)]
pub struct KrakenPair {
    /// The normalized pair. `exchange_symbol` is the REST `altname` (`XBTUSD`), `ws_symbol`
    /// the WS v2 name (`BTC/USD`); the result key and `wsname` are aliases.
    pub pair: Pair,
    /// `pair_decimals`.
    pub price_decimals: u32,
    /// `lot_decimals`.
    pub qty_decimals: u32,
}

fn status(s: Option<&str>) -> PairStatus {
    match s {
        None | Some("online") => PairStatus::Trading,
        Some("cancel_only") => PairStatus::CancelOnly,
        Some("post_only") => PairStatus::PostOnly,
        Some("limit_only") => PairStatus::LimitOnly,
        Some("reduce_only") => PairStatus::ReduceOnly,
        Some("maintenance" | "halted") => PairStatus::Halted,
        Some("delisted") => PairStatus::Delisted,
        Some(other) => PairStatus::Unknown(other.to_ascii_lowercase()),
    }
}

fn dec(s: &Option<String>) -> Option<Decimal> {
    market::parse_decimal(s.as_deref())
}

/// A Kraken REST body whose `error` list was not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrakenApiError(pub Vec<String>);

impl std::fmt::Display for KrakenApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// A REST body that could not be used: an API error or an undecodable body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestBodyError {
    /// Kraken's `error` list.
    Api(KrakenApiError),
    /// The body was not what Kraken documents.
    Parse(ParseError),
}

fn rest_result(text: &str) -> Result<&RawValue, RestBodyError> {
    let env: KrakenRest<'_> = serde_json::from_str(text)
        .map_err(|e| RestBodyError::Parse(err(format!("not a Kraken REST body: {e}"), text)))?;
    if !env.error.is_empty() {
        return Err(RestBodyError::Api(KrakenApiError(env.error)));
    }
    env.result
        .ok_or_else(|| RestBodyError::Parse(err("no result", text)))
}

/// Decode `GET /0/public/AssetPairs`. Dark-pool pairs (`.d`), pairs without `wsname` and
/// non-currency pairs (tokenized equities) are skipped.
pub fn parse_asset_pairs(text: &str) -> Result<Vec<KrakenPair>, RestBodyError> {
    let result = rest_result(text)?;
    let map: std::collections::BTreeMap<String, KrakenAssetPair> =
        serde_json::from_str(result.get())
            .map_err(|e| RestBodyError::Parse(err(format!("malformed AssetPairs: {e}"), text)))?;
    let mut out = Vec::with_capacity(map.len());
    for (key, p) in map {
        let altname = p.altname.clone().unwrap_or_else(|| key.clone());
        if key.ends_with(".d") || altname.ends_with(".d") {
            continue;
        }
        if p.aclass_base.as_deref().is_some_and(|c| c != "currency") {
            continue;
        }
        let Some(wsname) = p.wsname.as_deref() else {
            continue;
        };
        let Some((b, q)) = wsname.split_once('/') else {
            continue;
        };
        let Ok(symbol) = Symbol::new(b, q) else {
            continue;
        };
        // Rules the venue sent that are negative are not guessed around: the pair is
        // skipped (a missing or zero `tick_size`, as in older answers, falls back to the
        // price decimals).
        let tick = dec(&p.tick_size).filter(|d| !d.is_zero());
        let (min_qty, min_notional) = (dec(&p.ordermin), dec(&p.costmin));
        if tick.is_some_and(|t| t <= Decimal::ZERO)
            || min_qty.is_some_and(|m| m.is_sign_negative())
            || min_notional.is_some_and(|m| m.is_sign_negative())
        {
            continue;
        }
        let price_decimals = p.pair_decimals.unwrap_or(8).min(28);
        let qty_decimals = p.lot_decimals.unwrap_or(8).min(28);
        let ws_symbol = format!("{}/{}", canonical_asset(b), canonical_asset(q));
        let mut aliases: Vec<String> = Vec::new();
        for a in [key.as_str(), wsname] {
            if a != altname && a != ws_symbol && !aliases.iter().any(|x| x == a) {
                aliases.push(a.to_owned());
            }
        }
        out.push(KrakenPair {
            pair: Pair {
                exchange: ExchangeId::Kraken,
                symbol,
                exchange_symbol: altname,
                ws_symbol,
                aliases,
                status: status(p.status.as_deref()),
                price_tick: tick.unwrap_or_else(|| Decimal::new(1, price_decimals)),
                qty_step: Decimal::new(1, qty_decimals),
                min_qty: min_qty.unwrap_or_default(),
                min_notional,
            },
            price_decimals,
            qty_decimals,
        });
    }
    Ok(out)
}

/// The OHLC interval (minutes) Kraken serves natively for `i`, and whether candles of `i`
/// must be aggregated from it. Weeks are built from days because Kraken's 7-day buckets
/// start on Thursdays (epoch-aligned) while ours start on Mondays.
pub fn ohlc_source(i: Interval) -> (u32, bool) {
    match i {
        Interval::M1 => (1, false),
        Interval::M3 => (1, true),
        Interval::M5 => (5, false),
        Interval::M15 => (15, false),
        Interval::M30 => (30, false),
        Interval::H1 => (60, false),
        Interval::H2 | Interval::H6 | Interval::H12 => (60, true),
        Interval::H4 => (240, false),
        Interval::D1 => (1440, false),
        Interval::D3 | Interval::W1 | Interval::Mo1 => (1440, true),
    }
}

/// Decode `GET /0/public/OHLC` rows of `minutes`-long candles, oldest first. The last row
/// is Kraken's in-progress candle and is flagged `closed: false`.
pub fn parse_ohlc(text: &str, minutes: u32) -> Result<Vec<Kline>, RestBodyError> {
    let result = rest_result(text)?;
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(result.get())
            .map_err(|e| RestBodyError::Parse(err(format!("malformed OHLC: {e}"), text)))?;
    let rows = map
        .iter()
        .find(|(k, _)| k.as_str() != "last")
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| RestBodyError::Parse(err("OHLC result without candles", text)))?;
    let bad = |what: &str| RestBodyError::Parse(err(format!("OHLC row with bad {what}"), text));
    let n = rows.len();
    let mut out = Vec::with_capacity(n);
    for (i, r) in rows.iter().enumerate() {
        let price = |j: usize| {
            r.get(j)
                .and_then(serde_json::Value::as_str)
                .and_then(decimal_from_str)
                .and_then(|d| Price::try_from(d).ok())
        };
        let t = r
            .get(0)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| bad("time"))?;
        let volume = r
            .get(6)
            .and_then(serde_json::Value::as_str)
            .and_then(decimal_from_str)
            .and_then(|d| Qty::try_from(d).ok())
            .ok_or_else(|| bad("volume"))?;
        let open_time = Timestamp::venue_secs(t).ok_or_else(|| bad("time"))?;
        out.push(Kline {
            open_time,
            close_time: open_time.plus_millis(i64::from(minutes) * 60_000),
            open: price(1).ok_or_else(|| bad("open"))?,
            high: price(2).ok_or_else(|| bad("high"))?,
            low: price(3).ok_or_else(|| bad("low"))?,
            close: price(4).ok_or_else(|| bad("close"))?,
            volume,
            closed: i + 1 < n,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_with_negative_rules_are_skipped() {
        // Found by the `kraken_rest` fuzz target: a negative tick was listed as is.
        let body = |tick: &str, min: &str| {
            format!(
                r#"{{"error":[],"result":{{"XBTUSDT":{{"altname":"XBTUSDT","wsname":"XBT/USDT","pair_decimals":1,"lot_decimals":8,"tick_size":"{tick}","ordermin":"{min}","costmin":"0.5"}}}}}}"#
            )
        };
        assert_eq!(parse_asset_pairs(&body("0.1", "0.0001")).unwrap().len(), 1);
        let zero = parse_asset_pairs(&body("0", "0.0001")).unwrap();
        assert_eq!(
            zero[0].pair.price_tick,
            Decimal::new(1, 1),
            "from pair_decimals"
        );
        for (tick, min) in [("-.1", "0.0001"), ("0.1", "-1")] {
            assert!(
                parse_asset_pairs(&body(tick, min)).unwrap().is_empty(),
                "{tick} {min}"
            );
        }
    }

    #[test]
    fn control_frames() {
        assert_eq!(
            parse_frame(r#"{"channel":"heartbeat"}"#),
            Ok(KrakenInbound::Heartbeat)
        );
        assert_eq!(
            parse_frame(
                r#"{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":12393906104898154338}]}"#
            ),
            Ok(KrakenInbound::Status {
                system: "online".into()
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2026-07-01T12:00:00.100000Z","time_out":"2026-07-01T12:00:00.100210Z","req_id":7}"#
            ),
            Ok(KrakenInbound::Subscribed {
                symbol: "BTC/USD".into()
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"error":"Currency pair not supported BTC/USDX","method":"subscribe","success":false,"symbol":"BTC/USDX","time_in":"x","time_out":"y","req_id":7}"#
            ),
            Ok(KrakenInbound::MethodFailed {
                req_id: Some(7),
                method: "subscribe".into(),
                symbol: Some("BTC/USDX".into()),
                error: "Currency pair not supported BTC/USDX".into()
            })
        );
        assert_eq!(
            parse_frame(r#"{"method":"pong","req_id":101,"time_in":"a","time_out":"b"}"#),
            Ok(KrakenInbound::Pong)
        );
        assert_eq!(
            parse_frame(r#"{"Error":"Exceeded msg rate"}"#),
            Ok(KrakenInbound::VenueError("Exceeded msg rate".into()))
        );
        assert!(matches!(
            parse_frame(r#"{"channel":"ticker","type":"update","data":[]}"#),
            Ok(KrakenInbound::Other(c)) if c == "ticker"
        ));
        for garbage in [
            "",
            "nope",
            "[1,2]",
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"x","qty":1}]}]}"#,
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":-1.0,"qty":1}]}]}"#,
            r#"{"channel":"book","type":"weird","data":[]}"#,
        ] {
            assert!(parse_frame(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn crc_sanity() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn numbers_never_pass_through_floats() {
        // 0.1 + 0.2 style values and 18 significant digits survive exactly.
        let f = r#"{"channel":"book","type":"update","data":[{"symbol":"X/Y","bids":[{"price":123456789.123456789,"qty":0.30000000}],"asks":[],"checksum":1}]}"#;
        let KrakenInbound::Book(b) = parse_frame(f).unwrap() else {
            panic!()
        };
        let l = b[0].event.bids[0];
        assert_eq!(l.price.to_string(), "123456789.123456789");
        assert_eq!(l.qty.to_string(), "0.30000000");
    }

    #[test]
    fn trades_snapshot_and_update() {
        // The documented shape of the v2 `trade` channel (numbers on the wire).
        let text = r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell","price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"},{"symbol":"MATIC/USD","side":"buy","price":"0.5118","qty":"1.00000000","ord_type":"limit","trade_id":4665907,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#;
        let Ok(KrakenInbound::Trades(t)) = parse_frame(text) else {
            panic!("not trades");
        };
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0, "MATIC/USD");
        assert_eq!(t[0].1.trade_id, TradeId::Num(4665906));
        assert_eq!(t[0].1.price.to_string(), "0.5117");
        assert_eq!(t[0].1.qty.to_string(), "40.0");
        assert_eq!(t[0].1.taker_side, Side::Sell);
        assert_eq!(t[1].1.taker_side, Side::Buy);
        assert_eq!(
            t[0].1.exchange_ts,
            parse_time("2023-09-25T07:49:37.708706Z").unwrap()
        );
        let snap = r#"{"channel":"trade","type":"snapshot","data":[]}"#;
        assert_eq!(parse_frame(snap), Ok(KrakenInbound::Trades(vec![])));
        for bad in [
            r#"{"channel":"trade","type":"update","data":[{"symbol":"X/Y","side":"hold","price":1,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:49:37Z"}]}"#,
            r#"{"channel":"trade","type":"update","data":[{"symbol":"X/Y","side":"buy","price":1,"qty":0,"trade_id":1,"timestamp":"2023-09-25T07:49:37Z"}]}"#,
            r#"{"channel":"trade","type":"update","data":[{"symbol":"X/Y","side":"buy","price":1,"qty":1,"trade_id":1,"timestamp":"yesterday"}]}"#,
            r#"{"channel":"trade","type":"delta","data":[]}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }
}
