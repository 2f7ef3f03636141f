//! Order bodies decoded into the engine's request: `POST /orders` (every strategy) and the
//! TWAP body of `POST /orders/twap` with every spelling of the original design.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use engine::{CatchUp, Jitter, OrderRequest, Strategy, Timing, TokenId};
use model::{ExchangeId, Side, Timestamp};

use crate::error::ApiError;

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

pub(crate) fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_nanos(t.timestamp_nanos_opt().unwrap_or(i64::MAX))
}

/// Decode a TWAP body (already parsed as `wire::TwapRequest`) and the original design's
/// query parameters into the engine's request, with exactly the errors `POST /orders/twap`
/// answers (`place` prefixes a batch item's position). Pure: no store, no hub; `now` is the
/// start when only `end_time` is given. The pair rules (lot, tick, minimums) are checked
/// afterwards by `engine::validate`.
pub fn decode_twap(
    req: &wire::TwapRequest,
    query: &wire::TwapQuery,
    now: DateTime<Utc>,
    place: &dyn Fn(String) -> String,
) -> Result<OrderRequest, ApiError> {
    decode_order(&twap_as_order(req, query, place)?, true, now, place)
}

/// A TWAP body and the original design's query parameters as the `POST /orders` body they
/// mean.
pub(crate) fn twap_as_order(
    req: &wire::TwapRequest,
    query: &wire::TwapQuery,
    place: &dyn Fn(String) -> String,
) -> Result<wire::OrderRequest, ApiError> {
    let side = req.side.clone().ok_or_else(|| {
        bad(
            "invalid_side",
            place("side (or order_type) is required".to_owned()),
        )
    })?;
    let body = wire::OrderRequest {
        token_id: Some(req.token_id.clone()),
        strategy: Some(wire::Strategy::Twap),
        exchange: req.exchange.clone(),
        symbol: req.symbol.clone(),
        side,
        quantity: req.quantity,
        limit_price: req.limit_price,
        duration_secs: req.duration_secs.or(query.execution_time),
        interval_secs: req.interval_secs.or(query.interval),
        slices: req.slices,
        start_time: req.start_time,
        end_time: req.end_time,
        catch_up: req.catch_up.clone(),
        jitter: None,
        profile_days: None,
        participation: None,
        max_slice_qty: None,
        latency_ms: None,
    };
    Ok(body)
}

