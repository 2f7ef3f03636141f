use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use engine::{EngineHandle, Limits};
use market::Hub;
use model::ExchangeId;
use rust_decimal::Decimal;
use store::Store;

use crate::auth::{Jwt, Passwords};
use crate::metrics::HttpMetrics;
use crate::ratelimit::RateLimits;
use crate::ws::{WsConfig, WsState};

/// Everything handlers need, shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The live market data hub.
    pub hub: Hub,
    /// The database.
    pub store: Store,
    /// When the server started (for `/health` uptime).
    pub started: Instant,
    /// Trading: engine, auth, fees, limits.
    pub trading: Trading,
    /// Request rate limits.
    pub limits: Arc<RateLimits>,
    /// HTTP latency per route, for `/metrics`.
    pub http_metrics: Arc<HttpMetrics>,
    /// WebSocket limits, connection counts and frame cache.
    pub ws: Arc<WsState>,
}

/// The trading side of the state.
#[derive(Debug, Clone)]
pub struct Trading {
    /// The running engine.
    pub engine: EngineHandle,
    /// Token issuer/verifier.
    pub jwt: Jwt,
    /// Password hashing.
    pub passwords: Passwords,
    /// Taker fee per exchange, basis points.
    pub fees: Arc<HashMap<ExchangeId, Decimal>>,
    /// Order limits.
    pub limits: Limits,
}

impl AppState {
    /// Bundle the parts.
    pub fn new(
        hub: Hub,
        store: Store,
        trading: Trading,
        limits: Arc<RateLimits>,
        ws: WsConfig,
    ) -> Self {
        AppState {
            hub,
            store,
            started: Instant::now(),
            trading,
            limits,
            http_metrics: Arc::new(HttpMetrics::default()),
            ws: Arc::new(WsState::new(ws)),
        }
    }
}
