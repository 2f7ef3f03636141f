//! OKX's native message shapes (serde), borrowing from the frame where possible.

use serde::Deserialize;
use serde_json::value::RawValue;

/// `arg` of a push or an event.
#[derive(Debug, Deserialize)]
pub struct OkxArg<'a> {
    /// `books`, `trades`…
    #[serde(borrow)]
    pub channel: &'a str,
    /// `BTC-USDT`.
    #[serde(default, rename = "instId", borrow)]
    pub inst_id: Option<&'a str>,
}

/// A channel push: `{"arg":…,"action":…,"data":[…]}`.
#[derive(Debug, Deserialize)]
pub struct OkxPush<'a> {
    /// The channel and instrument.
    #[serde(borrow)]
    pub arg: OkxArg<'a>,
    /// `snapshot` or `update` (books); absent on other channels.
    #[serde(default, borrow)]
    pub action: Option<&'a str>,
    /// The payload.
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// One element of a `books` push.
#[derive(Debug, Deserialize)]
pub struct OkxBookData<'a> {
    /// Asks `[price, size, "0", orders]`, best first.
    #[serde(borrow)]
    pub asks: Vec<Vec<&'a str>>,
    /// Bids, best first.
    #[serde(borrow)]
    pub bids: Vec<Vec<&'a str>>,
    /// Venue time, ms as a string.
    #[serde(default, borrow)]
    pub ts: Option<&'a str>,
    /// Signed CRC32 of the top 25 levels; 0 = not provided.
    #[serde(default)]
    pub checksum: Option<i64>,
    /// The previous message's `seqId` (-1 on a snapshot).
    #[serde(default, rename = "prevSeqId")]
    pub prev_seq_id: Option<i64>,
    /// This message's sequence id.
    #[serde(default, rename = "seqId")]
    pub seq_id: Option<i64>,
}

/// One element of a `trades` push.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OkxTrade<'a> {
    /// `BTC-USDT`.
    #[serde(borrow)]
    pub inst_id: &'a str,
    /// Trade id.
    #[serde(borrow)]
    pub trade_id: &'a str,
    /// Price.
    #[serde(borrow)]
    pub px: &'a str,
    /// Quantity.
    #[serde(borrow)]
    pub sz: &'a str,
    /// The taker's side, `buy` or `sell`.
    #[serde(borrow)]
    pub side: &'a str,
    /// Trade time, ms as a string.
    #[serde(borrow)]
    pub ts: &'a str,
}

/// An event: `subscribe`, `unsubscribe`, `error`, `notice`.
#[derive(Debug, Deserialize)]
pub struct OkxEvent<'a> {
    /// The event.
    #[serde(borrow)]
    pub event: &'a str,
    /// Our request id, echoed.
    #[serde(default)]
    pub id: Option<String>,
    /// What it concerns.
    #[serde(default, borrow)]
    pub arg: Option<OkxArg<'a>>,
    /// Error or notice code.
    #[serde(default)]
    pub code: Option<String>,
    /// Error or notice text.
    #[serde(default)]
    pub msg: Option<String>,
}

/// OKX's REST envelope: `{"code":"0","msg":"","data":…}`.
#[derive(Debug, Deserialize)]
pub struct OkxRest<'a> {
    /// `"0"` on success.
    pub code: String,
    /// The reason of a failure.
    #[serde(default)]
    pub msg: String,
    /// The payload.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

/// One instrument of `/api/v5/public/instruments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OkxInstrument {
    /// `BTC-USDT`.
    pub inst_id: String,
    /// `BTC`.
    #[serde(default)]
    pub base_ccy: String,
    /// `USDT`.
    #[serde(default)]
    pub quote_ccy: String,
    /// Price tick.
    pub tick_sz: String,
    /// Quantity step.
    pub lot_sz: String,
    /// Minimum quantity.
    #[serde(default)]
    pub min_sz: Option<String>,
    /// `live`, `suspend`, `preopen`, `test`.
    #[serde(default)]
    pub state: Option<String>,
}
