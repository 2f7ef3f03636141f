//! [`TokenId`]: the client's order id.

use std::fmt;
use std::str::FromStr;

/// A client order id: 1–64 of `[A-Za-z0-9._:-]`, unique per user. Built only through
/// [`FromStr`], so every value held is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(Box<str>);

/// The text is not a valid token id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token_id must be 1–64 characters of letters, digits, '.', '_', ':' or '-'")]
pub struct InvalidTokenId;

impl TokenId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True when `t` is a valid token id.
pub fn valid_token_id(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl FromStr for TokenId {
    type Err = InvalidTokenId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if valid_token_id(s) {
            Ok(TokenId(s.into()))
        } else {
            Err(InvalidTokenId)
        }
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TokenId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet_only() {
        for ok in ["a", "A-1.b_c:d", &"x".repeat(64)] {
            assert_eq!(
                TokenId::from_str(ok).map(|t| t.to_string()).as_deref(),
                Ok(ok)
            );
        }
        for bad in ["", "a b", "é", "a/b", &"x".repeat(65)] {
            assert_eq!(TokenId::from_str(bad), Err(InvalidTokenId), "{bad:?}");
        }
    }
}
