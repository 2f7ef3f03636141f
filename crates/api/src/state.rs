use std::time::Instant;

use market::Hub;
use store::Store;

/// Everything handlers need, shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The live market data hub.
    pub hub: Hub,
    /// The database.
    pub store: Store,
    /// When the server started (for `/health` uptime).
    pub started: Instant,
}

impl AppState {
    /// Bundle the parts.
    pub fn new(hub: Hub, store: Store) -> Self {
        AppState {
            hub,
            store,
            started: Instant::now(),
        }
    }
}
