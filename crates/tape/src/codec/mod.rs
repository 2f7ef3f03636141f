//! Records inside a block: a kind byte, the time since the previous record (zigzag varint,
//! ns), then the body. Prices are written as the change from the previous price of the block
//! when the scale is the same (a level update next to the last one costs a byte or two);
//! quantities as mantissa, sign and scale. Every block starts from a fresh state, so each
//! decodes on its own.

mod decode;
mod encode;

use model::BookState;
use rust_decimal::Decimal;

pub(crate) use decode::{Bad, Buffers, Decoder};
pub(crate) use encode::Encoder;

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
