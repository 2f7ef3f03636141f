use std::fmt;
use std::str::FromStr;

/// An exchange papertwap knows how to talk to.
///
/// A closed enum rather than a string: every exchange needs an adapter in code, so the set is
/// known at compile time, and a `Copy` id keeps book keys cheap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExchangeId {
    /// The in-process simulated exchange.
    Sim,
    /// Binance spot.
    Binance,
    /// Kraken spot (WebSocket v2).
    Kraken,
    /// Coinbase Advanced Trade.
    Coinbase,
    /// OKX v5.
    Okx,
    /// Bybit v5 spot.
    Bybit,
    /// Bitstamp v2.
    Bitstamp,
    /// Recorded tapes played back as a live venue (the lab's replay venue).
    Replay,
}

impl ExchangeId {
    /// Every exchange id, in display order.
    pub const ALL: [ExchangeId; 8] = [
        ExchangeId::Sim,
        ExchangeId::Binance,
        ExchangeId::Kraken,
        ExchangeId::Coinbase,
        ExchangeId::Okx,
        ExchangeId::Bybit,
        ExchangeId::Bitstamp,
        ExchangeId::Replay,
    ];

    /// The lower-case id used in URLs and configuration keys (`binance`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeId::Sim => "sim",
            ExchangeId::Binance => "binance",
            ExchangeId::Kraken => "kraken",
            ExchangeId::Coinbase => "coinbase",
            ExchangeId::Okx => "okx",
            ExchangeId::Bybit => "bybit",
            ExchangeId::Bitstamp => "bitstamp",
            ExchangeId::Replay => "replay",
        }
    }

    /// The human name (`Binance`).
    pub fn display_name(self) -> &'static str {
        match self {
            ExchangeId::Sim => "Simulated exchange",
            ExchangeId::Binance => "Binance",
            ExchangeId::Kraken => "Kraken",
            ExchangeId::Coinbase => "Coinbase",
            ExchangeId::Okx => "OKX",
            ExchangeId::Bybit => "Bybit",
            ExchangeId::Bitstamp => "Bitstamp",
            ExchangeId::Replay => "Replay (recorded tapes)",
        }
    }
}

impl fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name an exchange papertwap knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange `{0}`")]
pub struct UnknownExchange(pub String);

impl FromStr for ExchangeId {
    type Err = UnknownExchange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExchangeId::ALL
            .into_iter()
            .find(|id| id.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownExchange(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        for id in ExchangeId::ALL {
            assert_eq!(id.as_str().parse::<ExchangeId>(), Ok(id));
            assert_eq!(id.as_str().to_uppercase().parse::<ExchangeId>(), Ok(id));
        }
        assert!("nasdaq".parse::<ExchangeId>().is_err());
    }
}
