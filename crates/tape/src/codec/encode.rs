//! Writing records into a block's payload (see the module above for the layout).

use model::{BookEvent, BookEventKind, BookSide, BookState, Level, Side, Trade, TradeId};
use rust_decimal::Decimal;

use super::{
    CHECKPOINT, CONSUMED, DELTA, MAX_VARINT, Prev, RELEASED, SNAPSHOT, STATE, STATES, TRADE,
    price_code, qty_code, write_varint, zigzag,
};
use crate::TapeEvent;

/// Encodes records into one block's payload.
///
/// The payload is `buf[..used]`; the bytes after it are initialized spare room (zeros or old
/// bytes), so that an event is written by index into room grown once for its worst case —
/// no capacity check per byte and no zero-fill per event.
#[derive(Debug)]
pub(crate) struct Encoder {
    buf: Vec<u8>,
    used: usize,
    prev: Prev,
    pub(crate) events: usize,
    pub(crate) levels: usize,
}

impl Encoder {
    /// A block whose first record is at `first_ts` and (when `checkpoint`) is a checkpoint.
    pub(crate) fn new(first_ts: i64, checkpoint: bool) -> Self {
        Encoder::reusing(first_ts, checkpoint, Vec::new())
    }

    /// As [`Encoder::new`], writing into `buf` (a finished block's, whose bytes are all
    /// initialized room: no allocation, no zero-fill).
    pub(crate) fn reusing(first_ts: i64, checkpoint: bool, mut buf: Vec<u8>) -> Self {
        if buf.len() < 1024 {
            buf.resize(1024, 0);
        }
        let mut e = Encoder {
            buf,
            used: 0,
            prev: Prev::at(first_ts),
            events: 0,
            levels: 0,
        };
        e.put(u8::from(checkpoint));
        e.varint(zigzag(i128::from(first_ts)));
        e
    }

    /// Bytes encoded so far.
    pub(crate) fn len(&self) -> usize {
        self.used
    }

    /// The payload so far.
    pub(crate) fn payload(&self) -> &[u8] {
        &self.buf[..self.used]
    }

    /// The buffer and how much of it is the payload.
    pub(crate) fn into_parts(self) -> (Vec<u8>, usize) {
        (self.buf, self.used)
    }

    /// Room for `k` more bytes after the payload (grown, amortized, when short).
    #[inline]
    fn room(&mut self, k: usize) {
        let need = self.used + k;
        if need > self.buf.len() {
            self.buf.resize(need.max(2 * self.buf.len()), 0);
        }
    }

    fn put(&mut self, b: u8) {
        self.room(1);
        self.buf[self.used] = b;
        self.used += 1;
    }

    fn put_slice(&mut self, b: &[u8]) {
        self.room(b.len());
        self.buf[self.used..self.used + b.len()].copy_from_slice(b);
        self.used += b.len();
    }

    fn varint(&mut self, v: u128) {
        self.room(MAX_VARINT);
        self.used = write_varint(&mut self.buf, self.used, v);
    }

    /// A record's kind and time.
    fn head(&mut self, kind: u8, local: i64) {
        self.put(kind);
        self.varint(zigzag(i128::from(local) - i128::from(self.prev.ts)));
        self.prev.ts = local;
        self.events += 1;
    }

    pub(crate) fn push(&mut self, ev: &TapeEvent) {
        match ev {
            TapeEvent::Book { local, event } => self.book(local.as_nanos(), event),
            TapeEvent::Checkpoint { local, bids, asks } => {
                self.head(CHECKPOINT, local.as_nanos());
                self.levels(bids);
                self.levels(asks);
            }
            TapeEvent::Trade(t) => self.trade(t),
            TapeEvent::State { local, state } => self.state(local.as_nanos(), *state),
            TapeEvent::Released { local } => self.head(RELEASED, local.as_nanos()),
            TapeEvent::Consumed {
                local,
                order,
                side,
                price,
                qty,
                shown,
            } => {
                self.head(CONSUMED, local.as_nanos());
                self.varint(zigzag(i128::from(*order)));
                self.put(match side {
                    BookSide::Bid => 0,
                    BookSide::Ask => 1,
                });
                self.price(price.get());
                self.varint(qty_code(qty.get()));
                self.varint(qty_code(shown.get()));
            }
        }
    }

