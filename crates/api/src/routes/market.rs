//! Market data: exchanges, pairs, klines, public trades, books (one venue's, and consolidated
//! across venues).

use actix_web::web;
use std::str::FromStr;

use model::{BookState, Interval, Timestamp};
use tracing::instrument;

use super::{FIRST_SYNC_WAIT, exchange_id};
use crate::convert;
use crate::error::ApiError;
use crate::openapi::{BadGateway, BadRequest, NotFound, RateLimited, Unavailable};
use crate::state::AppState;

#[utoipa::path(get, path = "/exchanges", tag = "market", responses((status = 200, description = "Supported exchanges with status", body = Vec<wire::Exchange>), RateLimited))]
pub(crate) async fn exchanges(state: web::Data<AppState>) -> web::Json<Vec<wire::Exchange>> {
    web::Json(
        state
            .hub
            .exchanges()
            .iter()
            .map(convert::exchange)
            .collect(),
    )
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/exchanges/{exchange}/pairs", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id: sim, binance, kraken"), wire::PairsQuery),
    responses((status = 200, description = "Normalized pairs", body = Vec<wire::Pair>), BadRequest, NotFound, RateLimited, Unavailable))]
pub(crate) async fn pairs(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<wire::PairsQuery>,
) -> Result<web::Json<Vec<wire::Pair>>, ApiError> {
    let id = exchange_id(&path)?;
    let idx = state.hub.pairs_within(id, FIRST_SYNC_WAIT).await?;
    let quote = q.quote.as_deref().map(model::canonical_asset);
    let out = idx
        .pairs()
        .iter()
        .filter(|p| quote.as_deref().is_none_or(|qt| p.symbol.quote() == qt))
        .map(convert::pair)
        .collect();
    Ok(web::Json(out))
}

/// A time given as RFC 3339, ISO 8601 without an offset (UTC), or Unix milliseconds.
pub fn parse_time(name: &str, s: &str) -> Result<Timestamp, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        // Nanosecond timestamps end in 2262; refuse what cannot be represented.
        if !(0..=9_000_000_000_000).contains(&ms) {
            return Err(ApiError::bad_request(
                "invalid_time",
                format!("{name} {ms} is not a Unix time in milliseconds between 1970 and 2255"),
            ));
        }
        return Ok(Timestamp::from_millis(ms));
    }
    wire::time::parse_utc(s)
        .and_then(|t| t.timestamp_nanos_opt())
        .map(Timestamp::from_nanos)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_time",
                format!(
                    "{name} `{s}` is neither {} between 1970 and 2262 nor Unix milliseconds",
                    wire::time::TIME_FORMS
                ),
            )
        })
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/klines/{exchange}/{symbol}", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id"), ("symbol" = String, Path, description = "Any spelling: BTC-USDT, BTCUSDT, XBT/USD (URL-encoded)…"), wire::KlinesQuery),
    responses((status = 200, description = "Candles, oldest first; the in-progress one has closed = false", body = Vec<wire::Kline>), BadRequest, NotFound, RateLimited, BadGateway, Unavailable))]
pub(crate) async fn klines(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<wire::KlinesQuery>,
) -> Result<web::Json<Vec<wire::Kline>>, ApiError> {
    let (ex, sym) = path.into_inner();
    let id = exchange_id(&ex)?;
    let interval_text = q.interval.as_deref().unwrap_or("1m");
    let interval: Interval = interval_text.parse().map_err(|e: model::UnknownInterval| {
        ApiError::bad_request("invalid_interval", e.to_string())
    })?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {limit} is out of range 1-1000"),
        ));
    }
    let start = q
        .start
        .as_deref()
        .map(|s| parse_time("start", s))
        .transpose()?;
    let end = q.end.as_deref().map(|s| parse_time("end", s)).transpose()?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::bad_request(
            "invalid_time_range",
            "start is after end",
        ));
    }
    state.hub.pairs_within(id, FIRST_SYNC_WAIT).await?;
    let (_, ks) = state
        .hub
        .klines(id, &sym, interval, start, end, limit as usize)
        .await?;
    Ok(web::Json(ks.iter().map(convert::kline).collect()))
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/trades/{exchange}/{symbol}", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id"), ("symbol" = String, Path, description = "Any spelling"), wire::TradesQuery),
    responses((status = 200, description = "The newest `limit` public trades within the window (venue times), oldest first. A book nobody followed is subscribed by this request and has no trades yet.", body = Vec<wire::Trade>), BadRequest, NotFound, RateLimited, Unavailable))]
