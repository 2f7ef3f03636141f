use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a text is not a canonical symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// Not of the form `BASE-QUOTE` (or `BASE/QUOTE`, `BASE_QUOTE`).
    #[error("`{0}` is not a symbol of the form BASE-QUOTE")]
    Format(String),
    /// An asset code is empty, too long or has characters other than letters and digits.
    #[error("`{0}` is not a valid asset code (1-20 letters or digits)")]
    Asset(String),
}

/// Map an exchange asset code to its canonical code (`XBT`→`BTC`, `XDG`→`DOGE`), upper case.
pub fn canonical_asset(code: &str) -> String {
    let up = code.trim().to_ascii_uppercase();
    match up.as_str() {
        "XBT" => "BTC".to_owned(),
        "XDG" => "DOGE".to_owned(),
        _ => up,
    }
}

fn valid_asset(a: &str) -> bool {
    (1..=20).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A canonical instrument name: `BASE-QUOTE`, upper case, canonical asset codes.
///
/// Cheap to clone (shared text). Native spellings that cannot be split without knowing the
/// exchange's pairs (`BTCUSDT`, `XXBTZUSD`) are resolved by [`crate::PairIndex`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol {
    text: Arc<str>,
    dash: usize,
}

impl Symbol {
    /// Build from two asset codes (aliases applied).
    pub fn new(base: &str, quote: &str) -> Result<Self, SymbolError> {
        let (b, q) = (canonical_asset(base), canonical_asset(quote));
        if !valid_asset(&b) {
            return Err(SymbolError::Asset(base.to_owned()));
        }
        if !valid_asset(&q) {
            return Err(SymbolError::Asset(quote.to_owned()));
        }
        Ok(Symbol {
            dash: b.len(),
            text: Arc::from(format!("{b}-{q}")),
        })
    }

    /// The canonical text, e.g. `BTC-USDT`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The base asset, e.g. `BTC`.
    pub fn base(&self) -> &str {
        &self.text[..self.dash]
    }

    /// The quote asset, e.g. `USDT`.
    pub fn quote(&self) -> &str {
        &self.text[self.dash + 1..]
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;

    /// Parse `BTC-USDT`, `btc-usdt`, `XBT/USD` or `ETH_BTC`; aliases are applied.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let mut parts = t.split(['-', '/', '_']);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(b), Some(q), None) => Symbol::new(b, q),
            _ => Err(SymbolError::Format(s.to_owned())),
        }
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_and_aliases() {
        let s: Symbol = "xbt/usd".parse().unwrap();
        assert_eq!(s.as_str(), "BTC-USD");
        assert_eq!((s.base(), s.quote()), ("BTC", "USD"));
        assert_eq!("XDG_USDT".parse::<Symbol>().unwrap().as_str(), "DOGE-USDT");
        assert!("BTCUSDT".parse::<Symbol>().is_err());
        assert!("BTC-".parse::<Symbol>().is_err());
        assert!("BTC-US$".parse::<Symbol>().is_err());
        assert!("A-B-C".parse::<Symbol>().is_err());
    }
}
