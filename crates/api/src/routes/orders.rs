//! The order routes (`/orders/twap`, `/orders`, `/orders/{token_id}`): decode, hand to the
//! engine, encode. The engine builds, stores and answers for orders; nothing here reads a
//! store.

use std::collections::HashSet;
use std::str::FromStr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use engine::{
    CancelError, EngineError, OrderQuery, StatusFilter, Submission, SubmitOutcome, TokenId,
};
use model::ExchangeId;
use serde_json::Value;

use super::auth::AuthUser;
pub use super::order_body::{decode_order, decode_twap};
pub use super::whatif::with_changes;
use crate::convert;
use crate::error::ApiError;
use crate::openapi::{BadRequest, NotFound, RateLimited, Unauthorized};
use crate::state::AppState;

/// Most orders in one batch.
pub const MAX_BATCH: usize = 100;

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

fn not_found(token_id: &str) -> ApiError {
    // Another user's order answers exactly like a missing one.
    ApiError::not_found(
        "order_not_found",
        format!("no order with token_id `{token_id}`"),
    )
}

/// An engine refusal as the API's answer; `place` prefixes a batch item's position.
pub(crate) fn refused(e: EngineError, place: &dyn Fn(String) -> String) -> ApiError {
    match e {
        EngineError::Rejected(r) => ApiError::BadRequest {
            code: r.code,
            detail: place(r.detail),
        },
        EngineError::Conflict(t) => ApiError::conflict(
            "token_id_conflict",
            place(format!(
                "token_id `{t}` is already used by a different order"
            )),
        ),
        EngineError::Stopped => ApiError::Unavailable {
            code: "shutting_down",
            detail: "the server is stopping; nothing was changed".to_owned(),
            retry_after: Some(std::time::Duration::from_secs(5)),
        },
        EngineError::Cancel(CancelError::AlreadyFinal(s)) => ApiError::conflict(
            "order_not_cancellable",
            format!("the order is already {s}; it cannot be cancelled"),
        ),
        EngineError::Cancel(CancelError::NotFound) => {
            ApiError::not_found("order_not_found", "no such order".to_owned())
        }
        EngineError::Store(e) => ApiError::Internal(e.to_string()),
    }
}

/// Which body an order route reads.
#[derive(Clone, Copy)]
pub(crate) enum BodyKind<'a> {
    /// `POST /orders/twap`: the TWAP body with every spelling of the original design.
    Twap(&'a wire::TwapQuery),
    /// `POST /orders`: any strategy.
    Order,
}

/// One body item as the engine's submission (decoded, pair resolved, a VWAP's profile
/// computed, with the request fingerprint compared on a repeated `token_id`).
async fn submission(
    state: &AppState,
    user: &AuthUser,
    raw: &Value,
    kind: BodyKind<'_>,
    place: &dyn Fn(String) -> String,
) -> Result<Submission, ApiError> {
    let invalid = |e: serde_json::Error| bad("invalid_body", place(format!("invalid order: {e}")));
    let mut fp = serde_json::Map::new();
    fp.insert("body".into(), raw.clone());
    let (mut request, symbol) = match kind {
        BodyKind::Twap(query) => {
            let req: wire::TwapRequest = serde_json::from_value(raw.clone()).map_err(invalid)?;
            if query.execution_time.is_some() || query.interval.is_some() {
                fp.insert(
                    "query".into(),
                    serde_json::to_value(query).unwrap_or(Value::Null),
                );
            }
            (decode_twap(&req, query, Utc::now(), place)?, req.symbol)
        }
        BodyKind::Order => {
            let req: wire::OrderRequest = serde_json::from_value(raw.clone()).map_err(invalid)?;
            fp.insert("route".into(), Value::from("orders"));
            (decode_order(&req, true, Utc::now(), place)?, req.symbol)
        }
    };
    let pair = super::profile::pair_for(state, &mut request, &symbol, place)?;
    // A VWAP needs its profile from the venue's klines — unless it repeats a known order,
    // which the engine answers as it is (the profile it was accepted with).
    if matches!(request.strategy, engine::Strategy::Vwap { .. })
        && state
            .trading
            .engine
            .order(user.id, &request.token_id)
            .await
            .map_err(|e| refused(e, place))?
            .is_none()
    {
        super::profile::fill(
            state,
            &mut request,
            &pair,
            state.trading.engine.clock().now(),
            place,
        )
        .await?;
    }
    Ok(Submission {
        user_id: user.id,
        request,
        pair,
        fingerprint: Value::Object(fp).to_string(),
    })
}

