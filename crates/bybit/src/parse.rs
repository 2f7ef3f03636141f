//! Bybit frames and REST bodies → normalized `model` values.

use market::parse_level;
use model::{
    BookEvent, ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Side, Symbol,
    Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use crate::msg::{
    BybitBookData, BybitInstruments, BybitKlines, BybitOpAnswer, BybitPush, BybitRest, BybitTrade,
};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// One book message, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct BybitBook {
    /// Native symbol (`BTCUSDT`).
    pub symbol: String,
    /// The update id `u` (+1 per message; 1 after a venue restart).
    pub update_id: u64,
    /// The event: a snapshot replaces the book, a delta continues it. `seq` carries `u`.
    pub event: BookEvent,
}

/// What a public spot frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum BybitInbound {
    /// An `orderbook.*` snapshot or delta.
    Book(BybitBook),
    /// Public trades, oldest first: `(native symbol, trade)` (local times set by the caller).
    Trades(Vec<(String, Trade)>),
    /// A successful subscribe or unsubscribe.
    Ack {
        /// `subscribe` or `unsubscribe`.
        op: String,
        /// Our request id.
        req_id: Option<String>,
    },
    /// A refused operation.
    Refused {
        /// The operation.
        op: String,
        /// Our request id.
        req_id: Option<String>,
        /// The venue's reason (names the topic when it can).
        reason: String,
    },
    /// Answer to our ping.
    Pong,
    /// A message we do not use.
    Other(String),
}

fn levels(raw: &[[&str; 2]], frame: &str) -> Result<Vec<Level>, ParseError> {
    raw.iter().map(|[p, q]| parse_level(p, q, frame)).collect()
}

fn book(push: &BybitPush<'_>, text: &str) -> Result<BybitInbound, ParseError> {
    let d: BybitBookData<'_> = serde_json::from_str(push.data.get())
        .map_err(|e| err(format!("malformed orderbook data: {e}"), text))?;
    let (bids, asks) = (levels(&d.bids, text)?, levels(&d.asks, text)?);
    let mut event = match push.kind {
        "snapshot" => BookEvent::snapshot(bids, asks),
        "delta" => BookEvent::delta(bids, asks),
        other => {
            return Err(err(
                format!("unknown orderbook message type `{other}`"),
                text,
            ));
        }
    };
    event.seq = Some(d.update_id);
    event.exchange_ts = push.ts.and_then(Timestamp::venue_millis);
    Ok(BybitInbound::Book(BybitBook {
        symbol: d.symbol.to_owned(),
        update_id: d.update_id,
        event,
    }))
}

fn trades(push: &BybitPush<'_>, text: &str) -> Result<BybitInbound, ParseError> {
    let list: Vec<BybitTrade<'_>> = serde_json::from_str(push.data.get())
        .map_err(|e| err(format!("malformed publicTrade data: {e}"), text))?;
    let mut out = Vec::with_capacity(list.len());
    for t in &list {
        let level = parse_level(t.price, t.qty, text)?;
        if level.qty.is_zero() {
            return Err(err("trade of zero quantity", text));
        }
        let taker_side = match t.side {
            "Buy" => Side::Buy,
            "Sell" => Side::Sell,
            other => return Err(err(format!("unknown trade side `{other}`"), text)),
        };
        if t.id.is_empty() {
            return Err(err("trade without an id", text));
        }
        let at =
            Timestamp::venue_millis(t.time).ok_or_else(|| err("trade time out of range", text))?;
        out.push((
            t.symbol.to_owned(),
            Trade {
                trade_id: TradeId::parse(t.id),
                exchange_ts: at,
                local_ts: at,
                price: level.price,
                qty: level.qty,
                taker_side,
            },
        ));
    }
    Ok(BybitInbound::Trades(out))
}

/// Decode one text frame of the public spot stream.
pub fn parse_frame(text: &str) -> Result<BybitInbound, ParseError> {
    if let Ok(push) = serde_json::from_str::<BybitPush<'_>>(text) {
        return if push.topic.starts_with("orderbook.") {
            book(&push, text)
        } else if push.topic.starts_with("publicTrade.") {
            trades(&push, text)
        } else {
            Ok(BybitInbound::Other(push.topic.to_owned()))
        };
    }
    let a: BybitOpAnswer =
        serde_json::from_str(text).map_err(|e| err(format!("not a Bybit frame: {e}"), text))?;
    let op = a.op.unwrap_or_default();
    let msg = a.ret_msg.unwrap_or_default();
    match (op.as_str(), a.success) {
        ("ping", Some(true)) | ("pong", _) => Ok(BybitInbound::Pong),
        (_, _) if msg == "pong" => Ok(BybitInbound::Pong),
        ("subscribe" | "unsubscribe", Some(true)) => Ok(BybitInbound::Ack {
            op,
            req_id: a.req_id,
        }),
        (_, Some(false)) => Ok(BybitInbound::Refused {
            op,
            req_id: a.req_id,
            reason: msg,
        }),
        _ if op.is_empty() => Err(err("frame has neither a topic nor an op", text)),
        _ => Ok(BybitInbound::Other(format!("op {op}"))),
    }
}

