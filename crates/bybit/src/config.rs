use std::time::Duration;

/// Bybit adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct BybitConfig {
    /// Public spot endpoint, e.g. `wss://stream.bybit.com/v5/public/spot`.
    pub ws_url: String,
    /// REST origin, e.g. `https://api.bybit.com`.
    pub rest_url: String,
    /// Book depth subscribed and kept: 1, 50, 200 or 1000.
    pub depth: u32,
    /// Topics per subscribe request (Bybit spot allows 10).
    pub topics_per_message: usize,
    /// Text messages sent per second per connection.
    pub control_per_second: usize,
    /// New connections allowed per 5 minutes (Bybit: 500 per IP).
    pub connections_per_5min: usize,
    /// The pong deadline (`market.dead_after_ms`): a connection showing no frame for this
    /// long, though pinged, is dead and replaced.
    pub dead_after: Duration,
    /// How often the application ping is sent (Bybit asks for one every 20 s).
    pub ping_every: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// REST requests per second (Bybit: 600 per 5 s per IP; keep far below).
    pub rest_per_second: usize,
    /// First delay of the per-symbol resubscribe backoff (doubling, with a cap).
    pub resubscribe_base: Duration,
    /// Cap of the per-symbol resubscribe backoff.
    pub resubscribe_cap: Duration,
}

impl Default for BybitConfig {
    fn default() -> Self {
        BybitConfig {
            ws_url: "wss://stream.bybit.com/v5/public/spot".to_owned(),
            rest_url: "https://api.bybit.com".to_owned(),
            depth: 200,
            topics_per_message: 10,
            control_per_second: 4,
            connections_per_5min: 400,
            dead_after: Duration::from_secs(10),
            ping_every: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            rest_per_second: 10,
            resubscribe_base: Duration::from_millis(500),
            resubscribe_cap: Duration::from_secs(60),
        }
    }
}

impl BybitConfig {
    /// The spot book depths Bybit publishes.
    pub const DEPTHS: [u32; 4] = [1, 50, 200, 1000];
}
