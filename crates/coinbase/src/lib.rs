//! Coinbase Advanced Trade adapter.
//!
//! Books come from the public `level2` channel (messages arrive as channel `l2_data`: one
//! snapshot of the whole book per product, then updates of absolute sizes, side `bid` or
//! `offer`), trades from `market_trades`, and the `heartbeats` channel keeps quiet
//! subscriptions open; products from `/api/v3/brokerage/market/products`, candles from
//! `/market/products/{id}/candles`, paged at 300 a request.
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`CoinbaseConfig`].
//! - `sequence_num` belongs to the connection and counts every message on it (acks and
//!   heartbeats included): a gap makes every book of the connection suspect, so every one
//!   is resubscribed for a fresh snapshot (with a doubling backoff when it keeps happening),
//!   and nothing is applied to a book between the gap and its new snapshot.
//! - A book is reported only from a snapshot; deletes of prices the book does not hold are
//!   routine on this venue and ignored (counted as orphans), never a resync.
//! - Public trades report the **maker's** side; the taker's side is its opposite.
//! - Prices and quantities go from wire text to `Decimal` without `f64`.
//! - The venue's limits are respected: a few control messages a second, new connections
//!   within the per-IP budget, REST within about 10 requests a second.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
pub mod sync;
mod ws;

pub use config::CoinbaseConfig;
pub use rest::CoinbaseExchange;
