//! Bybit's native message shapes (serde), borrowing from the frame where possible.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A topic push: `{"topic":…,"type":…,"ts":…,"data":…}` (key order varies by category).
#[derive(Debug, Deserialize)]
pub struct BybitPush<'a> {
    /// `orderbook.200.BTCUSDT`, `publicTrade.BTCUSDT`.
    #[serde(borrow)]
    pub topic: &'a str,
    /// `snapshot` or `delta`.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// System time, ms.
    #[serde(default)]
    pub ts: Option<i64>,
    /// The payload.
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// The payload of an `orderbook.*` push.
#[derive(Debug, Deserialize)]
pub struct BybitBookData<'a> {
    /// Symbol, `BTCUSDT`.
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    /// Bid changes `[price, qty]` (a snapshot: every level, best first).
    #[serde(rename = "b", borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Ask changes `[price, qty]`.
    #[serde(rename = "a", borrow)]
    pub asks: Vec<[&'a str; 2]>,
    /// Update id, +1 per message of the topic; 1 after a service restart.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// Cross sequence (comparable across depths; not contiguous).
    #[serde(default)]
    pub seq: Option<u64>,
}

/// One element of a `publicTrade.*` push.
#[derive(Debug, Deserialize)]
pub struct BybitTrade<'a> {
    /// Trade time, ms.
    #[serde(rename = "T")]
    pub time: i64,
    /// Symbol.
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    /// The taker's side, `Buy` or `Sell`.
    #[serde(rename = "S", borrow)]
    pub side: &'a str,
    /// Quantity.
    #[serde(rename = "v", borrow)]
    pub qty: &'a str,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub price: &'a str,
    /// Trade id.
    #[serde(rename = "i", borrow)]
    pub id: &'a str,
}

/// An answer to an operation (`subscribe`, `unsubscribe`, `ping`).
#[derive(Debug, Deserialize)]
pub struct BybitOpAnswer {
    /// `subscribe`, `unsubscribe`, `ping`.
    #[serde(default)]
    pub op: Option<String>,
    /// Whether the operation succeeded.
    #[serde(default)]
    pub success: Option<bool>,
    /// `subscribe`, `pong`, or the reason of a failure.
    #[serde(default)]
    pub ret_msg: Option<String>,
    /// Our request id, echoed.
    #[serde(default)]
    pub req_id: Option<String>,
}

/// Bybit's REST envelope: `{"retCode":0,"retMsg":"OK","result":…}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BybitRest<'a> {
    /// 0 on success.
    pub ret_code: i64,
    /// The reason of a failure.
    #[serde(default)]
    pub ret_msg: String,
    /// The result.
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
}

/// `instruments-info` → `result`.
#[derive(Debug, Deserialize)]
pub struct BybitInstruments {
    /// The instruments.
    #[serde(default)]
    pub list: Vec<BybitInstrument>,
}

/// One spot instrument.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BybitInstrument {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `BTC`.
    pub base_coin: String,
    /// `USDT`.
    pub quote_coin: String,
    /// `Trading`, `PreLaunch`, `Delivering`, `Closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Quantity rules.
    pub lot_size_filter: BybitLotSize,
    /// Price rules.
    pub price_filter: BybitPriceFilter,
}

/// `lotSizeFilter`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BybitLotSize {
    /// The quantity step, despite its name.
    pub base_precision: String,
    /// Minimum quantity (deprecated by the venue, still listed).
    #[serde(default)]
    pub min_order_qty: Option<String>,
    /// Minimum order value in quote.
    #[serde(default)]
    pub min_order_amt: Option<String>,
}

/// `priceFilter`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BybitPriceFilter {
    /// Price tick.
    pub tick_size: String,
}

/// `kline` → `result`.
#[derive(Debug, Deserialize)]
pub struct BybitKlines<'a> {
    /// Rows, newest first: `[start ms, open, high, low, close, volume, turnover]`.
    #[serde(borrow)]
    pub list: Vec<Vec<&'a str>>,
}
