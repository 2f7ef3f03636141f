//! `POST /backtests`, `GET /backtests`, `GET /backtests/{id}`: an order and its variants run
//! side by side on a recorded past window, stored for later (DESIGN §17).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use engine::{OrderDetail, SliceList, Submission};
use serde_json::Value;

use super::auth::AuthUser;
use super::orders::{decode_order, json_body, refused};
use super::profile;
use super::whatif::{apply, changes_of, utc};
use crate::convert;
use crate::error::ApiError;
use crate::lab::{Lab, LabFailure};
use crate::openapi::{BadRequest, NotFound, RateLimited, Unauthorized};
use crate::state::AppState;

/// Most variants beside the base order.
const MAX_VARIANTS: usize = 10;

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

fn failure(e: LabFailure) -> ApiError {
    match e {
        LabFailure::NotRecorded(d) => ApiError::conflict("not_recorded", d),
        LabFailure::Unavailable(d) => ApiError::Unavailable {
            code: "lab_unavailable",
            detail: d,
            retry_after: None,
        },
    }
}

fn lab(state: &AppState) -> Result<Arc<dyn Lab>, ApiError> {
    state.lab.clone().ok_or_else(|| {
        ApiError::conflict(
            "not_recorded",
            "this server does not record its books (store.tape_dir is off)",
        )
    })
}

/// A backtest's id: 16 hex digits from its owner and creation time.
fn backtest_id(user_id: i64, created_ns: i64) -> String {
    let mut z = (user_id as u64).rotate_left(32) ^ created_ns as u64;
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("bt-{:016x}", z ^ (z >> 31))
}

/// The body: the base order and its variants (refused field by field, as `POST /orders`).
fn parse(value: Value) -> Result<wire::BacktestRequest, ApiError> {
    let Value::Object(mut fields) = value else {
        return Err(bad("invalid_body", "a backtest is a JSON object"));
    };
    let variants: Vec<wire::WhatIfRequest> = match fields.remove("variants") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                changes_of(v).map_err(|d| bad("invalid_body", format!("variant #{i}: {d}")))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("invalid_body", "variants is an array of changes")),
    };
    if variants.len() > MAX_VARIANTS {
        return Err(bad(
            "invalid_body",
            format!("a backtest runs at most {MAX_VARIANTS} variants"),
        ));
    }
    let order: wire::OrderRequest = serde_json::from_value(Value::Object(fields))
        .map_err(|e| bad("invalid_body", format!("invalid backtest: {e}")))?;
    Ok(wire::BacktestRequest { order, variants })
}

/// Run one order body on tape: the simulated order, rendered.
async fn run(
    state: &AppState,
    lab: &dyn Lab,
    user: &AuthUser,
    body: &wire::OrderRequest,
    place: &dyn Fn(String) -> String,
) -> Result<wire::Order, ApiError> {
    let start = body.start_time.ok_or_else(|| {
        bad(
            "invalid_window",
            place("a backtest needs start_time (a past window on tape)".to_owned()),
        )
    })?;
    let mut request = decode_order(body, true, start, place)?;
    let pair = profile::pair_for(state, &mut request, &body.symbol, place)?;
    let at = super::order_body::ts(start);
    profile::fill(state, &mut request, &pair, at, place).await?;
    let sub = Submission {
        user_id: user.id,
        request,
        pair,
        fingerprint: String::new(),
    };
    let draft = state
        .trading
        .engine
        .backtest_draft(&sub, at)
        .map_err(|e| refused(e, place))?;
    let plan = draft.plan();
    let end = plan.start.plus_millis(plan.duration_ms);
    if end > state.trading.engine.clock().now() {
        return Err(bad(
            "invalid_window",
            place(format!(
                "a backtest runs on the past: its window ends at {}, after now",
                utc(end).to_rfc3339()
            )),
        ));
    }
    let run = lab.backtest(draft).await.map_err(|e| match e {
        LabFailure::NotRecorded(d) => LabFailure::NotRecorded(place(d)),
        other => other,
    });
    let run = run.map_err(failure)?;
    Ok(convert::order_detail(&OrderDetail {
        order: Arc::new(run.order),
        slices: SliceList::new(run.slices),
    }))
}

