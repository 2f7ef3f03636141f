//! The in-process simulated exchange: realistic random-walk order books and klines for a few
//! pairs, needing no network, so the whole product works offline.
//!
//! # Invariants
//! - Deterministic given its seed: the sequence of books and candles depends only on the
//!   seed and the number of steps taken, never on wall-clock timing.
//! - Every book it publishes is valid: sorted, uncrossed, ≥ 50 levels a side, prices on the
//!   pair's tick and quantities on its lot step; it implements [`market::Exchange`] like any
//!   venue adapter and knows nothing of the hub's internals.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod exchange;
mod market_gen;
mod rng;
mod takers;

pub use exchange::{SimConfig, SimExchange};
pub use market_gen::{SimMarket, SimSpec, SpecError};