pub(crate) async fn trades(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<wire::TradesQuery>,
) -> Result<web::Json<Vec<wire::Trade>>, ApiError> {
    let (ex, sym) = path.into_inner();
    let id = exchange_id(&ex)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {limit} is out of range 1-1000"),
        ));
    }
    let start = q
        .start
        .as_deref()
        .map(|s| parse_time("start", s))
        .transpose()?;
    let end = q.end.as_deref().map(|s| parse_time("end", s)).transpose()?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::bad_request(
            "invalid_time_range",
            "start is after end",
        ));
    }
    state.hub.pairs_within(id, FIRST_SYNC_WAIT).await?;
    let (_, trades) = state.hub.trades(id, &sym, start, end, limit as usize)?;
    Ok(web::Json(trades.iter().map(convert::trade).collect()))
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/orderbook/{exchange}/{symbol}", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id"), ("symbol" = String, Path, description = "Any spelling"), wire::OrderBookQuery),
    responses((status = 200, description = "The current book with its health", body = wire::OrderBook), BadRequest, NotFound, RateLimited, Unavailable))]
pub(crate) async fn orderbook(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<wire::OrderBookQuery>,
) -> Result<web::Json<wire::OrderBook>, ApiError> {
    let (ex, sym) = path.into_inner();
    let id = exchange_id(&ex)?;
    let depth = q.depth.unwrap_or(10);
    if !(1..=100).contains(&depth) {
        return Err(ApiError::bad_request(
            "invalid_depth",
            format!("depth {depth} is out of range 1-100"),
        ));
    }
    state.hub.pairs_within(id, FIRST_SYNC_WAIT).await?;
    let snap = state
        .hub
        .snapshot_live_within(id, &sym, FIRST_SYNC_WAIT)
        .await?;
    if snap.health.state != BookState::Live {
        // Never serve a book we cannot vouch for.
        return Err(market::MarketError::BookNotLive {
            exchange: id,
            symbol: snap.symbol().to_string(),
            state: snap.health.state,
        }
        .into());
    }
    Ok(web::Json(convert::order_book(
        &snap,
        depth as usize,
        Timestamp::now(),
    )))
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/orderbook/consolidated/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "Canonical symbol (BTC-USDT); also BTCUSDT, BTC/USDT"), wire::OrderBookQuery),
    responses((status = 200, description = "One book merged across every enabled exchange listing the symbol: each level `[price, total, {exchange: qty}]`; books that are not live contribute no levels and show their health", body = wire::ConsolidatedBook), BadRequest, NotFound, RateLimited))]
pub(crate) async fn consolidated(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<wire::OrderBookQuery>,
) -> Result<web::Json<wire::ConsolidatedBook>, ApiError> {
    let depth = q.depth.unwrap_or(10);
    if !(1..=100).contains(&depth) {
        return Err(ApiError::bad_request(
            "invalid_depth",
            format!("depth {depth} is out of range 1-100"),
        ));
    }
    let symbol = model::Symbol::from_str(&path)
        .map_err(|e| ApiError::not_found("unknown_symbol", format!("`{}`: {e}", path.as_str())))?;
    let mut w = market::ConsolidatedWatch::new_within(&state.hub, symbol, FIRST_SYNC_WAIT).await?;
    // A first request subscribes the books lazily: give them a moment to sync.
    w.settle(FIRST_SYNC_WAIT).await;
    Ok(web::Json(convert::consolidated(
        &w.current(depth as usize),
        Timestamp::now(),
    )))
}
