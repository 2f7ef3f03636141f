//! Binance frames and REST bodies → normalized `model` values.

use market::parse_level;
use model::{
    ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Symbol, Timestamp,
    decimal_from_str,
};
use rust_decimal::Decimal;

use crate::msg::{
    BinanceCombinedDepth, BinanceDepthSnapshot, BinanceDepthUpdate, BinanceEnvelope,
    BinanceEventType, BinanceExchangeInfo,
};
use crate::sync::{DepthSnapshot, DepthUpdate};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// What a stream frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum BinanceInbound {
    /// A diff-depth event for `symbol` (upper case, as Binance sends it).
    Depth {
        /// `BTCUSDT`.
        symbol: String,
        /// The event.
        update: DepthUpdate,
    },
    /// A successful answer to a control request.
    Ack,
    /// A failed control request.
    ControlError {
        /// Binance's code.
        code: i64,
        /// Binance's message.
        msg: String,
    },
    /// The venue is about to close the connection for maintenance.
    ServerShutdown,
    /// A message type we do not use (counted, ignored).
    Other(String),
}

fn levels(raw: &[[&str; 2]], frame: &str) -> Result<Vec<Level>, ParseError> {
    raw.iter().map(|[p, q]| parse_level(p, q, frame)).collect()
}

fn depth_update(d: &BinanceDepthUpdate<'_>, frame: &str) -> Result<BinanceInbound, ParseError> {
    if d.first_update_id > d.final_update_id {
        return Err(err("first update id after final update id", frame));
    }
    Ok(BinanceInbound::Depth {
        symbol: d.symbol.to_owned(),
        update: DepthUpdate {
            first: d.first_update_id,
            last: d.final_update_id,
            event_ts: Some(Timestamp::from_millis(d.event_time)),
            bids: levels(&d.bids, frame)?,
            asks: levels(&d.asks, frame)?,
        },
    })
}

/// Decode one text frame from the combined stream (raw-stream events are accepted too).
pub fn parse_frame(text: &str) -> Result<BinanceInbound, ParseError> {
    // Fast path: almost every frame is a combined depth event.
    if let Ok(c) = serde_json::from_str::<BinanceCombinedDepth<'_>>(text)
        && c.data.event == "depthUpdate"
    {
        return depth_update(&c.data, text);
    }
    let env: BinanceEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| err(format!("not a Binance frame: {e}"), text))?;
    if let Some(code) = env.code {
        return Ok(BinanceInbound::ControlError {
            code,
            msg: env.msg.unwrap_or_default(),
        });
    }
    // `{"result":null,"id":N}`: a null result deserializes as absent, so the id decides.
    if env.id.is_some() && env.stream.is_none() && env.event.is_none() {
        return Ok(BinanceInbound::Ack);
    }
    let event = match (env.event, env.data) {
        (Some(e), _) => Some((e, text)),
        (None, Some(d)) => serde_json::from_str::<BinanceEventType<'_>>(d.get())
            .ok()
            .and_then(|t| t.event)
            .map(|e| (e, d.get())),
        (None, None) => None,
    };
    match event {
        Some(("serverShutdown", _)) => Ok(BinanceInbound::ServerShutdown),
        Some(("depthUpdate", payload)) => {
            let d: BinanceDepthUpdate<'_> = serde_json::from_str(payload)
                .map_err(|e| err(format!("malformed depthUpdate: {e}"), text))?;
            depth_update(&d, text)
        }
        Some((other, _)) => Ok(BinanceInbound::Other(other.to_owned())),
        None => match env.stream {
            Some(s) if s.contains("serverShutdown") => Ok(BinanceInbound::ServerShutdown),
            Some(s) => Ok(BinanceInbound::Other(s.to_owned())),
            None => Err(err("frame has neither a stream, an event nor an id", text)),
        },
    }
}

/// Decode `GET /api/v3/depth`.
pub fn parse_snapshot(text: &str) -> Result<DepthSnapshot, ParseError> {
    let s: BinanceDepthSnapshot<'_> = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed depth snapshot: {e}"), text))?;
    Ok(DepthSnapshot {
        last_update_id: s.last_update_id,
        bids: levels(&s.bids, text)?,
        asks: levels(&s.asks, text)?,
    })
}

fn status(s: &str) -> PairStatus {
    match s {
        "TRADING" => PairStatus::Trading,
        "HALT" | "BREAK" | "END_OF_DAY" => PairStatus::Halted,
        "CANCEL_ONLY" => PairStatus::CancelOnly,
        "PRE_TRADING" => PairStatus::PreTrading,
        "POST_TRADING" | "AUCTION_MATCH" => PairStatus::Halted,
        other => PairStatus::Unknown(other.to_ascii_lowercase()),
    }
}

fn dec(s: &Option<String>) -> Option<Decimal> {
    s.as_deref()
        .and_then(decimal_from_str)
        .map(|d| d.normalize())
}

