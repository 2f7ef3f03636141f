//! An order's slices as the read view keeps them: each slice encoded compactly (about 110
//! bytes for a filled slice instead of about 470 for the record and its allocations), shared
//! by every reader and replaced copy-on-write when a slice is added or takes its markouts.
//!
//! The encoding is exact: every decimal keeps its mantissa, scale and sign (a negative zero
//! included), so a decoded slice equals the one encoded (property test below).
//!
//! Layout of one slice: varint index, zigzag scheduled ns, zigzag (executed − scheduled) ns,
//! a 16-bit presence mask, the four decimals always present (target, filled, notional, fee),
//! then each optional field present in mask order, then the fills, their venues and the
//! quantities the venue showed at them.

use std::sync::Arc;

use model::{ExchangeId, Timestamp};
use rust_decimal::Decimal;

use crate::fill::ShortReason;
use crate::markout::Markouts;
use crate::slice::{SkipReason, SliceRecord};

/// An order's slices, by index; cheap to clone (shared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SliceList {
    items: Arc<[Arc<[u8]>]>,
}

impl SliceList {
    /// The list of these slices.
    pub fn new(slices: impl IntoIterator<Item = SliceRecord>) -> Self {
        SliceList {
            items: slices.into_iter().map(|s| encode(&s)).collect(),
        }
    }

    /// How many slices.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The slice at position `i` (slices are kept by index: position = index).
    pub fn get(&self, i: usize) -> Option<SliceRecord> {
        self.items.get(i).and_then(|b| decode(b))
    }

    /// Every slice, decoded, in order.
    pub fn iter(&self) -> impl Iterator<Item = SliceRecord> + '_ {
        self.items.iter().filter_map(|b| {
            let s = decode(b);
            debug_assert!(s.is_some(), "a slice this module encoded did not decode");
            s
        })
    }

    /// Every slice, decoded.
    pub fn to_vec(&self) -> Vec<SliceRecord> {
        self.iter().collect()
    }

    /// This list with `s` appended.
    pub(crate) fn pushed(&self, s: &SliceRecord) -> Self {
        let mut v: Vec<Arc<[u8]>> = Vec::with_capacity(self.items.len() + 1);
        v.extend(self.items.iter().cloned());
        v.push(encode(s));
        SliceList { items: v.into() }
    }

    /// This list with slice `index`'s markouts set (unchanged when it has no such slice).
    pub(crate) fn with_markouts(&self, index: u32, values: Markouts) -> Self {
        let at = self.items.iter().position(|b| {
            Reader::new(b)
                .varint()
                .is_some_and(|i| i == u128::from(index))
        });
        let Some((at, mut s)) = at.and_then(|at| Some((at, decode(&self.items[at])?))) else {
            return self.clone();
        };
        s.markouts = values;
        let mut v: Vec<Arc<[u8]>> = self.items.to_vec();
        v[at] = encode(&s);
        SliceList { items: v.into() }
    }
}

impl FromIterator<SliceRecord> for SliceList {
    fn from_iter<T: IntoIterator<Item = SliceRecord>>(iter: T) -> Self {
        SliceList::new(iter)
    }
}

// Presence bits, in the order the optional fields follow the fixed ones.
const AVG_PRICE: u16 = 1;
const BEST_BID: u16 = 1 << 1;
const BEST_ASK: u16 = 1 << 2;
const MID: u16 = 1 << 3;
const MARKET_VOLUME: u16 = 1 << 4;
const MARKET_NOTIONAL: u16 = 1 << 5;
const BOOK_SEQ: u16 = 1 << 6;
const BOOK_AGE: u16 = 1 << 7;
const SKIPPED: u16 = 1 << 8;
const SHORT: u16 = 1 << 9;
/// Bits 10..14: the markout of each horizon.
const MARKOUT0: u16 = 1 << 10;
const BOOK_TIME: u16 = 1 << 14;

