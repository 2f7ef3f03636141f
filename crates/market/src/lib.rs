//! Live market data: the [`Exchange`] trait every venue adapter implements, and the [`Hub`]
//! that owns every live order book.
//!
//! # Invariants
//! - Knows no concrete exchange, and nothing of the HTTP API or the engine.
//! - The [`Hub`] is the **sole owner** of live [`model::OrderBook`]s: one ingestion task per
//!   exchange applies that exchange's events, checks them (crossed book, venue checksum) and
//!   publishes an immutable [`BookSnapshot`] per book through a latest-value `watch` channel.
//!   Readers never hold a lock the ingestion task needs, so a slow reader cannot slow
//!   ingestion; it simply sees the newest snapshot when it looks again.
//! - A book is subscribed on first use and released `release_after` after its last user;
//!   configured default symbols stay subscribed.
//! - Only a snapshot whose health is `live` and not crossed may be traded against
//!   ([`model::BookHealth::is_tradeable`]).
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod backoff;
mod consolidated;
mod error;
mod exchange;
mod hub;
mod klines;
pub mod net;
mod parse;
pub mod session;

pub use backoff::{Backoff, ResyncBackoff};
pub use consolidated::{ConsolidatedBook, ConsolidatedLevel, ConsolidatedWatch, consolidate};
pub use error::MarketError;
pub use exchange::{
    ConnState, Exchange, FeedCommand, FeedContext, FeedEvent, FeedSender, KlineQuery, PairCache,
    UnknownConnState, group_trades,
};
pub use hub::{
    BookRecorder, BookSnapshot, BookWatch, ExchangeStatus, Hub, HubConfig, RecorderFactory,
    TapeKey, TapeLimits, TradeTape, TradeWatch, TradesSince,
};
pub use klines::{MAX_KLINE_PAGES, kline_pages, shape_klines};
pub use parse::{ParseError, parse_decimal, parse_level, parse_rfc3339};
pub use session::{Retry, VenueSession, retry_policy, run_session};
