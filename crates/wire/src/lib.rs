//! The JSON of the papertwap API: every request, response and error body, shared by the
//! server (`api`) and the SDK (`papertwap-client`).
//!
//! # Invariants
//! - The **only** definition of our JSON. Field names here are the public contract (DESIGN
//!   §5.1); renaming one is a breaking change.
//! - Money is `rust_decimal::Decimal` serialized as a JSON string, never a float; times are
//!   RFC 3339 UTC strings (a client may send one without an offset: UTC, [`time`]); absent
//!   optional values are `null`.
//! - Depends on serde, rust_decimal and chrono only, so SDK users compile nothing else.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod enums;
mod lab;
mod market;
mod orders;
mod problem;
mod strategies;
pub mod time;
mod ws;

pub use enums::{
    BookState, CatchUp, Channel, ConnectionStatus, EstimateMethod, HealthStatus, OrderStatus,
    ShortReason, Side, SkipReason, Strategy,
};
pub use lab::{
    Backtest, BacktestRequest, BacktestResult, BacktestWindow, BacktestsQuery, WhatIf,
    WhatIfRequest,
};
pub use market::{
    BookHealth, BookLevel, Exchange, ExchangeHealth, Health, Kline, KlinesQuery, OrderBook,
    OrderBookQuery, Pair, PairsQuery, ServiceInfo, Trade, Trades, TradesQuery,
};
pub use orders::{
    Analytics, Order, OrdersQuery, Slice, Token, TokenRequest, TwapQuery, TwapRequest,
};
pub use problem::Problem;
pub use strategies::{
    Estimate, ImplementationShortfall, Jitter, Markouts, OrderRequest, Preview, PreviewSlice,
    PreviewTotals, VenueFills,
};
pub use ws::{ClientMessage, ConsolidatedBook, ConsolidatedLevel, ServerMessage, Subscription};