/// Decode a `POST /orders` body (or a preview's, `need_token` false: a missing `token_id`
/// becomes `preview`) into the engine's request. A VWAP's profile is left empty: the caller
/// computes it from the venue's klines once the schedule is known.
pub fn decode_order(
    req: &wire::OrderRequest,
    need_token: bool,
    now: DateTime<Utc>,
    place: &dyn Fn(String) -> String,
) -> Result<OrderRequest, ApiError> {
    let token_id = match (&req.token_id, need_token) {
        (Some(t), _) => {
            TokenId::from_str(t).map_err(|e| bad("invalid_token_id", place(e.to_string())))?
        }
        (None, true) => {
            return Err(bad(
                "invalid_token_id",
                place("token_id is required".to_owned()),
            ));
        }
        (None, false) => TokenId::from_str("preview")
            .map_err(|e| bad("invalid_token_id", place(e.to_string())))?,
    };
    // `best`: the venues are resolved by the caller (`profile::pair_for`), which replaces
    // this placeholder with the first of them.
    let best = req.exchange == "best";
    let exchange = if best {
        ExchangeId::Sim
    } else {
        ExchangeId::from_str(&req.exchange).map_err(|_| {
            ApiError::not_found(
                "unknown_exchange",
                place(format!("unknown exchange `{}` (or `best`)", req.exchange)),
            )
        })?
    };
    let side = match req.side.to_ascii_lowercase().as_str() {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => {
            return Err(bad(
                "invalid_side",
                place(format!("side must be `buy` or `sell`, not `{other}`")),
            ));
        }
    };
    let catch_up = match req.catch_up.as_deref() {
        None => CatchUp::Spread,
        Some(c) => CatchUp::from_str(c).map_err(|_| {
            bad(
                "invalid_catch_up",
                place(format!("catch_up must be spread, next or none, not `{c}`")),
            )
        })?,
    };
    let strategy = strategy(req, place)?;
    let start = req.start_time;
    let duration = match (req.duration_secs, req.end_time) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_schedule",
                place("give duration_secs or end_time, not both".to_owned()),
            ));
        }
        (Some(d), None) => d,
        (None, Some(end)) => {
            let begin = start.unwrap_or(now);
            let secs = (end - begin).num_seconds();
            u64::try_from(secs).ok().filter(|s| *s > 0).ok_or_else(|| {
                bad(
                    "invalid_schedule",
                    place("end_time must be after start_time".to_owned()),
                )
            })?
        }
        (None, None) => {
            return Err(bad(
                "invalid_schedule",
                place("duration_secs (or end_time) is required".to_owned()),
            ));
        }
    };
    let timing = match (req.interval_secs, req.slices) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_schedule",
                place("give interval_secs or slices, not both".to_owned()),
            ));
        }
        (Some(i), None) => Timing::DurationInterval {
            duration_secs: duration,
            interval_secs: i,
        },
        (None, Some(n)) => Timing::DurationSlices {
            duration_secs: duration,
            slices: n,
        },
        (None, None) => {
            return Err(bad(
                "invalid_schedule",
                place("interval_secs (or slices) is required".to_owned()),
            ));
        }
    };
    Ok(OrderRequest {
        token_id,
        exchange,
        side,
        quantity: req.quantity,
        limit_price: req.limit_price,
        timing,
        start_time: start.map(ts),
        catch_up,
        strategy,
        latency_ms: req.latency_ms.unwrap_or(0),
        route: best.then(|| Vec::new().into()),
    })
}

/// The strategy and its own fields; a field of another strategy is refused by name.
fn strategy(
    req: &wire::OrderRequest,
    place: &dyn Fn(String) -> String,
) -> Result<Strategy, ApiError> {
    let kind = req.strategy.unwrap_or(wire::Strategy::Twap);
    let foreign = |field: &str, owner: &str| {
        Err(bad(
            "invalid_strategy_parameter",
            place(format!(
                "{field} applies to {owner} orders only, not to {} orders",
                kind.as_str()
            )),
        ))
    };
    if req.jitter.is_some() && kind != wire::Strategy::Twap {
        return foreign("jitter", "twap");
    }
    if req.profile_days.is_some() && kind != wire::Strategy::Vwap {
        return foreign("profile_days", "vwap");
    }
    if kind != wire::Strategy::Pov {
        if req.participation.is_some() {
            return foreign("participation", "pov");
        }
        if req.max_slice_qty.is_some() {
            return foreign("max_slice_qty", "pov");
        }
    }
    match kind {
        wire::Strategy::Twap => Ok(Strategy::Twap {
            jitter: req.jitter.map(|j| Jitter {
                seed: j.seed,
                time_pct: j.time_pct,
                size_pct: j.size_pct,
            }),
        }),
        wire::Strategy::Vwap => Ok(Strategy::Vwap {
            profile_days: req.profile_days.unwrap_or(DEFAULT_PROFILE_DAYS),
            profile: Vec::new().into(),
        }),
        wire::Strategy::Pov => Ok(Strategy::Pov {
            participation: req.participation.ok_or_else(|| {
                bad(
                    "invalid_participation",
                    place("pov orders need participation (0 < p ≤ 0.5)".to_owned()),
                )
            })?,
            max_slice_qty: req.max_slice_qty,
        }),
        wire::Strategy::Unknown => Err(bad(
            "unknown_strategy",
            place("strategy must be twap, vwap or pov".to_owned()),
        )),
    }
}

/// Days of klines a VWAP profile averages when the request does not say.
pub(crate) const DEFAULT_PROFILE_DAYS: u32 = 7;