/// A REST body's `result`, or the venue's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestBodyError {
    /// Not the documented shape.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `retCode` ≠ 0.
    #[error("Bybit error {code}: {msg}")]
    Api {
        /// `retCode` (10001 parameter error, 10006 rate limit…).
        code: i64,
        /// `retMsg`.
        msg: String,
    },
}

fn result<'a>(text: &'a str) -> Result<&'a str, RestBodyError> {
    let r: BybitRest<'a> = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed Bybit response: {e}"), text))?;
    if r.ret_code != 0 {
        return Err(RestBodyError::Api {
            code: r.ret_code,
            msg: r.ret_msg,
        });
    }
    r.result
        .map(|v| v.get())
        .ok_or_else(|| err("response without a result", text).into())
}

fn status(s: Option<&str>) -> PairStatus {
    match s {
        None | Some("Trading") => PairStatus::Trading,
        Some("PreLaunch") => PairStatus::PreTrading,
        Some("Delivering") | Some("Closed") => PairStatus::Halted,
        Some(other) => PairStatus::Unknown(other.to_ascii_lowercase()),
    }
}

use market::parse_decimal as dec;

/// Decode `GET /v5/market/instruments-info?category=spot` into pairs (instruments whose
/// rules are missing or negative are skipped, not guessed).
pub fn parse_instruments(text: &str) -> Result<Vec<Pair>, RestBodyError> {
    let res: BybitInstruments = serde_json::from_str(result(text)?)
        .map_err(|e| err(format!("malformed instruments: {e}"), text))?;
    let mut out = Vec::with_capacity(res.list.len());
    for i in res.list {
        let Ok(symbol) = Symbol::new(&i.base_coin, &i.quote_coin) else {
            continue;
        };
        if i.symbol.is_empty() || !i.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let (Some(price_tick), Some(qty_step)) = (
            dec(Some(&i.price_filter.tick_size)),
            dec(Some(&i.lot_size_filter.base_precision)),
        ) else {
            continue;
        };
        let min_qty = dec(i.lot_size_filter.min_order_qty.as_deref()).unwrap_or(qty_step);
        let min_notional = dec(i.lot_size_filter.min_order_amt.as_deref());
        if [
            price_tick,
            qty_step,
            min_qty,
            min_notional.unwrap_or_default(),
        ]
        .iter()
        .any(Decimal::is_sign_negative)
            || price_tick.is_zero()
            || qty_step.is_zero()
        {
            continue;
        }
        out.push(Pair {
            exchange: ExchangeId::Bybit,
            aliases: vec![format!("{}/{}", i.base_coin, i.quote_coin)],
            symbol,
            ws_symbol: i.symbol.clone(),
            exchange_symbol: i.symbol,
            status: status(i.status.as_deref()),
            price_tick,
            qty_step,
            min_qty,
            min_notional,
        });
    }
    Ok(out)
}

/// The `interval` parameter for a candle size, and whether the candles must be built from
/// it (3 days from days: Bybit has no 3-day candle).
pub fn interval_param(i: Interval) -> (&'static str, bool) {
    match i {
        Interval::M1 => ("1", false),
        Interval::M3 => ("3", false),
        Interval::M5 => ("5", false),
        Interval::M15 => ("15", false),
        Interval::M30 => ("30", false),
        Interval::H1 => ("60", false),
        Interval::H2 => ("120", false),
        Interval::H4 => ("240", false),
        Interval::H6 => ("360", false),
        Interval::H12 => ("720", false),
        Interval::D1 => ("D", false),
        Interval::D3 => ("D", true),
        Interval::W1 => ("W", false),
        Interval::Mo1 => ("M", false),
    }
}

