//! What every venue decoder shares: the decode error and exact wire-text → [`Level`]
//! conversion (never through `f64`).

use model::{Level, Price, Qty, decimal_from_str};

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
