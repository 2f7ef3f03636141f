//! `POST /token`, and the order routes (`/orders/twap`, `/orders`, `/orders/{token_id}`).

use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::http::header;
use actix_web::{Either, FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use engine::{
    CancelError, CatchUp, EngineError, Order, OrderStatus, SubmitOutcome, Timing, Totals,
    TwapRequest,
};
use model::{ExchangeId, Pair, Side, Timestamp};
use serde_json::Value;
use store::OrderFilter;
use tracing::{info, warn};

use crate::error::ApiError;
use crate::openapi::{BadRequest, NotFound, RateLimited, Unauthorized};
use crate::state::AppState;
use crate::trading::{order_from_row, wire_order};

/// Most orders in one batch.
pub const MAX_BATCH: usize = 100;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// `basic` or `premium`.
    pub tier: String,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Internal("application state missing".to_owned()));
    };
    let claims = match state.trading.jwt.verify_request(req) {
        Some(res) => res.map_err(|e| ApiError::unauthorized("invalid_token", e.to_string()))?,
        None if req.headers().contains_key(header::AUTHORIZATION) => {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`",
            ));
        }
        None => {
            return Err(ApiError::unauthorized(
                "missing_token",
                "this endpoint needs `Authorization: Bearer <token>`; get one from POST /token",
            ));
        }
    };
    Ok(AuthUser {
        id: claims.uid,
        name: claims.sub,
        tier: claims.tier,
    })
}

/// `POST /token`: OAuth2 password form or JSON.
#[utoipa::path(post, path = "/token", tag = "auth",
    request_body(content((wire::TokenRequest = "application/x-www-form-urlencoded"), (wire::TokenRequest = "application/json")), description = "OAuth2 password grant (form) or the same fields as JSON"),
    responses((status = 200, description = "A bearer token", body = wire::Token), BadRequest, (status = 401, description = "Unknown user or wrong password", body = wire::Problem, content_type = "application/problem+json"), RateLimited))]
pub async fn token(
    state: web::Data<AppState>,
    body: Either<web::Form<wire::TokenRequest>, web::Json<wire::TokenRequest>>,
) -> Result<HttpResponse, ApiError> {
    let req = match body {
        Either::Left(f) => f.into_inner(),
        Either::Right(j) => j.into_inner(),
    };
    if let Err(wait) = state.limits.login_attempt(&req.username) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many login attempts for this user; retry in {} s",
                wait.as_secs().max(1)
            ),
            retry_after: wait,
        });
    }
    let t = &state.trading;
    let user = state
        .store
        .user_by_name(&req.username)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let ok = t
        .passwords
        .verify(
            &req.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await;
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    let access_token = t
        .jwt
        .issue(&user.username, user.id, &user.tier, Utc::now().timestamp());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(wire::Token {
            access_token,
            token_type: "bearer".to_owned(),
            expires_in: t.jwt.ttl_secs(),
        }))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// A decoded submission: new and validated, or a repeat of an existing `token_id`.
enum Prepared {
    /// Validated, ready for the engine, with the request fingerprint.
    New(Box<Order>, String),
    /// The user already has this `token_id`: the order, whether the request is the same.
    Existing(Box<Order>, bool),
}

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
        Some(c) => CatchUp::parse(c).ok_or_else(|| {
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
        token_id: req.token_id.clone(),
        exchange,
        side,
        quantity: req.quantity,
        limit_price: req.limit_price,
        timing,
        start_time: start.map(ts),
        catch_up,
    })
}

async fn prepare(
    state: &AppState,
    user: &AuthUser,
    raw: &Value,
    query: &wire::TwapQuery,
    at: Option<usize>,
) -> Result<Prepared, ApiError> {
    let place = |d: String| match at {
        Some(i) => format!("order #{i}: {d}"),
        None => d,
    };
    let req: wire::TwapRequest = serde_json::from_value(raw.clone())
        .map_err(|e| bad("invalid_body", place(format!("invalid order: {e}"))))?;
    let mut fp = serde_json::Map::new();
    fp.insert("body".into(), raw.clone());
    if query.execution_time.is_some() || query.interval.is_some() {
        fp.insert(
            "query".into(),
            serde_json::to_value(query).unwrap_or(Value::Null),
        );
    }
    let fingerprint = Value::Object(fp).to_string();
    let existing = state
        .store
        .order_by_token(user.id, &req.token_id)
        .await
        .map_err(internal)?
        .map(|(row, req)| order_from_row(&row).map(|o| (o, req)))
        .transpose()
        .map_err(internal)?;
    if let Some((o, original)) = existing {
        return Ok(Prepared::Existing(Box::new(o), original == fingerprint));
    }
    let request = decode_twap(&req, query, Utc::now(), &place)?;
    let exchange = request.exchange;
    let (side, catch_up) = (request.side, request.catch_up);
    let pair: Pair = state
        .hub
        .resolve(exchange, &req.symbol)
        .map_err(ApiError::from)?;
    let mid = state
        .hub
        .snapshot(exchange, pair.symbol.as_str())
        .ok()
        .filter(|s| s.health.is_tradeable())
        .and_then(|s| s.book.mid())
        .map(|m| m.get());
    let now = state.trading.engine.clock().now();
    let plan = engine::validate(&request, &pair, now, &state.trading.limits, mid).map_err(|r| {
        ApiError::BadRequest {
            code: r.code,
            detail: place(r.detail),
        }
    })?;
    let fee_bps = state
        .trading
        .fees
        .get(&exchange)
        .copied()
        .unwrap_or_default();
    Ok(Prepared::New(
        Box::new(Order {
            id: 0,
            user_id: user.id,
            token_id: req.token_id,
            exchange,
            symbol: pair.symbol.clone(),
            side,
            limit_price: req.limit_price,
            catch_up,
            plan,
            fee_bps,
            created_at: now,
            status: OrderStatus::Pending,
            closed_at: None,
            next_index: 0,
            totals: Totals::default(),
        }),
        fingerprint,
    ))
}

/// The stored order with its slices, read consistently.
async fn with_slices(
    state: &AppState,
    user: &AuthUser,
    token_id: &str,
) -> Result<(Order, wire::Order), ApiError> {
    match state
        .store
        .order_with_slices(user.id, token_id)
        .await
        .map_err(internal)?
    {
        Some((row, slices)) => {
            let o = order_from_row(&row).map_err(internal)?;
            let w = wire_order(&o, Some(&slices)).map_err(internal)?;
            Ok((o, w))
        }
        // Another user's order answers exactly like a missing one.
        None => Err(ApiError::not_found(
            "order_not_found",
            format!("no order with token_id `{token_id}`"),
        )),
    }
}

fn location(token_id: &str) -> String {
    format!("/orders/{token_id}")
}

/// `POST /orders/twap`: one order (object) or a batch (array).
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
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<wire::TwapQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
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
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| bad("invalid_body", format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return Err(bad(
                    "invalid_batch",
                    format!("a batch holds 1–{MAX_BATCH} orders"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut prepared = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = prepare(&state, &user, item, &query, Some(i)).await?;
                let tid = item
                    .get("token_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if !seen.insert(tid.clone()) {
                    return Err(bad(
                        "duplicate_token_id",
                        format!("order #{i}: token_id `{tid}` appears twice in the batch"),
                    ));
                }
                if let Prepared::Existing(o, false) = &p {
                    return Err(ApiError::conflict(
                        "token_id_conflict",
                        format!(
                            "order #{i}: token_id `{}` is already used by a different order",
                            o.token_id
                        ),
                    ));
                }
                prepared.push(p);
            }
            let mut out = Vec::with_capacity(prepared.len());
            for p in prepared {
                let o = match p {
                    Prepared::Existing(o, _) => *o,
                    Prepared::New(o, fingerprint) => run_submit(&state, *o, fingerprint).await?.0,
                };
                out.push(wire_order(&o, None).map_err(internal)?);
            }
            Ok(HttpResponse::Created().json(out))
        }
        Value::Object(_) => {
            let p = prepare(&state, &user, &value, &query, None).await?;
            let (o, created) = match p {
                Prepared::Existing(o, true) => (*o, false),
                Prepared::Existing(o, false) => {
                    return Err(ApiError::conflict(
                        "token_id_conflict",
                        format!(
                            "token_id `{}` is already used by a different order",
                            o.token_id
                        ),
                    ));
                }
                Prepared::New(o, fingerprint) => run_submit(&state, *o, fingerprint).await?,
            };
            let (_, body) = with_slices(&state, &user, &o.token_id).await?;
            let mut res = if created {
                HttpResponse::Created()
            } else {
                HttpResponse::Ok()
            };
            Ok(res
                .insert_header((header::LOCATION, location(&o.token_id)))
                .json(body))
        }
        _ => Err(bad(
            "invalid_body",
            "the body must be an order object or an array of orders",
        )),
    }
}

/// Submit to the engine: `(order, created)`.
async fn run_submit(
    state: &AppState,
    order: Order,
    fingerprint: String,
) -> Result<(Order, bool), ApiError> {
    match state.trading.engine.submit(order, fingerprint).await {
        Ok(SubmitOutcome::Created(o)) => {
            info!(token_id = %o.token_id, user = o.user_id, exchange = %o.exchange, symbol = %o.symbol, "order accepted");
            Ok((*o, true))
        }
        Ok(SubmitOutcome::Replayed(o)) => Ok((*o, false)),
        Ok(SubmitOutcome::Conflict(o)) => Err(ApiError::conflict(
            "token_id_conflict",
            format!(
                "token_id `{}` is already used by a different order",
                o.token_id
            ),
        )),
        Err(EngineError::Stopped) => Err(ApiError::Unavailable {
            code: "shutting_down",
            detail: "the server is stopping; the order was not accepted".to_owned(),
            retry_after: Some(std::time::Duration::from_secs(5)),
        }),
        Err(e) => {
            warn!(error = %e, "order not accepted");
            Err(internal(e))
        }
    }
}

/// `GET /orders`.
#[utoipa::path(get, path = "/orders", tag = "orders", security(("bearer" = []), ("oauth2" = [])), params(wire::OrdersQuery),
    responses((status = 200, description = "Your orders, newest first, without slices", body = Vec<wire::Order>, headers(("x-total-count" = String, description = "Orders matching the filter"))), BadRequest, Unauthorized, RateLimited))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<wire::OrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let open = match q.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => {
            return Err(bad(
                "invalid_query",
                format!("status must be open, closed or all, not `{other}`"),
            ));
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad("invalid_query", "limit must be between 1 and 500"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(bad("invalid_query", "offset must be at most 1000000"));
    }
    if let Some(t) = &q.token_id
        && !engine::valid_token_id(t)
    {
        return Err(bad(
            "invalid_query",
            "token_id must be 1–64 of A–Z, a–z, 0–9, `.`, `_`, `:`, `-`",
        ));
    }
    if q.symbol
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 64)
    {
        return Err(bad("invalid_query", "symbol must be 1–64 characters"));
    }
    let exchange = q
        .exchange
        .as_deref()
        .map(|e| {
            ExchangeId::from_str(e)
                .map_err(|_| bad("invalid_query", format!("unknown exchange `{e}`")))
        })
        .transpose()?;
    let symbol = match (&q.symbol, exchange) {
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
    let filter = OrderFilter {
        open,
        token_id: q.token_id.clone(),
        exchange: exchange.map(|e| e.as_str().to_owned()),
        symbol,
    };
    let (rows, total) = state
        .store
        .list_orders(user.id, &filter, i64::from(limit), i64::from(offset))
        .await
        .map_err(internal)?;
    let orders = rows
        .iter()
        .map(|r| order_from_row(r).and_then(|o| wire_order(&o, None)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("x-total-count", total.to_string()))
        .json(orders))
}

async fn find(state: &AppState, user: &AuthUser, token_id: &str) -> Result<Order, ApiError> {
    let row = state
        .store
        .order_by_token(user.id, token_id)
        .await
        .map_err(internal)?;
    match row {
        Some((r, _)) => order_from_row(&r).map_err(internal),
        // Another user's order answers exactly like a missing one.
        None => Err(ApiError::not_found(
            "order_not_found",
            format!("no order with token_id `{token_id}`"),
        )),
    }
}

/// `GET /orders/{token_id}`.
#[utoipa::path(get, path = "/orders/{token_id}", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    params(("token_id" = String, Path, description = "Your client order id")),
    responses((status = 200, description = "The order with progress, analytics and slices", body = wire::Order), Unauthorized, NotFound, RateLimited))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, body) = with_slices(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /orders/{token_id}`: cancel; repeating it answers 200; a filled or expired order
/// answers 409 with its state.
#[utoipa::path(delete, path = "/orders/{token_id}", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    params(("token_id" = String, Path, description = "Your client order id")),
    responses((status = 200, description = "Cancelled (also when it already was)", body = wire::Order), Unauthorized, NotFound,
        (status = 409, description = "Already filled or expired", body = wire::Problem, content_type = "application/problem+json"), RateLimited))]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = find(&state, &user, &path).await?;
    if o.status.is_open() {
        match state.trading.engine.cancel(o.id).await {
            Ok(u) => {
                info!(token_id = %u.order.token_id, user = u.order.user_id, "order cancelled");
            }
            Err(EngineError::Cancel(CancelError::NotFound | CancelError::AlreadyFinal(_))) => {}
            Err(EngineError::Stopped) => {
                return Err(ApiError::Unavailable {
                    code: "shutting_down",
                    detail: "the server is stopping; try again".to_owned(),
                    retry_after: Some(std::time::Duration::from_secs(5)),
                });
            }
            Err(e) => return Err(internal(e)),
        }
    }
    // The store is the truth after the engine has acted.
    let (now, body) = with_slices(&state, &user, &path).await?;
    match now.status {
        OrderStatus::Cancelled => Ok(HttpResponse::Ok().json(body)),
        s => Err(ApiError::conflict(
            "order_not_cancellable",
            format!(
                "the order is already {}; it cannot be cancelled",
                s.as_str()
            ),
        )),
    }
}
