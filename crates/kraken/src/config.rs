use std::time::Duration;

/// Kraken adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct KrakenConfig {
    /// WS v2 endpoint, e.g. `wss://ws.kraken.com/v2`.
    pub ws_url: String,
    /// REST origin, e.g. `https://api.kraken.com`.
    pub rest_url: String,
    /// Book depth subscribed and kept: 10, 25, 100, 500 or 1000.
    pub depth: u32,
    /// Verify book checksums.
    pub checksum: bool,
    /// Symbols (canonical, `PEPE-USD`) whose checksums are not verified even when
    /// `checksum` is on: pairs known to produce venue-side mismatches.
    pub checksum_skip: Vec<String>,
    /// Symbols per subscribe message.
    pub symbols_per_message: usize,
    /// Text messages sent per second per connection (Kraken's limit is dynamic; keep it low).
    pub control_per_second: usize,
    /// New connections allowed per 10 minutes (Kraken's edge blocks at about 150).
    pub connections_per_10min: usize,
    /// The pong deadline (`market.dead_after_ms`): a connection showing no frame for this
    /// long, though pinged, is dead and replaced (heartbeats come every second).
    pub dead_after: Duration,
    /// Send an application ping after this long without a frame.
    pub ping_after: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// REST requests per second (Kraken: about 1 per second is safe).
    pub rest_per_second: usize,
    /// First delay of the per-symbol resubscribe backoff (doubling, with a cap).
    pub resubscribe_base: Duration,
    /// Cap of the per-symbol resubscribe backoff.
    pub resubscribe_cap: Duration,
}

impl Default for KrakenConfig {
    fn default() -> Self {
        KrakenConfig {
            ws_url: "wss://ws.kraken.com/v2".to_owned(),
            rest_url: "https://api.kraken.com".to_owned(),
            depth: 10,
            checksum: true,
            checksum_skip: Vec::new(),
            symbols_per_message: 50,
            control_per_second: 4,
            connections_per_10min: 120,
            dead_after: Duration::from_secs(10),
            ping_after: Duration::from_secs(4),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            rest_per_second: 1,
            resubscribe_base: Duration::from_millis(500),
            resubscribe_cap: Duration::from_secs(60),
        }
    }
}

impl KrakenConfig {
    /// The depths Kraken's `book` channel accepts.
    pub const DEPTHS: [u32; 5] = [10, 25, 100, 500, 1000];
}
