use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Why a number could not become a [`Price`] or a [`Qty`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
    /// Prices must be strictly positive.
    #[error("price {0} must be greater than zero")]
    NonPositivePrice(Decimal),
    /// Quantities cannot be negative.
    #[error("quantity {0} must not be negative")]
    NegativeQty(Decimal),
}

fn parse_decimal(s: &str) -> Result<Decimal, NumError> {
    decimal_from_str(s).ok_or_else(|| NumError::Syntax(s.to_owned()))
}

/// Parse decimal text exactly, keeping its scale (`"0.50000000"` has scale 8).
///
/// The common exchange form — optional `-`, digits, optional `.` and digits, at most 19
/// significant digits — is parsed straight into `Decimal`'s parts, several times faster
/// than the general parser, which handles everything else (more digits, exponents).
pub fn decimal_from_str(s: &str) -> Option<Decimal> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 20 {
        let mut m: u64 = 0;
        let mut scale: u32 = 0;
        let mut seen_dot = false;
        let mut n_digits = 0u32;
        let mut ok = true;
        for &c in digits {
            match c {
                b'0'..=b'9' => {
                    n_digits += 1;
                    if n_digits > 19 {
                        // 20 digits may not fit in u64: the general parser decides.
                        ok = false;
                        break;
                    }
                    m = m * 10 + u64::from(c - b'0');
                    if seen_dot {
                        scale += 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        // 19 digits always fit in u64; the dot must have digits on both sides.
        let dot_ok = !seen_dot || (scale > 0 && n_digits > scale);
        if ok && n_digits > 0 && n_digits <= 19 && dot_ok && scale <= 28 {
            return Some(Decimal::from_parts(
                m as u32,
                (m >> 32) as u32,
                0,
                neg && m != 0,
                scale,
            ));
        }
    }
    let t = s.trim();
    Decimal::from_str_exact(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
}

/// A price in quote currency per unit of base: exact and strictly positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Decimal);

impl Price {
    /// The exact decimal value.
    pub const fn get(self) -> Decimal {
        self.0
    }

    /// A price from a value the caller has already proven positive (book internals).
    pub(crate) const fn from_trusted(d: Decimal) -> Self {
        Price(d)
    }
}

impl TryFrom<Decimal> for Price {
    type Error = NumError;

    fn try_from(d: Decimal) -> Result<Self, Self::Error> {
        // d > 0 without a full comparison (-0 is negative-signed and zero: refused).
        if d.is_sign_positive() && !d.is_zero() {
            Ok(Price(d))
        } else {
            Err(NumError::NonPositivePrice(d))
        }
    }
}

impl FromStr for Price {
    type Err = NumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Price::try_from(parse_decimal(s)?)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Price> for Decimal {
    fn from(p: Price) -> Decimal {
        p.0
    }
}

/// A quantity of base currency: exact and never negative. Zero is meaningful in book events
/// (it deletes a level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(Decimal);

impl Qty {
    /// Zero quantity.
    pub const ZERO: Qty = Qty(Decimal::ZERO);

    /// The exact decimal value.
    pub const fn get(self) -> Decimal {
        self.0
    }

    /// True when the quantity is zero (in any scale: `0`, `0.00000000`).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// A quantity from a value the caller has already proven non-negative (book internals).
    pub(crate) const fn from_trusted(d: Decimal) -> Self {
        Qty(d)
    }
}

impl TryFrom<Decimal> for Qty {
    type Error = NumError;

    fn try_from(d: Decimal) -> Result<Self, Self::Error> {
        if d.is_sign_negative() && !d.is_zero() {
            Err(NumError::NegativeQty(d))
        } else {
            Ok(Qty(d))
        }
    }
}

impl FromStr for Qty {
    type Err = NumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Qty::try_from(parse_decimal(s)?)
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Qty> for Decimal {
    fn from(q: Qty) -> Decimal {
        q.0
    }
}

/// One price level: a price and the absolute quantity resting there (0 = delete in events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Level {
    /// The level's price.
    pub price: Price,
    /// The absolute quantity at that price.
    pub qty: Qty,
}

impl Level {
    /// A level from its parts.
    pub const fn new(price: Price, qty: Qty) -> Self {
        Level { price, qty }
    }

    /// Parse a level from the decimal strings exchanges send (`["67000.01","0.5"]`).
    pub fn parse(price: &str, qty: &str) -> Result<Self, NumError> {
        Ok(Level {
            price: price.parse()?,
            qty: qty.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_parser_agrees_with_the_general_one() {
        for t in [
            "0",
            "0.0",
            "0.00000000",
            "1",
            "67000.01000000",
            "0.35130000",
            "-1.5",
            "123456789012345678.9",
            "1234567890123456789",
            "12345678901234567890",
            "0.1234567890123456789012345678",
            "1e-8",
            "1.",
            ".5",
            "",
            "-",
            "1.2.3",
            "abc",
            " 1.5",
            "+2",
        ] {
            let fast = decimal_from_str(t);
            let slow = Decimal::from_str_exact(t.trim())
                .or_else(|_| Decimal::from_scientific(t.trim()))
                .ok();
            assert_eq!(fast, slow, "{t}");
            if let (Some(f), Some(s)) = (fast, slow) {
                assert_eq!(f.scale(), s.scale(), "{t}");
            }
        }
    }

    #[test]
    fn parses_exactly_and_keeps_scale() {
        let p: Price = "67000.01000000".parse().unwrap();
        assert_eq!(p.get().scale(), 8);
        assert_eq!(p.get(), Decimal::new(6_700_001, 2));
        let q: Qty = "0.00000000".parse().unwrap();
        assert!(q.is_zero());
        assert!("0".parse::<Price>().is_err());
        assert!("-1".parse::<Qty>().is_err());
        assert!("abc".parse::<Qty>().is_err());
        assert_eq!("1e-8".parse::<Qty>().unwrap().get(), Decimal::new(1, 8));
    }
}
