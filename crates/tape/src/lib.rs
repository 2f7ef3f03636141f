//! The lab's recording format: a tape is one (exchange, symbol)'s book events, trades, state
//! changes and paper consumption, appended in arrival order, read back exactly, and sought by
//! time. The format is documented in `docs/TAPE.md`.
//!
//! # Invariants
//! - **Exact**: every price, quantity and timestamp reads back as it was written (decimals
//!   keep their scale; times are nanoseconds).
//! - **Append-only and crash-tolerant**: data is written in blocks, each with its length and a
//!   CRC-32; a torn or corrupt tail is detected, reported and skipped, never fatal, and
//!   [`TapeWriter::open`] cuts it off before appending.
//! - **Seekable**: each block decodes on its own, and a block that begins with a
//!   [`TapeEvent::Checkpoint`] (the whole book, written periodically) is a place where reading
//!   can start with nothing before it.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod block;
mod codec;
pub mod dir;
pub mod pair;
mod reader;
mod writer;

use model::{BookEvent, BookSide, BookState, Level, Price, Qty, Timestamp, Trade};

pub use block::{Block, BlockEncoder};
pub use dir::{TapeDir, TapeFile};
pub use pair::{PairInfo, read_pair, write_pair};
pub use reader::{Cursor, Events, TapeReader};
pub use writer::{TapeWriter, WriterConfig, WriterStats, tape_bytes};

/// One thing that happened to a book, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum TapeEvent {
    /// A venue snapshot or delta the hub applied, received at `local`.
    Book {
        /// When we received it.
        local: Timestamp,
        /// The event, as normalized by the venue's adapter.
        event: BookEvent,
    },
    /// The whole book as it stood at `local`, written by the recorder so that reading can
    /// start here (not a venue event: a reader that has applied everything before it may skip
    /// it). Levels best first.
    Checkpoint {
        /// The time of the picture.
        local: Timestamp,
        /// Bids, best first.
        bids: Vec<Level>,
        /// Asks, best first.
        asks: Vec<Level>,
    },
    /// A public trade (received at its `local_ts`).
    Trade(Trade),
    /// The book changed state (the resync markers: syncing, resyncing, stale, down, live).
    State {
        /// When.
        local: Timestamp,
        /// The new state.
        state: BookState,
    },
    /// Liquidity a paper order took from the book: what other orders' what-ifs must not
    /// take again.
    Consumed {
        /// When the slice filled.
        local: Timestamp,
        /// The order's id.
        order: i64,
        /// The book side taken from.
        side: BookSide,
        /// The level's price.
        price: Price,
        /// The quantity taken.
        qty: Qty,
        /// The quantity the venue showed at that level when it was taken (the taken part
        /// stays unavailable until the venue changes the level).
        shown: Qty,
    },
    /// The paper consumption recorded before no longer holds: no order trades the book any
    /// more, or the server (re)started with an empty ledger.
    Released {
        /// When.
        local: Timestamp,
    },
}

impl TapeEvent {
    /// When we received it (the tape's clock).
    pub fn local(&self) -> Timestamp {
        match self {
            TapeEvent::Book { local, .. }
            | TapeEvent::Checkpoint { local, .. }
            | TapeEvent::State { local, .. }
            | TapeEvent::Consumed { local, .. }
            | TapeEvent::Released { local } => *local,
            TapeEvent::Trade(t) => t.local_ts,
        }
    }
}

/// What a tape records: written once at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeHeader {
    /// The venue's name (`binance`, `sim`, …).
    pub exchange: String,
    /// The canonical symbol.
    pub symbol: String,
    /// When the tape was started.
    pub created: Timestamp,
}

/// Why a tape could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    /// The file system refused.
    #[error("tape I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with a tape header.
    #[error("not a tape: {0}")]
    NotATape(String),
    /// A block passed its CRC but its content does not decode (a bug or a deliberate edit).
    #[error("corrupt tape block at byte {offset}: {what}")]
    Corrupt {
        /// The block's offset in the file.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
}
