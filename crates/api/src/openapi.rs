//! The OpenAPI 3.1 document (generated from the handlers' annotations and the `wire` types),
//! Swagger UI at `/docs` and ReDoc at `/redoc`, every asset served by this server.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

macro_rules! problem_response {
    ($name:ident, $status:literal, $desc:literal) => {
        #[doc = $desc]
        #[derive(utoipa::IntoResponses)]
        #[response(status = $status, description = $desc, content_type = "application/problem+json")]
        #[allow(dead_code)]
        pub(crate) struct $name(#[to_schema] wire::Problem);
    };
}

problem_response!(
    BadRequest,
    400,
    "Malformed or out-of-range input (the `code` says which)"
);
problem_response!(
    Unauthorized,
    401,
    "Missing, malformed, tampered or expired bearer token (`WWW-Authenticate: Bearer`)"
);
problem_response!(
    NotFound,
    404,
    "Unknown exchange, symbol or order (another user's order answers the same)"
);
problem_response!(
    RateLimited,
    429,
    "Over the rate limit: `Retry-After` and `x-ratelimit-*` headers tell when"
);
problem_response!(
    BadGateway,
    502,
    "The exchange answered with something unusable"
);
problem_response!(
    Unavailable,
    503,
    "The exchange cannot be reached or the book is not live: retry after `Retry-After`"
);

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from POST /token (30 minutes)"))
                    .build(),
            ),
        );
        // The same token obtained by Swagger UI's "Authorize" dialog with a user name and
        // password (OAuth2 password grant against POST /token).
        c.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/token", Scopes::new()))],
                "Log in with your user name and password (the demo user: premium / CryptoTWAPpremium)",
            )),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "papertwap",
        description = "Crypto market data and TWAP paper trading against live order books.\n\nDecimals are JSON strings; times are RFC 3339 UTC. Every error is `application/problem+json` with a stable `code`. The WebSocket protocol (`GET /ws`: authenticated book frames every interval, consolidated books, public trades and order updates) is described in docs/WEBSOCKET.md; its message types are `ClientMessage` and `ServerMessage` below.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        crate::routes::service::root,
        crate::routes::service::health,
        crate::metrics::metrics,
        crate::routes::market::exchanges,
        crate::routes::market::pairs,
        crate::routes::market::klines,
        crate::routes::market::trades,
        crate::routes::market::orderbook,
        crate::routes::market::consolidated,
        crate::routes::auth::token,
        crate::routes::orders::submit,
        crate::routes::orders::submit_order,
        crate::routes::preview::preview,
        crate::routes::orders::list,
        crate::routes::orders::get,
        crate::routes::orders::cancel,
        crate::routes::whatif::whatif,
        crate::routes::backtests::create,
        crate::routes::backtests::list,
        crate::routes::backtests::get,
    ),
    components(schemas(wire::Problem, wire::TwapRequest, wire::OrderRequest, wire::Preview, wire::PreviewSlice, wire::PreviewTotals, wire::Estimate, wire::EstimateMethod, wire::Strategy, wire::Jitter, wire::ImplementationShortfall, wire::Markouts, wire::VenueFills, wire::Order, wire::Slice, wire::Analytics, wire::WhatIfRequest, wire::WhatIf, wire::BacktestRequest, wire::Backtest, wire::BacktestResult, wire::BacktestWindow, wire::ClientMessage, wire::ServerMessage, wire::Subscription, wire::ConsolidatedBook, wire::Trades)),
    modifiers(&Bearer),
    tags(
        (name = "service", description = "What the server is and whether it is healthy"),
        (name = "market", description = "Exchanges, pairs, candles, public trades and live books"),
        (name = "auth", description = "Bearer tokens"),
        (name = "orders", description = "Paper orders (TWAP, VWAP, POV), their previews and analytics"),
        (name = "lab", description = "Finished orders re-run on the market recorded during their window (what-if), and backtests of orders and their variants on recorded windows"),
    )
)]
pub struct ApiDoc;

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

const REDOC_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>papertwap API — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

/// `GET /redoc`.
pub async fn redoc() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(REDOC_HTML)
}

/// `GET /redoc/redoc.standalone.js` (the npm `redoc` bundle, vendored; see its LICENSE).
pub async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(REDOC_JS)
}

/// `GET /redoc/logo-mini.svg`: an empty image where the bundle would load Redocly's logo
/// from their CDN.
pub async fn redoc_logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .body(r#"<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>"#)
}

/// Register `/openapi.json`, `/docs` (Swagger UI) and `/redoc`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Swagger UI also serves the document at /openapi.json.
    cfg.route("/redoc", web::get().to(redoc))
        .route("/redoc/redoc.standalone.js", web::get().to(redoc_js))
        .route("/redoc/logo-mini.svg", web::get().to(redoc_logo))
        .service(web::redirect("/docs", "/docs/"))
        .service(
            utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", ApiDoc::openapi()),
        );
}
