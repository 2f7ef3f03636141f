use std::time::Duration;

/// Binance adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct BinanceConfig {
    /// Combined-stream endpoint, e.g. `wss://stream.binance.com:9443/stream`.
    pub ws_url: String,
    /// REST origin, e.g. `https://api.binance.com`.
    pub rest_url: String,
    /// Levels requested per REST snapshot (1000 → weight 50).
    pub snapshot_limit: u32,
    /// Levels kept per side (levels beyond the snapshot depth are unknown until they change).
    pub depth_cap: usize,
    /// Request weight the adapter allows itself per minute (Binance's budget is 6000).
    pub weight_per_minute: u32,
    /// Control messages sent per second per connection (Binance allows 5 inbound, pongs
    /// included).
    pub control_per_second: usize,
    /// New connections allowed per 5 minutes (Binance: 300 per IP).
    pub connections_per_5min: usize,
    /// Planned reconnect after this long (Binance cuts at 24 h).
    pub max_connection_age: Duration,
    /// The pong deadline (`market.dead_after_ms`): a connection showing no frame for this
    /// long, though pinged, is dead and replaced (the depth stream sends every 100 ms).
    pub dead_after: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// How long a planned reconnect overlaps the old connection at most.
    pub overlap: Duration,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        BinanceConfig {
            ws_url: "wss://stream.binance.com:9443/stream".to_owned(),
            rest_url: "https://api.binance.com".to_owned(),
            snapshot_limit: 1_000,
            depth_cap: 1_000,
            weight_per_minute: 2_400,
            control_per_second: 4,
            connections_per_5min: 250,
            max_connection_age: Duration::from_secs(23 * 3_600 + 50 * 60),
            dead_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            overlap: Duration::from_secs(10),
        }
    }
}

impl BinanceConfig {
    /// Weight of one depth snapshot at `snapshot_limit` (Binance's 2025 table).
    pub fn snapshot_weight(&self) -> u32 {
        match self.snapshot_limit {
            0..=100 => 5,
            101..=500 => 25,
            501..=1_000 => 50,
            _ => 250,
        }
    }
}
