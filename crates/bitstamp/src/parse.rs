//! Bitstamp frames and REST bodies → normalized `model` values.

use market::parse_level;
use model::{
    BookEvent, ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Side, Symbol,
    Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use crate::msg::{
    BtsDiff, BtsError, BtsMessage, BtsOhlcBody, BtsOrderBook, BtsPairInfo, BtsRestError, BtsTrade,
};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// A diff of one book, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct BtsBookDiff {
    /// `btcusd`.
    pub pair: String,
    /// Its `microtimestamp`.
    pub micros: i64,
    /// The changes (a delta; `exchange_ts` set from `microtimestamp`).
    pub event: BookEvent,
}

/// What a WebSocket frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum BtsInbound {
    /// A `diff_order_book_*` message.
    Diff(BtsBookDiff),
    /// A `live_trades_*` trade: `(pair, trade)` (local time set by the caller).
    Trade(String, Trade),
    /// `bts:subscription_succeeded` for this channel.
    Subscribed(String),
    /// `bts:unsubscription_succeeded` for this channel.
    Unsubscribed(String),
    /// `bts:request_reconnect`: the venue will drop this connection soon.
    RequestReconnect,
    /// `bts:error`: the channel it concerns (often empty) and the venue's text.
    Error {
        /// The channel, when named.
        channel: String,
        /// The venue's text.
        message: String,
    },
    /// A heartbeat answer or an event we do not use.
    Other(String),
}

fn micros(s: &str, raw: &str) -> Result<i64, ParseError> {
    s.parse::<i64>()
        .ok()
        .filter(|m| *m > 0 && Timestamp::venue_micros(*m).is_some())
        .ok_or_else(|| err(format!("bad microtimestamp `{s}`"), raw))
}

fn levels(raw: &[[&str; 2]], frame: &str) -> Result<Vec<Level>, ParseError> {
    raw.iter().map(|[p, q]| parse_level(p, q, frame)).collect()
}

/// The pair a channel name is about (`diff_order_book_btcusd` → `btcusd`).
pub fn channel_pair(channel: &str) -> Option<&str> {
    channel
        .strip_prefix("diff_order_book_")
        .or_else(|| channel.strip_prefix("live_trades_"))
}

/// Decode one text frame of the v2 stream.
pub fn parse_frame(text: &str) -> Result<BtsInbound, ParseError> {
    let m: BtsMessage<'_> =
        serde_json::from_str(text).map_err(|e| err(format!("not a Bitstamp frame: {e}"), text))?;
    let channel = m.channel.unwrap_or("");
    let data = m.data.map(|d| d.get()).unwrap_or("null");
    match m.event {
        "data" if channel.starts_with("diff_order_book_") => {
            let d: BtsDiff<'_> = serde_json::from_str(data)
                .map_err(|e| err(format!("malformed diff: {e}"), text))?;
            let at = micros(d.microtimestamp, text)?;
            let mut event = BookEvent::delta(levels(&d.bids, text)?, levels(&d.asks, text)?);
            event.exchange_ts = Some(Timestamp::from_nanos(at.saturating_mul(1_000)));
            Ok(BtsInbound::Diff(BtsBookDiff {
                pair: channel_pair(channel).unwrap_or("").to_owned(),
                micros: at,
                event,
            }))
        }
        "trade" if channel.starts_with("live_trades_") => {
            let t: BtsTrade<'_> = serde_json::from_str(data)
                .map_err(|e| err(format!("malformed trade: {e}"), text))?;
            let level = parse_level(t.price_str, t.amount_str, text)?;
            if level.qty.is_zero() {
                return Err(err("trade of zero quantity", text));
            }
            let taker_side = match t.kind {
                0 => Side::Buy,
                1 => Side::Sell,
                other => return Err(err(format!("unknown trade type {other}"), text)),
            };
            let at = Timestamp::from_nanos(micros(t.microtimestamp, text)?.saturating_mul(1_000));
            Ok(BtsInbound::Trade(
                channel_pair(channel).unwrap_or("").to_owned(),
                Trade {
                    trade_id: TradeId::Num(t.id),
                    exchange_ts: at,
                    local_ts: at,
                    price: level.price,
                    qty: level.qty,
                    taker_side,
                },
            ))
        }
        "bts:subscription_succeeded" => Ok(BtsInbound::Subscribed(channel.to_owned())),
        "bts:unsubscription_succeeded" => Ok(BtsInbound::Unsubscribed(channel.to_owned())),
        "bts:request_reconnect" => Ok(BtsInbound::RequestReconnect),
        "bts:error" => {
            let e: BtsError = serde_json::from_str(data).unwrap_or(BtsError { message: None });
            Ok(BtsInbound::Error {
                channel: channel.to_owned(),
                message: e.message.unwrap_or_else(|| "unspecified error".to_owned()),
            })
        }
        "data" | "trade" => Err(err(
            format!("`{}` event on an unexpected channel `{channel}`", m.event),
            text,
        )),
        other => Ok(BtsInbound::Other(other.to_owned())),
    }
}

/// A REST body that is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestBodyError {
    /// Not the documented shape.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The venue's error body.
    #[error("Bitstamp error: {0}")]
    Api(String),
}

