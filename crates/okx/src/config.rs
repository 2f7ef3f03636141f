use std::time::Duration;

/// OKX adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct OkxConfig {
    /// Public endpoint, e.g. `wss://ws.okx.com:8443/ws/v5/public`.
    pub ws_url: String,
    /// REST origin, e.g. `https://www.okx.com`.
    pub rest_url: String,
    /// Levels kept per side (the `books` channel sends 400).
    pub depth_cap: usize,
    /// Verify non-zero checksums.
    pub checksum: bool,
    /// Instruments per subscribe request.
    pub args_per_message: usize,
    /// Subscribe/unsubscribe requests a connection may send per hour (OKX allows 480; the
    /// default keeps a margin). Subscriptions wait while the budget is spent.
    pub requests_per_hour: usize,
    /// Text messages sent per second per connection.
    pub control_per_second: usize,
    /// New connections allowed per second (OKX: 3 per IP).
    pub connections_per_second: usize,
    /// The pong deadline (`market.dead_after_ms`).
    pub dead_after: Duration,
    /// Send the text `ping` after this long without any frame (OKX closes at 30 s).
    pub ping_after: Duration,
    /// How long to wait for an in-band snapshot before splicing a REST one.
    pub snapshot_wait: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// REST requests per second (OKX: 20 per 2 s on the slowest routes used).
    pub rest_per_second: usize,
    /// First delay of the per-symbol resubscribe backoff (doubling, with a cap).
    pub resubscribe_base: Duration,
    /// Cap of the per-symbol resubscribe backoff.
    pub resubscribe_cap: Duration,
}

impl Default for OkxConfig {
    fn default() -> Self {
        OkxConfig {
            ws_url: "wss://ws.okx.com:8443/ws/v5/public".to_owned(),
            rest_url: "https://www.okx.com".to_owned(),
            depth_cap: 400,
            checksum: true,
            args_per_message: 20,
            requests_per_hour: 460,
            control_per_second: 4,
            connections_per_second: 2,
            dead_after: Duration::from_secs(10),
            ping_after: Duration::from_secs(5),
            snapshot_wait: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            rest_per_second: 5,
            resubscribe_base: Duration::from_millis(500),
            resubscribe_cap: Duration::from_secs(60),
        }
    }
}
