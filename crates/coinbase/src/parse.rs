//! Coinbase frames and REST bodies → normalized `model` values.

use std::collections::BTreeMap;

use market::parse_level;
use model::{
    BookEvent, ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Side, Symbol,
    Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use crate::msg::{
    CbCandles, CbEnvelope, CbL2Event, CbProducts, CbRestError, CbSubscriptionsEvent, CbTradesEvent,
};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// One product's part of an `l2_data` message, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct CbBook {
    /// `BTC-USD`.
    pub product_id: String,
    /// A snapshot replaces the book, an update continues it; `seq` carries the message's
    /// `sequence_num`, `exchange_ts` its timestamp.
    pub event: BookEvent,
}

/// What a market-data frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum CbInbound {
    /// `l2_data` events (one per product).
    Books(Vec<CbBook>),
    /// Public trades, oldest first: `(product_id, trade)` (local times set by the caller).
    /// `snapshot` tells the recent trades sent on subscribe from live ones.
    Trades {
        /// The trades.
        trades: Vec<(String, Trade)>,
        /// The recent trades sent on subscribe.
        snapshot: bool,
    },
    /// What the connection follows now: channel → products.
    Subscriptions(BTreeMap<String, Vec<String>>),
    /// A heartbeat (one a second), with its counter.
    Heartbeat(Option<u64>),
    /// An error message (`{"type":"error","message":…}`).
    Error(String),
    /// A channel we do not use.
    Other(String),
}

/// A frame: its `sequence_num` (every message but an error carries one) and its meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct CbFrame {
    /// The connection's message counter.
    pub seq: Option<u64>,
    /// The meaning.
    pub inbound: CbInbound,
}

/// Parse an RFC 3339 venue time (see [`market::parse_rfc3339`]).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    market::parse_rfc3339(s)
}

fn l2(
    events: &str,
    seq: Option<u64>,
    ts: Option<Timestamp>,
    text: &str,
) -> Result<CbInbound, ParseError> {
    let events: Vec<CbL2Event<'_>> = serde_json::from_str(events)
        .map_err(|e| err(format!("malformed l2_data events: {e}"), text))?;
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        let mut bids: Vec<Level> = Vec::new();
        let mut asks: Vec<Level> = Vec::new();
        for u in &ev.updates {
            let level = parse_level(u.price_level, u.new_quantity, text)?;
            match u.side {
                "bid" => bids.push(level),
                // `offer` is the venue's word; `ask` is accepted for robustness.
                "offer" | "ask" => asks.push(level),
                other => return Err(err(format!("unknown level side `{other}`"), text)),
            }
        }
        let mut event = match ev.kind {
            "snapshot" => BookEvent::snapshot(bids, asks),
            "update" => BookEvent::delta(bids, asks),
            other => return Err(err(format!("unknown l2_data event type `{other}`"), text)),
        };
        event.seq = seq;
        event.exchange_ts = ts;
        out.push(CbBook {
            product_id: ev.product_id.to_owned(),
            event,
        });
    }
    Ok(CbInbound::Books(out))
}

fn trades(events: &str, text: &str) -> Result<CbInbound, ParseError> {
    let events: Vec<CbTradesEvent<'_>> = serde_json::from_str(events)
        .map_err(|e| err(format!("malformed market_trades events: {e}"), text))?;
    let mut out = Vec::new();
    let mut snapshot = false;
    for ev in &events {
        snapshot |= ev.kind == Some("snapshot");
        for t in &ev.trades {
            let level = parse_level(t.price, t.size, text)?;
            if level.qty.is_zero() {
                return Err(err("trade of zero quantity", text));
            }
            // The venue reports the maker's side: the taker took the other one.
            let taker_side = match t.side {
                "BUY" => Side::Sell,
                "SELL" => Side::Buy,
                other => return Err(err(format!("unknown trade side `{other}`"), text)),
            };
            if t.trade_id.is_empty() {
                return Err(err("trade without an id", text));
            }
            let at = parse_time(t.time).ok_or_else(|| err("bad trade time", text))?;
            out.push((
                t.product_id.to_owned(),
                Trade {
                    trade_id: TradeId::parse(t.trade_id),
                    exchange_ts: at,
                    local_ts: at,
                    price: level.price,
                    qty: level.qty,
                    taker_side,
                },
            ));
        }
    }
    // The venue lists a batch newest first; the tape wants them oldest first.
    out.sort_by_key(|(_, t)| t.exchange_ts);
    Ok(CbInbound::Trades {
        trades: out,
        snapshot,
    })
}

fn heartbeat(events: &str) -> Option<u64> {
    let v: Vec<serde_json::Value> = serde_json::from_str(events).ok()?;
    let c = v.first()?.get("heartbeat_counter")?;
    // A number or a string, depending on the venue's release.
    c.as_u64()
        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
}

