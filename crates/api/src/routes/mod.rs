//! Routes: one module per concern (service, market data, auth, orders); this one registers
//! them and holds what they share.

pub(crate) mod auth;
pub(crate) mod backtests;
pub(crate) mod market;
mod order_body;
pub mod orders;
pub(crate) mod preview;
mod profile;
pub(crate) mod service;
pub(crate) mod whatif;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use model::ExchangeId;

use crate::error::ApiError;
use crate::state::AppState;

pub use auth::AuthUser;
pub use market::parse_time;

/// How long a first `/orderbook` request waits for a lazily subscribed book to go live.
pub(crate) const FIRST_SYNC_WAIT: Duration = Duration::from_secs(3);

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
        // The order routes first: the router tries resources in order, and a dynamic
        // pattern costs a regex run; `/orders/twap` must stay before `/orders/{token_id}`.
        cfg.service(
            web::resource("/orders/twap")
                .app_data(RoutePattern("/orders/twap"))
                .route(web::post().to(orders::submit))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        cfg.service(
            web::resource("/orders/preview")
                .app_data(RoutePattern("/orders/preview"))
                .route(web::post().to(preview::preview))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        cfg.service(
            web::resource("/backtests")
                .app_data(RoutePattern("/backtests"))
                .route(web::get().to(backtests::list))
                .route(web::post().to(backtests::create))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET, POST" })
                })),
        );
        cfg.service(
            web::resource("/backtests/{id}")
                .app_data(RoutePattern("/backtests/{id}"))
                .route(web::get().to(backtests::get))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET" })
                })),
        );
        cfg.service(
            web::resource("/orders/{token_id}/whatif")
                .app_data(RoutePattern("/orders/{token_id}/whatif"))
                .route(web::post().to(whatif::whatif))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        cfg.service(
            web::resource("/orders/{token_id}")
                .app_data(RoutePattern("/orders/{token_id}"))
                .route(web::get().to(orders::get))
                .route(web::delete().to(orders::cancel))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                        allow: "GET, DELETE",
                    })
                })),
        );
        cfg.service(
            web::resource("/orders")
                .app_data(RoutePattern("/orders"))
                .route(web::get().to(orders::list))
                .route(web::post().to(orders::submit_order))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET, POST" })
                })),
        );
        get(cfg, "/", service::root);
        get(cfg, "/health", service::health);
        get(cfg, "/metrics", crate::metrics::metrics);
        get(cfg, "/exchanges", market::exchanges);
        get(cfg, "/exchanges/{exchange}/pairs", market::pairs);
        get(cfg, "/klines/{exchange}/{symbol}", market::klines);
        get(cfg, "/trades/{exchange}/{symbol}", market::trades);
        get(
            cfg,
            "/orderbook/consolidated/{symbol}",
            market::consolidated,
        );
        get(cfg, "/orderbook/{exchange}/{symbol}", market::orderbook);
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
                .app_data(RoutePattern("/token"))
                .route(web::post().to(auth::token))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        );
        get(cfg, "/ws", crate::ws::ws);
        crate::openapi::configure(cfg);
        crate::ui::configure(cfg);
    }
}

/// The pattern of the resource that matched, kept as resource data so that the metrics
/// middleware labels a request without matching its path against every route again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoutePattern(pub(crate) &'static str);

/// A GET-only resource: other methods get 405 with `Allow: GET`.
fn get<F, Args>(cfg: &mut web::ServiceConfig, path: &'static str, handler: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    cfg.service(
        web::resource(path)
            .app_data(RoutePattern(path))
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

pub(crate) fn exchange_id(text: &str) -> Result<ExchangeId, ApiError> {
    text.parse::<ExchangeId>().map_err(|_| {
        ApiError::not_found(
            "unknown_exchange",
            format!("unknown exchange `{text}`; GET /exchanges lists them"),
        )
    })
}
