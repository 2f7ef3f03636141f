//! Bitstamp's native message shapes (serde), borrowing from the frame where possible.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every WebSocket message: `{"event","channel","data"}`.
#[derive(Debug, Deserialize)]
pub struct BtsMessage<'a> {
    /// `data`, `trade`, `bts:subscription_succeeded`, `bts:request_reconnect`, `bts:error`…
    #[serde(borrow)]
    pub event: &'a str,
    /// `diff_order_book_btcusd`, `live_trades_btcusd`, or empty.
    #[serde(default, borrow)]
    pub channel: Option<&'a str>,
    /// The payload (an object, or `""` on a reconnect request).
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

/// The payload of a `diff_order_book_*` message.
#[derive(Debug, Deserialize)]
pub struct BtsDiff<'a> {
    /// Microseconds since the epoch, as a string.
    #[serde(borrow)]
    pub microtimestamp: &'a str,
    /// Changed bids `[price, amount]`; amount `0` deletes.
    #[serde(borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Changed asks.
    #[serde(borrow)]
    pub asks: Vec<[&'a str; 2]>,
}

/// The payload of a `live_trades_*` message.
#[derive(Debug, Deserialize)]
pub struct BtsTrade<'a> {
    /// The trade id.
    pub id: u64,
    /// Quantity, as text.
    #[serde(borrow)]
    pub amount_str: &'a str,
    /// Price, as text.
    #[serde(borrow)]
    pub price_str: &'a str,
    /// The taker's side: 0 buy, 1 sell.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Microseconds since the epoch, as a string.
    #[serde(borrow)]
    pub microtimestamp: &'a str,
}

/// The payload of a `bts:error` message.
#[derive(Debug, Deserialize)]
pub struct BtsError {
    /// The venue's text.
    #[serde(default)]
    pub message: Option<String>,
}

/// `GET /api/v2/order_book/{pair}/`.
#[derive(Debug, Deserialize)]
pub struct BtsOrderBook<'a> {
    /// Microseconds since the epoch, as a string.
    #[serde(borrow)]
    pub microtimestamp: &'a str,
    /// Bids, best first.
    #[serde(borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Asks, best first.
    #[serde(borrow)]
    pub asks: Vec<[&'a str; 2]>,
}

/// One element of `GET /api/v2/trading-pairs-info/`.
#[derive(Debug, Deserialize)]
pub struct BtsPairInfo {
    /// `BTC/USD`.
    pub name: String,
    /// `btcusd`.
    pub url_symbol: String,
    /// Decimals of the base quantity.
    pub base_decimals: u32,
    /// Decimals of the price.
    pub counter_decimals: u32,
    /// `10.0 USD`: the minimum order value.
    #[serde(default)]
    pub minimum_order: Option<String>,
    /// `Enabled` or `Disabled`.
    #[serde(default)]
    pub trading: Option<String>,
}

/// `GET /api/v2/ohlc/{pair}/`.
#[derive(Debug, Deserialize)]
pub struct BtsOhlcBody<'a> {
    /// The payload.
    #[serde(borrow)]
    pub data: BtsOhlcData<'a>,
}

/// `data` of an OHLC answer.
#[derive(Debug, Deserialize)]
pub struct BtsOhlcData<'a> {
    /// Oldest first.
    #[serde(borrow)]
    pub ohlc: Vec<BtsCandle<'a>>,
}

/// One candle; every value is a string.
#[derive(Debug, Deserialize)]
pub struct BtsCandle<'a> {
    /// Bucket start, Unix seconds.
    pub timestamp: &'a str,
    /// First price.
    pub open: &'a str,
    /// Highest price.
    pub high: &'a str,
    /// Lowest price.
    pub low: &'a str,
    /// Last price.
    pub close: &'a str,
    /// Base volume.
    pub volume: &'a str,
}

/// Bitstamp's REST error bodies: `{"status":"error","reason":…}` (classic routes) or
/// `{"code":…,"message":…}`.
#[derive(Debug, Deserialize)]
pub struct BtsRestError {
    /// `error`.
    #[serde(default)]
    pub status: Option<String>,
    /// The reason (text or an object of field errors).
    #[serde(default)]
    pub reason: Option<serde_json::Value>,
    /// A code (`400.002`: rate limit).
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    /// The reason, on newer routes.
    #[serde(default)]
    pub message: Option<String>,
}
