use std::time::Duration;

/// Coinbase adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct CoinbaseConfig {
    /// Advanced Trade market-data endpoint, e.g. `wss://advanced-trade-ws.coinbase.com`.
    pub ws_url: String,
    /// REST origin, e.g. `https://api.coinbase.com` (public routes under
    /// `/api/v3/brokerage/market/…`).
    pub rest_url: String,
    /// Levels kept per side (`None`: the whole book, as the venue publishes it). A cap makes
    /// the deepest kept levels unreliable once levels above them are removed, since the
    /// venue never resends what was cut.
    pub depth_cap: Option<usize>,
    /// Products per subscribe message.
    pub products_per_message: usize,
    /// Text messages sent per second per connection (the venue allows 8 unauthenticated
    /// messages a second per IP).
    pub control_per_second: usize,
    /// New connections allowed per second (the venue: 8 per IP).
    pub connections_per_second: usize,
    /// The pong deadline (`market.dead_after_ms`): a connection showing no frame for this
    /// long, though pinged, is dead and replaced (the `heartbeats` channel sends one a second).
    pub dead_after: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// REST requests per second (public endpoints: about 10 per IP).
    pub rest_per_second: usize,
    /// Candles per request (the documented cap is 350; libraries hit an error from 300).
    pub candles_per_request: usize,
    /// How long a subscribed book may wait for its snapshot before it is subscribed again.
    pub snapshot_wait: Duration,
    /// First delay of the resubscribe backoff after a sequence gap (doubling, with a cap).
    pub resubscribe_base: Duration,
    /// Cap of the resubscribe backoff.
    pub resubscribe_cap: Duration,
}

impl Default for CoinbaseConfig {
    fn default() -> Self {
        CoinbaseConfig {
            ws_url: "wss://advanced-trade-ws.coinbase.com".to_owned(),
            rest_url: "https://api.coinbase.com".to_owned(),
            depth_cap: None,
            products_per_message: 10,
            control_per_second: 4,
            connections_per_second: 4,
            dead_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            rest_per_second: 8,
            candles_per_request: 300,
            snapshot_wait: Duration::from_secs(10),
            resubscribe_base: Duration::from_millis(500),
            resubscribe_cap: Duration::from_secs(60),
        }
    }
}
