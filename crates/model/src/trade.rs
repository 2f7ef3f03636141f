//! Public trades: one print on a venue's tape.

use std::fmt;
use std::sync::Arc;

use crate::num::{Price, Qty};
use crate::side::Side;
use crate::time::Timestamp;

/// A venue's identifier of one trade: numeric on most venues (compact, ordered), text where
/// the venue says so (kept verbatim). Unique per (exchange, symbol).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TradeId {
    /// A numeric id (Binance, Kraken, OKX, Coinbase, Bitstamp, sim).
    Num(u64),
    /// Any other id, verbatim (Bybit's, for one).
    Text(Arc<str>),
}

impl TradeId {
    /// The id from the venue's text: numeric when it is a plain `u64` without leading zeros
    /// (so that it prints back identically), verbatim otherwise.
    pub fn parse(text: &str) -> TradeId {
        match text.parse::<u64>() {
            Ok(n) if n.to_string() == text => TradeId::Num(n),
            _ => TradeId::Text(Arc::from(text)),
        }
    }
}

impl fmt::Display for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TradeId::Num(n) => write!(f, "{n}"),
            TradeId::Text(s) => f.write_str(s),
        }
    }
}

impl From<u64> for TradeId {
    fn from(n: u64) -> Self {
        TradeId::Num(n)
    }
}

/// One public trade printed by a venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    /// The venue's id of the trade.
    pub trade_id: TradeId,
    /// When the venue says it happened.
    pub exchange_ts: Timestamp,
    /// When we received it.
    pub local_ts: Timestamp,
    /// Price.
    pub price: Price,
    /// Quantity of base.
    pub qty: Qty,
    /// The aggressor: `Buy` when a buyer lifted an ask, `Sell` when a seller hit a bid.
    pub taker_side: Side,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_back_as_the_venue_sent_them() {
        for text in [
            "0",
            "42",
            "18446744073709551615",
            "007",
            "a1b2-c3",
            "18446744073709551616",
        ] {
            assert_eq!(TradeId::parse(text).to_string(), text);
        }
        assert_eq!(TradeId::parse("42"), TradeId::Num(42));
        assert!(matches!(TradeId::parse("007"), TradeId::Text(_)));
    }
}
