//! Kraken spot adapter.
//!
//! Books come from the WS v2 `book` channel at the configured depth on one connection
//! (runtime `subscribe`/`unsubscribe`, one symbol list per message); pairs from
//! `AssetPairs` (by `wsname`, `XBT`→`BTC`, `XDG`→`DOGE`), klines from `OHLC`.
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`KrakenConfig`].
//! - Prices and quantities go from the wire's JSON number text to `Decimal` without `f64`;
//!   books are kept at the pair's precisions and truncated to the subscribed depth after
//!   every message, so the CRC32 checksum over the top 10 is an exact integer rendering.
//! - A checksum mismatch (detected by the hub) resubscribes that symbol only, with a
//!   per-symbol backoff; the connection and every other symbol stay untouched. A refused
//!   subscription marks that book `down` and is not retried in a loop.
//! - Heartbeats are liveness: a connection silent past the read timeout is replaced, within
//!   the per-IP connection budget.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
mod ws;

pub use config::KrakenConfig;
pub use rest::KrakenExchange;
