use std::time::Duration;

use model::{BookState, ExchangeId};

/// Everything that can go wrong between a reader and a venue.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MarketError {
    /// The exchange exists but is not enabled in this server's configuration.
    #[error("exchange {0} is not enabled on this server")]
    ExchangeDisabled(ExchangeId),
    /// The exchange does not list this symbol.
    #[error("{exchange} does not list symbol `{symbol}`")]
    UnknownSymbol {
        /// The exchange asked.
        exchange: ExchangeId,
        /// The symbol as the caller spelled it.
        symbol: String,
    },
    /// No enabled exchange lists this canonical symbol.
    #[error("no enabled exchange lists {0}")]
    NoVenueLists(model::Symbol),
    /// The exchange's pair list has not been obtained yet (offline, geo-blocked, starting).
    #[error("{exchange}'s trading pairs are not available yet: {reason}")]
    PairsUnavailable {
        /// The exchange asked.
        exchange: ExchangeId,
        /// Why, for humans.
        reason: String,
    },
    /// The venue cannot be reached or refuses us for now.
    #[error("{exchange} is unavailable: {reason}")]
    Unavailable {
        /// The exchange asked.
        exchange: ExchangeId,
        /// Why, for humans.
        reason: String,
        /// When it makes sense to try again, if known.
        retry_after: Option<Duration>,
    },
    /// The venue answered, but not with something usable.
    #[error("{exchange} answered badly: {detail}")]
    Upstream {
        /// The exchange asked.
        exchange: ExchangeId,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The venue does not offer candles at this interval.
    #[error("{exchange} does not offer {interval} klines")]
    UnsupportedInterval {
        /// The exchange asked.
        exchange: ExchangeId,
        /// The interval asked.
        interval: model::Interval,
    },
    /// The venue refuses this request for a reason retrying will not change (HTTP 451,
    /// bad request).
    #[error("{exchange} refused the request: {detail}")]
    Refused {
        /// The exchange asked.
        exchange: ExchangeId,
        /// The venue's reason.
        detail: String,
    },
    /// The book exists but cannot be vouched for right now.
    #[error("the {exchange} {symbol} book is {state}, not live")]
    BookNotLive {
        /// The exchange.
        exchange: ExchangeId,
        /// Canonical symbol.
        symbol: String,
        /// Its current state.
        state: BookState,
    },
    /// The venue rate-limited us (HTTP 429, or 418 = IP banned); nothing is sent to it
    /// until `retry_after` has passed.
    #[error("{exchange} rate-limited this server; retry after {retry_after:?}")]
    RateLimited {
        /// The exchange.
        exchange: ExchangeId,
        /// How long the venue asked us to wait.
        retry_after: Duration,
        /// HTTP 418: the venue banned this IP for a while.
        banned: bool,
    },
    /// A configuration problem found while starting an adapter (bad URL, TLS setup).
    #[error("configuration: {0}")]
    Config(String),
    /// The hub is shutting down.
    #[error("the market data hub is shutting down")]
    ShuttingDown,
}

impl MarketError {
    /// True when the same request may succeed later without any change on our side.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MarketError::PairsUnavailable { .. }
                | MarketError::Unavailable { .. }
                | MarketError::Upstream { .. }
                | MarketError::BookNotLive { .. }
                | MarketError::RateLimited { .. }
        )
    }
}
