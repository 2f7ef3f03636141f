//! `POST /orders/preview`: the schedule an order would run and what it would cost, from
//! the same code as execution; nothing is stored.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use std::sync::Arc;

use engine::preview::{preview as walk, square_root_law};
use engine::{BookRef, Books, Submission};
use futures_util::future::join_all;
use market::BookSnapshot;
use model::{ExchangeId, Symbol};
use rust_decimal::Decimal;

use super::FIRST_SYNC_WAIT;
use super::auth::AuthUser;
use super::orders::{decode_order, json_body, refused};
use super::profile;
use crate::convert::{self, time};
use crate::error::ApiError;
use crate::openapi::{BadRequest, NotFound, RateLimited, Unauthorized};
use crate::state::AppState;

/// The books read for a preview, as the engine's book source.
struct Snapshots(Vec<(ExchangeId, Arc<BookSnapshot>)>);

impl Books for Snapshots {
    fn with_book(&self, exchange: ExchangeId, _symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        match self.0.iter().find(|(e, _)| *e == exchange) {
            Some((_, s)) => f(Some((&s.book, &s.health))),
            None => f(None),
        }
    }
}

/// `POST /orders/preview`.
#[utoipa::path(post, path = "/orders/preview", tag = "orders", security(("bearer" = []), ("oauth2" = [])),
    request_body(content = wire::OrderRequest, description = "The body of `POST /orders` (`token_id` may be left out)."),
    responses(
        (status = 200, description = "The schedule the order would run and its pre-trade estimates, each labelled with its method", body = wire::Preview),
        BadRequest, Unauthorized, NotFound,
        (status = 415, description = "The body is not application/json", body = wire::Problem, content_type = "application/problem+json"),
        RateLimited,
        (status = 503, description = "A VWAP's klines could not be read from the venue", body = wire::Problem, content_type = "application/problem+json")))]
pub(crate) async fn preview(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let value = json_body(&req, &body)?;
    let body: wire::OrderRequest = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("invalid order: {e}")))?;
    let place = |d: String| d;
    let mut request = decode_order(&body, false, Utc::now(), &place)?;
    let pair = profile::pair_for(&state, &mut request, &body.symbol, &place)?;
    profile::fill(
        &state,
        &mut request,
        &pair,
        state.trading.engine.clock().now(),
        &place,
    )
    .await?;
    // Every book the order would trade, each given a moment to go live (a first request
    // for a lazily subscribed book).
    let keys = match &request.route {
        Some(r) => r.iter().map(|v| v.exchange).collect::<Vec<_>>(),
        None => vec![request.exchange],
    };
    let snaps = join_all(keys.iter().map(|e| {
        state
            .hub
            .snapshot_live_within(*e, pair.symbol.as_str(), FIRST_SYNC_WAIT)
    }))
    .await;
    let books = Snapshots(
        keys.iter()
            .zip(snaps)
            .filter_map(|(e, s)| s.ok().map(|s| (*e, s)))
            .collect(),
    );
    let live = books
        .0
        .iter()
        .any(|(_, s)| s.health.is_tradeable() && !s.book.is_crossed());
    let engine = &state.trading.engine;
    let sub = Submission {
        user_id: user.id,
        request,
        pair: pair.clone(),
        fingerprint: String::new(),
    };
    let draft = engine.draft(&sub, None).map_err(|e| refused(e, &place))?;
    let mid = engine::preview::current_mid(&draft, &books);
    let order = engine.draft(&sub, mid).map_err(|e| refused(e, &place))?;
    let now = engine.clock().now();
    let rate = profile::recent_volume_per_interval(&state, &pair, order.plan().interval_ms, now);
    let pv = walk(&order, &books, rate);
    let daily = profile::daily_candles(&state, &pair).await;
    let law = square_root_law(&daily, order.quantity());
    let kind = order.strategy().kind();
    let pov = matches!(kind, engine::StrategyKind::Pov);
    let mut estimates = vec![wire::Estimate {
        method: wire::EstimateMethod::BookWalk,
        cost_bps: pv.cost_bps,
        cost: pv.cost,
        sigma_daily: None,
        daily_volume: None,
        note: if live {
            format!(
                "each slice walked on its own against the current book (the venue refills between slices), within the limit; price against the mid plus fees{}",
                if pov {
                    format!(
                        "; POV targets assume {} traded per interval (the last minutes' trade rate)",
                        rate.round_dp(8).normalize()
                    )
                } else {
                    String::new()
                }
            )
        } else {
            "no live book now: nothing to walk".to_owned()
        },
    }];
    estimates.push(match (law, mid) {
        (Some(l), Some(m)) => wire::Estimate {
            method: wire::EstimateMethod::SquareRootLaw,
            cost_bps: Some(l.cost_bps),
            cost: l
                .cost_bps
                .checked_mul(m)
                .and_then(|x| x.checked_mul(order.quantity()))
                .map(|x| (x / Decimal::from(10_000)).round_dp(8).normalize()),
            sigma_daily: Some(l.sigma_daily),
            daily_volume: Some(l.daily_volume),
            note: "market impact only: σ_daily · √(quantity ÷ daily volume), Y = 1, σ and volume from the last month of daily candles".to_owned(),
        },
        (law, _) => wire::Estimate {
            method: wire::EstimateMethod::SquareRootLaw,
            cost_bps: None,
            cost: None,
            sigma_daily: law.map(|l| l.sigma_daily),
            daily_volume: law.map(|l| l.daily_volume),
            note: "not enough daily candles or no live mid to estimate from".to_owned(),
        },
    });
    let profile = match order.strategy() {
        engine::Strategy::Vwap { profile, .. } => {
            Some(profile.iter().map(|s| s.normalize()).collect())
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(wire::Preview {
        strategy: convert::strategy_kind(kind),
        exchange: if order.route().is_some() {
            "best".to_owned()
        } else {
            pair.exchange.as_str().to_owned()
        },
        symbol: pair.symbol.to_string(),
        mid: pv.mid.map(|m| m.normalize()),
        volume_profile: profile,
        schedule: pv
            .slices
            .iter()
            .map(|s| wire::PreviewSlice {
                index: s.index,
                scheduled_at: time(s.scheduled_at),
                target_quantity: s.target.normalize(),
                expected_vwap: s.expected_vwap,
                expected_cost_bps: s.expected_cost_bps,
                expected_fee: s.expected_fee,
                fillable_ratio: s.fillable_ratio,
            })
            .collect(),
        totals: wire::PreviewTotals {
            quantity: pv.quantity.normalize(),
            expected_vwap: pv.expected_vwap,
            expected_cost_bps: pv.expected_cost_bps,
            expected_fees: pv.expected_fees,
            fillable_ratio: pv.fillable_ratio,
        },
        estimates,
    }))
}
