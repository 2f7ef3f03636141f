//! `POST /orders/{token_id}/whatif`: a finished order re-run alone on the market recorded
//! during its window, with some parameters changed (DESIGN §17).

use std::str::FromStr;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use engine::{OrderDetail, SliceList, StoredOrder, Submission, TokenId};
use model::Timestamp;
use serde_json::Value;

use super::auth::AuthUser;
use super::order_body::twap_as_order;
use super::orders::{decode_order, json_body, refused};
use super::profile;
use crate::convert;
use crate::error::ApiError;
use crate::lab::LabFailure;
use crate::openapi::{BadRequest, NotFound, RateLimited, Unauthorized};
use crate::state::AppState;

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

pub(crate) fn utc(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(t.as_nanos())
}

/// The `POST /orders` body an order was created from (a `POST /orders/twap` body with its
/// query parameters becomes the body it means).
fn original_body(stored: &StoredOrder) -> Result<wire::OrderRequest, ApiError> {
    let broken = |e: String| ApiError::Internal(format!("the order's stored request: {e}"));
    let fp: Value = serde_json::from_str(&stored.request).map_err(|e| broken(e.to_string()))?;
    let body = fp.get("body").cloned().unwrap_or(Value::Null);
    if fp.get("route").and_then(Value::as_str) == Some("orders") {
        return serde_json::from_value(body).map_err(|e| broken(e.to_string()));
    }
    let req: wire::TwapRequest = serde_json::from_value(body).map_err(|e| broken(e.to_string()))?;
    let query: wire::TwapQuery = match fp.get("query") {
        Some(q) => serde_json::from_value(q.clone()).map_err(|e| broken(e.to_string()))?,
        None => wire::TwapQuery::default(),
    };
    twap_as_order(&req, &query, &|d| d)
}

/// `original` with `changes` (JSON, as a what-if or a backtest variant sends them) applied:
/// what the endpoints then decode as a `POST /orders` body.
pub fn with_changes(
    original: wire::OrderRequest,
    changes: Value,
) -> Result<wire::OrderRequest, ApiError> {
    let changes =
        changes_of(changes).map_err(|d| bad("invalid_body", format!("invalid what-if: {d}")))?;
    apply(original, &changes)
}

/// A what-if's changes from JSON: an object only (serde would also take an array of the
/// fields' values).
pub(crate) fn changes_of(v: Value) -> Result<wire::WhatIfRequest, String> {
    if !v.is_object() {
        return Err("the changes are a JSON object, e.g. {\"interval_secs\": 2}".to_owned());
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// The original body with the overrides applied (a timing field replaces its alternative;
/// another strategy drops the original's parameters).
pub(crate) fn apply(
    mut r: wire::OrderRequest,
    o: &wire::WhatIfRequest,
) -> Result<wire::OrderRequest, ApiError> {
    if o.interval_secs.is_some() && o.slices.is_some() {
        return Err(bad(
            "invalid_schedule",
            "give interval_secs or slices, not both",
        ));
    }
    if o.duration_secs.is_some() && o.end_time.is_some() {
        return Err(bad(
            "invalid_schedule",
            "give duration_secs or end_time, not both",
        ));
    }
    if let Some(i) = o.interval_secs {
        (r.interval_secs, r.slices) = (Some(i), None);
    }
    if let Some(n) = o.slices {
        (r.interval_secs, r.slices) = (None, Some(n));
    }
    if let Some(d) = o.duration_secs {
        (r.duration_secs, r.end_time) = (Some(d), None);
    }
    if let Some(e) = o.end_time {
        (r.duration_secs, r.end_time) = (None, Some(e));
    }
    if let Some(s) = o.start_time {
        r.start_time = Some(s);
    }
    if let Some(c) = &o.catch_up {
        r.catch_up = Some(c.clone());
    }
    if let Some(l) = o.limit_price {
        r.limit_price = l;
    }
    if let Some(l) = o.latency_ms {
        r.latency_ms = Some(l);
    }
    if let Some(s) = o.strategy
        && Some(s) != r.strategy.or(Some(wire::Strategy::Twap))
    {
        r.strategy = Some(s);
        (r.jitter, r.profile_days, r.participation, r.max_slice_qty) = (None, None, None, None);
    }
    if o.jitter.is_some() {
        r.jitter = o.jitter;
    }
    if o.profile_days.is_some() {
        r.profile_days = o.profile_days;
    }
    if o.participation.is_some() {
        r.participation = o.participation;
    }
    if o.max_slice_qty.is_some() {
        r.max_slice_qty = o.max_slice_qty;
    }
    Ok(r)
}

/// `POST /orders/{token_id}/whatif`.
#[utoipa::path(post, path = "/orders/{token_id}/whatif", tag = "lab", security(("bearer" = []), ("oauth2" = [])),
    params(("token_id" = String, Path, description = "Your client order id (a finished order)")),
    request_body(content = Option<wire::WhatIfRequest>, description = "What to change (every field optional; an empty object or no body re-runs the order as it was)."),
    responses(
        (status = 200, description = "The order re-run alone on the market recorded during its window: a full order, marked simulated, and whether it reproduces the original fill for fill", body = wire::WhatIf),
        BadRequest, Unauthorized, NotFound,
        (status = 409, description = "`order_open`: the order is still running; `not_recorded`: its window (or the changed one) is not on tape", body = wire::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = wire::Problem, content_type = "application/problem+json"),
        RateLimited,
        (status = 503, description = "The tapes could not be read", body = wire::Problem, content_type = "application/problem+json")))]