fn encode(s: &SliceRecord) -> Arc<[u8]> {
    let mut w = Vec::with_capacity(128);
    put_varint(&mut w, u128::from(s.index));
    put_zigzag(&mut w, s.scheduled_at.as_nanos());
    put_zigzag(
        &mut w,
        s.executed_at
            .as_nanos()
            .wrapping_sub(s.scheduled_at.as_nanos()),
    );
    let optional = [
        (AVG_PRICE, s.avg_price),
        (BEST_BID, s.best_bid),
        (BEST_ASK, s.best_ask),
        (MID, s.mid),
        (MARKET_VOLUME, s.market_volume),
        (MARKET_NOTIONAL, s.market_notional),
    ];
    let mut mask = 0u16;
    for (bit, v) in &optional {
        if v.is_some() {
            mask |= bit;
        }
    }
    for (cond, bit) in [
        (s.book_seq.is_some(), BOOK_SEQ),
        (s.book_age_ms.is_some(), BOOK_AGE),
        (s.book_time.is_some(), BOOK_TIME),
        (s.skipped.is_some(), SKIPPED),
        (s.short.is_some(), SHORT),
    ] {
        if cond {
            mask |= bit;
        }
    }
    for (h, m) in s.markouts.iter().enumerate() {
        if m.is_some() {
            mask |= MARKOUT0 << h;
        }
    }
    w.extend_from_slice(&mask.to_le_bytes());
    for d in [s.target, s.filled, s.notional, s.fee] {
        put_decimal(&mut w, d);
    }
    for d in optional.iter().filter_map(|(_, v)| *v) {
        put_decimal(&mut w, d);
    }
    if let Some(seq) = s.book_seq {
        put_varint(&mut w, u128::from(seq));
    }
    if let Some(age) = s.book_age_ms {
        put_zigzag(&mut w, age);
    }
    if let Some(t) = s.book_time {
        // Close to the execution time: a small difference.
        put_zigzag(&mut w, s.executed_at.as_nanos().wrapping_sub(t.as_nanos()));
    }
    if let Some(k) = s.skipped {
        w.push(position(SkipReason::ALL, &k));
    }
    if let Some(k) = s.short {
        w.push(position(ShortReason::ALL, &k));
    }
    for m in s.markouts.iter().flatten() {
        put_decimal(&mut w, *m);
    }
    put_varint(&mut w, s.fills.len() as u128);
    for (p, q) in &s.fills {
        put_decimal(&mut w, *p);
        put_decimal(&mut w, *q);
    }
    put_varint(&mut w, s.fill_venues.len() as u128);
    for v in &s.fill_venues {
        w.push(position(&ExchangeId::ALL, v));
    }
    put_varint(&mut w, s.fill_shown.len() as u128);
    for q in &s.fill_shown {
        put_decimal(&mut w, *q);
    }
    w.into()
}