impl RestBodyError {
    /// The venue says the request was throttled (`400.002`, or a reason saying so).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, RestBodyError::Api(m) if m.contains("400.002") || m.to_ascii_lowercase().contains("rate limit"))
    }
}

fn api_error(text: &str) -> Option<RestBodyError> {
    let e: BtsRestError = serde_json::from_str(text).ok()?;
    let is_error = e.status.as_deref() == Some("error") || e.code.is_some();
    if !is_error {
        return None;
    }
    let reason = match (e.reason, e.message) {
        (Some(serde_json::Value::String(s)), _) => s,
        (Some(v), _) => v.to_string(),
        (None, Some(m)) => m,
        (None, None) => "unspecified error".to_owned(),
    };
    let code = e
        .code
        .map(|c| format!("{} ", c.as_str().map_or(c.to_string(), str::to_owned)));
    Some(RestBodyError::Api(format!(
        "{}{reason}",
        code.unwrap_or_default()
    )))
}

fn body<'a, T: serde::Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, RestBodyError> {
    serde_json::from_str(text).map_err(|e| {
        api_error(text).unwrap_or_else(|| err(format!("malformed {what}: {e}"), text).into())
    })
}

/// Decode `GET /api/v2/order_book/{pair}/`: its `microtimestamp` and the book as a snapshot.
pub fn parse_order_book(text: &str) -> Result<(i64, BookEvent), RestBodyError> {
    let b: BtsOrderBook<'_> = body(text, "order book")?;
    let at = micros(b.microtimestamp, text)?;
    let mut event = BookEvent::snapshot(levels(&b.bids, text)?, levels(&b.asks, text)?);
    event.exchange_ts = Some(Timestamp::from_nanos(at.saturating_mul(1_000)));
    Ok((at, event))
}

/// Decode `GET /api/v2/trading-pairs-info/` into pairs: the tick and the step are powers of
/// ten from the pair's decimals, the minimum value the number in `minimum_order`.
pub fn parse_pairs(text: &str) -> Result<Vec<Pair>, RestBodyError> {
    let list: Vec<BtsPairInfo> = body(text, "trading pairs")?;
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let Some((base, quote)) = p.name.split_once('/') else {
            continue;
        };
        let Ok(symbol) = Symbol::new(base, quote) else {
            continue;
        };
        if p.url_symbol.is_empty()
            || !p.url_symbol.bytes().all(|b| b.is_ascii_alphanumeric())
            || p.counter_decimals > 18
            || p.base_decimals > 18
        {
            continue;
        }
        let price_tick = Decimal::new(1, p.counter_decimals);
        let qty_step = Decimal::new(1, p.base_decimals);
        let min_notional = p
            .minimum_order
            .as_deref()
            .and_then(|m| m.split_whitespace().next())
            .and_then(model::decimal_from_str)
            .filter(|d| d.is_sign_positive() && !d.is_zero())
            .map(|d| d.normalize());
        let status = match p.trading.as_deref() {
            Some("Enabled") | None => PairStatus::Trading,
            Some("Disabled") => PairStatus::Halted,
            Some(other) => PairStatus::Unknown(other.to_ascii_lowercase()),
        };
        out.push(Pair {
            exchange: ExchangeId::Bitstamp,
            aliases: vec![p.name.clone()],
            symbol,
            ws_symbol: p.url_symbol.clone(),
            exchange_symbol: p.url_symbol,
            status,
            price_tick,
            qty_step,
            min_qty: qty_step,
            min_notional,
        });
    }
    Ok(out)
}

/// The `step` (seconds) for a candle size, and the size it is built from when the venue has
/// no such step (weeks and months from days).
pub fn step(i: Interval) -> (u32, Interval) {
    match i {
        Interval::M1 => (60, i),
        Interval::M3 => (180, i),
        Interval::M5 => (300, i),
        Interval::M15 => (900, i),
        Interval::M30 => (1_800, i),
        Interval::H1 => (3_600, i),
        Interval::H2 => (7_200, i),
        Interval::H4 => (14_400, i),
        Interval::H6 => (21_600, i),
        Interval::H12 => (43_200, i),
        Interval::D1 => (86_400, i),
        Interval::D3 => (259_200, i),
        Interval::W1 | Interval::Mo1 => (86_400, Interval::D1),
    }
}