/// Decode one text frame of the market-data stream.
pub fn parse_frame(text: &str) -> Result<CbFrame, ParseError> {
    let env: CbEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| err(format!("not a Coinbase frame: {e}"), text))?;
    let seq = env.sequence_num;
    let Some(channel) = env.channel else {
        if env.kind == Some("error") {
            return Ok(CbFrame {
                seq,
                inbound: CbInbound::Error(env.message.unwrap_or_default()),
            });
        }
        return Err(err("frame has neither a channel nor an error", text));
    };
    let events = env.events.map(|e| e.get()).unwrap_or("[]");
    let ts = env.timestamp.and_then(parse_time);
    let inbound = match channel {
        "l2_data" => {
            if seq.is_none() {
                return Err(err("l2_data without a sequence_num", text));
            }
            l2(events, seq, ts, text)?
        }
        "market_trades" => trades(events, text)?,
        "heartbeats" => CbInbound::Heartbeat(heartbeat(events)),
        "subscriptions" => {
            let evs: Vec<CbSubscriptionsEvent> = serde_json::from_str(events)
                .map_err(|e| err(format!("malformed subscriptions: {e}"), text))?;
            CbInbound::Subscriptions(
                evs.into_iter()
                    .next()
                    .map(|e| e.subscriptions)
                    .unwrap_or_default(),
            )
        }
        other => CbInbound::Other(other.to_owned()),
    };
    Ok(CbFrame { seq, inbound })
}

/// A REST body that is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestBodyError {
    /// Not the documented shape.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The venue's error body.
    #[error("Coinbase error {code}: {msg}")]
    Api {
        /// `NOT_FOUND`, `INVALID_ARGUMENT`, …
        code: String,
        /// The reason.
        msg: String,
    },
}

/// The venue's error, when `text` is one.
pub fn api_error(text: &str) -> Option<RestBodyError> {
    let e: CbRestError = serde_json::from_str(text).ok()?;
    let code = e.error?;
    let msg = e.message.or(e.error_details).unwrap_or_default();
    Some(RestBodyError::Api { code, msg })
}

use market::parse_decimal as dec;

/// Decode `GET /api/v3/brokerage/market/products?product_type=SPOT` into pairs. Products that
/// share another's book (`alias`, e.g. `BTC-USDC` → `BTC-USD`) are not listed separately, and
/// products whose rules are missing or not positive are skipped, not guessed.
pub fn parse_products(text: &str) -> Result<Vec<Pair>, RestBodyError> {
    let res: CbProducts = serde_json::from_str(text).map_err(|e| {
        api_error(text).unwrap_or_else(|| err(format!("malformed products: {e}"), text).into())
    })?;
    let mut out = Vec::with_capacity(res.products.len());
    for p in res.products {
        if p.product_type.as_deref().is_some_and(|t| t != "SPOT")
            || p.alias.as_deref().is_some_and(|a| !a.is_empty())
        {
            continue;
        }
        let Ok(symbol) = Symbol::new(&p.base_currency_id, &p.quote_currency_id) else {
            continue;
        };
        let tick = dec(p
            .price_increment
            .as_deref()
            .or(p.quote_increment.as_deref()));
        let (Some(price_tick), Some(qty_step)) = (tick, dec(Some(&p.base_increment))) else {
            continue;
        };
        let min_qty = dec(p.base_min_size.as_deref()).unwrap_or(qty_step);
        let min_notional = dec(p.quote_min_size.as_deref()).filter(|d| !d.is_zero());
        if price_tick <= Decimal::ZERO
            || qty_step <= Decimal::ZERO
            || min_qty.is_sign_negative()
            || min_notional.is_some_and(|m| m.is_sign_negative())
        {
            continue;
        }
        let status = match p.status.as_deref() {
            _ if p.is_disabled || p.view_only => PairStatus::Halted,
            Some("delisted") => PairStatus::Delisted,
            Some("online") | None if p.cancel_only => PairStatus::CancelOnly,
            Some("online") | None if p.auction_mode => PairStatus::PreTrading,
            Some("online") | None if p.trading_disabled => PairStatus::Halted,
            Some("online") | None => PairStatus::Trading,
            Some("offline") => PairStatus::Halted,
            Some(other) => PairStatus::Unknown(other.to_ascii_lowercase()),
        };
        out.push(Pair {
            exchange: ExchangeId::Coinbase,
            aliases: vec![format!("{}/{}", p.base_currency_id, p.quote_currency_id)],
            symbol,
            ws_symbol: p.product_id.clone(),
            exchange_symbol: p.product_id,
            status,
            price_tick,
            qty_step,
            min_qty,
            min_notional,
        });
    }
    Ok(out)
}

/// The `granularity` for a candle size, and the size it is built from when the venue has
/// no such granularity (3 minutes from minutes, 4 and 12 hours from 2 and 6, days upward
/// from days).
pub fn granularity(i: Interval) -> (&'static str, Interval) {
    match i {
        Interval::M1 | Interval::M3 => ("ONE_MINUTE", Interval::M1),
        Interval::M5 => ("FIVE_MINUTE", Interval::M5),
        Interval::M15 => ("FIFTEEN_MINUTE", Interval::M15),
        Interval::M30 => ("THIRTY_MINUTE", Interval::M30),
        Interval::H1 => ("ONE_HOUR", Interval::H1),
        Interval::H2 | Interval::H4 => ("TWO_HOUR", Interval::H2),
        Interval::H6 | Interval::H12 => ("SIX_HOUR", Interval::H6),
        Interval::D1 | Interval::D3 | Interval::W1 | Interval::Mo1 => ("ONE_DAY", Interval::D1),
    }
}