    /// A venue snapshot or delta received at `local`. The hot path of recording: the buffer
    /// is grown once for the event's worst case and written by index (no capacity check per
    /// byte), then cut to what was written.
    pub(crate) fn book(&mut self, local: i64, event: &BookEvent) {
        let kind = match event.kind {
            BookEventKind::Snapshot => SNAPSHOT,
            BookEventKind::Delta => DELTA,
        };
        let n = event.bids.len() + event.asks.len();
        let start = self.used;
        // kind, flags, checksum, and at most 5 + 2n varints.
        self.room(6 + MAX_VARINT * (5 + 2 * n));
        let buf = &mut self.buf;
        buf[start] = kind;
        let mut at = write_varint(
            buf,
            start + 1,
            zigzag(i128::from(local) - i128::from(self.prev.ts)),
        );
        self.prev.ts = local;
        self.events += 1;
        buf[at] = u8::from(event.seq.is_some())
            | u8::from(event.exchange_ts.is_some()) << 1
            | u8::from(event.checksum.is_some()) << 2;
        at += 1;
        if let Some(seq) = event.seq {
            at = write_varint(buf, at, zigzag(i128::from(seq) - i128::from(self.prev.seq)));
            self.prev.seq = seq;
        }
        if let Some(t) = event.exchange_ts {
            at = write_varint(
                buf,
                at,
                zigzag(i128::from(t.as_nanos()) - i128::from(local)),
            );
        }
        if let Some(c) = event.checksum {
            buf[at..at + 4].copy_from_slice(&c.to_le_bytes());
            at += 4;
        }
        for levels in [&event.bids, &event.asks] {
            at = write_varint(buf, at, levels.len() as u128);
            for l in levels.iter() {
                let code = price_code(&mut self.prev.price, l.price.get());
                at = write_varint(buf, at, code);
                at = write_varint(buf, at, qty_code(l.qty.get()));
            }
        }
        self.used = at;
        self.levels += n;
    }

    /// The whole book at `local`, best levels first.
    pub(crate) fn checkpoint_of(&mut self, local: i64, book: &model::OrderBook) {
        self.head(CHECKPOINT, local);
        let (nb, na) = book.len();
        for (side, n) in [(BookSide::Bid, nb), (BookSide::Ask, na)] {
            self.varint(n as u128);
            for l in book.levels(side) {
                self.price(l.price.get());
                self.varint(qty_code(l.qty.get()));
            }
            self.levels += n;
        }
    }

    /// A public trade.
    pub(crate) fn trade(&mut self, t: &Trade) {
        let local = t.local_ts.as_nanos();
        self.head(TRADE, local);
        match &t.trade_id {
            TradeId::Num(n) => {
                self.put(0);
                self.varint(zigzag(i128::from(*n) - i128::from(self.prev.trade)));
                self.prev.trade = *n;
            }
            TradeId::Text(s) => {
                self.put(1);
                self.varint(s.len() as u128);
                self.put_slice(s.as_bytes());
            }
        }
        self.varint(zigzag(
            i128::from(t.exchange_ts.as_nanos()) - i128::from(local),
        ));
        self.price(t.price.get());
        self.varint(qty_code(t.qty.get()));
        self.put(match t.taker_side {
            Side::Buy => 0,
            Side::Sell => 1,
        });
    }

    /// A book state change.
    pub(crate) fn state(&mut self, local: i64, state: BookState) {
        self.head(STATE, local);
        let i = STATES.iter().position(|s| *s == state).unwrap_or(0);
        self.put(i as u8);
    }

    fn levels(&mut self, levels: &[Level]) {
        self.varint(levels.len() as u128);
        for l in levels {
            self.price(l.price.get());
            self.varint(qty_code(l.qty.get()));
        }
        self.levels += levels.len();
    }

    fn price(&mut self, d: Decimal) {
        let code = price_code(&mut self.prev.price, d);
        self.varint(code);
    }
}
