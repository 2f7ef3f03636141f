//! Binance spot adapter.
//!
//! Books come from the diff-depth stream `<symbol>@depth@100ms` on one combined-stream
//! connection (runtime `SUBSCRIBE`/`UNSUBSCRIBE`), spliced with a REST snapshot by Binance's
//! corrected procedure ([`sync`]); pairs from `exchangeInfo`, klines from `/api/v3/klines`.
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`BinanceConfig`].
//! - A book is reported only from a snapshot whose `lastUpdateId` bridges the buffered
//!   stream, and every later event must continue the update-id chain; a gap resyncs that
//!   symbol only (a new snapshot, the buffer kept), never the connection.
//! - Prices and quantities go from wire text to `Decimal` without `f64`.
//! - The venue's limits are respected: snapshot requests are weight-limited and stop while a
//!   429/418 `Retry-After` runs; at most a few control messages per second per connection;
//!   new connections within the per-IP budget; a planned reconnect before the 24 h cut and on
//!   `serverShutdown` overlaps the old connection so readers never see a gap.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
pub mod sync;
mod ws;

pub use config::BinanceConfig;
pub use rest::BinanceExchange;
