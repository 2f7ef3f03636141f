//! The TWAP engine: planner, paper-fill simulator, order state machine and analytics.
//!
//! # Invariants
//! - A deterministic core given (commands, books, clock): no HTTP, no SQL, no wall-clock
//!   reads; the actor runner around it is the only async part.
//! - No quantity is ever lost or double-counted; a fill never takes a level beyond the
//!   order's limit price and never comes from a book that is not `live` and uncrossed.
//!
//! Its contents arrive with issue 3/8; the fill primitive it builds on,
//! [`model::OrderBook::walk`], is in place and property-tested.
#![deny(clippy::unwrap_used, clippy::expect_used)]
