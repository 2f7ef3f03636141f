//! Encoding a block where the events are, by reference: the hub's ingest task encodes each
//! book's events into that book's block as it applies them (no copy of the event, no hand-off
//! per event) and hands finished [`Block`]s to whoever writes them ([`TapeWriter::append_block`],
//! [`crate::TapeDir::append_block`]).
//!
//! [`TapeWriter::append_block`]: crate::TapeWriter::append_block

use model::{BookEvent, BookState, OrderBook, Timestamp, Trade};

use crate::TapeEvent;
use crate::codec::Encoder;

/// A block being encoded.
#[derive(Debug)]
pub struct BlockEncoder {
    enc: Encoder,
    first: Timestamp,
    checkpoint: bool,
}

impl BlockEncoder {
    /// A block whose first event is at `first`.
    pub fn new(first: Timestamp) -> Self {
        BlockEncoder::reusing(first, Vec::new())
    }

    /// As [`BlockEncoder::new`], encoding into the buffer of a block already written
    /// ([`Block::into_buffer`]): no allocation, and no zero-fill of its room.
    pub fn reusing(first: Timestamp, buffer: Vec<u8>) -> Self {
        BlockEncoder {
            enc: Encoder::reusing(first.as_nanos(), false, buffer),
            first,
            checkpoint: false,
        }
    }

    /// A block starting with the whole of `book` at `at`: a place where reading can start.
    pub fn checkpoint(at: Timestamp, book: &OrderBook) -> Self {
        let mut enc = Encoder::new(at.as_nanos(), true);
        enc.checkpoint_of(at.as_nanos(), book);
        BlockEncoder {
            enc,
            first: at,
            checkpoint: true,
        }
    }

    /// A venue snapshot or delta received at `local`.
    pub fn book(&mut self, local: Timestamp, event: &BookEvent) {
        self.enc.book(local.as_nanos(), event);
    }

    /// A public trade (at its `local_ts`).
    pub fn trade(&mut self, trade: &Trade) {
        self.enc.trade(trade);
    }

    /// The book's state changed.
    pub fn state(&mut self, local: Timestamp, state: BookState) {
        self.enc.state(local.as_nanos(), state);
    }

    /// Any event.
    pub fn event(&mut self, ev: &TapeEvent) {
        self.enc.push(ev);
    }

    /// The time of the first event.
    pub fn first(&self) -> Timestamp {
        self.first
    }

    /// Bytes encoded so far.
    pub fn bytes(&self) -> usize {
        self.enc.len()
    }

    /// Events encoded so far.
    pub fn events(&self) -> usize {
        self.enc.events
    }

    /// The finished block.
    pub fn finish(self) -> Block {
        let (levels, events) = (self.enc.levels, self.enc.events);
        let (buf, used) = self.enc.into_parts();
        Block {
            buf,
            used,
            levels,
            events,
            first: self.first,
            checkpoint: self.checkpoint,
        }
    }
}

/// A finished block: written as it is, behind its length and CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The payload is `buf[..used]`; the rest is initialized room.
    buf: Vec<u8>,
    used: usize,
    pub(crate) first: Timestamp,
    pub(crate) checkpoint: bool,
    pub(crate) events: usize,
    pub(crate) levels: usize,
}

impl Block {
    /// The time of its first event.
    pub fn first(&self) -> Timestamp {
        self.first
    }

    /// Its events.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Its encoded size.
    pub fn bytes(&self) -> usize {
        self.used
    }

    /// Its payload, as written.
    pub fn payload(&self) -> &[u8] {
        &self.buf[..self.used]
    }

    /// Its buffer, once written, for the next block of a book ([`BlockEncoder::reusing`]).
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}
