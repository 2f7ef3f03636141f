//! Binance frames and REST bodies → normalized `model` values.

use market::parse_level;
use model::{
    ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Side, Symbol, Timestamp,
    Trade, TradeId, decimal_from_str,
};
use rust_decimal::Decimal;

use crate::msg::{
    BinanceCombinedDepth, BinanceCombinedTrade, BinanceDepthSnapshot, BinanceDepthUpdate,
    BinanceEnvelope, BinanceEventType, BinanceExchangeInfo, BinanceTrade,
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
    /// A public trade of `symbol` (upper case, as Binance sends it).
    Trade {
        /// `BTCUSDT`.
        symbol: String,
        /// The trade (its local time is set by the caller).
        trade: Trade,
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

fn trade(t: &BinanceTrade<'_>, frame: &str) -> Result<BinanceInbound, ParseError> {
    let level = parse_level(t.price, t.qty, frame)?;
    if level.qty.is_zero() {
        return Err(err("trade of zero quantity", frame));
    }
    let at = Timestamp::venue_millis(t.trade_time)
        .ok_or_else(|| err("trade time out of range", frame))?;
    Ok(BinanceInbound::Trade {
        symbol: t.symbol.to_owned(),
        trade: Trade {
            trade_id: TradeId::Num(t.trade_id),
            exchange_ts: at,
            local_ts: at,
            price: level.price,
            qty: level.qty,
            // The maker bought, so the aggressor sold.
            taker_side: if t.buyer_is_maker {
                Side::Sell
            } else {
                Side::Buy
            },
        },
    })
}

/// Decode one text frame from the combined stream (raw-stream events are accepted too).
pub fn parse_frame(text: &str) -> Result<BinanceInbound, ParseError> {
    // Fast paths: almost every frame is a combined depth or trade event.
    if let Ok(c) = serde_json::from_str::<BinanceCombinedDepth<'_>>(text)
        && c.data.event == "depthUpdate"
    {
        return depth_update(&c.data, text);
    }
    if let Ok(c) = serde_json::from_str::<BinanceCombinedTrade<'_>>(text)
        && c.data.event == "trade"
    {
        return trade(&c.data, text);
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
        Some(("trade", payload)) => {
            let t: BinanceTrade<'_> = serde_json::from_str(payload)
                .map_err(|e| err(format!("malformed trade: {e}"), text))?;
            trade(&t, text)
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
    market::parse_decimal(s.as_deref())
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
            let (Some(open_time), Some(close_time)) = (
                Timestamp::venue_millis(open_ms),
                Timestamp::venue_millis(close_ms.saturating_add(1)),
            ) else {
                return Err(err("kline time out of range", text));
            };
            Ok(Kline {
                open_time,
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
            parse_frame(r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","p":"1"}}"#),
            Ok(BinanceInbound::Other(t)) if t == "aggTrade"
        ));
        // A trade frame missing its fields is malformed, not ignored.
        assert!(parse_frame(r#"{"stream":"btcusdt@trade","data":{"e":"trade","p":"1"}}"#).is_err());
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

    #[test]
    fn trades_with_the_aggressor_side() {
        // The documented shape of `<symbol>@trade` (Binance spot WebSocket streams).
        let text = r#"{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}"#;
        let Ok(BinanceInbound::Trade { symbol, trade }) = parse_frame(text) else {
            panic!("not a trade");
        };
        assert_eq!(symbol, "BNBBTC");
        assert_eq!(trade.trade_id, TradeId::Num(12345));
        assert_eq!(trade.price.to_string(), "0.001");
        assert_eq!(trade.qty.to_string(), "100");
        assert_eq!(trade.exchange_ts, Timestamp::from_millis(1672515782136));
        assert_eq!(trade.taker_side, Side::Sell, "the buyer was the maker");
        let raw =
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"2.5","q":"1","T":1,"m":false,"M":true}"#;
        assert!(matches!(
            parse_frame(raw),
            Ok(BinanceInbound::Trade { trade, .. }) if trade.taker_side == Side::Buy
        ));
        let zero = r#"{"stream":"x@trade","data":{"e":"trade","E":1,"s":"X","t":7,"p":"2.5","q":"0","T":1,"m":false,"M":true}}"#;
        assert!(parse_frame(zero).is_err());
    }
}
