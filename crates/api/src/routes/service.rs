//! `GET /` and `GET /health`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::convert;
use crate::state::AppState;

#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "What this server is", body = wire::ServiceInfo)))]
pub(crate) async fn root() -> web::Json<wire::ServiceInfo> {
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
pub(crate) async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.accounts.ping().await;
    let exchanges = state.hub.exchanges();
    let degraded = exchanges
        .iter()
        .any(|e| e.enabled && e.connection != Some(market::ConnState::Connected));
    let body = wire::Health {
        status: match (store_ok, degraded) {
            (false, _) => wire::HealthStatus::Unavailable,
            (true, true) => wire::HealthStatus::Degraded,
            (true, false) => wire::HealthStatus::Ok,
        },
        store: if store_ok {
            wire::HealthStatus::Ok
        } else {
            wire::HealthStatus::Unavailable
        },
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