/// `POST /orders/twap`: one TWAP order (object) or a batch (array).
#[utoipa::path(post, path = "/orders/twap", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    params(wire::TwapQuery),
    request_body(content = wire::TwapRequest, description = "One order, or an array of up to 100 orders (a batch: all are validated before any is created). Accepted alternatives: `order_type` for `side`, `price` for `limit_price`, `interval` for `interval_secs`, `start_time` + `end_time` for `duration_secs`, and the query parameters `execution_time` / `interval`."),
    responses(
        (status = 201, description = "Created (a batch answers an array of orders)", body = wire::Order, headers(("Location" = String, description = "/orders/{token_id}"))),
        (status = 200, description = "The same token_id and request were submitted before: the original order", body = wire::Order),
        BadRequest, Unauthorized, NotFound,
        (status = 409, description = "The token_id is already used by a different order", body = wire::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = wire::Problem, content_type = "application/problem+json"),
        RateLimited))]
pub(crate) async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<wire::TwapQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    submit_any(&state, &user, &req, BodyKind::Twap(&query), &body).await
}

/// `POST /orders`: one order of any strategy (object) or a batch (array).
#[utoipa::path(post, path = "/orders", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    request_body(content = wire::OrderRequest, description = "One order (`strategy`: `twap`, `vwap` or `pov`, with that strategy's fields), or an array of up to 100 orders (a batch: all are validated before any is created). A VWAP's volume profile is computed from the venue's klines at submission and returned with the order."),
    responses(
        (status = 201, description = "Created (a batch answers an array of orders)", body = wire::Order, headers(("Location" = String, description = "/orders/{token_id}"))),
        (status = 200, description = "The same token_id and request were submitted before: the original order", body = wire::Order),
        BadRequest, Unauthorized, NotFound,
        (status = 409, description = "The token_id is already used by a different order", body = wire::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = wire::Problem, content_type = "application/problem+json"),
        RateLimited,
        (status = 503, description = "A VWAP's klines could not be read from the venue; nothing was stored", body = wire::Problem, content_type = "application/problem+json")))]
pub(crate) async fn submit_order(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    submit_any(&state, &user, &req, BodyKind::Order, &body).await
}

/// Refuse anything but a JSON body.
pub(crate) fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType {
            detail: "send the order as application/json".to_owned(),
        });
    }
    serde_json::from_slice(body)
        .map_err(|e| bad("invalid_body", format!("the body is not valid JSON: {e}")))
}

async fn submit_any(
    state: &AppState,
    user: &AuthUser,
    req: &HttpRequest,
    kind: BodyKind<'_>,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let value = json_body(req, body)?;
    let engine = &state.trading.engine;
    match value {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return Err(bad(
                    "invalid_batch",
                    format!("a batch holds 1–{MAX_BATCH} orders"),
                ));
            }
            let mut seen = HashSet::new();
            let mut subs = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let place = |d: String| format!("order #{i}: {d}");
                let s = submission(state, user, item, kind, &place).await?;
                if !seen.insert(s.request.token_id.clone()) {
                    return Err(bad(
                        "duplicate_token_id",
                        place(format!(
                            "token_id `{}` appears twice in the batch",
                            s.request.token_id
                        )),
                    ));
                }
                subs.push(s);
            }
            let out = engine.submit_batch(subs).await.map_err(|e| {
                let i = e.index;
                refused(e.error, &|d| format!("order #{i}: {d}"))
            })?;
            let body: Vec<wire::Order> = out
                .iter()
                .map(|o| convert::order(&o.detail().order, None))
                .collect();
            Ok(HttpResponse::Created().json(body))
        }
        Value::Object(_) => {
            let s = submission(state, user, &value, kind, &|d| d).await?;
            let outcome = engine.submit(s).await.map_err(|e| refused(e, &|d| d))?;
            let mut res = match outcome {
                SubmitOutcome::Created(_) => HttpResponse::Created(),
                SubmitOutcome::Replayed(_) => HttpResponse::Ok(),
            };
            let d = outcome.detail();
            Ok(res
                .insert_header((header::LOCATION, format!("/orders/{}", d.order.token_id())))
                .json(convert::order_detail(d)))
        }
        _ => Err(bad(
            "invalid_body",
            "the body must be an order object or an array of orders",
        )),
    }
}