fn position<T: PartialEq>(all: &[T], x: &T) -> u8 {
    all.iter()
        .position(|a| a == x)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

fn decode(b: &[u8]) -> Option<SliceRecord> {
    let mut r = Reader::new(b);
    let index = u32::try_from(r.varint()?).ok()?;
    let scheduled = r.zigzag()?;
    let executed = scheduled.wrapping_add(r.zigzag()?);
    let mask = u16::from_le_bytes([r.byte()?, r.byte()?]);
    let has = |bit: u16| mask & bit != 0;
    let (target, filled, notional, fee) = (r.decimal()?, r.decimal()?, r.decimal()?, r.decimal()?);
    let mut opt = |bit: u16| -> Option<Option<Decimal>> {
        if has(bit) {
            r.decimal().map(Some)
        } else {
            Some(None)
        }
    };
    let avg_price = opt(AVG_PRICE)?;
    let best_bid = opt(BEST_BID)?;
    let best_ask = opt(BEST_ASK)?;
    let mid = opt(MID)?;
    let market_volume = opt(MARKET_VOLUME)?;
    let market_notional = opt(MARKET_NOTIONAL)?;
    let book_seq = match has(BOOK_SEQ) {
        true => Some(u64::try_from(r.varint()?).ok()?),
        false => None,
    };
    let book_age_ms = match has(BOOK_AGE) {
        true => Some(r.zigzag()?),
        false => None,
    };
    let book_time = match has(BOOK_TIME) {
        true => Some(Timestamp::from_nanos(executed.wrapping_sub(r.zigzag()?))),
        false => None,
    };
    let skipped = match has(SKIPPED) {
        true => Some(*SkipReason::ALL.get(usize::from(r.byte()?))?),
        false => None,
    };
    let short = match has(SHORT) {
        true => Some(*ShortReason::ALL.get(usize::from(r.byte()?))?),
        false => None,
    };
    let mut markouts: Markouts = [None; 4];
    for (h, m) in markouts.iter_mut().enumerate() {
        if has(MARKOUT0 << h) {
            *m = Some(r.decimal()?);
        }
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut fills = Vec::with_capacity(n.min(b.len()));
    for _ in 0..n {
        fills.push((r.decimal()?, r.decimal()?));
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut fill_venues = Vec::with_capacity(n.min(b.len()));
    for _ in 0..n {
        fill_venues.push(*ExchangeId::ALL.get(usize::from(r.byte()?))?);
    }
    let n = usize::try_from(r.varint()?).ok()?;
    let mut fill_shown = Vec::with_capacity(n.min(b.len()));
    for _ in 0..n {
        fill_shown.push(r.decimal()?);
    }
    Some(SliceRecord {
        index,
        scheduled_at: Timestamp::from_nanos(scheduled),
        executed_at: Timestamp::from_nanos(executed),
        target,
        filled,
        notional,
        avg_price,
        fee,
        fills,
        best_bid,
        best_ask,
        mid,
        book_seq,
        book_age_ms,
        book_time,
        skipped,
        short,
        market_volume,
        market_notional,
        markouts,
        fill_venues,
        fill_shown,
    })
}

fn put_varint(w: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn put_zigzag(w: &mut Vec<u8>, v: i64) {
    put_varint(w, u128::from(((v << 1) ^ (v >> 63)) as u64));
}

/// A decimal: one byte of scale (bits 0..5) and sign (bit 7), then the mantissa's magnitude.
fn put_decimal(w: &mut Vec<u8>, d: Decimal) {
    // The scale is at most 28; it fits in the low bits.
    let scale = (d.scale() & 0x3f) as u8;
    w.push(scale | if d.is_sign_negative() { 0x80 } else { 0 });
    put_varint(w, d.mantissa().unsigned_abs());
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.b.split_first()?;
        self.b = rest;
        Some(*first)
    }

    fn varint(&mut self) -> Option<u128> {
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let x = self.byte()?;
            v |= u128::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let u = u64::try_from(self.varint()?).ok()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn decimal(&mut self) -> Option<Decimal> {
        let head = self.byte()?;
        let magnitude = i128::try_from(self.varint()?).ok()?;
        let mut d = Decimal::try_from_i128_with_scale(magnitude, u32::from(head & 0x3f)).ok()?;
        d.set_sign_negative(head & 0x80 != 0);
        Some(d)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decimal() -> impl Strategy<Value = Decimal> {
        (any::<i64>(), 0u32..=28, any::<bool>()).prop_map(|(m, s, neg)| {
            let mut d = Decimal::new(m, s);
            d.set_sign_negative(neg);
            d
        })
    }

    fn opt() -> impl Strategy<Value = Option<Decimal>> {
        proptest::option::of(decimal())
    }

    prop_compose! {
        fn slice()(
            index in any::<u32>(), at in any::<i64>(), late in any::<i64>(),
            fixed in proptest::array::uniform4(decimal()),
            opts in proptest::array::uniform6(opt()),
            seq in proptest::option::of(any::<u64>()), age in proptest::option::of(any::<i64>()),
            book_time in proptest::option::of(any::<i64>()),
            skipped in proptest::option::of(0..SkipReason::ALL.len()),
            short in proptest::option::of(0..ShortReason::ALL.len()),
            markouts in proptest::array::uniform4(opt()),
            fills in proptest::collection::vec((decimal(), decimal()), 0..4),
            venues in proptest::collection::vec(0..ExchangeId::ALL.len(), 0..4),
            shown in proptest::collection::vec(decimal(), 0..4),
        ) -> SliceRecord {
            SliceRecord {
                index,
                scheduled_at: Timestamp::from_nanos(at),
                executed_at: Timestamp::from_nanos(at.wrapping_add(late)),
                target: fixed[0], filled: fixed[1], notional: fixed[2], fee: fixed[3],
                avg_price: opts[0], best_bid: opts[1], best_ask: opts[2], mid: opts[3],
                market_volume: opts[4], market_notional: opts[5],
                book_seq: seq, book_age_ms: age,
                book_time: book_time.map(Timestamp::from_nanos),
                skipped: skipped.map(|i| SkipReason::ALL[i]),
                short: short.map(|i| ShortReason::ALL[i]),
                markouts,
                fills,
                fill_venues: venues.into_iter().map(|i| ExchangeId::ALL[i]).collect(),
                fill_shown: shown,
            }
        }
    }

    /// Field by field and in text (the wire form): scale and sign survive exactly.
    fn same(a: &SliceRecord, b: &SliceRecord) -> bool {
        a == b && format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #[test]
        fn every_slice_survives_its_encoding_exactly(s in slice()) {
            let back = decode(&encode(&s)).unwrap();
            prop_assert!(same(&s, &back), "{s:?}\n{back:?}");
        }

        #[test]
        fn a_list_appends_and_takes_markouts_in_place(
            v in proptest::collection::vec(slice(), 1..6),
            m in proptest::array::uniform4(opt()),
        ) {
            let mut list = SliceList::default();
            for s in &v {
                list = list.pushed(s);
            }
            prop_assert_eq!(list.to_vec(), v.clone());
            let target = v[v.len() / 2].index;
            let after = list.with_markouts(target, m);
            // Only the first slice with that index changes (indices are unique in an order).
            let first = v.iter().position(|s| s.index == target).unwrap();
            for (i, (a, b)) in v.iter().zip(after.iter()).enumerate() {
                if i == first {
                    prop_assert_eq!(b.markouts, m);
                    prop_assert_eq!(SliceRecord { markouts: a.markouts, ..b.clone() }, a.clone());
                } else {
                    prop_assert!(same(a, &b));
                }
            }
        }
    }

    #[test]
    fn a_filled_slice_is_small() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let mut s = SliceRecord::skipped(
            17,
            Timestamp::from_nanos(1_765_000_000_123_456_789),
            Timestamp::from_nanos(1_765_000_000_124_000_000),
            d("0.002"),
            SkipReason::NoBook,
        );
        s.skipped = None;
        s.filled = d("0.002");
        s.notional = d("134.00292");
        s.fee = d("0.134002920000");
        s.avg_price = Some(d("67001.46"));
        s.best_bid = Some(d("67001.45"));
        s.best_ask = Some(d("67001.46"));
        s.mid = Some(d("67001.455"));
        s.market_volume = Some(d("0.51200"));
        s.market_notional = Some(d("34304.7475"));
        s.book_seq = Some(1_234_567);
        s.book_age_ms = Some(12);
        s.markouts = [Some(d("-0.0746")), Some(d("1.2")), None, None];
        s.fills = vec![(d("67001.46"), d("0.002"))];
        let n = encode(&s).len();
        assert!(n <= 128, "{n} bytes");
        assert_eq!(decode(&encode(&s)).unwrap(), s);
    }
}
