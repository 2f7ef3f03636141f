//! The execution engine: planner and strategies (TWAP, VWAP, POV), paper-fill simulator,
//! order state machine and analytics.
//!
//! # Invariants
//! - A deterministic core ([`Engine`]) given (commands, books, time): no HTTP, no SQL, no
//!   wall-clock reads; the actor ([`runner`]) around it is the only async part, and its
//!   clock is injected ([`Clock`]).
//! - No quantity is ever lost or double-counted: every slice asks for a quantity on the lot
//!   grid, never more than what remains, and the last slice asks for everything left.
//! - A fill never takes a level beyond the order's limit price, never takes liquidity an
//!   earlier paper fill took (until the venue changes that level), and never comes from a
//!   book that is not `live` or is crossed.
//! - Every change is persisted before it is acknowledged or published; every order reaches
//!   a final state (`filled`, `expired`, `cancelled`).
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod clock;
mod core;
pub mod fill;
mod handle;
pub mod lab;
pub mod markout;
pub mod memory;
pub mod order;
pub mod plan;
pub mod ports;
pub mod preview;
pub mod route;
pub mod runner;
mod slice;
mod slices;
pub mod strategy;
mod token;
mod view;
mod words;
mod writer;

pub use analytics::{Analytics, Shortfall};
pub use clock::Clock;
pub use core::{BookRef, Books, CancelError, Engine, RESTART_GRACE_MS, Update};
pub use fill::{Fill, Liquidity, ShortReason};
pub use handle::{
    BatchError, EngineConfig, EngineError, EngineHandle, EngineStats, Submission, SubmitOutcome,
};
pub use memory::MemoryStore;
pub use order::{
    Order, OrderId, OrderParts, OrderStatus, SkipReason, SliceRecord, Totals, VenueTotals,
};
pub use plan::{
    CatchUp, Limits, MAX_AMOUNT, MAX_LATENCY_MS, MAX_SCALE, OrderRequest, Plan, Rejection, Timing,
    floor_to, validate,
};
pub use ports::{
    Alone, BookAccess, InsertOutcome, OrderDetail, OrderQuery, OrderStore, Ownership, StatusFilter,
    StoreFailure, StoredOrder,
};
pub use slices::SliceList;
pub use strategy::{Jitter, MAX_PARTICIPATION, MAX_PROFILE_DAYS, Strategy, StrategyKind};
pub use token::{InvalidTokenId, TokenId, valid_token_id};
pub use words::UnknownWord;
