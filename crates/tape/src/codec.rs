//! Records inside a block: a kind byte, the time since the previous record (zigzag varint,
//! ns), then the body. Prices are written as the change from the previous price of the block
//! when the scale is the same (a level update next to the last one costs a byte or two);
//! quantities as mantissa, sign and scale. Every block starts from a fresh state, so each
//! decodes on its own.

use model::{
    BookEvent, BookEventKind, BookSide, BookState, Level, Price, Qty, Side, Timestamp, Trade,
    TradeId,
};
use rust_decimal::Decimal;

use crate::TapeEvent;

const SNAPSHOT: u8 = 1;
const DELTA: u8 = 2;
const CHECKPOINT: u8 = 3;
const TRADE: u8 = 4;
const STATE: u8 = 5;
const CONSUMED: u8 = 6;
const RELEASED: u8 = 7;

const STATES: [BookState; 5] = [
    BookState::Syncing,
    BookState::Live,
    BookState::Stale,
    BookState::Resyncing,
    BookState::Down,
];

/// The delta state shared by the records of one block.
#[derive(Debug, Clone, Copy)]
struct Prev {
    ts: i64,
    price: Option<(i128, u32)>,
    seq: u64,
    trade: u64,
}

impl Prev {
    fn at(ts: i64) -> Self {
        Prev {
            ts,
            price: None,
            seq: 0,
            trade: 0,
        }
    }
}

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

/// Level vectors to decode into, kept between events.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    bids: Vec<Level>,
    asks: Vec<Level>,
}

impl Buffers {
    /// Take back the vectors of an event that is no longer needed.
    pub(crate) fn recycle(&mut self, ev: TapeEvent) {
        match ev {
            TapeEvent::Book { event, .. } => {
                self.bids = event.bids;
                self.asks = event.asks;
            }
            TapeEvent::Checkpoint { bids, asks, .. } => {
                self.bids = bids;
                self.asks = asks;
            }
            _ => {}
        }
    }
}

/// Decodes the records of one block's payload.
pub(crate) struct Decoder<'a> {
    b: &'a [u8],
    prev: Prev,
}

/// Why a record did not decode.
pub(crate) type Bad = &'static str;

impl<'a> Decoder<'a> {
    /// The decoder of a payload, and whether the block begins with a checkpoint.
    pub(crate) fn new(payload: &'a [u8]) -> Result<(Self, bool, i64), Bad> {
        let mut d = Decoder {
            b: payload,
            prev: Prev::at(0),
        };
        let checkpoint = d.byte()? & 1 == 1;
        let first = i64::try_from(unzigzag(d.varint()?)).map_err(|_| "time out of range")?;
        d.prev = Prev::at(first);
        Ok((d, checkpoint, first))
    }

    /// The next event, its levels in the vectors of `bufs` (taken; give them back with
    /// [`Buffers::recycle`] to decode without allocating).
    pub(crate) fn next_reusing(&mut self, bufs: &mut Buffers) -> Option<Result<TapeEvent, Bad>> {
        if self.b.is_empty() {
            return None;
        }
        Some(self.event(bufs))
    }

