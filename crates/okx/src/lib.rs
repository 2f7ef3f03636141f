//! OKX v5 spot adapter.
//!
//! Books come from the public `books` channel (400 levels: a snapshot, then incremental
//! updates every 100 ms), trades from `trades`, both on one connection to `/ws/v5/public`;
//! pairs from `/api/v5/public/instruments?instType=SPOT`, candles from
//! `/api/v5/market/candles` (and `history-candles` for older ranges).
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`OkxConfig`].
//! - A book is reported only from a snapshot (in band, or from REST spliced onto the
//!   buffered updates by `seqId` when no in-band snapshot comes in time); every update must
//!   continue the `prevSeqId` → `seqId` chain (a venue sequence reset is accepted as OKX
//!   documents it), and every frame carrying a non-zero `checksum` is verified (CRC32 of the
//!   top 25 levels interleaved, as a signed 32-bit value) from the exact integers of the book.
//!   A break resubscribes that symbol only, with a doubling backoff and the hub's breaker.
//! - Prices and quantities go from wire text to `Decimal` without `f64`.
//! - The venue's limits are respected: the text `ping` when the socket is quiet, a few
//!   control messages a second, 3 new connections a second at most, REST within its budget.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
pub mod sync;
mod ws;

pub use config::OkxConfig;
pub use rest::OkxExchange;
