//! Bitstamp v2 adapter.
//!
//! Books come from `diff_order_book_{pair}` (changed levels only, no sequence number, no
//! checksum) spliced with the REST `order_book` snapshot by `microtimestamp`, trades from
//! `live_trades_{pair}`; pairs from `/api/v2/trading-pairs-info/`, candles from
//! `/api/v2/ohlc/{pair}/` (paged at 1 000).
//!
//! # Invariants
//! - Depends only on `model` and `market`; every URL comes from [`BitstampConfig`].
//! - A book is reported only from a splice: the REST snapshot is placed in a stream that
//!   was already flowing when the snapshot was taken (a buffered diff at or before its
//!   `microtimestamp`); buffered diffs it covers are dropped, the rest applied in order.
//!   Otherwise the snapshot is fetched again.
//! - Diff `microtimestamp`s never go back: a step back breaks the chain and the book is
//!   spliced afresh (with a doubling backoff); so does a crossed book, which the hub
//!   reports (the venue's REST book can hold levels the stream never retracts).
//! - `bts:request_reconnect` is handled make-before-break: a new connection is opened and
//!   subscribed while the old one still feeds the books; each book moves to the new stream
//!   once the two overlap (no gap, no REST), or is spliced from REST after
//!   `handover_within`.
//! - Prices and quantities go from wire text to `Decimal` without `f64`.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod msg;
pub mod parse;
mod rest;
pub mod sync;
mod ws;

pub use config::BitstampConfig;
pub use rest::BitstampExchange;
