use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::enums::{CatchUp, OrderStatus, ShortReason, Side, SkipReason, Strategy};
use crate::strategies::{ImplementationShortfall, Jitter, Markouts, VenueFills};

/// `POST /token` as JSON (the form-encoded OAuth2 password grant carries the same fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// OAuth2 `grant_type` (`password`), accepted and ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// OAuth2 `scope`, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OAuth2 `client_id`, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OAuth2 `client_secret`, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// `POST /token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    /// The JWT.
    pub access_token: String,
    /// `bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `POST /orders/twap` body: one TWAP order. Accepted alternatives (the original design's
/// spellings): `order_type` for `side`, `price` for `limit_price`, `interval` for
/// `interval_secs`, and `start_time` + `end_time` instead of `duration_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TwapRequest {
    /// Client order id, unique per user: 1–64 of `[A-Za-z0-9._:-]`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9._:-]{1,64}$", example = "my-order-1")
    )]
    pub token_id: String,
    /// Exchange id (`sim`, `binance`, `kraken`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^(sim|binance|kraken|coinbase|okx|bybit|bitstamp|replay)$",
            example = "sim"
        )
    )]
    pub exchange: String,
    /// Symbol in any spelling the exchange understands.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, example = "BTC-USDT")
    )]
    pub symbol: String,
    /// `buy` or `sell`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, pattern = "^(buy|sell)$", example = "buy"))]
    #[serde(alias = "order_type", default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    /// Base quantity (> 0).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9]{1,15}(\\.[0-9]{1,18})?$", example = "0.5"))]
    pub quantity: Decimal,
    /// Price cap: a buy never pays more, a sell never receives less. `null` = none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^[0-9]{1,15}(\\.[0-9]{1,18})?$", example = "70000"))]
    #[serde(alias = "price", default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Decimal>,
    /// Total duration in seconds (or give `end_time`).
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 604800, example = 600)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Seconds between slices (or give `slices`).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 60))]
    #[serde(alias = "interval", default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// Number of slices (instead of `interval_secs`).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<u64>,
    /// First slice time (default now; future = scheduled). RFC 3339; without an offset, UTC.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::start_time"
    )]
    pub start_time: Option<DateTime<Utc>>,
    /// End of the window (instead of `duration_secs`). RFC 3339; without an offset, UTC.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::end_time"
    )]
    pub end_time: Option<DateTime<Utc>>,
    /// `spread` (default), `next` or `none`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(spread|next|none)$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<String>,
}

/// `POST /orders/twap` query parameters of the original design: `execution_time` (seconds,
/// for `duration_secs`) and `interval` (seconds, for `interval_secs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TwapQuery {
    /// Duration in seconds.
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    #[serde(default)]
    pub execution_time: Option<u64>,
    /// Seconds between slices.
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    #[serde(default)]
    pub interval: Option<u64>,
}

/// Execution analytics (definitions in docs/ANALYTICS.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Analytics {
    /// Mid when the order started working.
    pub arrival_mid: Option<Decimal>,
    /// Slippage of the average price against the arrival mid, basis points, positive = cost.
    pub slippage_vs_arrival_bps: Option<Decimal>,
    /// Time-average of the mid over the order's life, sampled at each slice.
    pub market_twap: Option<Decimal>,
    /// Slippage of the average price against the market TWAP, basis points, positive = cost.
    pub slippage_vs_market_twap_bps: Option<Decimal>,
    /// Σ side·(fill price − mid)·qty, quote currency.
    pub spread_cost: Decimal,
    /// Skipped slices by reason.
    pub skipped_by_reason: BTreeMap<String, u32>,
    /// VWAP of the market's public trades over the order's slices' windows.
    #[serde(default)]
    pub market_vwap: Option<Decimal>,
    /// Slippage of the average price against the market VWAP, bps, positive = cost.
    #[serde(default)]
    pub slippage_vs_market_vwap_bps: Option<Decimal>,
    /// Filled ÷ the market's volume over the slices' windows.
    #[serde(default)]
    pub participation_rate: Option<Decimal>,
    /// The implementation shortfall against the decision price, quote currency.
    #[serde(default)]
    pub implementation_shortfall: Option<ImplementationShortfall>,
    /// The same in basis points of the order's value at the decision price.
    #[serde(default)]
    pub implementation_shortfall_bps: Option<ImplementationShortfall>,
    /// Markouts of the order's fills, weighted by quantity.
    #[serde(default)]
    pub markouts_bps: Markouts,
    /// A routed order (`exchange: "best"`): what it took from each venue.
    #[serde(default)]
    pub by_venue: Option<BTreeMap<String, VenueFills>>,
}

