//! The bodies of `POST /orders` (every strategy) and `POST /orders/preview`, and the
//! transaction-cost figures of an order (DESIGN §15, §16).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::enums::{EstimateMethod, Strategy};

/// Seeded randomization of a TWAP's slice times and sizes: the same seed gives the same
/// schedule; slices never leave the window, quantities stay on the lot grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Jitter {
    /// Seed of the randomization.
    pub seed: u64,
    /// Each slice time moves by at most half this percentage of the interval, either way
    /// (0–50).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 50))]
    #[serde(default)]
    pub time_pct: u32,
    /// Each slice's size moves by at most this percentage, either way (0–50).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 50))]
    #[serde(default)]
    pub size_pct: u32,
}

/// `POST /orders` body (and `POST /orders/preview`, where `token_id` may be left out): one
/// order of any strategy. The shared fields are those of `POST /orders/twap`; each strategy
/// adds its own, and a field of another strategy is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Client order id, unique per user: 1–64 of `[A-Za-z0-9._:-]`. Required by
    /// `POST /orders`; ignored by the preview.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9._:-]{1,64}$", example = "my-vwap-1")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// `twap` (default), `vwap` or `pov`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Exchange id, or `best`: each slice walks every live venue listing the symbol, best
    /// price net of fees first.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^(sim|binance|kraken|coinbase|okx|bybit|bitstamp|replay|best)$",
            example = "sim"
        )
    )]
    pub exchange: String,
    /// Symbol in any spelling the exchange understands (canonical `BASE-QUOTE` for `best`).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, example = "BTC-USDT")
    )]
    pub symbol: String,
    /// `buy` or `sell`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^(buy|sell)$", example = "buy"))]
    pub side: String,
    /// Base quantity (> 0).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9]{1,15}(\\.[0-9]{1,18})?$", example = "0.5"))]
    pub quantity: Decimal,
    /// Price cap: a buy never pays more, a sell never receives less. `null` = none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^[0-9]{1,15}(\\.[0-9]{1,18})?$", example = "70000"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// Number of slices (instead of `interval_secs`).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<u64>,
    /// Start of the window (default now; future = scheduled). RFC 3339; without an offset, UTC.
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
    /// TWAP only: seeded randomization of slice times and sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// VWAP only: days of klines the volume profile averages (1–30, default 7).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 30))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_days: Option<u32>,
    /// POV only (required): share of the market's volume, 0 < p ≤ 0.5.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "0.1"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participation: Option<Decimal>,
    /// POV only: most one slice may ask for.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "0.5"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slice_qty: Option<Decimal>,
    /// Simulated latency (0–5 000 ms, below the interval): a slice decided at t fills
    /// against the book as it is at t + latency.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 5000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
}

/// The implementation-shortfall decomposition against the decision price (the mid at
/// acceptance), positive = cost: `total` is exactly the sum of `delay_cost`, `spread_cost`,
/// `impact_cost`, `timing_cost`, `opportunity_cost` and `fees`; `execution_cost` =
/// `spread_cost` + `impact_cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImplementationShortfall {
    /// The sum of the parts.
    pub total: Decimal,
    /// The mid's move from the decision to the first slice, on the filled quantity.
    pub delay_cost: Decimal,
    /// `spread_cost` + `impact_cost`.
    pub execution_cost: Decimal,
    /// The touch against the mid at each slice (half the spread), on what it filled.
    pub spread_cost: Decimal,
    /// Depth walked beyond the touch.
    pub impact_cost: Decimal,
    /// The mid's drift from the first slice to each later one, on what each filled.
    pub timing_cost: Decimal,
    /// The unfilled quantity marked at the latest mid against the decision price.
    pub opportunity_cost: Decimal,
    /// Fees paid.
    pub fees: Decimal,
}

/// One slice of a preview: when it would run, what it would ask for, and what the current
/// book would give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewSlice {
    /// 0-based index.
    pub index: u32,
    /// When it would be decided.
    pub scheduled_at: DateTime<Utc>,
    /// What it would ask for (for POV: the recent trade rate × participation).
    pub target_quantity: Decimal,
    /// The VWAP of walking the current book for it, within the limit.
    pub expected_vwap: Option<Decimal>,
    /// Cost of that VWAP against the current mid, bps (positive = cost).
    pub expected_cost_bps: Option<Decimal>,
    /// Fee on that fill.
    pub expected_fee: Decimal,
    /// Share of the target the book holds within the limit.
    pub fillable_ratio: Decimal,
}

/// The preview's totals over every slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewTotals {
    /// Σ targets.
    pub quantity: Decimal,
    /// VWAP over every slice's expected fill.
    pub expected_vwap: Option<Decimal>,
    /// Its cost against the current mid, bps.
    pub expected_cost_bps: Option<Decimal>,
    /// Σ expected fees.
    pub expected_fees: Decimal,
    /// Σ fillable ÷ Σ targets.
    pub fillable_ratio: Decimal,
}

/// One pre-trade estimate, labelled with how it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimate {
    /// `book_walk` or `square_root_law`.
    pub method: EstimateMethod,
    /// Expected cost, bps of the order's value at the mid (positive = cost); `null` when
    /// the inputs were not available.
    pub cost_bps: Option<Decimal>,
    /// Expected cost in quote currency.
    pub cost: Option<Decimal>,
    /// Square-root law: the daily volatility of log returns, from daily klines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_daily: Option<Decimal>,
    /// Square-root law: the mean daily volume, from daily klines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_volume: Option<Decimal>,
    /// What the figure means and what it assumes.
    pub note: String,
}

/// `POST /orders/preview` answer: the schedule the order would run (the same code path as
/// execution), what the current book would give each slice, and model estimates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    /// The algorithm.
    pub strategy: Strategy,
    /// Exchange id (or `best`).
    pub exchange: String,
    /// Canonical symbol.
    pub symbol: String,
    /// The mid the estimates are measured against.
    pub mid: Option<Decimal>,
    /// VWAP only: the volume profile (one share per slice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_profile: Option<Vec<Decimal>>,
    /// The slices.
    pub schedule: Vec<PreviewSlice>,
    /// Over every slice.
    pub totals: PreviewTotals,
    /// The estimates, each labelled with its method.
    pub estimates: Vec<Estimate>,
}

/// Markouts: the mid 1 s, 5 s, 30 s and 60 s after a fill against its price, bps, signed
/// so that positive = the fill looks good afterwards (adverse selection shows negative);
/// `null` until taken, or when no live mid was there. An order's are weighted by quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Markouts {
    /// 1 s after.
    #[serde(rename = "1s")]
    pub s1: Option<Decimal>,
    /// 5 s after.
    #[serde(rename = "5s")]
    pub s5: Option<Decimal>,
    /// 30 s after.
    #[serde(rename = "30s")]
    pub s30: Option<Decimal>,
    /// 60 s after.
    #[serde(rename = "60s")]
    pub s60: Option<Decimal>,
}

/// What a routed order (`exchange: "best"`) took from one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VenueFills {
    /// Quantity filled there.
    pub filled_quantity: Decimal,
    /// Σ price·qty there.
    pub notional: Decimal,
    /// VWAP there.
    pub avg_price: Option<Decimal>,
    /// Fees there (that venue's `fee_bps`).
    pub fees: Decimal,
}
