//! What the strategies need from the venue before an order exists: a VWAP's volume profile
//! (the same time of day on each of the last `profile_days` days, from klines) and, for
//! the preview, the recent trade rate and the daily candles of the square-root law.

use std::time::Duration;

use engine::route::Venue;
use engine::strategy::volume_profile;
use engine::{OrderRequest, Strategy};
use futures_util::future::join_all;
use market::ConnState;
use model::PairStatus;
use model::{Interval, Kline, Pair, Timestamp};
use rust_decimal::Decimal;

use crate::error::ApiError;
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;
/// Most candles asked per day of a profile.
const MAX_CANDLES: i64 = 1_000;

/// The candle size a profile reads: the largest fixed size not longer than the slice
/// interval (at least a minute, at most a day), coarser when a day's window would need
/// more than 1 000 candles.
pub(crate) fn kline_interval(interval_ms: i64, duration_ms: i64) -> Interval {
    let fixed: Vec<(Interval, i64)> = Interval::ALL
        .iter()
        .filter_map(|i| i.fixed_millis().map(|ms| (*i, ms)))
        .filter(|(_, ms)| *ms <= DAY_MS)
        .collect();
    let mut pick = 0;
    for (k, (_, ms)) in fixed.iter().enumerate() {
        if *ms <= interval_ms.max(60_000) {
            pick = k;
        }
    }
    while pick + 1 < fixed.len() && duration_ms / fixed[pick].1 > MAX_CANDLES {
        pick += 1;
    }
    fixed[pick].0
}

/// Give a VWAP request its volume profile, computed from the venue's klines for the slice
/// times its schedule will have. Other strategies, a `profile_days` out of range (the
/// engine refuses it with its own message) and a profile the venue's candles cannot give
/// (the engine refuses the empty profile: `no_volume_profile`) are left as they are. Fails
/// only when the venue cannot be reached for any day. `now` is the time the schedule is
/// validated at (the clock's now; a what-if's original acceptance).
pub(crate) async fn fill(
    state: &AppState,
    req: &mut OrderRequest,
    pair: &Pair,
    now: Timestamp,
    place: &dyn Fn(String) -> String,
) -> Result<(), ApiError> {
    let Strategy::Vwap { profile_days, .. } = &req.strategy else {
        return Ok(());
    };
    let days = *profile_days;
    if !(1..=engine::MAX_PROFILE_DAYS).contains(&days) {
        return Ok(());
    }
    let engine = &state.trading.engine;
    // VWAP slices are due exactly when a plain TWAP's are: read the times off that plan.
    let mut probe = req.clone();
    probe.strategy = Strategy::default();
    let plan = engine::validate(&probe, pair, now, &engine.config().limits, None).map_err(|r| {
        ApiError::BadRequest {
            code: r.code,
            detail: place(r.detail),
        }
    })?;
    let times: Vec<Timestamp> = (0..plan.slices).map(|i| plan.slice_time(i)).collect();
    let iv = kline_interval(plan.interval_ms, plan.duration_ms);
    let candle_ms = iv.fixed_millis().unwrap_or(60_000);
    let limit = usize::try_from((plan.duration_ms / candle_ms + 3).min(MAX_CANDLES)).unwrap_or(1);
    let asks = (1..=i64::from(days)).map(|d| {
        let from = iv.bucket_start(plan.start.plus_millis(-d * DAY_MS));
        let to = plan
            .start
            .plus_millis(-d * DAY_MS + plan.duration_ms + plan.interval_ms);
        state.hub.klines(
            pair.exchange,
            pair.symbol.as_str(),
            iv,
            Some(from),
            Some(to),
            limit,
        )
    });
    let mut candles: Vec<Vec<Kline>> = Vec::new();
    let mut first_error = None;
    for r in join_all(asks).await {
        match r {
            Ok((_, k)) => candles.push(k),
            Err(e) => {
                first_error.get_or_insert(e);
                candles.push(Vec::new());
            }
        }
    }
    if let (Some(e), true) = (first_error, candles.iter().all(Vec::is_empty)) {
        return Err(ApiError::from(e));
    }
    if let Some((shares, _used)) = volume_profile(&times, plan.interval_ms, &candles) {
        req.strategy = Strategy::Vwap {
            profile_days: days,
            profile: shares.into(),
        };
    }
    Ok(())
}

