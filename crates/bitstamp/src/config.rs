use std::time::Duration;

/// Bitstamp adapter settings. Production defaults; tests point the URLs at mocks.
#[derive(Debug, Clone)]
pub struct BitstampConfig {
    /// WebSocket v2 endpoint, e.g. `wss://ws.bitstamp.net`.
    pub ws_url: String,
    /// REST origin, e.g. `https://www.bitstamp.net` (routes under `/api/v2/…`).
    pub rest_url: String,
    /// Levels kept per side (`None`: every level the REST book and the diffs carry).
    pub depth_cap: Option<usize>,
    /// Text messages sent per second per connection.
    pub control_per_second: usize,
    /// New connections allowed per minute.
    pub connections_per_minute: usize,
    /// The pong deadline (`market.dead_after_ms`): a connection showing no frame for this
    /// long, though pinged, is dead and replaced.
    pub dead_after: Duration,
    /// Connect/handshake timeout.
    pub connect_timeout: Duration,
    /// REST request timeout.
    pub rest_timeout: Duration,
    /// REST requests per second (the venue allows far more; 10 a second is the budget).
    pub rest_per_second: usize,
    /// Diffs held per book while its REST snapshot is fetched (the oldest are dropped, and
    /// the splice then waits for a newer snapshot).
    pub buffer_cap: usize,
    /// How far before its stamp a REST book is placed on the stream: the diffs of that
    /// window are applied again on top of it (they carry absolute sizes, so a change the
    /// REST book already shows is unchanged, and one it missed is corrected). The venue's
    /// REST content lags its stamp by about a second.
    pub splice_margin: Duration,
    /// How long after a `bts:request_reconnect` the old connection is kept while the books
    /// move to the new one; books not moved by then are spliced from REST.
    pub handover_within: Duration,
    /// First delay of the per-book resync backoff (doubling, with a cap).
    pub resync_base: Duration,
    /// Cap of the per-book resync backoff.
    pub resync_cap: Duration,
}

impl Default for BitstampConfig {
    fn default() -> Self {
        BitstampConfig {
            ws_url: "wss://ws.bitstamp.net".to_owned(),
            rest_url: "https://www.bitstamp.net".to_owned(),
            depth_cap: None,
            control_per_second: 4,
            connections_per_minute: 30,
            dead_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            rest_per_second: 8,
            buffer_cap: 10_000,
            splice_margin: Duration::from_secs(2),
            handover_within: Duration::from_secs(10),
            resync_base: Duration::from_millis(500),
            resync_cap: Duration::from_secs(60),
        }
    }
}
