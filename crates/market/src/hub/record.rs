//! The lab's recorder as the hub sees it: each venue's ingest task owns a [`BookRecorder`]
//! and calls it, on that task and by reference, with every event it applies to a subscribed
//! book, every trade, every published state change and a checkpoint of each live book about
//! once a minute. The recorder copies (encodes) what it keeps and never waits: what it does
//! with it (the composition root's tapes) is its business.

use std::fmt::Debug;

use model::{BookEvent, BookState, ExchangeId, OrderBook, Pair, Symbol, Timestamp, Trade};

/// Makes one [`BookRecorder`] per venue ingest task.
pub trait RecorderFactory: Send + Sync + Debug {
    /// The recorder of `exchange`'s ingest task.
    fn for_venue(&self, exchange: ExchangeId) -> Box<dyn BookRecorder>;
}

/// Records one venue's books, called on its ingest task. Every method returns at once.
pub trait BookRecorder: Send {
    /// A venue snapshot or delta the hub applied to `symbol`'s book, received at `received`.
    fn book(&mut self, symbol: &Symbol, event: &BookEvent, received: Timestamp);
    /// Public trades of `symbol` (each at its `local_ts`).
    fn trades(&mut self, symbol: &Symbol, trades: &[Trade]);
    /// The hub published a new state of `symbol`'s book.
    fn state(&mut self, symbol: &Symbol, at: Timestamp, state: BookState);
    /// `pair`'s whole book right after the event received at `at` (with the pair's rules,
    /// which a recording keeps beside the tapes).
    fn checkpoint(&mut self, pair: &Pair, at: Timestamp, book: &OrderBook);
    /// About once a second, and when the ingest task ends: hand over what is held.
    fn tick(&mut self);
}