/// One slice of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Slice {
    /// 0-based index.
    pub index: u32,
    /// When it was due.
    pub scheduled_at: DateTime<Utc>,
    /// When it ran or was recorded.
    pub executed_at: DateTime<Utc>,
    /// What it asked for.
    pub target_quantity: Decimal,
    /// What it got.
    pub filled_quantity: Decimal,
    /// VWAP of its fills.
    pub avg_price: Option<Decimal>,
    /// Fee charged.
    pub fee: Decimal,
    /// `[price, qty]` taken, best first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>, example = json!([["67002.5", "0.1"], ["67003.7", "0.05"]])))]
    pub fills: Vec<(Decimal, Decimal)>,
    /// Best bid then.
    pub best_bid: Option<Decimal>,
    /// Best ask then.
    pub best_ask: Option<Decimal>,
    /// Mid then.
    pub mid: Option<Decimal>,
    /// Venue sequence number of the book used.
    pub book_seq: Option<u64>,
    /// Age of the book used, ms.
    pub book_age_ms: Option<i64>,
    /// Why it was not attempted: `stale_book`, `no_book`, `crossed_book`, `server_down`,
    /// `cancelled`.
    pub skipped: Option<SkipReason>,
    /// Why it filled short: `limit_price`, `depth`.
    pub short_reason: Option<ShortReason>,
    /// The market's public-trade volume in the slice's window (since the previous slice);
    /// `null` when the venue's trades were not available.
    #[serde(default)]
    pub market_volume: Option<Decimal>,
    /// The slice's markouts (all `null` for a slice that filled nothing).
    #[serde(default)]
    pub markouts_bps: Markouts,
    /// A routed order's slice: the venue of each fill (parallel to `fills`).
    #[serde(default)]
    pub fill_venues: Option<Vec<String>>,
}

/// A TWAP order with its progress and analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Client order id.
    pub token_id: String,
    /// Exchange id, or `best` for an order routed across venues.
    pub exchange: String,
    /// Canonical symbol.
    pub symbol: String,
    /// `buy` / `sell`.
    pub side: Side,
    /// Total quantity.
    pub quantity: Decimal,
    /// Price cap.
    pub limit_price: Option<Decimal>,
    /// Catch-up policy.
    pub catch_up: CatchUp,
    /// `twap`, `vwap` or `pov` (orders from before strategies existed are `twap`).
    #[serde(default = "twap")]
    pub strategy: Strategy,
    /// TWAP: the seeded jitter, if any.
    #[serde(default)]
    pub jitter: Option<Jitter>,
    /// VWAP: days of klines the profile averages.
    #[serde(default)]
    pub profile_days: Option<u32>,
    /// POV: share of the market's volume.
    #[serde(default)]
    pub participation: Option<Decimal>,
    /// POV: most one slice may ask for.
    #[serde(default)]
    pub max_slice_qty: Option<Decimal>,
    /// Simulated latency, ms (each slice fills this long after it is decided).
    #[serde(default)]
    pub latency_ms: u32,
    /// A routed order (`exchange` is `best`): the venues it walks, in route order.
    #[serde(default)]
    pub venues: Option<Vec<String>>,
    /// `pending`, `working`, `filled`, `expired`, `cancelled`.
    pub status: OrderStatus,
    /// Acceptance time.
    pub created_at: DateTime<Utc>,
    /// First slice time.
    pub start_time: DateTime<Utc>,
    /// End of the window.
    pub end_time: DateTime<Utc>,
    /// When it reached its final state.
    pub closed_at: Option<DateTime<Utc>>,
    /// Window length, seconds.
    pub duration_secs: u64,
    /// Seconds between slices (whole seconds; see `interval_ms`).
    pub interval_secs: u64,
    /// Milliseconds between slices.
    pub interval_ms: u64,
    /// Slices in the schedule.
    pub slices_total: u32,
    /// Slices attempted.
    pub slices_done: u32,
    /// Slices skipped.
    pub slices_skipped: u32,
    /// Quantity filled.
    pub filled_quantity: Decimal,
    /// filled / quantity.
    pub fill_ratio: Decimal,
    /// VWAP of all fills.
    pub avg_price: Option<Decimal>,
    /// Σ price·qty.
    pub notional: Decimal,
    /// Σ fees.
    pub fees: Decimal,
    /// Execution analytics.
    pub analytics: Analytics,
    /// VWAP: each slice's share of the order (only where `slices` are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_profile: Option<Vec<Decimal>>,
    /// The slices (only on `GET /orders/{token_id}` and `POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<Slice>>,
}

fn twap() -> Strategy {
    Strategy::Twap
}

/// `GET /orders` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// `open`, `closed` or `all` (default).
    #[cfg_attr(feature = "openapi", param(pattern = "^(open|closed|all)$"))]
    #[serde(default)]
    pub status: Option<String>,
    /// Exact client order id.
    #[cfg_attr(feature = "openapi", param(pattern = "^[A-Za-z0-9._:-]{1,64}$"))]
    #[serde(default)]
    pub token_id: Option<String>,
    /// Exchange id, or `best` for the orders routed across venues.
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^(sim|binance|kraken|coinbase|okx|bybit|bitstamp|replay|best)$")
    )]
    #[serde(default)]
    pub exchange: Option<String>,
    /// Symbol (any spelling).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 64))]
    #[serde(default)]
    pub symbol: Option<String>,
    /// Page size, 1–500 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    #[serde(default)]
    pub limit: Option<u32>,
    /// Orders to skip (at most 1 000 000).
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 1000000))]
    #[serde(default)]
    pub offset: Option<u32>,
}