/// `POST /backtests`.
#[utoipa::path(post, path = "/backtests", operation_id = "create_backtest", tag = "lab", security(("bearer" = []), ("oauth2" = [])),
    request_body(content = wire::BacktestRequest, description = "An order (the fields of `POST /orders`, `token_id` not needed) with `start_time` and `end_time` (or `duration_secs`) inside the recorded past, and up to 10 `variants` (the changes a what-if takes) to run beside it."),
    responses(
        (status = 201, description = "Run and stored: the base order first, then each variant, all on the same recorded market", body = wire::Backtest, headers(("Location" = String, description = "/backtests/{id}"))),
        BadRequest, Unauthorized, NotFound,
        (status = 409, description = "`not_recorded`: the window is not on tape", body = wire::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = wire::Problem, content_type = "application/problem+json"),
        RateLimited,
        (status = 503, description = "The tapes or the store could not be read", body = wire::Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request = parse(json_body(&req, &body)?)?;
    let lab = lab(&state)?;
    let created = state.trading.engine.clock().now();
    let id = backtest_id(user.id, created.as_nanos());
    let mut results = Vec::with_capacity(1 + request.variants.len());
    let none = wire::WhatIfRequest::default();
    for (k, variant) in std::iter::once(&none).chain(&request.variants).enumerate() {
        let place = |d: String| {
            if k == 0 {
                d
            } else {
                format!("variant #{}: {d}", k - 1)
            }
        };
        let mut body = apply(request.order.clone(), variant).map_err(|e| match e {
            ApiError::BadRequest { code, detail } => ApiError::BadRequest {
                code,
                detail: place(detail),
            },
            other => other,
        })?;
        body.token_id = Some(format!("{id}.{k}"));
        let order = run(&state, &*lab, &user, &body, &place).await?;
        results.push(wire::BacktestResult {
            variant: variant.clone(),
            order,
        });
    }
    let base = &results[0].order;
    let window = wire::BacktestWindow {
        start: base.start_time,
        end: base.end_time,
    };
    let out = wire::Backtest {
        id: id.clone(),
        created_at: utc(created),
        window,
        request,
        results,
    };
    let json = serde_json::to_string(&out)
        .map_err(|e| ApiError::Internal(format!("rendering a backtest: {e}")))?;
    lab.save_backtest(user.id, id.clone(), created.as_nanos(), json.clone())
        .await
        .map_err(failure)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/backtests/{id}")))
        .content_type(header::ContentType::json())
        .body(json))
}

/// `GET /backtests`: the user's backtests, newest first.
#[utoipa::path(get, path = "/backtests", operation_id = "list_backtests", tag = "lab", security(("bearer" = []), ("oauth2" = [])),
    params(wire::BacktestsQuery),
    responses((status = 200, description = "Your backtests, newest first", body = [wire::Backtest]), BadRequest, Unauthorized, RateLimited))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<wire::BacktestsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("invalid_query", "limit must be between 1 and 100"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(bad("invalid_query", "offset must be at most 1000000"));
    }
    let Some(lab) = state.lab.clone() else {
        return Ok(HttpResponse::Ok().json(Vec::<wire::Backtest>::new()));
    };
    let rows = lab
        .backtests(user.id, limit, offset)
        .await
        .map_err(failure)?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(format!("[{}]", rows.join(","))))
}

/// `GET /backtests/{id}`.
#[utoipa::path(get, path = "/backtests/{id}", operation_id = "get_backtest", tag = "lab", security(("bearer" = []), ("oauth2" = [])),
    params(("id" = String, Path, description = "The backtest's id (`bt-…`)")),
    responses((status = 200, description = "The backtest as it was run", body = wire::Backtest), Unauthorized, NotFound, RateLimited))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let missing = || {
        ApiError::not_found(
            "backtest_not_found",
            format!("no backtest with id `{path}`"),
        )
    };
    let lab = state.lab.clone().ok_or_else(missing)?;
    let body = lab
        .find_backtest(user.id, path.to_string())
        .await
        .map_err(failure)?
        .ok_or_else(missing)?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_by_owner_and_time() {
        let a = backtest_id(1, 1_765_000_000_000_000_000);
        assert!(a.starts_with("bt-") && a.len() == 19, "{a}");
        assert_ne!(a, backtest_id(2, 1_765_000_000_000_000_000));
        assert_ne!(a, backtest_id(1, 1_765_000_000_000_000_001));
    }

    #[test]
    fn variants_are_taken_out_and_the_rest_is_an_order() {
        let v = serde_json::json!({
            "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "1",
            "duration_secs": 60, "interval_secs": 10, "start_time": "2026-12-07T00:00:00Z",
            "variants": [{"interval_secs": 5}, {"strategy": "vwap"}]
        });
        let r = parse(v).unwrap();
        assert_eq!(r.variants.len(), 2);
        assert_eq!(r.order.symbol, "BTC-USDT");
        let e = parse(serde_json::json!({"exchange": "sim", "bogus": 1})).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse(serde_json::json!({"variants": [{"bogus": 1}]})).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse(serde_json::json!({"variants": [[null, null]]})).unwrap_err();
        assert!(e.to_string().contains("variant #0"), "{e}");
    }
}
