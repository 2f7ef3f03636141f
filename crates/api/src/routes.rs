//! Routes and handlers.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use model::{BookState, ExchangeId, Interval, Timestamp};
use tracing::instrument;

use crate::convert;
use crate::error::ApiError;
use crate::openapi::{BadGateway, BadRequest, NotFound, RateLimited, Unavailable};
use crate::orders;
use crate::state::AppState;

/// How long a first `/orderbook` request waits for a lazily subscribed book to go live.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(3);

/// Register every route on `cfg`, with problem+json answers for bad queries, paths and
/// methods.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::bad_request("invalid_query", format!("invalid query string: {e}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::not_found("not_found", format!("invalid path: {e}")).into()
            }));
        get(cfg, "/", root);
        get(cfg, "/health", health);
        get(cfg, "/metrics", crate::metrics::metrics);
        get(cfg, "/exchanges", exchanges);
        get(cfg, "/exchanges/{exchange}/pairs", pairs);
        get(cfg, "/klines/{exchange}/{symbol}", klines);
        get(cfg, "/orderbook/{exchange}/{symbol}", orderbook);
        cfg.app_data(web::PayloadConfig::new(crate::MAX_BODY_BYTES))
            .app_data(
                web::FormConfig::default()
                    .limit(4 * 1024)
                    .error_handler(|e, _| match e {
                        actix_web::error::UrlencodedError::Overflow { .. } => {
                            ApiError::PayloadTooLarge {
                                detail: "login forms are limited to 4 KiB".to_owned(),
                            }
                            .into()
                        }
                        e => ApiError::bad_request("invalid_body", format!("invalid form: {e}"))
                            .into(),
                    }),
            )
            .app_data(
                web::JsonConfig::default()
                    .limit(crate::MAX_BODY_BYTES)
                    .error_handler(|e, _| match e {
                        actix_web::error::JsonPayloadError::Overflow { .. }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                            ApiError::body_too_large().into()
                        }
                        e => {
                            ApiError::bad_request("invalid_body", format!("invalid JSON body: {e}"))
                                .into()
                        }
                    }),
            );
        cfg.service(
            web::resource("/token")
                .route(web::post().to(orders::token))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        cfg.service(
            web::resource("/orders/twap")
                .route(web::post().to(orders::submit))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        get(cfg, "/orders", orders::list);
        get(cfg, "/ws", crate::ws::ws);
        crate::openapi::configure(cfg);
        crate::ui::configure(cfg);
        cfg.service(
            web::resource("/orders/{token_id}")
                .route(web::get().to(orders::get))
                .route(web::delete().to(orders::cancel))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                        allow: "GET, DELETE",
                    })
                })),
        );
    }
}

/// A GET-only resource: other methods get 405 with `Allow: GET`.
fn get<F, Args>(cfg: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    cfg.service(
        web::resource(path)
            .route(web::get().to(handler))
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET" })
            })),
    );
}

/// The default service: 404 problem for any unknown path.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

fn exchange_id(text: &str) -> Result<ExchangeId, ApiError> {
    text.parse::<ExchangeId>().map_err(|_| {
        ApiError::not_found(
            "unknown_exchange",
            format!("unknown exchange `{text}`; GET /exchanges lists them"),
        )
    })
}

#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "What this server is", body = wire::ServiceInfo)))]
async fn root() -> web::Json<wire::ServiceInfo> {
    web::Json(wire::ServiceInfo {
        name: "papertwap".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        docs: "/docs".to_owned(),
        redoc: "/redoc".to_owned(),
        openapi: "/openapi.json".to_owned(),
        ui: "/ui".to_owned(),
    })
}

#[utoipa::path(get, path = "/health", tag = "service", responses(
    (status = 200, description = "Serving; per-exchange connection state (degraded exchanges do not fail it)", body = wire::Health),
    (status = 503, description = "The store is unusable", body = wire::Health)))]
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.store.ping().await;
    let exchanges = state.hub.exchanges();
    let degraded = exchanges
        .iter()
        .any(|e| e.enabled && e.connection != Some(market::ConnState::Connected));
    let body = wire::Health {
        status: match (store_ok, degraded) {
            (false, _) => "unavailable",
            (true, true) => "degraded",
            (true, false) => "ok",
        }
        .to_owned(),
        store: if store_ok { "ok" } else { "unavailable" }.to_owned(),
        uptime_secs: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        exchanges: exchanges.iter().map(convert::exchange_health).collect(),
    };
    // Degraded exchanges do not fail the health check; an unusable store does.
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(body)
}

#[utoipa::path(get, path = "/exchanges", tag = "market", responses((status = 200, description = "Supported exchanges with status", body = Vec<wire::Exchange>), RateLimited))]
async fn exchanges(state: web::Data<AppState>) -> web::Json<Vec<wire::Exchange>> {
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
async fn pairs(
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

/// A time given as RFC 3339 or Unix milliseconds.
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
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .map(Timestamp::from_nanos)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_time",
                format!("{name} `{s}` is neither an RFC 3339 time between 1970 and 2262 nor Unix milliseconds"),
            )
        })
}

#[instrument(skip(state, q))]
#[utoipa::path(get, path = "/klines/{exchange}/{symbol}", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id"), ("symbol" = String, Path, description = "Any spelling: BTC-USDT, BTCUSDT, XBT/USD (URL-encoded)…"), wire::KlinesQuery),
    responses((status = 200, description = "Candles, oldest first; the in-progress one has closed = false", body = Vec<wire::Kline>), BadRequest, NotFound, RateLimited, BadGateway, Unavailable))]
async fn klines(
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
#[utoipa::path(get, path = "/orderbook/{exchange}/{symbol}", tag = "market",
    params(("exchange" = String, Path, description = "Exchange id"), ("symbol" = String, Path, description = "Any spelling"), wire::OrderBookQuery),
    responses((status = 200, description = "The current book with its health", body = wire::OrderBook), BadRequest, NotFound, RateLimited, Unavailable))]
async fn orderbook(
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
