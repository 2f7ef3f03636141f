//! Pure domain types of papertwap: exchanges, symbols, exact prices and quantities, the L2
//! order book, book events and health, trading pairs, klines and public trades.
//!
//! # Invariants
//! - **Pure**: no I/O, no async runtime, no serde. Other crates own transport and JSON.
//! - **Exact money**: prices and quantities are [`rust_decimal::Decimal`] at every public
//!   boundary and exact scaled integers inside [`OrderBook`]; nothing here goes through `f64`.
//! - **Fallible construction**: every newtype that carries an invariant ([`Symbol`],
//!   [`Price`], [`Qty`], [`ExchangeId`], [`Interval`]) is built through `FromStr`/`TryFrom`;
//!   there is no panicking constructor.
//! - An [`OrderBook`] never holds a zero-quantity level, keeps each side strictly ordered
//!   (best first when read), and a walk never takes a level beyond its limit price.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod book;
mod exchange;
mod fixed;
mod health;
mod kline;
mod num;
mod pair;
mod side;
mod symbol;
mod time;
mod trade;

pub use book::{
    ApplyStats, BookError, BookEvent, BookEventKind, Depth, OrderBook, VWAP_EXTRA_DECIMALS, Walk,
    WalkShort,
};
pub use exchange::{ExchangeId, UnknownExchange};
pub use health::{BookHealth, BookState, UnknownBookState};
pub use kline::{Interval, Kline, UnknownInterval, civil_from_days, days_from_civil};
pub use num::{Level, NumError, Price, Qty, decimal_from_str};
pub use pair::{Pair, PairIndex, PairStatus};
pub use side::{BookSide, Side, UnknownBookSide, UnknownSide};
pub use symbol::{Symbol, SymbolError, canonical_asset};
pub use time::Timestamp;
pub use trade::{Trade, TradeId};
