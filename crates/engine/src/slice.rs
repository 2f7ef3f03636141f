//! One slice as recorded: what it asked for, what it met and took, or why it was not
//! attempted.

use model::{ExchangeId, Timestamp};
use rust_decimal::Decimal;

use crate::fill::ShortReason;

/// Why a slice was not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The book was not `live` (stale, resyncing, down).
    StaleBook,
    /// No book for the symbol (never synced).
    NoBook,
    /// The book was crossed.
    CrossedBook,
    /// The server was down at the slice's time.
    ServerDown,
    /// The order was cancelled before the slice's time.
    Cancelled,
}

crate::words::words!(SkipReason, "skip reason", {
    StaleBook => "stale_book", NoBook => "no_book", CrossedBook => "crossed_book",
    ServerDown => "server_down", Cancelled => "cancelled",
});

/// One executed or skipped slice.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRecord {
    /// 0-based index in the schedule.
    pub index: u32,
    /// When it was due.
    pub scheduled_at: Timestamp,
    /// When it ran (or was recorded as skipped).
    pub executed_at: Timestamp,
    /// What it asked for.
    pub target: Decimal,
    /// What it got.
    pub filled: Decimal,
    /// Σ price·qty of its fills.
    pub notional: Decimal,
    /// VWAP of its fills.
    pub avg_price: Option<Decimal>,
    /// Fee charged.
    pub fee: Decimal,
    /// `(price, qty)` taken, best first.
    pub fills: Vec<(Decimal, Decimal)>,
    /// Best bid at that moment.
    pub best_bid: Option<Decimal>,
    /// Best ask at that moment.
    pub best_ask: Option<Decimal>,
    /// Mid at that moment.
    pub mid: Option<Decimal>,
    /// The venue sequence number of the book used.
    pub book_seq: Option<u64>,
    /// Age of the book used, ms.
    pub book_age_ms: Option<i64>,
    /// When the last venue event of the book used was received (a routed slice: the latest
    /// of its books'): the exact books a replay of the slice must see.
    pub book_time: Option<Timestamp>,
    /// Why it was not attempted.
    pub skipped: Option<SkipReason>,
    /// Why it filled less than its target.
    pub short: Option<ShortReason>,
    /// Market volume printed in the slice's window (since the previous slice's time), from
    /// the venue's public trades; `None` when the tape was not available.
    pub market_volume: Option<Decimal>,
    /// Σ price·qty of those trades.
    pub market_notional: Option<Decimal>,
    /// Markouts at 1/5/30/60 s, bps (see [`crate::markout`]).
    pub markouts: crate::markout::Markouts,
    /// A routed order: the venue of each fill (parallel to `fills`); empty otherwise.
    pub fill_venues: Vec<ExchangeId>,
    /// The quantity the venue showed at each fill's level (parallel to `fills`; empty for
    /// slices stored before it was kept).
    pub fill_shown: Vec<Decimal>,
}

impl SliceRecord {
    /// A slice not attempted.
    pub fn skipped(
        index: u32,
        scheduled_at: Timestamp,
        at: Timestamp,
        target: Decimal,
        why: SkipReason,
    ) -> Self {
        SliceRecord {
            index,
            scheduled_at,
            executed_at: at,
            target,
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            avg_price: None,
            fee: Decimal::ZERO,
            fills: Vec::new(),
            best_bid: None,
            best_ask: None,
            mid: None,
            book_seq: None,
            book_age_ms: None,
            book_time: None,
            skipped: Some(why),
            short: None,
            market_volume: None,
            market_notional: None,
            markouts: [None; 4],
            fill_venues: Vec::new(),
            fill_shown: Vec::new(),
        }
    }
}
