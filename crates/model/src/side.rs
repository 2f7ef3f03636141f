use std::fmt;
use std::str::FromStr;

/// The side of an order: a buy takes asks, a sell takes bids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy base, pay quote.
    Buy,
    /// Sell base, receive quote.
    Sell,
}

impl Side {
    /// `buy` or `sell`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    /// The side of the book an aggressive order of this side consumes.
    pub fn takes(self) -> BookSide {
        match self {
            Side::Buy => BookSide::Ask,
            Side::Sell => BookSide::Bid,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `buy` nor `sell`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown side `{0}` (expected `buy` or `sell`)")]
pub struct UnknownSide(pub String);

impl FromStr for Side {
    type Err = UnknownSide;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("buy") {
            Ok(Side::Buy)
        } else if s.eq_ignore_ascii_case("sell") {
            Ok(Side::Sell)
        } else {
            Err(UnknownSide(s.to_owned()))
        }
    }
}

/// One side of an order book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookSide {
    /// Resting buy interest, best = highest price.
    Bid,
    /// Resting sell interest, best = lowest price.
    Ask,
}

impl BookSide {
    /// `bid` or `ask`.
    pub fn as_str(self) -> &'static str {
        match self {
            BookSide::Bid => "bid",
            BookSide::Ask => "ask",
        }
    }
}

impl fmt::Display for BookSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `bid` nor `ask`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown book side `{0}` (expected `bid` or `ask`)")]
pub struct UnknownBookSide(pub String);

impl FromStr for BookSide {
    type Err = UnknownBookSide;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bid" => Ok(BookSide::Bid),
            "ask" => Ok(BookSide::Ask),
            _ => Err(UnknownBookSide(s.to_owned())),
        }
    }
}