    fn event(&mut self, bufs: &mut Buffers) -> Result<TapeEvent, Bad> {
        let kind = self.byte()?;
        let local = i128::from(self.prev.ts) + unzigzag(self.varint()?);
        let local = i64::try_from(local).map_err(|_| "time out of range")?;
        self.prev.ts = local;
        let at = Timestamp::from_nanos(local);
        Ok(match kind {
            SNAPSHOT | DELTA => {
                let flags = self.byte()?;
                let seq = if flags & 1 != 0 {
                    let s = i128::from(self.prev.seq) + unzigzag(self.varint()?);
                    let s = u64::try_from(s).map_err(|_| "sequence out of range")?;
                    self.prev.seq = s;
                    Some(s)
                } else {
                    None
                };
                let exchange_ts = if flags & 2 != 0 {
                    Some(self.time_from(local)?)
                } else {
                    None
                };
                let checksum = if flags & 4 != 0 {
                    let (c, rest) = self.b.split_first_chunk::<4>().ok_or("truncated")?;
                    self.b = rest;
                    Some(u32::from_le_bytes(*c))
                } else {
                    None
                };
                let bids = self.levels(std::mem::take(&mut bufs.bids))?;
                let asks = self.levels(std::mem::take(&mut bufs.asks))?;
                let kind = if kind == SNAPSHOT {
                    BookEventKind::Snapshot
                } else {
                    BookEventKind::Delta
                };
                TapeEvent::Book {
                    local: at,
                    event: BookEvent {
                        kind,
                        bids,
                        asks,
                        seq,
                        exchange_ts,
                        checksum,
                    },
                }
            }
            CHECKPOINT => TapeEvent::Checkpoint {
                local: at,
                bids: self.levels(std::mem::take(&mut bufs.bids))?,
                asks: self.levels(std::mem::take(&mut bufs.asks))?,
            },
            TRADE => {
                let trade_id = match self.byte()? {
                    0 => {
                        let n = i128::from(self.prev.trade) + unzigzag(self.varint()?);
                        let n = u64::try_from(n).map_err(|_| "trade id out of range")?;
                        self.prev.trade = n;
                        TradeId::Num(n)
                    }
                    1 => {
                        let len = usize::try_from(self.varint()?).map_err(|_| "length")?;
                        if len > self.b.len() {
                            return Err("truncated");
                        }
                        let (text, rest) = self.b.split_at(len);
                        self.b = rest;
                        let text = std::str::from_utf8(text).map_err(|_| "trade id not UTF-8")?;
                        TradeId::Text(text.into())
                    }
                    _ => return Err("unknown trade id kind"),
                };
                let exchange_ts = self.time_from(local)?;
                let price = self.price()?;
                let qty = self.qty()?;
                let taker_side = match self.byte()? {
                    0 => Side::Buy,
                    1 => Side::Sell,
                    _ => return Err("unknown side"),
                };
                TapeEvent::Trade(Trade {
                    trade_id,
                    exchange_ts,
                    local_ts: at,
                    price,
                    qty,
                    taker_side,
                })
            }
            STATE => TapeEvent::State {
                local: at,
                state: *STATES
                    .get(usize::from(self.byte()?))
                    .ok_or("unknown state")?,
            },
            CONSUMED => {
                let order =
                    i64::try_from(unzigzag(self.varint()?)).map_err(|_| "order out of range")?;
                let side = match self.byte()? {
                    0 => BookSide::Bid,
                    1 => BookSide::Ask,
                    _ => return Err("unknown book side"),
                };
                TapeEvent::Consumed {
                    local: at,
                    order,
                    side,
                    price: self.price()?,
                    qty: self.qty()?,
                    shown: self.qty()?,
                }
            }
            RELEASED => TapeEvent::Released { local: at },
            _ => return Err("unknown record kind"),
        })
    }

    fn time_from(&mut self, local: i64) -> Result<Timestamp, Bad> {
        let t = i128::from(local) + unzigzag(self.varint()?);
        Ok(Timestamp::from_nanos(
            i64::try_from(t).map_err(|_| "time out of range")?,
        ))
    }

    fn levels(&mut self, mut out: Vec<Level>) -> Result<Vec<Level>, Bad> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length")?;
        // Each level takes at least two bytes: a count beyond that is corruption.
        if n > self.b.len() / 2 {
            return Err("level count beyond the block");
        }
        out.clear();
        out.reserve(n);
        for _ in 0..n {
            let price = self.price()?;
            out.push(Level::new(price, self.qty()?));
        }
        Ok(out)
    }

    fn price(&mut self) -> Result<Price, Bad> {
        let code = self.varint()?;
        let d = if code & 1 == 0 {
            let (pm, ps) = self.prev.price.ok_or("price change with no price before")?;
            let m = pm
                .checked_add(unzigzag(code >> 1))
                .ok_or("price out of range")?;
            self.prev.price = Some((m, ps));
            match i64::try_from(m) {
                Ok(small) => Decimal::try_new(small, ps).map_err(|_| "price out of range")?,
                Err(_) => {
                    Decimal::try_from_i128_with_scale(m, ps).map_err(|_| "price out of range")?
                }
            }
        } else {
            let d = from_qty_code(code >> 1)?;
            self.prev.price = Some((d.mantissa(), d.scale()));
            d
        };
        Price::try_from(d).map_err(|_| "price not positive")
    }

    fn qty(&mut self) -> Result<Qty, Bad> {
        Qty::try_from(from_qty_code(self.varint()?)?).map_err(|_| "negative quantity")
    }

    fn byte(&mut self) -> Result<u8, Bad> {
        let (first, rest) = self.b.split_first().ok_or("truncated")?;
        self.b = rest;
        Ok(*first)
    }

    fn varint(&mut self) -> Result<u128, Bad> {
        // One byte: counts, small changes.
        if let Some((&x, rest)) = self.b.split_first()
            && x < 0x80
        {
            self.b = rest;
            return Ok(u128::from(x));
        }
        // Almost every value fits in 63 bits: gather those in a u64.
        let mut v = 0u64;
        for (i, x) in self.b.iter().take(9).enumerate() {
            v |= u64::from(x & 0x7f) << (7 * i);
            if x & 0x80 == 0 {
                self.b = &self.b[i + 1..];
                return Ok(u128::from(v));
            }
        }
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let x = self.byte()?;
            v |= u128::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long")
    }
}

