//! The lab's recorder as the hub sees it: each venue's ingest task owns a [`BookRecorder`]
//! and calls it, on that task and by reference, with every event it applies to a subscribed
//! book, every trade, every published state change and a checkpoint of each live book about
//! once a minute. The recorder copies (encodes) what it keeps and never waits: what it does
//! with it (the composition root's tapes) is its business.
//!
//! Each book is opened once, when the hub starts keeping it, and its [`TapeKey`] is kept
//! beside the book: recording an event looks nothing up.

use std::fmt::Debug;

use model::{BookEvent, BookState, ExchangeId, OrderBook, Pair, Symbol, Timestamp, Trade};

/// Makes one [`BookRecorder`] per venue ingest task.
pub trait RecorderFactory: Send + Sync + Debug {
    /// The recorder of `exchange`'s ingest task.
    fn for_venue(&self, exchange: ExchangeId) -> Box<dyn BookRecorder>;
}

/// A book's place in its venue's recorder, from [`BookRecorder::open`]; valid until
/// [`BookRecorder::close`] (after which the recorder may give it to another book).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TapeKey(pub u32);

/// Records one venue's books, called on its ingest task. Every method returns at once.
pub trait BookRecorder: Send {
    /// The hub keeps `symbol`'s book from now on: the key of its recording.
    fn open(&mut self, symbol: &Symbol) -> TapeKey;
    /// The hub no longer keeps `key`'s book: hand over what is held of it.
    fn close(&mut self, key: TapeKey);
    /// A venue snapshot or delta the hub applied to `key`'s book, received at `received`.
    fn book(&mut self, key: TapeKey, event: &BookEvent, received: Timestamp);
    /// Public trades of `key`'s book (each at its `local_ts`).
    fn trades(&mut self, key: TapeKey, trades: &[Trade]);
    /// The hub published a new state of `key`'s book.
    fn state(&mut self, key: TapeKey, at: Timestamp, state: BookState);
    /// `key`'s whole book right after the event received at `at` (with the pair's rules,
    /// which a recording keeps beside the tapes).
    fn checkpoint(&mut self, key: TapeKey, pair: &Pair, at: Timestamp, book: &OrderBook);
    /// About once a second, and when the ingest task ends: hand over what is held.
    fn tick(&mut self);
}

impl Debug for dyn BookRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BookRecorder")
    }
}
