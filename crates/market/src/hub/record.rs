//! The recorder's tap: what each ingest task received for its subscribed books, handed to a
//! recorder (the lab's tapes) through a bounded channel without waiting. A full channel
//! drops the item and counts it: ingest never waits for the recorder.

use std::sync::atomic::{AtomicU64, Ordering};

use model::{ExchangeId, Level, Symbol, Timestamp};
use tokio::sync::mpsc;

use crate::exchange::FeedEvent;

/// One feed event as an ingest task received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The venue.
    pub exchange: ExchangeId,
    /// When the ingest task took it (book events also carry their own receive time).
    pub at: Timestamp,
    /// What happened.
    pub event: Recording,
}

/// What the hub hands the recorder.
#[derive(Debug, Clone)]
pub enum Recording {
    /// A feed event of a subscribed book, as the venue's adapter normalized it (a book
    /// state, as the hub published it).
    Feed(FeedEvent),
    /// The whole book right after the event before it (taken by the ingest task about once
    /// a minute per live book, so that a tape can be read from there).
    Checkpoint {
        /// The book.
        symbol: Symbol,
        /// The time of the event it follows.
        at: Timestamp,
        /// Bids, best first.
        bids: Vec<Level>,
        /// Asks, best first.
        asks: Vec<Level>,
    },
}

/// Where the hub sends what it receives, and how much it had to drop.
#[derive(Debug)]
pub struct RecorderTap {
    tx: mpsc::Sender<Recorded>,
    dropped: AtomicU64,
}

impl RecorderTap {
    /// A tap sending to `tx`.
    pub fn new(tx: mpsc::Sender<Recorded>) -> Self {
        RecorderTap {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Items dropped because the recorder was behind (each one a gap in a tape, which the
    /// recorder marks when it sees the count grow).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(super) fn send(&self, exchange: ExchangeId, event: Recording) {
        let item = Recorded {
            exchange,
            at: Timestamp::now(),
            event,
        };
        if self.tx.try_send(item).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