/// Decode `GET /api/v2/ohlc/{pair}/` (oldest first) into candles of `interval`; a candle is
/// closed once its interval has ended at `now`.
pub fn parse_ohlc(
    text: &str,
    interval: Interval,
    now: Timestamp,
) -> Result<Vec<Kline>, RestBodyError> {
    let b: BtsOhlcBody<'_> = body(text, "OHLC")?;
    let mut out = Vec::with_capacity(b.data.ohlc.len());
    for c in &b.data.ohlc {
        let secs: i64 = c
            .timestamp
            .parse()
            .map_err(|_| err("bad candle timestamp", text))?;
        let price = |s: &str| -> Result<Price, ParseError> {
            s.parse::<Price>()
                .map_err(|e| err(format!("bad candle price: {e}"), text))
        };
        let volume: Qty = c
            .volume
            .parse()
            .map_err(|e| err(format!("bad candle volume: {e}"), text))?;
        let open_time =
            Timestamp::venue_secs(secs).ok_or_else(|| err("candle time out of range", text))?;
        let close_time = interval.next_start(open_time);
        out.push(Kline {
            open_time,
            close_time,
            open: price(c.open)?,
            high: price(c.high)?,
            low: price(c.low)?,
            close: price(c.close)?,
            volume,
            closed: now >= close_time,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode() {
        let diff = r#"{"data":{"timestamp":"1782907201","microtimestamp":"1782907201023456","bids":[],"asks":[["67000.01","0.00000000"],["67001.00","0.75000000"]]},"channel":"diff_order_book_btcusd","event":"data"}"#;
        let Ok(BtsInbound::Diff(d)) = parse_frame(diff) else {
            panic!()
        };
        assert_eq!(
            (d.pair.as_str(), d.micros),
            ("btcusd", 1_782_907_201_023_456)
        );
        assert!(d.event.asks[0].qty.is_zero());
        assert_eq!(
            d.event.exchange_ts,
            Some(Timestamp::from_nanos(1_782_907_201_023_456_000))
        );
        let trade = r#"{"data":{"id":350134321,"timestamp":"1782907201","amount":0.012,"amount_str":"0.01200000","price":67000.5,"price_str":"67000.50","type":1,"microtimestamp":"1782907201023000","buy_order_id":1,"sell_order_id":2},"channel":"live_trades_btcusd","event":"trade"}"#;
        let Ok(BtsInbound::Trade(pair, t)) = parse_frame(trade) else {
            panic!()
        };
        assert_eq!(pair, "btcusd");
        assert_eq!(t.taker_side, Side::Sell);
        assert_eq!(t.trade_id, TradeId::Num(350_134_321));
        assert_eq!(t.price.to_string(), "67000.50");
        assert_eq!(
            parse_frame(r#"{"event":"bts:request_reconnect","channel":"","data":""}"#),
            Ok(BtsInbound::RequestReconnect)
        );
        assert!(matches!(
            parse_frame(r#"{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription string."}}"#),
            Ok(BtsInbound::Error { message, .. }) if message == "Bad subscription string."
        ));
        assert_eq!(
            parse_frame(
                r#"{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusd","data":{}}"#
            ),
            Ok(BtsInbound::Subscribed("diff_order_book_btcusd".into()))
        );
        for bad in [
            "",
            "[]",
            r#"{"data":{"microtimestamp":"x","bids":[],"asks":[]},"channel":"diff_order_book_btcusd","event":"data"}"#,
            r#"{"data":{"microtimestamp":"1","bids":[["a","1"]],"asks":[]},"channel":"diff_order_book_btcusd","event":"data"}"#,
            r#"{"data":{"id":1,"amount_str":"1","price_str":"1","type":7,"microtimestamp":"1"},"channel":"live_trades_btcusd","event":"trade"}"#,
            r#"{"data":{},"channel":"order_book_btcusd","event":"data"}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_and_ohlc() {
        let pairs = r#"[{"name":"BTC/USD","url_symbol":"btcusd","base_decimals":8,"counter_decimals":0,"instant_order_counter_decimals":2,"minimum_order":"10.0 USD","trading":"Enabled","instant_and_market_orders":"Enabled","description":"Bitcoin / U.S. dollar"},{"name":"ETH/BTC","url_symbol":"ethbtc","base_decimals":8,"counter_decimals":8,"minimum_order":"0.0002 BTC","trading":"Disabled","description":"x"}]"#;
        let p = parse_pairs(pairs).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].symbol.as_str(), "BTC-USD");
        assert_eq!(p[0].price_tick, Decimal::ONE);
        assert_eq!(p[0].qty_step, Decimal::new(1, 8));
        assert_eq!(p[0].min_notional, Some(Decimal::from(10)));
        assert_eq!(p[1].status, PairStatus::Halted);
        let ohlc = r#"{"data":{"pair":"BTC/USD","ohlc":[{"timestamp":"1782907200","open":"67000.00","high":"67050.00","low":"66990.00","close":"67020.50","volume":"12.34567000"},{"timestamp":"1782907260","open":"67020.50","high":"67031.00","low":"67001.20","close":"67005.00","volume":"3.21000000"}]}}"#;
        let k = parse_ohlc(ohlc, Interval::M1, Timestamp::from_secs(1_782_907_290)).unwrap();
        assert_eq!(k.len(), 2);
        assert!(k[0].closed && !k[1].closed);
        let e = parse_ohlc(
            r#"{"status":"error","reason":"Request rejected due to exceeded rate limit","code":"400.002"}"#,
            Interval::M1,
            Timestamp::from_secs(0),
        )
        .unwrap_err();
        assert!(e.is_rate_limit(), "{e}");
        for i in Interval::ALL {
            let (s, src) = step(i);
            assert!(s >= 60);
            assert!(
                i.fixed_millis()
                    .is_none_or(|m| m % (i64::from(s) * 1_000) == 0 || src != i)
            );
        }
    }
}