/// The listing a `GET /orders` query asks for.
fn order_query(state: &AppState, q: &wire::OrdersQuery) -> Result<OrderQuery, ApiError> {
    let status = match q.status.as_deref() {
        None => StatusFilter::All,
        Some(s) => StatusFilter::from_str(s).map_err(|_| {
            bad(
                "invalid_query",
                format!("status must be open, closed or all, not `{s}`"),
            )
        })?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad("invalid_query", "limit must be between 1 and 500"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(bad("invalid_query", "offset must be at most 1000000"));
    }
    let token_id = q
        .token_id
        .as_deref()
        .map(TokenId::from_str)
        .transpose()
        .map_err(|e| bad("invalid_query", e.to_string()))?;
    if q.symbol
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 64)
    {
        return Err(bad("invalid_query", "symbol must be 1–64 characters"));
    }
    // `best`: the orders routed across venues.
    let exchange = q
        .exchange
        .as_deref()
        .map(|e| match e {
            "best" => Ok(None),
            _ => ExchangeId::from_str(e).map(Some).map_err(|_| {
                bad(
                    "invalid_query",
                    format!("unknown exchange `{e}` (or `best`)"),
                )
            }),
        })
        .transpose()?;
    let symbol = match (&q.symbol, exchange.flatten()) {
        (None, _) => None,
        (Some(s), Some(ex)) => Some(
            state
                .hub
                .resolve(ex, s)
                .map(|p| p.symbol.to_string())
                .unwrap_or_else(|_| s.clone()),
        ),
        (Some(s), None) => Some(
            model::Symbol::from_str(s)
                .map(|s| s.to_string())
                .unwrap_or_else(|_| s.clone()),
        ),
    };
    Ok(OrderQuery {
        status,
        token_id,
        exchange,
        symbol,
        limit,
        offset,
    })
}

/// `GET /orders`.
#[utoipa::path(get, path = "/orders", tag = "orders", security(("bearer" = []), ("oauth2" = [])), params(wire::OrdersQuery),
    responses((status = 200, description = "Your orders, newest first, without slices", body = Vec<wire::Order>, headers(("x-total-count" = String, description = "Orders matching the filter"))), BadRequest, Unauthorized, RateLimited))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<wire::OrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = order_query(&state, &q)?;
    let (orders, total) = state
        .trading
        .engine
        .orders(user.id, &query)
        .await
        .map_err(|e| refused(e, &|d| d))?;
    let body: Vec<wire::Order> = orders.iter().map(|o| convert::order(o, None)).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("x-total-count", total.to_string()))
        .json(body))
}

/// `GET /orders/{token_id}`.
#[utoipa::path(get, path = "/orders/{token_id}", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    params(("token_id" = String, Path, description = "Your client order id")),
    responses((status = 200, description = "The order with progress, analytics and slices", body = wire::Order), Unauthorized, NotFound, RateLimited))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = TokenId::from_str(&path).map_err(|_| not_found(&path))?;
    match state
        .trading
        .engine
        .order(user.id, &token)
        .await
        .map_err(|e| refused(e, &|d| d))?
    {
        Some(d) => Ok(HttpResponse::Ok()
            .content_type(header::ContentType::json())
            .body(state.order_json.render(&d))),
        None => Err(not_found(&path)),
    }
}

/// `DELETE /orders/{token_id}`: cancel; repeating it answers 200; a filled or expired order
/// answers 409 with its state.
#[utoipa::path(delete, path = "/orders/{token_id}", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    params(("token_id" = String, Path, description = "Your client order id")),
    responses((status = 200, description = "Cancelled (also when it already was)", body = wire::Order), Unauthorized, NotFound,
        (status = 409, description = "Already filled or expired", body = wire::Problem, content_type = "application/problem+json"), RateLimited))]
pub(crate) async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = TokenId::from_str(&path).map_err(|_| not_found(&path))?;
    match state.trading.engine.cancel(user.id, &token).await {
        Ok(d) => {
            tracing::info!(token_id = %token, user = user.id, "order cancelled");
            Ok(HttpResponse::Ok().json(convert::order_detail(&d)))
        }
        Err(EngineError::Cancel(CancelError::NotFound)) => Err(not_found(&path)),
        Err(e) => Err(refused(e, &|d| d)),
    }
}
