//! Bybit v5 spot adapter.
//!
//! Books come from the public spot topic `orderbook.200.{SYMBOL}` (a snapshot, then deltas),
//! trades from `publicTrade.{SYMBOL}`, both on one connection; pairs from
//! `/v5/market/instruments-info`, klines from `/v5/market/kline`.
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`BybitConfig`].
//! - A book is reported only from a snapshot; every delta must continue the update id `u`
//!   by exactly one, else that symbol alone is resubscribed (a fresh snapshot), with a
//!   doubling backoff when it keeps happening. A snapshot always replaces the book (`u == 1`
//!   is the venue's restart, not a gap).
//! - Books are truncated to the subscribed depth after every message.
//! - Prices and quantities go from wire text to `Decimal` without `f64`.
//! - The venue's limits are respected: at most 10 topics per subscribe request, a few
//!   control messages a second, new connections within the per-IP budget, a ping every 20 s.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
pub mod sync;
mod ws;

pub use config::BybitConfig;
pub use rest::BybitExchange;
