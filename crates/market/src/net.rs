//! Shared network plumbing for venue adapters: TLS, a classified REST client, WebSocket
//! connect, and the limiters venues require (connection budget, control-message rate,
//! request weight).
//!
//! TLS is rustls with the `ring` provider and the compiled-in webpki roots, configured
//! explicitly (never a process-global provider), so no system library or OS trust store is
//! needed and nothing panics for want of a provider.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::ExchangeId;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::MarketError;

/// A client WebSocket over TCP or TLS.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn base_config() -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots())
    .with_no_client_auth())
}

/// TLS for HTTPS (ALPN h2 and http/1.1).
pub fn https_tls() -> Result<rustls::ClientConfig, MarketError> {
    let mut c = base_config().map_err(tls_err)?;
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

/// TLS for WebSockets (HTTP/1.1 only: the upgrade needs it).
pub fn wss_tls() -> Result<Arc<rustls::ClientConfig>, MarketError> {
    let mut c = base_config().map_err(tls_err)?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

fn tls_err(e: rustls::Error) -> MarketError {
    MarketError::Config(format!("TLS setup failed: {e}"))
}

/// A REST response that arrived with a 2xx status.
#[derive(Debug)]
pub struct RestResponse {
    /// The status (2xx).
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub body: String,
}

/// An HTTP client for one venue with timeouts and error classification.
#[derive(Debug, Clone)]
pub struct RestClient {
    exchange: ExchangeId,
    http: reqwest::Client,
}

impl RestClient {
    /// A client with an overall per-request `timeout`.
    pub fn new(exchange: ExchangeId, timeout: Duration) -> Result<Self, MarketError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(https_tls()?)
            .user_agent(concat!("papertwap/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|e| MarketError::Config(format!("HTTP client: {e}")))?;
        Ok(RestClient { exchange, http })
    }

    /// GET `url` with `query`. 2xx → the body; anything else → a classified error:
    /// 429/418 → [`MarketError::RateLimited`] (with the venue's `Retry-After`),
    /// 451 → [`MarketError::Refused`] (geo-blocked: retrying will not help),
    /// 403 → rate-limited for a minute (venues' WAFs block bursts this way),
    /// 5xx and transport failures → retryable, other 4xx → [`MarketError::Upstream`].
    pub async fn get(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<RestResponse, MarketError> {
        let ex = self.exchange;
        let res =
            self.http
                .get(url)
                .query(query)
                .send()
                .await
                .map_err(|e| MarketError::Unavailable {
                    exchange: ex,
                    reason: transport_reason(&e),
                    retry_after: None,
                })?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.map_err(|e| MarketError::Unavailable {
            exchange: ex,
            reason: format!("reading the response failed: {}", transport_reason(&e)),
            retry_after: None,
        })?;
        classify(ex, status, headers, body)
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {}", root_cause(e))
    } else {
        root_cause(e)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `Retry-After` in seconds (the only form venues send).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn classify(
    exchange: ExchangeId,
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
) -> Result<RestResponse, MarketError> {
    let snippet: String = body.chars().take(300).collect();
    match status {
        200..=299 => Ok(RestResponse {
            status,
            headers,
            body,
        }),
        429 | 418 => Err(MarketError::RateLimited {
            exchange,
            retry_after: retry_after(&headers).unwrap_or(Duration::from_secs(60)),
            banned: status == 418,
        }),
        451 => Err(MarketError::Refused {
            exchange,
            detail: format!("HTTP 451: the venue refuses requests from this location ({snippet})"),
        }),
        403 => Err(MarketError::RateLimited {
            exchange,
            retry_after: retry_after(&headers).unwrap_or(Duration::from_secs(60)),
            banned: false,
        }),
        500..=599 => Err(MarketError::Unavailable {
            exchange,
            reason: format!("HTTP {status} from the venue"),
            retry_after: retry_after(&headers),
        }),
        _ => Err(MarketError::Upstream {
            exchange,
            detail: format!("HTTP {status}: {snippet}"),
        }),
    }
}

/// Bytes read from a feed's socket at a time.
const WS_READ_BUFFER: usize = 16 * 1024;

/// Open a WebSocket (`ws://` or `wss://`) within `timeout`. A refused handshake with HTTP
/// 451 is terminal ([`MarketError::Refused`]); 429 is rate limiting; everything else is
/// retryable.
pub async fn ws_connect(
    exchange: ExchangeId,
    url: &str,
    timeout: Duration,
) -> Result<WsStream, MarketError> {
    let tls = tokio_tungstenite::Connector::Rustls(wss_tls()?);
    // tungstenite zero-fills `read_buffer_size` bytes before every socket read (128 KiB by
    // default: several µs a frame, more than parsing one); a larger message still reserves
    // its whole length. TLS records are at most 16 KiB.
    let config = WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER);
    let fut = tokio_tungstenite::connect_async_tls_with_config(url, Some(config), false, Some(tls));
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(MarketError::Unavailable {
            exchange,
            reason: format!("connecting to {url} timed out"),
            retry_after: None,
        }),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(res))) => {
            let status = res.status().as_u16();
            // The upgrade's own headers: a 429 says when to come back (`Retry-After`).
            let headers = res.headers().clone();
            let body = res
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            match classify(exchange, status, headers, body) {
                Ok(_) => Err(MarketError::Upstream {
                    exchange,
                    detail: format!("WebSocket upgrade answered HTTP {status}"),
                }),
                Err(e) => Err(e),
            }
        }
        Ok(Err(e)) => Err(MarketError::Unavailable {
            exchange,
            reason: format!("cannot connect to {url}: {}", root_cause(&e)),
            retry_after: None,
        }),
    }
}

/// What a [`WsConn`]'s reader reports, tagged with the connection id.
#[derive(Debug)]
pub enum WsEvent {
    /// A text frame.
    Frame(u64, String),
    /// A ping, pong or binary frame: the connection is alive.
    Alive(u64),
    /// The connection ended (closed, failed, or no frame within the read timeout).
    Closed(u64, String),
}

/// A WebSocket session shared by every venue: a writer task that paces control messages
/// (text and pings), and a reader task that forwards frames as [`WsEvent`]s and keeps the
/// **pong deadline**: after a third of `dead_after` without any frame it sends a WebSocket
/// ping (again every third), and a connection that shows no frame at all — no data, no
/// heartbeat, no pong — for `dead_after` is declared dead, so a silent socket is replaced
/// within seconds instead of at a TCP timeout. Protocol pings from the venue are answered by
/// tungstenite while the reader reads.
#[derive(Debug)]
pub struct WsConn {
    id: u64,
    out: tokio::sync::mpsc::UnboundedSender<tokio_tungstenite::tungstenite::Message>,
    opened: Instant,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl WsConn {
    /// Start the session's tasks. At most `control_per_second` text messages are sent per
    /// second (excess ones wait, in order).
    pub fn spawn(
        ws: WsStream,
        id: u64,
        events: tokio::sync::mpsc::UnboundedSender<WsEvent>,
        control_per_second: usize,
        dead_after: Duration,
    ) -> WsConn {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            let limit = SlidingLimit::new(control_per_second, Duration::from_secs(1));
            while let Some(m) = out_rx.recv().await {
                let closing = matches!(m, Message::Close(_));
                // Venues count pings among the control messages they limit (Binance: 5/s).
                if matches!(m, Message::Text(_) | Message::Ping(_)) {
                    limit.acquire().await;
                }
                if sink.send(m).await.is_err() || closing {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let pinger = out_tx.clone();
        let probe_every = (dead_after / 3).max(Duration::from_millis(100));
        let reader = tokio::spawn(async move {
            let mut last_frame = Instant::now();
            loop {
                let wait = dead_after
                    .saturating_sub(last_frame.elapsed())
                    .min(probe_every);
                let next = tokio::time::timeout(wait, stream.next()).await;
                let ev = match next {
                    Err(_) if last_frame.elapsed() >= dead_after => {
                        WsEvent::Closed(id, format!("no frame and no pong for {dead_after:?}"))
                    }
                    Err(_) => {
                        let _ = pinger.send(Message::Ping(Vec::new().into()));
                        continue;
                    }
                    Ok(None) => WsEvent::Closed(id, "connection closed".to_owned()),
                    Ok(Some(Err(e))) => WsEvent::Closed(id, e.to_string()),
                    Ok(Some(Ok(Message::Text(t)))) => WsEvent::Frame(id, t.to_string()),
                    Ok(Some(Ok(Message::Close(c)))) => WsEvent::Closed(
                        id,
                        c.map_or_else(
                            || "closed by the venue".to_owned(),
                            |c| format!("closed by the venue: {}", c.reason),
                        ),
                    ),
                    Ok(Some(Ok(_))) => WsEvent::Alive(id),
                };
                last_frame = Instant::now();
                let end = matches!(ev, WsEvent::Closed(..));
                if events.send(ev).is_err() || end {
                    break;
                }
            }
        });
        WsConn {
            id,
            out: out_tx,
            opened: Instant::now(),
            tasks: [writer, reader],
        }
    }

    /// The id given at spawn.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// When the session started.
    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// Queue a text message (paced by the control-rate limit).
    pub fn send_text(&self, text: String) {
        let _ = self
            .out
            .send(tokio_tungstenite::tungstenite::Message::text(text));
    }

    /// Send a close frame and stop reading.
    pub fn close(self) {
        let _ = self
            .out
            .send(tokio_tungstenite::tungstenite::Message::Close(None));
        // The writer sends the close frame and ends; the reader ends with the socket.
        let [_writer, reader] = self.tasks;
        reader.abort();
    }
}

/// Lock a mutex, recovering the data if a panicking holder poisoned it (the limiters' state
/// stays consistent: every update is a single push or pop).
fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Drop entries older than `window` from the front of a time-ordered queue.
fn prune<T>(q: &mut VecDeque<T>, now: Instant, window: Duration, at: impl Fn(&T) -> Instant) {
    while q
        .front()
        .is_some_and(|e| now.duration_since(at(e)) >= window)
    {
        q.pop_front();
    }
}

/// At most `max` events per sliding `window`; `acquire` waits for a free slot. Used for a
/// venue's connection budget (Binance 300 per 5 minutes, Kraken about 150 per 10 minutes) and
/// for the rate of control messages on one connection (Binance: 5 per second).
#[derive(Debug)]
pub struct SlidingLimit {
    max: usize,
    window: Duration,
    times: Mutex<VecDeque<Instant>>,
}

impl SlidingLimit {
    /// A limit of `max` per `window` (`max` ≥ 1).
    pub fn new(max: usize, window: Duration) -> Self {
        SlidingLimit {
            max: max.max(1),
            window,
            times: Mutex::new(VecDeque::new()),
        }
    }

    /// Wait until one more event fits, and record it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut t = guard(&self.times);
                let now = Instant::now();
                prune(&mut t, now, self.window, |f| *f);
                if t.len() < self.max {
                    t.push_back(now);
                    return;
                }
                match t.front() {
                    Some(f) => self.window.saturating_sub(now.duration_since(*f)),
                    None => Duration::ZERO,
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// Events recorded in the current window.
    pub fn in_window(&self) -> usize {
        let mut t = guard(&self.times);
        let now = Instant::now();
        prune(&mut t, now, self.window, |f| *f);
        t.len()
    }
}

/// Recorded `(when, weight)` entries and the instant until which requests are refused.
type WeightState = (VecDeque<(Instant, u32)>, Option<Instant>);

/// A request-weight budget per sliding window that can also be closed until a time (after
/// a venue's 429/418 with `Retry-After`).
#[derive(Debug)]
pub struct WeightLimit {
    budget: u32,
    window: Duration,
    state: Mutex<WeightState>,
}

impl WeightLimit {
    /// `budget` weight per `window`.
    pub fn new(budget: u32, window: Duration) -> Self {
        WeightLimit {
            budget: budget.max(1),
            window,
            state: Mutex::new((VecDeque::new(), None)),
        }
    }

    /// Wait until `weight` fits in the window (and any block has passed), and record it.
    pub async fn acquire(&self, weight: u32) {
        let weight = weight.min(self.budget);
        loop {
            let wait = {
                let mut st = guard(&self.state);
                let now = Instant::now();
                if let Some(until) = st.1 {
                    if until > now {
                        until - now
                    } else {
                        st.1 = None;
                        Duration::ZERO
                    }
                } else {
                    prune(&mut st.0, now, self.window, |(t, _)| *t);
                    let used: u32 = st.0.iter().map(|(_, w)| *w).sum();
                    if used + weight <= self.budget {
                        st.0.push_back((now, weight));
                        return;
                    }
                    match st.0.front() {
                        Some((t, _)) => self.window.saturating_sub(now.duration_since(*t)),
                        None => Duration::ZERO,
                    }
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// Refuse every request for `d` (the venue said so).
    pub fn block_for(&self, d: Duration) {
        let mut st = guard(&self.state);
        let until = Instant::now() + d;
        st.1 = Some(st.1.map_or(until, |u| u.max(until)));
    }

    /// Weight used in the current window.
    pub fn used(&self) -> u32 {
        let mut st = guard(&self.state);
        let now = Instant::now();
        prune(&mut st.0, now, self.window, |(t, _)| *t);
        st.0.iter().map(|(_, w)| *w).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_limit_spaces_events() {
        let l = SlidingLimit::new(5, Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..12 {
            l.acquire().await;
        }
        // 12 events at 5 per second need two full windows.
        assert!(t0.elapsed() >= Duration::from_secs(2));
        assert!(l.in_window() <= 5);
    }

    #[tokio::test(start_paused = true)]
    async fn weight_limit_honours_budget_and_blocks() {
        let w = WeightLimit::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        w.acquire(50).await;
        w.acquire(50).await;
        assert!(t0.elapsed() < Duration::from_secs(1));
        w.acquire(50).await;
        assert!(t0.elapsed() >= Duration::from_secs(60));
        w.block_for(Duration::from_secs(120));
        let t1 = Instant::now();
        w.acquire(1).await;
        assert!(t1.elapsed() >= Duration::from_secs(120));
    }

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let ex = ExchangeId::Binance;
        assert!(classify(ex, 200, h.clone(), "{}".into()).is_ok());
        let mut ra = reqwest::header::HeaderMap::new();
        ra.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        match classify(ex, 429, ra.clone(), String::new()) {
            Err(MarketError::RateLimited {
                retry_after,
                banned: false,
                ..
            }) => {
                assert_eq!(retry_after, Duration::from_secs(7))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(ex, 418, ra, String::new()),
            Err(MarketError::RateLimited { banned: true, .. })
        ));
        let e = classify(ex, 451, h.clone(), "restricted".into()).unwrap_err();
        assert!(matches!(e, MarketError::Refused { .. }) && !e.is_retryable());
        assert!(
            classify(ex, 503, h.clone(), String::new())
                .unwrap_err()
                .is_retryable()
        );
        let e = classify(ex, 400, h, r#"{"code":-1121}"#.into()).unwrap_err();
        assert!(matches!(e, MarketError::Upstream { .. }));
    }
}
