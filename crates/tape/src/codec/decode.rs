//! Reading the records of a block's payload back (see the module above for the layout).

use model::{
    BookEvent, BookEventKind, BookSide, Level, Price, Qty, Side, Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use super::{
    CHECKPOINT, CONSUMED, DELTA, Prev, RELEASED, SNAPSHOT, STATE, STATES, TRADE, from_qty_code,
    unzigzag,
};
use crate::TapeEvent;

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
