//! The TWAP body as the API accepts it (every spelling of the original design) decoded into
//! the engine's request.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use engine::{CatchUp, Timing, TokenId, TwapRequest};
use model::{ExchangeId, Side, Timestamp};

use crate::error::ApiError;

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_nanos(t.timestamp_nanos_opt().unwrap_or(i64::MAX))
}

/// Decode a TWAP body (already parsed as `wire::TwapRequest`) and the original design's
/// query parameters into the engine's request — exchange id, side, catch-up policy and
/// timing — with exactly the errors `POST /orders/twap` answers (`place` prefixes a batch
/// item's position). Pure: no store, no hub; `now` is the start when only `end_time` is
/// given. The pair rules (lot, tick, minimums) are checked afterwards by `engine::validate`.
pub fn decode_twap(
    req: &wire::TwapRequest,
    query: &wire::TwapQuery,
    now: DateTime<Utc>,
    place: &dyn Fn(String) -> String,
) -> Result<TwapRequest, ApiError> {
    let token_id = TokenId::from_str(&req.token_id)
        .map_err(|e| bad("invalid_token_id", place(e.to_string())))?;
    let exchange = ExchangeId::from_str(&req.exchange).map_err(|_| {
        ApiError::not_found(
            "unknown_exchange",
            place(format!("unknown exchange `{}`", req.exchange)),
        )
    })?;
    let side = match req.side.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        Some(other) => {
            return Err(bad(
                "invalid_side",
                place(format!("side must be `buy` or `sell`, not `{other}`")),
            ));
        }
        None => {
            return Err(bad(
                "invalid_side",
                place("side (or order_type) is required".to_owned()),
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
    let start = req.start_time;
    let duration = match (req.duration_secs.or(query.execution_time), req.end_time) {
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
    let timing = match (req.interval_secs.or(query.interval), req.slices) {
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
    Ok(TwapRequest {
        token_id,
        exchange,
        side,
        quantity: req.quantity,
        limit_price: req.limit_price,
        timing,
        start_time: start.map(ts),
        catch_up,
    })
}
