//! Kraken's native message shapes (serde), borrowing from the frame. Prices and quantities
//! are kept as raw JSON text ([`RawValue`]) so that no number ever passes through `f64`.

use serde::Deserialize;
use serde_json::value::RawValue;

/// One price level: `{"price": 67000.0, "qty": 0.50000000}` (numbers on the live feed,
/// quoted strings in some documentation examples; both are accepted).
#[derive(Debug, Deserialize)]
pub struct KrakenLevel<'a> {
    /// Price, raw JSON text.
    #[serde(borrow)]
    pub price: &'a RawValue,
    /// Quantity, raw JSON text.
    #[serde(borrow)]
    pub qty: &'a RawValue,
}

/// One element of a `book` message's `data` array.
#[derive(Debug, Deserialize)]
pub struct KrakenBookData<'a> {
    /// WS v2 symbol, `BTC/USD`.
    #[serde(borrow)]
    pub symbol: &'a str,
    /// Bid changes, best first.
    #[serde(default, borrow)]
    pub bids: Vec<KrakenLevel<'a>>,
    /// Ask changes, best first.
    #[serde(default, borrow)]
    pub asks: Vec<KrakenLevel<'a>>,
    /// CRC32 of the top 10 after applying this element.
    #[serde(default)]
    pub checksum: Option<u32>,
    /// RFC 3339 venue time.
    #[serde(default, borrow)]
    pub timestamp: Option<&'a str>,
}

/// A `book` channel message.
#[derive(Debug, Deserialize)]
pub struct KrakenBookMessage<'a> {
    /// `book`.
    #[serde(borrow)]
    pub channel: &'a str,
    /// `snapshot` or `update`.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// One element per symbol.
    #[serde(borrow)]
    pub data: Vec<KrakenBookData<'a>>,
}

/// One element of a `trade` message's `data` array.
#[derive(Debug, Deserialize)]
pub struct KrakenTradeData<'a> {
    /// WS v2 symbol, `BTC/USD`.
    #[serde(borrow)]
    pub symbol: &'a str,
    /// The taker's side, `buy` or `sell`.
    #[serde(borrow)]
    pub side: &'a str,
    /// Price, raw JSON text.
    #[serde(borrow)]
    pub price: &'a RawValue,
    /// Quantity, raw JSON text.
    #[serde(borrow)]
    pub qty: &'a RawValue,
    /// Sequence number, unique per book.
    pub trade_id: u64,
    /// RFC 3339 venue time.
    #[serde(borrow)]
    pub timestamp: &'a str,
}

/// A `trade` channel message (`snapshot`: the last 50 trades; `update`: new ones).
#[derive(Debug, Deserialize)]
pub struct KrakenTradeMessage<'a> {
    /// `snapshot` or `update`.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// The trades, oldest first.
    #[serde(borrow)]
    pub data: Vec<KrakenTradeData<'a>>,
}

/// Any frame, loosely: channel messages and method answers.
#[derive(Debug, Deserialize)]
pub struct KrakenEnvelope<'a> {
    /// Channel of a channel message (`book`, `heartbeat`, `status`…).
    #[serde(default, borrow)]
    pub channel: Option<&'a str>,
    /// `snapshot` / `update` of a channel message.
    #[serde(default, rename = "type", borrow)]
    pub kind: Option<&'a str>,
    /// Channel payload.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
    /// Method of an answer (`subscribe`, `unsubscribe`, `pong`).
    #[serde(default, borrow)]
    pub method: Option<&'a str>,
    /// Whether the request succeeded.
    #[serde(default)]
    pub success: Option<bool>,
    /// The request's parameters, echoed on success.
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    /// Why the request failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The failing symbol (on some failures).
    #[serde(default)]
    pub symbol: Option<String>,
    /// The request id a method answer echoes.
    #[serde(default)]
    pub req_id: Option<u64>,
    /// Legacy / edge errors (`{"Error":"Exceeded msg rate"}`).
    #[serde(default, rename = "Error")]
    pub legacy_error: Option<String>,
}

/// `result` of a subscribe/unsubscribe answer.
#[derive(Debug, Deserialize)]
pub struct KrakenSubResult {
    /// Channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// Symbol.
    #[serde(default)]
    pub symbol: Option<String>,
}

/// One element of a `status` message.
#[derive(Debug, Deserialize)]
pub struct KrakenStatus {
    /// `online`, `maintenance`, `cancel_only`, `post_only`.
    #[serde(default)]
    pub system: Option<String>,
    /// API version.
    #[serde(default)]
    pub version: Option<String>,
}

/// `GET /0/public/AssetPairs` → `result` values.
#[derive(Debug, Deserialize)]
pub struct KrakenAssetPair {
    /// `XBTUSD`.
    #[serde(default)]
    pub altname: Option<String>,
    /// `XBT/USD` (v1 spelling).
    #[serde(default)]
    pub wsname: Option<String>,
    /// `currency` for crypto pairs.
    #[serde(default)]
    pub aclass_base: Option<String>,
    /// Price decimals.
    #[serde(default)]
    pub pair_decimals: Option<u32>,
    /// Quantity decimals.
    #[serde(default)]
    pub lot_decimals: Option<u32>,
    /// Minimum order quantity.
    #[serde(default)]
    pub ordermin: Option<String>,
    /// Minimum order cost.
    #[serde(default)]
    pub costmin: Option<String>,
    /// Price tick.
    #[serde(default)]
    pub tick_size: Option<String>,
    /// `online`, `cancel_only`…
    #[serde(default)]
    pub status: Option<String>,
}

/// Kraken's REST envelope: `{"error":[…],"result":…}`.
#[derive(Debug, Deserialize)]
pub struct KrakenRest<'a> {
    /// Errors; empty on success.
    #[serde(default)]
    pub error: Vec<String>,
    /// The result.
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
}
