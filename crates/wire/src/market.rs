use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::enums::{BookState, ConnectionStatus, HealthStatus, Side};

/// `GET /`: what this server is and where its documentation lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceInfo {
    /// `papertwap`.
    pub name: String,
    /// Server version.
    pub version: String,
    /// Swagger UI.
    pub docs: String,
    /// ReDoc.
    pub redoc: String,
    /// OpenAPI document.
    pub openapi: String,
    /// Dashboard.
    pub ui: String,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`, `degraded` when an enabled exchange is not connected, `unavailable` when the
    /// store is unusable.
    pub status: HealthStatus,
    /// `ok` or `unavailable`.
    pub store: HealthStatus,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// Server version.
    pub version: String,
    /// Per-exchange connection state.
    pub exchanges: Vec<ExchangeHealth>,
}

/// One exchange in `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExchangeHealth {
    /// Exchange id.
    pub id: String,
    /// `connected`, `connecting`, `down`, `failed` or `disabled`.
    pub status: ConnectionStatus,
    /// Books currently subscribed.
    pub books: usize,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// One entry of `GET /exchanges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Exchange {
    /// Exchange id used in paths (`binance`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// `connected`, `connecting`, `down`, `failed` or `disabled`.
    pub status: ConnectionStatus,
    /// Pairs listed (0 while the list is not loaded).
    pub symbols: usize,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// Query of `GET /exchanges/{exchange}/pairs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PairsQuery {
    /// Only pairs quoted in this asset (case-insensitive).
    pub quote: Option<String>,
}

/// One entry of `GET /exchanges/{exchange}/pairs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pair {
    /// Canonical symbol (`BTC-USDT`).
    pub symbol: String,
    /// Base asset (canonical code).
    pub base: String,
    /// Quote asset (canonical code).
    pub quote: String,
    /// The exchange's REST name (`BTCUSDT`).
    pub exchange_symbol: String,
    /// The exchange's WebSocket name (`btcusdt`).
    pub ws_symbol: String,
    /// `trading`, `halted`, `cancel_only`, `post_only`, `limit_only`, `reduce_only`,
    /// `pre_trading`, `delisted`, or the venue's word when unknown.
    pub status: String,
    /// Minimum price increment.
    pub price_tick: Decimal,
    /// Minimum quantity increment.
    pub qty_step: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Minimum order value in quote currency.
    pub min_notional: Option<Decimal>,
}

/// Query of `GET /klines/{exchange}/{symbol}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct KlinesQuery {
    /// `1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w 1M` (default `1m`).
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^(1m|3m|5m|15m|30m|1h|2h|4h|6h|12h|1d|3d|1w|1M)$")
    )]
    pub interval: Option<String>,
    /// 1–1000 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<u32>,
    /// Earliest candle start, RFC 3339 or Unix milliseconds.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = "^(1?[0-9]{1,12}|(19[7-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$"
        )
    )]
    pub start: Option<String>,
    /// Latest candle start, RFC 3339 or Unix milliseconds.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = "^(1?[0-9]{1,12}|(19[7-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$"
        )
    )]
    pub end: Option<String>,
}

/// One candle. Candles are listed oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Kline {
    /// Bucket start.
    pub open_time: DateTime<Utc>,
    /// Bucket end (exclusive).
    pub close_time: DateTime<Utc>,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Base volume.
    pub volume: Decimal,
    /// False for the candle still in progress.
    pub closed: bool,
}

/// Query of `GET /orderbook/{exchange}/{symbol}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OrderBookQuery {
    /// Levels per side, 1–100 (default 10).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub depth: Option<u32>,
}

/// A level as `["price", "qty"]`.
pub type BookLevel = (Decimal, Decimal);

/// How far a book can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookHealth {
    /// `syncing`, `live`, `stale`, `resyncing` or `down`; only `live` books are traded on.
    pub state: BookState,
    /// Milliseconds since the last update applied (null before the first).
    pub age_ms: Option<i64>,
    /// Re-synchronisations after the first sync.
    pub resyncs: u64,
    /// Checksum mismatches detected.
    pub checksum_failures: u64,
    /// Deletes of prices the book did not hold (normal on some venues).
    pub orphan_deletes: u64,
    /// Best bid at or above best ask.
    pub crossed: bool,
    /// The venue's checksum kept failing for this symbol and is no longer enforced.
    pub checksum_unreliable: bool,
    /// Why the book last left `live`, if it did.
    pub last_error: Option<String>,
}

/// `GET /orderbook/{exchange}/{symbol}`, and the body of a WebSocket `book` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderBook {
    /// Exchange id.
    pub exchange: String,
    /// Canonical symbol.
    pub symbol: String,
    /// When this picture was taken (local time of the last update applied).
    pub ts: DateTime<Utc>,
    /// The venue's sequence number of the last update, where it has one.
    pub seq: Option<u64>,
    /// Bids, best first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>, example = json!([["67000.01", "0.5"]])))]
    pub bids: Vec<BookLevel>,
    /// Asks, best first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>, example = json!([["67000.02", "0.25"]])))]
    pub asks: Vec<BookLevel>,
    /// The book's health.
    pub health: BookHealth,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_are_strings_and_levels_are_pairs() {
        let b = OrderBook {
            exchange: "sim".into(),
            symbol: "BTC-USDT".into(),
            ts: DateTime::from_timestamp_millis(1_795_255_200_123).unwrap(),
            seq: Some(7),
            bids: vec![(
                Decimal::from_str("67000.01").unwrap(),
                Decimal::from_str("0.5").unwrap(),
            )],
            asks: vec![],
            health: BookHealth {
                state: crate::BookState::Live,
                age_ms: Some(40),
                resyncs: 0,
                checksum_failures: 0,
                orphan_deletes: 3,
                crossed: false,
                checksum_unreliable: false,
                last_error: None,
            },
        };
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["bids"][0][0], "67000.01");
        assert_eq!(v["bids"][0][1], "0.5");
        assert_eq!(v["ts"], "2026-11-21T10:00:00.123Z");
        let back: OrderBook = serde_json::from_value(v).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn queries_reject_unknown_fields() {
        assert!(serde_json::from_str::<OrderBookQuery>(r#"{"depht":5}"#).is_err());
    }
}

/// Query of `GET /trades/{exchange}/{symbol}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TradesQuery {
    /// 1–1000 (default 100): the newest this many trades of the window.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<u32>,
    /// Earliest trade time (the venue's), RFC 3339 or Unix milliseconds.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = "^(1?[0-9]{1,12}|(19[7-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$"
        )
    )]
    pub start: Option<String>,
    /// Latest trade time (the venue's), RFC 3339 or Unix milliseconds.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = "^(1?[0-9]{1,12}|(19[7-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$"
        )
    )]
    pub end: Option<String>,
}

/// One public trade printed by the venue. Trades are listed oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trade {
    /// The venue's trade id (unique per exchange and symbol).
    pub trade_id: String,
    /// When the venue says the trade happened.
    pub exchange_ts: DateTime<Utc>,
    /// When the server received it.
    pub local_ts: DateTime<Utc>,
    /// Price.
    pub price: Decimal,
    /// Quantity of base.
    pub qty: Decimal,
    /// The aggressor: `buy` when a buyer lifted an ask, `sell` when a seller hit a bid.
    pub taker_side: Side,
}

/// A batch of new trades of one book (the WS `trades` frame body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trades {
    /// Exchange id.
    pub exchange: String,
    /// Canonical symbol.
    pub symbol: String,
    /// New trades since the previous frame, oldest first.
    pub trades: Vec<Trade>,
}