/// The pair an order trades. For `exchange: "best"`, every venue that is connected and lists
/// the symbol for trading becomes the order's route (with its fee), the first of them its
/// exchange, and the pair is their common grid: the coarsest lot step and minimums, the
/// finest tick. `no_live_venue` when no venue qualifies.
pub(crate) fn pair_for(
    state: &AppState,
    req: &mut OrderRequest,
    symbol: &str,
    place: &dyn Fn(String) -> String,
) -> Result<Pair, ApiError> {
    if req.route.is_none() {
        return state
            .hub
            .resolve(req.exchange, symbol)
            .map_err(ApiError::from);
    }
    let fees = &state.trading.engine.config().fees;
    let connected: Vec<_> = state
        .hub
        .exchanges()
        .into_iter()
        .filter(|s| s.connection == Some(ConnState::Connected))
        .map(|s| s.id)
        .collect();
    let mut pairs: Vec<Pair> = Vec::new();
    for id in connected {
        if let Ok(p) = state.hub.resolve(id, symbol)
            && p.status == PairStatus::Trading
            && pairs.first().is_none_or(|first| first.symbol == p.symbol)
        {
            pairs.push(p);
        }
    }
    let Some(first) = pairs.first().cloned() else {
        return Err(ApiError::bad_request(
            "no_live_venue",
            place(format!(
                "no connected venue lists `{symbol}` for trading: `best` routes only across live venues"
            )),
        ));
    };
    req.exchange = first.exchange;
    req.route = Some(
        pairs
            .iter()
            .map(|p| Venue {
                exchange: p.exchange,
                fee_bps: fees.get(&p.exchange).copied().unwrap_or_default(),
            })
            .collect::<Vec<_>>()
            .into(),
    );
    let max = |f: fn(&Pair) -> Decimal| pairs.iter().map(f).max().unwrap_or_default();
    Ok(Pair {
        qty_step: max(|p| p.qty_step),
        min_qty: max(|p| p.min_qty),
        price_tick: pairs
            .iter()
            .map(|p| p.price_tick)
            .min()
            .unwrap_or(first.price_tick),
        min_notional: pairs.iter().filter_map(|p| p.min_notional).max(),
        ..first
    })
}

/// The market volume a POV slice can expect per interval: the volume of the venue's public
/// trades over the last `max(10 intervals, 5 minutes)` (or since the tape's first trade,
/// when it is younger), scaled to one interval (0 when the tape is empty).
pub(crate) fn recent_volume_per_interval(
    state: &AppState,
    pair: &Pair,
    interval_ms: i64,
    now: Timestamp,
) -> Decimal {
    let lookback = (interval_ms * 10).max(300_000);
    let Ok((_, trades)) = state.hub.trades(
        pair.exchange,
        pair.symbol.as_str(),
        Some(now.plus_millis(-lookback)),
        None,
        1_000_000,
    ) else {
        return Decimal::ZERO;
    };
    let Some(first) = trades.first() else {
        return Decimal::ZERO;
    };
    let span = now
        .millis_since(first.exchange_ts.max(now.plus_millis(-lookback)))
        .max(interval_ms)
        .max(1);
    let total: Decimal = trades.iter().map(|t| t.qty.get()).sum();
    total * Decimal::from(interval_ms) / Decimal::from(span)
}

/// The last month of daily candles (for the square-root law), or nothing when the venue
/// does not answer within a few seconds.
pub(crate) async fn daily_candles(state: &AppState, pair: &Pair) -> Vec<Kline> {
    let ask = state.hub.klines(
        pair.exchange,
        pair.symbol.as_str(),
        Interval::D1,
        None,
        None,
        31,
    );
    match tokio::time::timeout(Duration::from_secs(5), ask).await {
        Ok(Ok((_, k))) => k,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_candles_are_as_fine_as_the_slices_allow() {
        assert_eq!(kline_interval(1_000, 600_000), Interval::M1);
        assert_eq!(kline_interval(300_000, 3_600_000), Interval::M5);
        assert_eq!(kline_interval(3_600_000, 86_400_000), Interval::H1);
        // A 7-day order of 1-second slices: minute candles would be 10 080 a day.
        assert_eq!(kline_interval(1_000, 7 * DAY_MS), Interval::M15);
        assert_eq!(kline_interval(7 * DAY_MS, 7 * DAY_MS), Interval::D1);
    }
}
