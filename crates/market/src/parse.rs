//! What every venue decoder shares: the decode error, exact wire-text → [`Level`] and
//! decimal conversions (never through `f64`), and RFC 3339 venue times.

use model::{Level, Price, Qty, Timestamp, decimal_from_str};
use rust_decimal::Decimal;

/// A frame or body that could not be decoded. Keeps the start of the raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    pub reason: String,
    /// The first 200 characters of the payload.
    pub raw: String,
}

impl ParseError {
    /// An error about `raw` (kept to its first 200 characters).
    pub fn new(reason: impl Into<String>, raw: &str) -> Self {
        ParseError {
            reason: reason.into(),
            raw: raw.chars().take(200).collect(),
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (payload: {})", self.reason, self.raw)
    }
}

impl std::error::Error for ParseError {}

/// A level from its price and quantity text, exactly; `frame` is quoted in the error.
pub fn parse_level(price: &str, qty: &str, frame: &str) -> Result<Level, ParseError> {
    let p = decimal_from_str(price)
        .and_then(|d| Price::try_from(d).ok())
        .ok_or_else(|| ParseError::new(format!("bad price `{price}`"), frame))?;
    let q = decimal_from_str(qty)
        .and_then(|d| Qty::try_from(d).ok())
        .ok_or_else(|| ParseError::new(format!("bad quantity `{qty}`"), frame))?;
    Ok(Level::new(p, q))
}

/// An optional decimal field, exactly and normalized (`"0.0100"` → `0.01`); `None` when
/// absent or not a number.
pub fn parse_decimal(s: Option<&str>) -> Option<Decimal> {
    s.and_then(decimal_from_str).map(|d| d.normalize())
}

/// A venue time in RFC 3339 (`2026-07-01T12:00:00.101000000Z`), if it lies between the epoch
/// and 2200 ([`Timestamp::venue_micros`]'s range).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Timestamp::venue_micros(t.timestamp_micros())?;
    t.timestamp_nanos_opt().map(Timestamp::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_times() {
        assert_eq!(parse_decimal(Some("0.0100")), Some(Decimal::new(1, 2)));
        assert_eq!(parse_decimal(Some("x")), None);
        assert_eq!(parse_decimal(None), None);
        assert_eq!(
            parse_rfc3339("2026-07-01T12:00:00.101Z"),
            Some(Timestamp::from_nanos(1_782_907_200_101_000_000))
        );
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59Z"),
            None,
            "before the epoch"
        );
        assert_eq!(parse_rfc3339("2201-01-01T00:00:00Z"), None, "past 2200");
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
