//! Coinbase Advanced Trade's native message shapes (serde), borrowing from the frame where
//! possible.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every market-data message: `{"channel","client_id","timestamp","sequence_num","events"}`;
/// an error is `{"type":"error","message":…}` with no channel.
#[derive(Debug, Deserialize)]
pub struct CbEnvelope<'a> {
    /// `l2_data`, `market_trades`, `heartbeats`, `subscriptions`, …
    #[serde(default, borrow)]
    pub channel: Option<&'a str>,
    /// The connection's message counter (from 0, +1 for every message).
    #[serde(default)]
    pub sequence_num: Option<u64>,
    /// Send time, RFC 3339 with nanoseconds.
    #[serde(default, borrow)]
    pub timestamp: Option<&'a str>,
    /// The payload.
    #[serde(default, borrow)]
    pub events: Option<&'a RawValue>,
    /// `error` on an error message.
    #[serde(rename = "type", default, borrow)]
    pub kind: Option<&'a str>,
    /// The error's text.
    #[serde(default)]
    pub message: Option<String>,
}

/// One event of an `l2_data` message.
#[derive(Debug, Deserialize)]
pub struct CbL2Event<'a> {
    /// `snapshot` or `update`.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// `BTC-USD`.
    #[serde(borrow)]
    pub product_id: &'a str,
    /// The levels.
    #[serde(borrow)]
    pub updates: Vec<CbL2Update<'a>>,
}

/// One level of an `l2_data` event.
#[derive(Debug, Deserialize)]
pub struct CbL2Update<'a> {
    /// `bid` or `offer`.
    #[serde(borrow)]
    pub side: &'a str,
    /// The new absolute size at the price; `0` removes it.
    #[serde(borrow)]
    pub new_quantity: &'a str,
    /// The price.
    #[serde(borrow)]
    pub price_level: &'a str,
}

/// One event of a `market_trades` message.
#[derive(Debug, Deserialize)]
pub struct CbTradesEvent<'a> {
    /// `snapshot` (recent trades on subscribe) or `update`.
    #[serde(rename = "type", default, borrow)]
    pub kind: Option<&'a str>,
    /// The trades, newest first as the venue sends them.
    #[serde(borrow, default)]
    pub trades: Vec<CbTrade<'a>>,
}

/// One public trade.
#[derive(Debug, Deserialize)]
pub struct CbTrade<'a> {
    /// The venue's trade id.
    #[serde(borrow)]
    pub trade_id: &'a str,
    /// `BTC-USD`.
    #[serde(borrow)]
    pub product_id: &'a str,
    /// Price.
    #[serde(borrow)]
    pub price: &'a str,
    /// Quantity.
    #[serde(borrow)]
    pub size: &'a str,
    /// The **maker's** side, `BUY` or `SELL`.
    #[serde(borrow)]
    pub side: &'a str,
    /// Trade time, RFC 3339.
    #[serde(borrow)]
    pub time: &'a str,
}

/// One event of a `subscriptions` message: what the connection follows now.
#[derive(Debug, Deserialize)]
pub struct CbSubscriptionsEvent {
    /// Channel → products.
    #[serde(default)]
    pub subscriptions: std::collections::BTreeMap<String, Vec<String>>,
}

/// Coinbase's REST error body (`{"error","error_details","message"}`).
#[derive(Debug, Deserialize)]
pub struct CbRestError {
    /// `NOT_FOUND`, `INVALID_ARGUMENT`, …
    #[serde(default)]
    pub error: Option<String>,
    /// The reason.
    #[serde(default)]
    pub message: Option<String>,
    /// More of the reason.
    #[serde(default)]
    pub error_details: Option<String>,
}

/// `GET /market/products`.
#[derive(Debug, Deserialize)]
pub struct CbProducts {
    /// The products.
    pub products: Vec<CbProduct>,
}

/// One product.
#[derive(Debug, Deserialize)]
pub struct CbProduct {
    /// `BTC-USD`.
    pub product_id: String,
    /// `BTC`.
    #[serde(default)]
    pub base_currency_id: String,
    /// `USD`.
    #[serde(default)]
    pub quote_currency_id: String,
    /// Quantity step.
    pub base_increment: String,
    /// Price tick (`price_increment`, falling back to `quote_increment`).
    #[serde(default)]
    pub price_increment: Option<String>,
    /// The quote step.
    #[serde(default)]
    pub quote_increment: Option<String>,
    /// Minimum quantity.
    #[serde(default)]
    pub base_min_size: Option<String>,
    /// Minimum order value in quote.
    #[serde(default)]
    pub quote_min_size: Option<String>,
    /// `online`, `offline`, `delisted`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Trading is off.
    #[serde(default)]
    pub trading_disabled: bool,
    /// The product is off.
    #[serde(default)]
    pub is_disabled: bool,
    /// Only viewing is allowed.
    #[serde(default)]
    pub view_only: bool,
    /// Only cancels are allowed.
    #[serde(default)]
    pub cancel_only: bool,
    /// An auction is running.
    #[serde(default)]
    pub auction_mode: bool,
    /// `SPOT` or `FUTURE`.
    #[serde(default)]
    pub product_type: Option<String>,
    /// The product whose book this one shares (`BTC-USDC` → `BTC-USD`), empty when none.
    #[serde(default)]
    pub alias: Option<String>,
}

/// `GET /market/products/{id}/candles`.
#[derive(Debug, Deserialize)]
pub struct CbCandles<'a> {
    /// Newest first.
    #[serde(borrow)]
    pub candles: Vec<CbCandle<'a>>,
}

/// One candle; every value is a string.
#[derive(Debug, Deserialize)]
pub struct CbCandle<'a> {
    /// Bucket start, Unix seconds.
    pub start: &'a str,
    /// Lowest price.
    pub low: &'a str,
    /// Highest price.
    pub high: &'a str,
    /// First price.
    pub open: &'a str,
    /// Last price.
    pub close: &'a str,
    /// Base volume.
    pub volume: &'a str,
}
