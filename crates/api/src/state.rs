use std::sync::Arc;
use std::time::Instant;

use engine::EngineHandle;
use market::Hub;

use crate::accounts::Accounts;
use crate::auth::{Jwt, Passwords};
use crate::metrics::HttpMetrics;
use crate::ratelimit::RateLimits;
use crate::ws::{WsConfig, WsState};

/// Everything handlers need, shared by all workers.
#[derive(Clone)]
pub struct AppState {
    /// The live market data hub.
    pub hub: Hub,
    /// The users (and whether their store answers).
    pub accounts: Arc<dyn Accounts>,
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
    /// Rendered order bodies, reused while an order is unchanged.
    pub(crate) order_json: Arc<crate::order_cache::OrderJsonCache>,
    /// The lab (re-runs on tapes), when the server records.
    pub lab: Option<Arc<dyn crate::lab::Lab>>,
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
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Bundle the parts.
    pub fn new(
        hub: Hub,
        accounts: Arc<dyn Accounts>,
        trading: Trading,
        limits: Arc<RateLimits>,
        ws: WsConfig,
    ) -> Self {
        AppState {
            hub,
            accounts,
            started: Instant::now(),
            trading,
            limits,
            http_metrics: Arc::new(HttpMetrics::default()),
            ws: Arc::new(WsState::new(ws)),
            order_json: Arc::default(),
            lab: None,
        }
    }

    /// With the lab (what-ifs on the recorded tapes).
    pub fn with_lab(mut self, lab: Arc<dyn crate::lab::Lab>) -> Self {
        self.lab = Some(lab);
        self
    }
}