/// A decimal as `magnitude << 6 | sign << 5 | scale` (the scale is at most 28).
fn qty_code(d: Decimal) -> u128 {
    (d.mantissa().unsigned_abs() << 6)
        | u128::from(d.is_sign_negative()) << 5
        | u128::from(d.scale() & 0x1f)
}

fn from_qty_code(code: u128) -> Result<Decimal, Bad> {
    let scale = (code & 0x1f) as u32;
    let mut d = match i64::try_from(code >> 6) {
        Ok(small) => Decimal::try_new(small, scale).map_err(|_| "number out of range")?,
        Err(_) => {
            let magnitude = i128::try_from(code >> 6).map_err(|_| "number out of range")?;
            Decimal::try_from_i128_with_scale(magnitude, scale)
                .map_err(|_| "number out of range")?
        }
    };
    d.set_sign_negative(code & 0x20 != 0);
    Ok(d)
}

/// A price's code: the change from the previous price of the block when the scale is the
/// same, else the price itself.
#[inline(always)]
fn price_code(prev: &mut Option<(i128, u32)>, d: Decimal) -> u128 {
    let (m, scale) = (d.mantissa(), d.scale());
    let code = match *prev {
        Some((pm, ps)) if ps == scale && !d.is_sign_negative() => zigzag(m - pm) << 1,
        _ => (qty_code(d) << 1) | 1,
    };
    *prev = Some((m, scale));
    code
}

/// The longest varint (a `u128`).
const MAX_VARINT: usize = 19;

/// Write `v` as a varint at `at` of a buffer with room for [`MAX_VARINT`] bytes there;
/// returns where the next byte goes. (A plain byte loop: faster here than spreading the 7-bit
/// groups branch-free over a 64-bit word, measured.)
#[inline(always)]
fn write_varint(buf: &mut [u8], at: usize, v: u128) -> usize {
    match u64::try_from(v) {
        Ok(mut v) => {
            // A u64 takes at most 10 bytes: one bounds check for all of them.
            let dst = &mut buf[at..at + 10];
            let mut i = 0;
            while v >= 0x80 && i < 9 {
                dst[i] = (v as u8) | 0x80;
                v >>= 7;
                i += 1;
            }
            dst[i] = v as u8;
            at + i + 1
        }
        Err(_) => {
            let (mut at, mut v) = (at, v);
            while v >= 0x80 {
                buf[at] = (v as u8) | 0x80;
                v >>= 7;
                at += 1;
            }
            buf[at] = v as u8;
            at + 1
        }
    }
}

pub(crate) fn put_varint(w: &mut Vec<u8>, v: u128) {
    // Most values (time steps, price steps, small quantities) take one to three bytes:
    // written as constant-length slices (inlined, no loop).
    if v < 0x80 {
        w.push(v as u8);
    } else if v < 0x4000 {
        w.extend_from_slice(&[(v as u8) | 0x80, (v >> 7) as u8]);
    } else if v < 0x20_0000 {
        w.extend_from_slice(&[(v as u8) | 0x80, ((v >> 7) as u8) | 0x80, (v >> 14) as u8]);
    } else {
        let mut v = v;
        while v >= 0x80 {
            w.push((v as u8) | 0x80);
            v >>= 7;
        }
        w.push(v as u8);
    }
}

fn zigzag(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

fn unzigzag(u: u128) -> i128 {
    ((u >> 1) as i128) ^ -((u & 1) as i128)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_the_extremes() {
        for v in [
            0,
            1,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            1 << 100,
            -(1 << 100),
        ] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn quantity_codes_keep_scale_and_sign() {
        for s in [
            "0",
            "0.00000",
            "-0",
            "1.50",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
        ] {
            let d: Decimal = s.parse().unwrap();
            let back = from_qty_code(qty_code(d)).unwrap();
            assert_eq!(format!("{back:?}"), format!("{d:?}"), "{s}");
        }
    }
}