pub(crate) async fn whatif(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // No body, or `null`: no changes.
    let overrides: wire::WhatIfRequest = if body.iter().all(u8::is_ascii_whitespace) {
        wire::WhatIfRequest::default()
    } else {
        match json_body(&req, &body)? {
            Value::Null => wire::WhatIfRequest::default(),
            v => changes_of(v).map_err(|d| bad("invalid_body", format!("invalid what-if: {d}")))?,
        }
    };
    let missing = || {
        ApiError::not_found(
            "order_not_found",
            format!("no order with token_id `{path}`"),
        )
    };
    let token = TokenId::from_str(&path).map_err(|_| missing())?;
    let engine = &state.trading.engine;
    let stored = engine
        .stored(user.id, &token)
        .await
        .map_err(|e| refused(e, &|d| d))?
        .ok_or_else(missing)?;
    let original = &stored.order;
    if original.status().is_open() {
        return Err(ApiError::conflict(
            "order_open",
            format!(
                "order `{token}` is still {}: a what-if re-runs finished orders",
                original.status().as_str()
            ),
        ));
    }
    let Some(lab) = state.lab.clone() else {
        return Err(ApiError::conflict(
            "not_recorded",
            "this server does not record its books (store.tape_dir is off)",
        ));
    };
    let mut body = apply(original_body(&stored)?, &overrides)?;
    // The schedule as it was: a start left to "now" is the original's start.
    if body.start_time.is_none() {
        body.start_time = Some(utc(original.plan().start));
    }
    body.token_id = Some(token.to_string());
    let place = |d: String| d;
    let at = original.created_at();
    let mut request = decode_order(&body, true, utc(at), &place)?;
    let pair = profile::pair_for(&state, &mut request, &body.symbol, &place)?;
    if let Some(route) = original.route() {
        request.route = Some(route.into());
    }
    if !overrides.changes_strategy() {
        // The algorithm as accepted: a jitter's seed, a VWAP's profile — unless the schedule
        // changes, which takes a profile of its own slices.
        request.strategy = match original.strategy() {
            engine::Strategy::Vwap { profile_days, .. } if overrides.changes_schedule() => {
                engine::Strategy::Vwap {
                    profile_days: *profile_days,
                    profile: Arc::from([]),
                }
            }
            s => s.clone(),
        };
    }
    if matches!(&request.strategy, engine::Strategy::Vwap { profile, .. } if profile.is_empty()) {
        profile::fill(&state, &mut request, &pair, at, &place).await?;
    }
    let sub = Submission {
        user_id: user.id,
        request,
        pair,
        fingerprint: String::new(),
    };
    let sim = engine
        .whatif_draft(&sub, original)
        .map_err(|e| refused(e, &place))?;
    let out = lab.whatif(stored, sim).await.map_err(|e| match e {
        LabFailure::NotRecorded(d) => ApiError::conflict("not_recorded", d),
        LabFailure::Unavailable(d) => ApiError::Unavailable {
            code: "tapes_unavailable",
            detail: d,
            retry_after: None,
        },
    })?;
    let detail = OrderDetail {
        order: Arc::new(out.run.order),
        slices: SliceList::new(out.run.slices),
    };
    Ok(HttpResponse::Ok().json(wire::WhatIf {
        simulated: true,
        reproduces_original: out.reproduces_original,
        overrides,
        order: convert::order_detail(&detail),
    }))
}