/// Decode `GET /api/v3/exchangeInfo` into pairs. Symbols whose assets are not plain
/// alphanumeric codes (Binance lists a few non-ASCII ones) are skipped: they cannot be named
/// in our canonical form.
pub fn parse_exchange_info(text: &str) -> Result<Vec<Pair>, ParseError> {
    let info: BinanceExchangeInfo = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed exchangeInfo: {e}"), text))?;
    let mut out = Vec::with_capacity(info.symbols.len());
    for s in info.symbols {
        let Ok(symbol) = Symbol::new(&s.base_asset, &s.quote_asset) else {
            continue;
        };
        // The native name is used in stream names and URLs: Binance's are ASCII letters and
        // digits; anything else (or nothing) cannot be subscribed.
        if s.symbol.is_empty() || !s.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let find = |t: &str| s.filters.iter().find(|f| f.filter_type == t);
        let price = find("PRICE_FILTER");
        let lot = find("LOT_SIZE");
        let notional = find("NOTIONAL").or_else(|| find("MIN_NOTIONAL"));
        let price_tick = price.and_then(|f| dec(&f.tick_size)).unwrap_or_default();
        let qty_step = lot.and_then(|f| dec(&f.step_size)).unwrap_or_default();
        let min_qty = lot.and_then(|f| dec(&f.min_qty)).unwrap_or_default();
        let min_notional = notional.and_then(|f| dec(&f.min_notional));
        // A negative grid or minimum is nonsense: the pair is not listed rather than guessed.
        if [
            price_tick,
            qty_step,
            min_qty,
            min_notional.unwrap_or_default(),
        ]
        .iter()
        .any(Decimal::is_sign_negative)
        {
            continue;
        }
        out.push(Pair {
            exchange: ExchangeId::Binance,
            symbol,
            exchange_symbol: s.symbol.clone(),
            ws_symbol: s.symbol.to_lowercase(),
            aliases: Vec::new(),
            status: status(&s.status),
            price_tick,
            qty_step,
            min_qty,
            min_notional,
        });
    }
    Ok(out)
}

/// Binance's spelling of an interval (all of ours are offered).
pub fn interval_param(i: Interval) -> &'static str {
    i.as_str()
}

/// Decode `GET /api/v3/klines` (arrays of 12). `close_time` is normalized to the exclusive
/// bucket end (Binance sends end − 1 ms); a candle is closed once `now` is past its end.
pub fn parse_klines(text: &str, now: Timestamp) -> Result<Vec<Kline>, ParseError> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_str(text).map_err(|e| err(format!("malformed klines: {e}"), text))?;
    rows.iter()
        .map(|r| {
            let int = |i: usize| r.get(i).and_then(serde_json::Value::as_i64);
            let price = |i: usize| {
                r.get(i)
                    .and_then(serde_json::Value::as_str)
                    .and_then(decimal_from_str)
                    .and_then(|d| Price::try_from(d).ok())
            };
            let open_ms = int(0).ok_or_else(|| err("kline without open time", text))?;
            let close_ms = int(6).ok_or_else(|| err("kline without close time", text))?;
            let volume = r
                .get(5)
                .and_then(serde_json::Value::as_str)
                .and_then(decimal_from_str)
                .and_then(|d| Qty::try_from(d).ok())
                .ok_or_else(|| err("kline without volume", text))?;
            let close_time = Timestamp::from_millis(close_ms + 1);
            Ok(Kline {
                open_time: Timestamp::from_millis(open_ms),
                close_time,
                open: price(1).ok_or_else(|| err("bad open", text))?,
                high: price(2).ok_or_else(|| err("bad high", text))?,
                low: price(3).ok_or_else(|| err("bad low", text))?,
                close: price(4).ok_or_else(|| err("bad close", text))?,
                volume,
                closed: now >= close_time,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_frames() {
        assert_eq!(
            parse_frame(r#"{"result":null,"id":1}"#),
            Ok(BinanceInbound::Ack)
        );
        assert_eq!(
            parse_frame(r#"{"code":2,"msg":"Invalid request","id":1}"#),
            Ok(BinanceInbound::ControlError {
                code: 2,
                msg: "Invalid request".into()
            })
        );
        assert_eq!(
            parse_frame(
                r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#
            ),
            Ok(BinanceInbound::ServerShutdown)
        );
        assert_eq!(
            parse_frame(r#"{"e":"serverShutdown","E":1770123456789}"#),
            Ok(BinanceInbound::ServerShutdown)
        );
        assert!(matches!(
            parse_frame(r#"{"stream":"btcusdt@trade","data":{"e":"trade","p":"1"}}"#),
            Ok(BinanceInbound::Other(t)) if t == "trade"
        ));
        for garbage in [
            "",
            "nope",
            "[1,2]",
            r#"{"stream":"x@depth","data":{"e":"depthUpdate","b":"oops"}}"#,
        ] {
            assert!(parse_frame(garbage).is_err(), "{garbage}");
        }
        let e = parse_frame(r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":4,"b":[],"a":[]}}"#).unwrap_err();
        assert!(e.reason.contains("first update id"), "{e}");
        let e = parse_frame(r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":4,"u":5,"b":[["-1","2"]],"a":[]}}"#).unwrap_err();
        assert!(e.raw.starts_with("{\"stream\""), "keeps the payload");
    }
}
