//! Exact scaled-integer arithmetic used inside the order book.
//!
//! A value `v` at scale `s` means `v / 10^s`. The book keeps one scale per column (prices,
//! quantities); conversions from `Decimal` are exact or report what scale they would need.

use rust_decimal::Decimal;

/// `10^i` for every `i` a `u128` can hold.
pub(crate) const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The outcome of converting a decimal to an integer at a given scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToFixed {
    /// Exactly representable.
    Exact(u64),
    /// Not representable at this scale: it needs at least this many decimal places.
    NeedsScale(u32),
    /// Representable only with more than 64 bits of mantissa at this scale.
    TooLarge,
}

/// Convert a non-negative `Decimal` to a `u64` at `scale`, exactly.
#[inline]
pub(crate) fn to_fixed(d: Decimal, scale: u32) -> ToFixed {
    let m = d.mantissa().unsigned_abs();
    let s = d.scale();
    if s == scale {
        return match u64::try_from(m) {
            Ok(v) => ToFixed::Exact(v),
            Err(_) => ToFixed::TooLarge,
        };
    }
    if s < scale {
        let Some(p) = POW10.get((scale - s) as usize) else {
            return ToFixed::TooLarge;
        };
        return match m.checked_mul(*p).map(u64::try_from) {
            Some(Ok(v)) => ToFixed::Exact(v),
            _ => ToFixed::TooLarge,
        };
    }
    // s > scale: exact only if the extra digits are trailing zeros.
    let p = POW10[(s - scale) as usize];
    if m.is_multiple_of(p) {
        match u64::try_from(m / p) {
            Ok(v) => ToFixed::Exact(v),
            Err(_) => ToFixed::TooLarge,
        }
    } else {
        ToFixed::NeedsScale(natural_scale(m, s))
    }
}

/// The smallest scale at which `m / 10^s` is still exact (trailing zeros stripped).
pub(crate) fn natural_scale(mut m: u128, mut s: u32) -> u32 {
    if m == 0 {
        return 0;
    }
    while s > 0 && m.is_multiple_of(10) {
        m /= 10;
        s -= 1;
    }
    s
}

/// A `Decimal` from an exact scaled integer. Values whose scale exceeds 28 or whose mantissa
/// exceeds 96 bits (possible only for computed products such as notionals) are rounded
/// half-even to fit, which is `Decimal`'s own precision limit.
pub(crate) fn decimal_from_scaled(v: i128, scale: u32) -> Decimal {
    if let Ok(d) = Decimal::try_from_i128_with_scale(v, scale) {
        return d;
    }
    // Slow path: drop digits until it fits, then round half-even once.
    let neg = v < 0;
    let mut m = v.unsigned_abs();
    let mut s = scale;
    let mut last = 0u128;
    let mut sticky = false;
    while s > 28 || m >= (1u128 << 96) {
        if s == 0 {
            // Larger than Decimal::MAX with no fraction left: saturate.
            return if neg { Decimal::MIN } else { Decimal::MAX };
        }
        sticky |= last != 0;
        last = m % 10;
        m /= 10;
        s -= 1;
    }
    if last > 5 || (last == 5 && (sticky || m % 2 == 1)) {
        m += 1;
    }
    let signed = i128::try_from(m).unwrap_or(i128::MAX);
    let signed = if neg { -signed } else { signed };
    Decimal::try_from_i128_with_scale(signed, s)
        .or_else(|_| Decimal::try_from_i128_with_scale(signed / 10, s.saturating_sub(1)))
        .unwrap_or(if neg { Decimal::MIN } else { Decimal::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn converts_exactly_or_says_why_not() {
        assert_eq!(
            to_fixed(d("67000.01000000"), 8),
            ToFixed::Exact(6_700_001_000_000)
        );
        assert_eq!(to_fixed(d("67000.01000000"), 2), ToFixed::Exact(6_700_001));
        assert_eq!(
            to_fixed(d("67000.01"), 8),
            ToFixed::Exact(6_700_001_000_000)
        );
        assert_eq!(to_fixed(d("0.123"), 2), ToFixed::NeedsScale(3));
        assert_eq!(to_fixed(d("0.12300"), 2), ToFixed::NeedsScale(3));
        assert_eq!(to_fixed(d("184467440737.09551616"), 8), ToFixed::TooLarge);
        assert_eq!(natural_scale(1_200, 4), 2);
        assert_eq!(natural_scale(0, 4), 0);
    }

    #[test]
    fn decimal_from_scaled_rounds_only_beyond_decimal_precision() {
        assert_eq!(decimal_from_scaled(6_700_001, 2), d("67000.01"));
        // 30 decimal places must be rounded to 28.
        let v = 123_456_789_012_345_678_901_234_567_895i128;
        let got = decimal_from_scaled(v, 30);
        assert_eq!(got, d("0.1234567890123456789012345679"));
        assert!(got.scale() <= 28);
    }
}
