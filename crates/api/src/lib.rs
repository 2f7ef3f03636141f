//! The papertwap HTTP API on actix-web.
//!
//! # Invariants
//! - The only crate that converts between `model`/`engine` and `wire` ([`convert`]);
//!   handlers are thin: decode → call the hub or the engine → encode. It knows no store:
//!   users come through the [`accounts::Accounts`] port, orders through the engine.
//! - Every error leaves as `application/problem+json` with a stable `code`; 4xx bodies
//!   explain, 5xx bodies are generic and their cause is logged with the request id.
//! - Every response carries `X-Request-Id`.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod accounts;
pub mod auth;
pub mod convert;
mod error;
pub mod lab;
pub mod metrics;
mod middleware;
pub mod openapi;
mod order_cache;
pub mod ratelimit;
mod routes;
mod state;
pub mod ui;
pub mod ws;

pub use error::ApiError;
pub use metrics::track as track_metrics;
pub use middleware::{
    BODY_TIMEOUT, ConnSocket, MAX_BODY_BYTES, access_log, body_guard, remember_socket, request_id,
};
pub use ratelimit::{LimitConfig, RateLimits, rate_limit};
pub use routes::{AuthUser, configure, not_found, orders, parse_time};
pub use state::{AppState, Trading};
pub use ws::WsConfig;