/// Decode `GET /market/products/{id}/candles` (newest first) into candles of `interval`,
/// oldest first; a candle is closed once its interval has ended at `now`.
pub fn parse_candles(
    text: &str,
    interval: Interval,
    now: Timestamp,
) -> Result<Vec<Kline>, RestBodyError> {
    let res: CbCandles<'_> = serde_json::from_str(text).map_err(|e| {
        api_error(text).unwrap_or_else(|| err(format!("malformed candles: {e}"), text).into())
    })?;
    let mut out = Vec::with_capacity(res.candles.len());
    for c in res.candles.iter().rev() {
        let secs: i64 = c.start.parse().map_err(|_| err("bad candle start", text))?;
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
    fn the_reference_sequence_decodes() {
        let snap = r#"{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.101000000Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-07-01T12:00:00.100900Z","price_level":"67000.00","new_quantity":"0.50000000"},{"side":"offer","event_time":"2026-07-01T12:00:00.100900Z","price_level":"67000.01","new_quantity":"0.25000000"}]}]}"#;
        let f = parse_frame(snap).unwrap();
        assert_eq!(f.seq, Some(0));
        let CbInbound::Books(b) = f.inbound else {
            panic!()
        };
        assert_eq!(b[0].product_id, "BTC-USD");
        assert_eq!((b[0].event.bids.len(), b[0].event.asks.len()), (1, 1));
        assert_eq!(b[0].event.seq, Some(0));
        assert_eq!(
            b[0].event.exchange_ts,
            parse_time("2026-07-01T12:00:00.101Z")
        );
        let subs = r#"{"channel":"subscriptions","client_id":"","timestamp":"2026-07-01T12:00:00.105211431Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}"#;
        let f = parse_frame(subs).unwrap();
        assert_eq!(f.seq, Some(1));
        assert!(matches!(f.inbound, CbInbound::Subscriptions(m) if m["level2"] == ["BTC-USD"]));
        for hb in [
            r#"{"channel":"heartbeats","client_id":"","timestamp":"2026-07-01T12:00:02.000123Z","sequence_num":3,"events":[{"current_time":"2026-07-01 12:00:01.999456 +0000 UTC m=+3600.1","heartbeat_counter":3601}]}"#,
            r#"{"channel":"heartbeats","client_id":"","timestamp":"2026-07-01T12:00:02.000123Z","sequence_num":3,"events":[{"current_time":"x","heartbeat_counter":"3601"}]}"#,
        ] {
            assert_eq!(
                parse_frame(hb).unwrap().inbound,
                CbInbound::Heartbeat(Some(3601))
            );
        }
        assert_eq!(
            parse_frame(r#"{"type":"error","message":"failure to subscribe"}"#)
                .unwrap()
                .inbound,
            CbInbound::Error("failure to subscribe".into())
        );
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"middle","event_time":"x","price_level":"1","new_quantity":"1"}]}]}"#,
            r#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"patch","product_id":"BTC-USD","updates":[]}]}"#,
            r#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}"#,
            r#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"x","price_level":"-1","new_quantity":"1"}]}]}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn market_trades_give_the_takers_side_oldest_first() {
        let text = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":7,"events":[{"type":"update","trades":[{"trade_id":"12346","product_id":"BTC-USD","price":"21921.74","size":"0.002","side":"SELL","time":"2023-02-09T20:19:35.396Z"},{"trade_id":"12345","product_id":"BTC-USD","price":"21921.73","size":"0.5","side":"BUY","time":"2023-02-09T20:19:35.100Z"}]}]}"#;
        let f = parse_frame(text).unwrap();
        let CbInbound::Trades { trades, snapshot } = f.inbound else {
            panic!()
        };
        assert!(!snapshot);
        assert_eq!(trades[0].1.trade_id, TradeId::Num(12345), "oldest first");
        assert_eq!(
            trades[0].1.taker_side,
            Side::Sell,
            "a BUY maker was hit by a seller"
        );
        assert_eq!(trades[1].1.taker_side, Side::Buy);
        assert_eq!(trades[1].1.qty.get(), Decimal::new(2, 3));
    }

    #[test]
    fn granularities_cover_every_interval() {
        for i in Interval::ALL {
            let (name, source) = granularity(i);
            assert!(name.ends_with("MINUTE") || name.ends_with("HOUR") || name == "ONE_DAY");
            let (Some(s), t) = (source.fixed_millis(), i.fixed_millis()) else {
                panic!()
            };
            assert!(t.is_none_or(|t| t % s == 0), "{i} from {source}");
        }
    }
}
