//! `model` → `wire` conversions: the one place where domain types become JSON types.

use chrono::{DateTime, Utc};
use market::{BookSnapshot, ConnState, ExchangeStatus};
use model::{BookHealth, Kline, Level, Pair, Timestamp};

/// A timestamp as a UTC date-time.
pub fn time(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(t.as_nanos())
}

/// Exchange status word used by `/exchanges` and `/health`.
pub fn status_word(s: &ExchangeStatus) -> &'static str {
    match s.connection {
        None => "disabled",
        Some(c) => match c {
            ConnState::Connecting => "connecting",
            ConnState::Connected => "connected",
            ConnState::Down => "down",
            ConnState::Failed => "failed",
        },
    }
}

/// One `/exchanges` entry.
pub fn exchange(s: &ExchangeStatus) -> wire::Exchange {
    wire::Exchange {
        id: s.id.as_str().to_owned(),
        name: s.id.display_name().to_owned(),
        status: status_word(s).to_owned(),
        symbols: s.pairs,
        last_error: s.last_error.clone(),
    }
}

/// One `/health` exchange entry.
pub fn exchange_health(s: &ExchangeStatus) -> wire::ExchangeHealth {
    wire::ExchangeHealth {
        id: s.id.as_str().to_owned(),
        status: status_word(s).to_owned(),
        books: s.books,
        last_error: s.last_error.clone(),
    }
}

/// A pair.
pub fn pair(p: &Pair) -> wire::Pair {
    wire::Pair {
        symbol: p.symbol.to_string(),
        base: p.symbol.base().to_owned(),
        quote: p.symbol.quote().to_owned(),
        exchange_symbol: p.exchange_symbol.clone(),
        ws_symbol: p.ws_symbol.clone(),
        status: p.status.as_str().to_owned(),
        price_tick: p.price_tick.normalize(),
        qty_step: p.qty_step.normalize(),
        min_qty: p.min_qty.normalize(),
        min_notional: p.min_notional.map(|d| d.normalize()),
    }
}

/// A candle.
pub fn kline(k: &Kline) -> wire::Kline {
    wire::Kline {
        open_time: time(k.open_time),
        close_time: time(k.close_time),
        open: k.open.get(),
        high: k.high.get(),
        low: k.low.get(),
        close: k.close.get(),
        volume: k.volume.get(),
        closed: k.closed,
    }
}

/// A book's health, `age_ms` computed against `now`.
pub fn health(h: &BookHealth, now: Timestamp) -> wire::BookHealth {
    wire::BookHealth {
        state: h.state.as_str().to_owned(),
        age_ms: h.age_ms(now),
        resyncs: h.resyncs,
        checksum_failures: h.checksum_failures,
        orphan_deletes: h.orphan_deletes,
        crossed: h.crossed,
        checksum_unreliable: h.checksum_unreliable,
        last_error: h.last_error.clone(),
    }
}

fn level(l: &Level) -> wire::BookLevel {
    (l.price.get(), l.qty.get())
}

/// A book snapshot limited to `depth` levels a side.
pub fn order_book(s: &BookSnapshot, depth: usize, now: Timestamp) -> wire::OrderBook {
    let top = s.book.top(depth);
    wire::OrderBook {
        exchange: s.exchange.as_str().to_owned(),
        symbol: s.symbol().to_string(),
        ts: time(s.health.last_update.unwrap_or(now)),
        seq: s.book.seq(),
        bids: top.bids().iter().map(level).collect(),
        asks: top.asks().iter().map(level).collect(),
        health: health(&s.health, now),
    }
}
