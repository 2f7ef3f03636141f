//! What a subscription sends: book and consolidated frames, serialized once per tick and
//! shared by every subscriber (the frame cache).

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytestring::ByteString;
use market::BookWatch;
use model::{ExchangeId, Symbol, Timestamp};
use tokio::time::Instant;
use wire::{ServerMessage, Subscription};

use super::conn::json;
use crate::convert;
use crate::state::AppState;

/// What a subscription reads.
pub(super) enum Feed {
    /// One venue's book: ticked by its group (`fanout`).
    Book {
        exchange: ExchangeId,
        symbol: Symbol,
        watch: BookWatch,
    },
    /// Ticked by the connection itself.
    Ticked(Ticked),
}

/// A feed the connection ticks: its frame depends on the subscriber.
pub(super) enum Ticked {
    /// The cross-venue book, computed by `market` as for REST.
    Consolidated(market::ConsolidatedWatch),
    /// One book's public trades, from sequence number `next` on.
    Trades {
        exchange: ExchangeId,
        symbol: Symbol,
        watch: market::TradeWatch,
        next: u64,
    },
}

/// A normalized subscription: its echo, its feed (none for `orders`), depth, interval.
pub(super) type Normalized = (Subscription, Option<Feed>, usize, u64);

pub(super) struct Sub {
    pub(super) echo: Subscription,
    pub(super) feed: Ticked,
    pub(super) depth: usize,
    pub(super) interval_ms: u64,
    pub(super) next_ms: i64,
}

pub(super) fn next_tick(now_ms: i64, interval_ms: u64) -> i64 {
    let i = i64::try_from(interval_ms).unwrap_or(1_000).max(1);
    (now_ms / i + 1) * i
}

pub(super) fn instant_at(ms: i64) -> Instant {
    let now = Timestamp::now().as_millis();
    Instant::now() + Duration::from_millis(u64::try_from(ms - now).unwrap_or(0))
}

pub(super) fn book_frame(
    state: &AppState,
    exchange: ExchangeId,
    symbol: &Symbol,
    watch: &BookWatch,
    depth: usize,
    interval: u64,
    tick: i64,
) -> ByteString {
    let key = (exchange, symbol.clone(), depth, interval);
    {
        let cache = state
            .ws
            .frames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((t, f)) = cache.get(&key)
            && *t == tick
        {
            return f.clone();
        }
    }
    let snap = watch.current();
    let ts = Timestamp::from_millis(tick);
    let mut body = convert::order_book(&snap, depth, ts);
    body.ts = convert::time(ts);
    let text = ByteString::from(json(&ServerMessage::Book(Box::new(body))));
    let mut cache = state
        .ws
        .frames
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.insert(key, (tick, text.clone()));
    // Frames of subscriptions nobody serves any more would stay forever: drop every frame
    // older than the longest interval allowed, whenever the cache has doubled since the
    // last sweep (amortized O(1) per insert).
    if cache.len() >= 2 * state.ws.swept_len.load(Ordering::Relaxed).max(64) {
        cache.retain(|_, (t, _)| tick - *t <= FRAME_TTL_MS);
        state.ws.swept_len.store(cache.len(), Ordering::Relaxed);
    }
    text
}

/// A cached frame older than this (twice the longest subscription interval) is nobody's.
const FRAME_TTL_MS: i64 = 120_000;

/// At most this many trades in one frame (the rest follow at the next tick).
const TRADES_PER_FRAME: usize = 1_000;

/// The trades that arrived since the last frame, or `None` when there are none.
pub(super) fn trades_frame(
    exchange: ExchangeId,
    symbol: &Symbol,
    watch: &market::TradeWatch,
    next: &mut u64,
) -> Option<ByteString> {
    if watch.next_seq() == *next {
        return None;
    }
    let got = watch.since(*next, TRADES_PER_FRAME);
    *next = got.next;
    if got.trades.is_empty() {
        return None;
    }
    let body = wire::Trades {
        exchange: exchange.as_str().to_owned(),
        symbol: symbol.to_string(),
        trades: got.trades.iter().map(convert::trade).collect(),
    };
    Some(ByteString::from(json(&ServerMessage::Trades(Box::new(
        body,
    )))))
}

pub(super) fn consolidated_frame(
    w: &market::ConsolidatedWatch,
    depth: usize,
    tick: i64,
) -> ByteString {
    let book = convert::consolidated(&w.current(depth), Timestamp::from_millis(tick));
    ByteString::from(json(&ServerMessage::Consolidated(Box::new(book))))
}
