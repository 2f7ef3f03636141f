//! Binance's native message shapes (serde), borrowing from the frame where possible.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A diff-depth event (`depthUpdate`).
#[derive(Debug, Deserialize)]
pub struct BinanceDepthUpdate<'a> {
    /// Event type, `depthUpdate`.
    #[serde(rename = "e", borrow)]
    pub event: &'a str,
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_time: i64,
    /// Symbol, upper case (`BTCUSDT`).
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    /// First update id in the event.
    #[serde(rename = "U")]
    pub first_update_id: u64,
    /// Final update id in the event.
    #[serde(rename = "u")]
    pub final_update_id: u64,
    /// Bid changes `[price, qty]`.
    #[serde(rename = "b", borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Ask changes `[price, qty]`.
    #[serde(rename = "a", borrow)]
    pub asks: Vec<[&'a str; 2]>,
}

/// A combined-stream frame carrying a depth event.
#[derive(Debug, Deserialize)]
pub struct BinanceCombinedDepth<'a> {
    /// Stream name, e.g. `btcusdt@depth@100ms`.
    #[serde(borrow)]
    pub stream: &'a str,
    /// The event.
    #[serde(borrow)]
    pub data: BinanceDepthUpdate<'a>,
}

/// A trade event (`<symbol>@trade`).
#[derive(Debug, Deserialize)]
pub struct BinanceTrade<'a> {
    /// Event type, `trade`.
    #[serde(rename = "e", borrow)]
    pub event: &'a str,
    /// Symbol, upper case.
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    /// Trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub price: &'a str,
    /// Quantity.
    #[serde(rename = "q", borrow)]
    pub qty: &'a str,
    /// Trade time, ms.
    #[serde(rename = "T")]
    pub trade_time: i64,
    /// True when the buyer was the maker (so the seller was the taker).
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// A combined-stream frame carrying a trade event.
#[derive(Debug, Deserialize)]
pub struct BinanceCombinedTrade<'a> {
    /// Stream name, e.g. `btcusdt@trade`.
    #[serde(borrow)]
    pub stream: &'a str,
    /// The event.
    #[serde(borrow)]
    pub data: BinanceTrade<'a>,
}

/// Any frame, loosely: used when the frame is not a combined depth event.
#[derive(Debug, Deserialize)]
pub struct BinanceEnvelope<'a> {
    /// Combined-stream name.
    #[serde(default, borrow)]
    pub stream: Option<&'a str>,
    /// Combined-stream payload.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
    /// Event type of a raw-stream event.
    #[serde(default, rename = "e", borrow)]
    pub event: Option<&'a str>,
    /// Request id of a control answer.
    #[serde(default, borrow)]
    pub id: Option<&'a RawValue>,
    /// The result of a query-type control request (`null`, thus absent, otherwise).
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    /// Error code of a failed control request.
    #[serde(default)]
    pub code: Option<i64>,
    /// Error message of a failed control request.
    #[serde(default)]
    pub msg: Option<String>,
}

/// The event type inside a payload.
#[derive(Debug, Deserialize)]
pub struct BinanceEventType<'a> {
    /// Event type.
    #[serde(default, rename = "e", borrow)]
    pub event: Option<&'a str>,
}

/// `GET /api/v3/depth`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinanceDepthSnapshot<'a> {
    /// The last update id included in the snapshot.
    pub last_update_id: u64,
    /// Bids, best first.
    #[serde(borrow)]
    pub bids: Vec<[&'a str; 2]>,
    /// Asks, best first.
    #[serde(borrow)]
    pub asks: Vec<[&'a str; 2]>,
}

/// `GET /api/v3/exchangeInfo` (the parts we use).
#[derive(Debug, Deserialize)]
pub struct BinanceExchangeInfo {
    /// Every symbol.
    pub symbols: Vec<BinanceSymbolInfo>,
}

/// One symbol of `exchangeInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinanceSymbolInfo {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `TRADING`, `HALT`, `BREAK`, `END_OF_DAY`, `CANCEL_ONLY`.
    pub status: String,
    /// Base asset.
    pub base_asset: String,
    /// Quote asset.
    pub quote_asset: String,
    /// Filters (price, lot size, notional…).
    #[serde(default)]
    pub filters: Vec<BinanceFilter>,
}

/// A symbol filter; only the fields we read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinanceFilter {
    /// Filter type.
    pub filter_type: String,
    /// PRICE_FILTER.
    #[serde(default)]
    pub tick_size: Option<String>,
    /// LOT_SIZE.
    #[serde(default)]
    pub step_size: Option<String>,
    /// LOT_SIZE.
    #[serde(default)]
    pub min_qty: Option<String>,
    /// NOTIONAL / MIN_NOTIONAL.
    #[serde(default)]
    pub min_notional: Option<String>,
}