/// Decode `GET /v5/market/kline` (newest first) into candles of `interval`, oldest first;
/// a candle is closed once its interval has ended at `now`.
pub fn parse_klines(
    text: &str,
    interval: Interval,
    now: Timestamp,
) -> Result<Vec<Kline>, RestBodyError> {
    let res: BybitKlines<'_> = serde_json::from_str(result(text)?)
        .map_err(|e| err(format!("malformed klines: {e}"), text))?;
    let mut out = Vec::with_capacity(res.list.len());
    for row in res.list.iter().rev() {
        let field = |i: usize| {
            row.get(i)
                .copied()
                .ok_or_else(|| err("short kline row", text))
        };
        let open_ms: i64 = field(0)?
            .parse()
            .map_err(|_| err("bad kline start", text))?;
        let price = |i: usize| -> Result<Price, ParseError> {
            field(i)?
                .parse::<Price>()
                .map_err(|e| err(format!("bad kline price: {e}"), text))
        };
        let volume: Qty = field(5)?
            .parse()
            .map_err(|e| err(format!("bad kline volume: {e}"), text))?;
        let open_time =
            Timestamp::venue_millis(open_ms).ok_or_else(|| err("kline time out of range", text))?;
        let close_time = interval.next_start(open_time);
        out.push(Kline {
            open_time,
            close_time,
            open: price(1)?,
            high: price(2)?,
            low: price(3)?,
            close: price(4)?,
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
    fn answers_and_pushes() {
        assert_eq!(
            parse_frame(r#"{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}"#),
            Ok(BybitInbound::Pong)
        );
        assert_eq!(
            parse_frame(
                r#"{"success":true,"ret_msg":"subscribe","conn_id":"x","req_id":"7","op":"subscribe"}"#
            ),
            Ok(BybitInbound::Ack {
                op: "subscribe".into(),
                req_id: Some("7".into())
            })
        );
        assert!(matches!(
            parse_frame(r#"{"success":false,"ret_msg":"Invalid symbol :[orderbook.200.BTCUSDX]","conn_id":"x","req_id":"8","op":"subscribe"}"#),
            Ok(BybitInbound::Refused { reason, .. }) if reason.contains("BTCUSDX")
        ));
        let delta = r#"{"topic":"orderbook.50.BTCUSDT","ts":1691130685111,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[["29239.37","0.082356"],["29236.1","0"]],"u":1854104,"seq":10559247733}}"#;
        let Ok(BybitInbound::Book(b)) = parse_frame(delta) else {
            panic!("not a book")
        };
        assert_eq!((b.symbol.as_str(), b.update_id), ("BTCUSDT", 1854104));
        assert_eq!(b.event.asks.len(), 2);
        assert!(b.event.asks[1].qty.is_zero());
        assert_eq!(
            b.event.exchange_ts,
            Some(Timestamp::from_millis(1691130685111))
        );
        for bad in [
            "",
            "[]",
            r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["x","1"]],"a":[],"u":1}}"#,
            r#"{"topic":"orderbook.50.BTCUSDT","type":"patch","data":{"s":"BTCUSDT","b":[],"a":[],"u":1}}"#,
            r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[],"a":[]}}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_trades() {
        // The documented shape of the v5 `publicTrade` topic.
        let text = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false},{"T":1672304486866,"s":"BTCUSDT","S":"Sell","v":"0.002","p":"16578.40","L":"MinusTick","i":"2290000000061666327","BT":false}]}"#;
        let Ok(BybitInbound::Trades(t)) = parse_frame(text) else {
            panic!("not trades")
        };
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].1.taker_side, Side::Buy);
        assert_eq!(t[0].1.price.to_string(), "16578.50");
        assert_eq!(
            t[0].1.trade_id.to_string(),
            "20f43950-d8dd-5b31-9112-a178eb6023af"
        );
        assert_eq!(t[1].1.trade_id, TradeId::Num(2290000000061666327));
        assert_eq!(t[1].1.taker_side, Side::Sell);
        let bad = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Hold","v":"1","p":"1","i":"1"}]}"#;
        assert!(parse_frame(bad).is_err());
    }

    #[test]
    fn instruments_and_klines() {
        let body = r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbolId":9,"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","innovation":"0","status":"Trading","marginTrading":"utaOnly","stTag":"0","lotSizeFilter":{"basePrecision":"0.000001","quotePrecision":"0.0000001","minOrderQty":"0.000011","maxOrderQty":"83","minOrderAmt":"5","maxOrderAmt":"8000000","maxLimitOrderQty":"83","maxMarketOrderQty":"41.5","postOnlyMaxLimitOrderSize":"60000"},"priceFilter":{"tickSize":"0.1"},"riskParameters":{"priceLimitRatioX":"0.005","priceLimitRatioY":"0.01"},"symbolType":""}]},"retExtInfo":{},"time":1782907200000}"#;
        let pairs = parse_instruments(body).unwrap();
        assert_eq!(pairs.len(), 1);
        let p = &pairs[0];
        assert_eq!(p.symbol.as_str(), "BTC-USDT");
        assert_eq!(
            (p.exchange_symbol.as_str(), p.ws_symbol.as_str()),
            ("BTCUSDT", "BTCUSDT")
        );
        assert_eq!(p.qty_step, Decimal::new(1, 6));
        assert_eq!(p.price_tick, Decimal::new(1, 1));
        assert_eq!(p.min_notional, Some(Decimal::new(5, 0)));
        assert_eq!(p.status, PairStatus::Trading);
        let klines = r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","symbol":"BTCUSDT","list":[["1782907260000","67020.5","67031","67001.2","67005","3.21","215123.44"],["1782907200000","67000","67050","66990","67020.5","12.34567","827345.12"]]},"retExtInfo":{},"time":1782907290000}"#;
        let k = parse_klines(klines, Interval::M1, Timestamp::from_millis(1782907290000)).unwrap();
        assert_eq!(k.len(), 2);
        assert!(k[0].open_time < k[1].open_time, "oldest first");
        assert!(k[0].closed && !k[1].closed);
        assert_eq!(k[0].volume.to_string(), "12.34567");
        let refused =
            r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#;
        assert!(matches!(
            parse_instruments(refused),
            Err(RestBodyError::Api { code: 10006, .. })
        ));
    }
}
