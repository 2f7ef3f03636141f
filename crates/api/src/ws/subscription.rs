//! Subscriptions as clients send them, validated and normalized: the canonical symbol,
//! defaults filled, and the feed each one reads.

use std::str::FromStr;

use model::{ExchangeId, Symbol};
use wire::{Channel, Subscription};

use super::frames::{Feed, Normalized, Ticked};
use crate::state::AppState;

fn fail(code: &'static str, detail: impl Into<String>) -> (&'static str, String) {
    (code, detail.into())
}

/// The venue and pair a `book` or `trades` subscription names (`what` says which, in the
/// error for a missing field).
fn venue_pair(
    state: &AppState,
    s: &Subscription,
    what: &str,
) -> Result<(ExchangeId, model::Pair), (&'static str, String)> {
    let (Some(ex), Some(sym)) = (&s.exchange, &s.symbol) else {
        return Err(fail(
            "invalid_subscription",
            format!("a {what} subscription needs exchange and symbol"),
        ));
    };
    let exchange = ExchangeId::from_str(ex)
        .map_err(|_| fail("unknown_exchange", format!("unknown exchange `{ex}`")))?;
    let pair = state
        .hub
        .resolve(exchange, sym)
        .map_err(|e| fail("unknown_symbol", e.to_string()))?;
    Ok((exchange, pair))
}

/// Validate and normalize a subscription (canonical symbol, defaults filled).
pub(super) fn normalize(
    state: &AppState,
    s: &Subscription,
) -> Result<Normalized, (&'static str, String)> {
    let depth = s.depth.unwrap_or(10);
    if !(1..=100).contains(&depth) {
        return Err(fail(
            "invalid_depth",
            format!("depth {depth} is out of range 1–100"),
        ));
    }
    // Trades are batched every 100 ms by default, books sent every second.
    let default_interval = if s.channel == Channel::Trades {
        100
    } else {
        state.ws.config.default_interval_ms
    };
    let interval = s.interval_ms.unwrap_or(default_interval);
    if !(100..=60_000).contains(&interval) {
        return Err(fail(
            "invalid_interval",
            format!("interval_ms {interval} is out of range 100–60000"),
        ));
    }
    let hub = &state.hub;
    match s.channel {
        Channel::Book => {
            let (exchange, pair) = venue_pair(state, s, "book")?;
            let watch = hub
                .watch(exchange, pair.symbol.as_str())
                .map_err(|e| fail("unavailable", e.to_string()))?;
            let echo = Subscription {
                channel: Channel::Book,
                exchange: Some(exchange.as_str().into()),
                symbol: Some(pair.symbol.to_string()),
                depth: Some(depth),
                interval_ms: Some(interval),
            };
            Ok((
                echo,
                Some(Feed::Book {
                    exchange,
                    symbol: pair.symbol.clone(),
                    watch,
                }),
                depth as usize,
                interval,
            ))
        }
        Channel::Consolidated => {
            let Some(sym) = &s.symbol else {
                return Err(fail(
                    "invalid_subscription",
                    "a consolidated subscription needs a symbol",
                ));
            };
            let symbol = Symbol::from_str(sym)
                .map_err(|e| fail("unknown_symbol", format!("`{sym}`: {e}")))?;
            let watch = market::ConsolidatedWatch::new(hub, symbol.clone())
                .map_err(|e| fail("unknown_symbol", e.to_string()))?;
            let echo = Subscription {
                channel: Channel::Consolidated,
                exchange: None,
                symbol: Some(symbol.to_string()),
                depth: Some(depth),
                interval_ms: Some(interval),
            };
            Ok((
                echo,
                Some(Feed::Ticked(Ticked::Consolidated(watch))),
                depth as usize,
                interval,
            ))
        }
        Channel::Trades => {
            let (exchange, pair) = venue_pair(state, s, "trades")?;
            let watch = hub
                .watch_trades(exchange, pair.symbol.as_str())
                .map_err(|e| fail("unavailable", e.to_string()))?;
            let echo = Subscription {
                channel: Channel::Trades,
                exchange: Some(exchange.as_str().into()),
                symbol: Some(pair.symbol.to_string()),
                depth: None,
                interval_ms: Some(interval),
            };
            // From now on: the history is `GET /trades/{exchange}/{symbol}`.
            let next = watch.next_seq();
            Ok((
                echo,
                Some(Feed::Ticked(Ticked::Trades {
                    exchange,
                    symbol: pair.symbol.clone(),
                    watch,
                    next,
                })),
                0,
                interval,
            ))
        }
        Channel::Orders => Ok((
            Subscription {
                channel: Channel::Orders,
                exchange: None,
                symbol: None,
                depth: None,
                interval_ms: None,
            },
            None,
            0,
            0,
        )),
        Channel::Unknown => Err(fail(
            "invalid_channel",
            "unknown channel; use book, trades, orders or consolidated",
        )),
    }
}
