//! The lab's bodies: what-if re-runs of finished orders on their recorded market.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::enums::Strategy;
use crate::orders::Order;
use crate::strategies::Jitter;

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn explicit<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /orders/{token_id}/whatif` body: what to change in the order before re-running it on
/// the market recorded during its window. Every field is optional; `{}` re-runs the order as
/// it was (and must reproduce it). Giving `interval_secs` replaces the original's `slices`
/// and the other way round; `duration_secs` replaces `end_time` and the other way round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    /// Seconds between slices.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 2))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// Number of slices.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<u64>,
    /// Total duration in seconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Start of the window (it must be on tape). RFC 3339; without an offset, UTC.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::start_time"
    )]
    pub start_time: Option<DateTime<Utc>>,
    /// End of the window (it must be on tape). RFC 3339; without an offset, UTC.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::end_time"
    )]
    pub end_time: Option<DateTime<Utc>>,
    /// `spread`, `next` or `none`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(spread|next|none)$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<String>,
    /// A new price cap, or `null` for none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^[0-9]{1,15}(\\.[0-9]{1,18})?$", example = "70000"))]
    #[serde(
        default,
        deserialize_with = "explicit",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_price: Option<Option<Decimal>>,
    /// Another algorithm (its parameters below; a VWAP's profile is computed from the
    /// venue's klines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// TWAP: seeded randomization of slice times and sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// VWAP: days of klines the profile averages.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 30))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_days: Option<u32>,
    /// POV: share of the market's volume, 0 < p ≤ 0.5.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "0.1"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participation: Option<Decimal>,
    /// POV: most one slice may ask for.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slice_qty: Option<Decimal>,
    /// Simulated latency, ms.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 5000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
}

impl WhatIfRequest {
    /// True when it changes when slices are due.
    pub fn changes_schedule(&self) -> bool {
        self.interval_secs.is_some()
            || self.slices.is_some()
            || self.duration_secs.is_some()
            || self.start_time.is_some()
            || self.end_time.is_some()
    }

    /// True when it changes the algorithm or any of its parameters.
    pub fn changes_strategy(&self) -> bool {
        self.strategy.is_some()
            || self.jitter.is_some()
            || self.profile_days.is_some()
            || self.participation.is_some()
            || self.max_slice_qty.is_some()
    }
}

/// `POST /orders/{token_id}/whatif` answer: the order re-run alone on the recorded market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatIf {
    /// Always `true`: nothing here happened.
    pub simulated: bool,
    /// The re-run equals the original, slice for slice and fill for fill (what a re-run with
    /// no overrides must give).
    pub reproduces_original: bool,
    /// The changes applied, as sent.
    pub overrides: WhatIfRequest,
    /// The simulated order, with its slices and analytics (as `GET /orders/{token_id}`).
    pub order: Order,
}

/// `POST /backtests` body: an order (the fields of `POST /orders`; `token_id` is not needed)
/// with `start_time` and `end_time` (or `duration_secs`) inside the recorded past, and the
/// variants to run beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestRequest {
    /// The base order.
    #[serde(flatten)]
    pub order: crate::strategies::OrderRequest,
    /// Changes to the base order, each run on the same market beside it (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<WhatIfRequest>,
}

/// The recorded window a backtest ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestWindow {
    /// The base order's start.
    pub start: DateTime<Utc>,
    /// The base order's end.
    pub end: DateTime<Utc>,
}

/// One run of a backtest: the changes it made (`{}` for the base order) and the order it
/// gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestResult {
    /// The changes to the base order.
    pub variant: WhatIfRequest,
    /// The simulated order (its `token_id` is the backtest's id and the run's position).
    pub order: Order,
}

/// A stored backtest: `POST /backtests` answer, `GET /backtests/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backtest {
    /// `bt-…`.
    pub id: String,
    /// When it was run.
    pub created_at: DateTime<Utc>,
    /// The window of the base order.
    pub window: BacktestWindow,
    /// The request, as sent.
    pub request: BacktestRequest,
    /// The base order first, then each variant in the order sent.
    pub results: Vec<BacktestResult>,
}

/// `GET /backtests` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct BacktestsQuery {
    /// At most this many (1–100, default 20).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Skip this many (at most 1 000 000).
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 1000000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}
