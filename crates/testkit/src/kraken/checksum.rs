//! Kraken's book checksum as the venue documents it, computed from printed text: the
//! mock's own implementation, independent of the adapter's.

use rust_decimal::Decimal;

use super::num;

/// Kraken's checksum, computed the way Kraken documents it: from the printed text.
pub fn text_checksum(
    bids: &[(Decimal, Decimal)],
    asks: &[(Decimal, Decimal)],
    price_dp: u32,
    qty_dp: u32,
) -> u32 {
    let mut s = String::new();
    let mut push = |t: String| {
        let t: String = t.chars().filter(|c| *c != '.').collect();
        s.push_str(t.trim_start_matches('0'));
    };
    for (p, q) in asks.iter().take(10) {
        push(num(*p, price_dp));
        push(num(*q, qty_dp));
    }
    for (p, q) in bids.iter().take(10) {
        push(num(*p, price_dp));
        push(num(*q, qty_dp));
    }
    crate::crc32(s.as_bytes())
}
