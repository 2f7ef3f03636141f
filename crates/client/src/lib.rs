//! `papertwap-client`: the typed Rust SDK for the papertwap HTTP and WebSocket API.
//!
//! ```no_run
//! use papertwap_client::{Client, wire};
//!
//! # async fn demo() -> Result<(), papertwap_client::Error> {
//! let client = Client::new("http://127.0.0.1:8000")?;
//! client.login("premium", "CryptoTWAPpremium").await?;
//! let book = client.order_book("sim", "BTC-USDT", 5).await?;
//! println!("best ask {:?}", book.asks.first());
//! let order = client.submit(&papertwap_client::twap("my-1", "sim", "BTC-USDT", "buy", "0.5", 60, 10)?).await?;
//! let done = client.wait_for_final(&order.token_id, std::time::Duration::from_secs(1)).await?;
//! println!("{} filled {} at {:?}", done.token_id, done.filled_quantity, done.avg_price);
//! # Ok(()) }
//! ```
//!
//! # Invariant
//! Depends on `papertwap-wire` only from this workspace — never on the server side (`api`,
//! `actix-web`, `model`) — so applications compile only what talking to the API needs.
//! The layering test in `e2e` checks this transitively.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod requests;
mod stream;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use requests::{order, twap};
pub use rust_decimal::Decimal;
pub use stream::{BookChannel, Stream};
pub use wire;

/// Everything that can go wrong talking to a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem (4xx/5xx).
    #[error("{status} {code}: {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The problem's stable `code`.
        code: String,
        /// The problem's sentence.
        detail: String,
    },
    /// The server could not be reached or the connection failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The answer was not what the API documents.
    #[error("decode: {0}")]
    Decode(String),
    /// An authenticated call before [`Client::login`].
    #[error("not logged in: call Client::login first")]
    NotLoggedIn,
    /// A bad argument (URL, TLS setup).
    #[error("invalid: {0}")]
    Invalid(String),
}

impl Error {
    /// The problem code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// TLS with the `ring` provider and the compiled-in webpki roots: no system library, no OS
/// trust store, no process-global provider.
fn tls_config(alpn: &[&[u8]]) -> Result<rustls::ClientConfig, Error> {
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(c)
}

/// Builder for a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    user_agent: String,
}

impl ClientBuilder {
    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Build the client.
    pub fn build(self) -> Result<Client, Error> {
        let base = self.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Invalid(format!(
                "base URL must start with http:// or https://: {base}"
            )));
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(&[b"h2", b"http/1.1"])?)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                http,
                session: Mutex::new(None),
            }),
        })
    }
}

#[derive(Debug, Clone)]
struct Session {
    username: String,
    password: String,
    token: String,
    /// Re-login after this instant (a minute before expiry).
    refresh_at: Instant,
}

#[derive(Debug)]
struct Inner {
    base: String,
    http: reqwest::Client,
    session: Mutex<Option<Session>>,
}

/// A papertwap API client. Cheap to clone and safe to share across tasks; keeps its session
/// valid (logs in again a minute before the token expires, and once on a 401).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

fn transport(e: reqwest::Error) -> Error {
    Error::Transport(e.to_string())
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, Error> {
    let status = res.status().as_u16();
    let text = res.text().await.map_err(transport)?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|e| {
            Error::Decode(format!(
                "{e}: {}",
                text.chars().take(200).collect::<String>()
            ))
        });
    }
    match serde_json::from_str::<wire::Problem>(&text) {
        Ok(p) => Err(Error::Api {
            status,
            code: p.code,
            detail: p.detail,
        }),
        Err(_) => Err(Error::Api {
            status,
            code: "http_error".to_owned(),
            detail: text.chars().take(200).collect(),
        }),
    }
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8000`) with default settings.
    pub fn new(base_url: &str) -> Result<Client, Error> {
        Client::builder(base_url).build()
    }

    /// A builder for `base_url`.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(30),
            user_agent: concat!("papertwap-client/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base, path)
    }

    /// Log in with a user name and password (`POST /token`); the session is kept valid.
    pub async fn login(&self, username: &str, password: &str) -> Result<(), Error> {
        let t = self.fetch_token(username, password).await?;
        let mut g = self
            .inner
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = Some(Session {
            username: username.to_owned(),
            password: password.to_owned(),
            refresh_at: Instant::now()
                + Duration::from_secs(t.expires_in.saturating_sub(60).max(1)),
            token: t.access_token,
        });
        Ok(())
    }

    /// Use an existing token (e.g. saved by the CLI); it is not renewed automatically.
    pub fn set_token(&self, token: &str) {
        let mut g = self
            .inner
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = Some(Session {
            username: String::new(),
            password: String::new(),
            token: token.to_owned(),
            refresh_at: Instant::now() + Duration::from_secs(365 * 86_400),
        });
    }

    async fn fetch_token(&self, username: &str, password: &str) -> Result<wire::Token, Error> {
        let res = self
            .inner
            .http
            .post(self.url("/token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .map_err(transport)?;
        decode(res).await
    }

    /// A valid bearer token, logging in again when it is about to expire.
    pub async fn token(&self) -> Result<String, Error> {
        let s = self
            .inner
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(Error::NotLoggedIn)?;
        if Instant::now() < s.refresh_at || s.username.is_empty() {
            return Ok(s.token);
        }
        self.login(&s.username, &s.password).await?;
        self.inner
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|s| s.token.clone())
            .ok_or(Error::NotLoggedIn)
    }

    async fn relogin(&self) -> Result<bool, Error> {
        let s = self
            .inner
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match s {
            Some(s) if !s.username.is_empty() => {
                self.login(&s.username, &s.password).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, Error> {
        let res = self
            .inner
            .http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .map_err(transport)?;
        decode(res).await
    }

    /// An authenticated request; on a 401 logs in once more and retries.
    async fn authed<T: DeserializeOwned>(
        &self,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let res = make(&self.inner.http, &token)
                .send()
                .await
                .map_err(transport)?;
            if res.status().as_u16() == 401 && attempt == 0 && self.relogin().await? {
                continue;
            }
            return decode(res).await;
        }
        Err(Error::NotLoggedIn)
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<wire::Health, Error> {
        let res = self
            .inner
            .http
            .get(self.url("/health"))
            .send()
            .await
            .map_err(transport)?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(transport)?;
        // 503 still carries the health body.
        serde_json::from_str(&text).map_err(|e| Error::Decode(format!("HTTP {status}: {e}")))
    }

    /// `GET /exchanges`.
    pub async fn exchanges(&self) -> Result<Vec<wire::Exchange>, Error> {
        self.get("/exchanges", &()).await
    }

    /// `GET /exchanges/{exchange}/pairs`, optionally only pairs quoted in `quote`.
    pub async fn pairs(
        &self,
        exchange: &str,
        quote: Option<&str>,
    ) -> Result<Vec<wire::Pair>, Error> {
        let q: Vec<(&str, &str)> = quote.map(|q| vec![("quote", q)]).unwrap_or_default();
        self.get(&format!("/exchanges/{exchange}/pairs"), &q).await
    }

    /// `GET /klines/{exchange}/{symbol}`.
    pub async fn klines(
        &self,
        exchange: &str,
        symbol: &str,
        q: &wire::KlinesQuery,
    ) -> Result<Vec<wire::Kline>, Error> {
        self.get(&format!("/klines/{exchange}/{}", enc(symbol)), q)
            .await
    }

    /// `GET /orderbook/{exchange}/{symbol}?depth=`.
    pub async fn order_book(
        &self,
        exchange: &str,
        symbol: &str,
        depth: u32,
    ) -> Result<wire::OrderBook, Error> {
        self.get(
            &format!("/orderbook/{exchange}/{}", enc(symbol)),
            &[("depth", depth)],
        )
        .await
    }

    /// `GET /orderbook/consolidated/{symbol}?depth=`: one book merged across every enabled
    /// exchange listing the symbol.
    pub async fn consolidated_book(
        &self,
        symbol: &str,
        depth: u32,
    ) -> Result<wire::ConsolidatedBook, Error> {
        self.get(
            &format!("/orderbook/consolidated/{}", enc(symbol)),
            &[("depth", depth)],
        )
        .await
    }

    /// `GET /trades/{exchange}/{symbol}`: the newest `limit` public trades of the window,
    /// oldest first.
    pub async fn trades(
        &self,
        exchange: &str,
        symbol: &str,
        q: &wire::TradesQuery,
    ) -> Result<Vec<wire::Trade>, Error> {
        self.get(&format!("/trades/{exchange}/{}", enc(symbol)), q)
            .await
    }

    /// `POST /orders/twap` (one order). A replay of the same request answers the original.
    pub async fn submit(&self, req: &wire::TwapRequest) -> Result<wire::Order, Error> {
        let url = self.url("/orders/twap");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(req))
            .await
    }

    /// `POST /orders/twap` with an array: all validated before any is created.
    pub async fn submit_batch(
        &self,
        reqs: &[wire::TwapRequest],
    ) -> Result<Vec<wire::Order>, Error> {
        let url = self.url("/orders/twap");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(reqs))
            .await
    }

    /// `POST /orders` (one order of any strategy; build it with [`order`]). A replay of the
    /// same request answers the original.
    pub async fn submit_order(&self, req: &wire::OrderRequest) -> Result<wire::Order, Error> {
        let url = self.url("/orders");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(req))
            .await
    }

    /// `POST /orders` with an array: all validated before any is created.
    pub async fn submit_orders(
        &self,
        reqs: &[wire::OrderRequest],
    ) -> Result<Vec<wire::Order>, Error> {
        let url = self.url("/orders");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(reqs))
            .await
    }

    /// `POST /orders/preview`: the schedule the order would run and its pre-trade
    /// estimates; nothing is stored.
    pub async fn preview(&self, req: &wire::OrderRequest) -> Result<wire::Preview, Error> {
        let url = self.url("/orders/preview");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(req))
            .await
    }

    /// `GET /orders` with filters and paging.
    pub async fn orders(&self, q: &wire::OrdersQuery) -> Result<Vec<wire::Order>, Error> {
        let url = self.url("/orders");
        self.authed(|h, t| h.get(&url).bearer_auth(t).query(q))
            .await
    }

    /// `GET /orders/{token_id}`: progress, analytics and slices.
    pub async fn order(&self, token_id: &str) -> Result<wire::Order, Error> {
        let url = self.url(&format!("/orders/{}", enc(token_id)));
        self.authed(|h, t| h.get(&url).bearer_auth(t)).await
    }

    /// `DELETE /orders/{token_id}`.
    pub async fn cancel(&self, token_id: &str) -> Result<wire::Order, Error> {
        let url = self.url(&format!("/orders/{}", enc(token_id)));
        self.authed(|h, t| h.delete(&url).bearer_auth(t)).await
    }

    /// `POST /orders/{token_id}/whatif`: re-run a finished order on the market recorded during
    /// its window with `changes` (an empty request re-runs it as it was: the answer then
    /// says it reproduces the original). Errors: 409 `order_open`, 409 `not_recorded`.
    pub async fn whatif(
        &self,
        token_id: &str,
        changes: &wire::WhatIfRequest,
    ) -> Result<wire::WhatIf, Error> {
        let url = self.url(&format!("/orders/{}/whatif", enc(token_id)));
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(changes))
            .await
    }

    /// `POST /backtests`: run an order and its variants side by side on a recorded past
    /// window; the result is stored. Errors: 400 `invalid_window`, 409 `not_recorded`.
    pub async fn backtest(&self, req: &wire::BacktestRequest) -> Result<wire::Backtest, Error> {
        let url = self.url("/backtests");
        self.authed(|h, t| h.post(&url).bearer_auth(t).json(req))
            .await
    }

    /// `GET /backtests`: your backtests, newest first.
    pub async fn backtests(&self, q: &wire::BacktestsQuery) -> Result<Vec<wire::Backtest>, Error> {
        let url = self.url("/backtests");
        self.authed(|h, t| h.get(&url).bearer_auth(t).query(q))
            .await
    }

    /// `GET /backtests/{id}`.
    pub async fn backtest_by_id(&self, id: &str) -> Result<wire::Backtest, Error> {
        let url = self.url(&format!("/backtests/{}", enc(id)));
        self.authed(|h, t| h.get(&url).bearer_auth(t)).await
    }

    /// Poll `GET /orders/{token_id}` every `every` until the order is `filled`, `expired` or
    /// `cancelled`.
    pub async fn wait_for_final(
        &self,
        token_id: &str,
        every: Duration,
    ) -> Result<wire::Order, Error> {
        loop {
            let o = self.order(token_id).await?;
            if !o.status.is_open() {
                return Ok(o);
            }
            tokio::time::sleep(every).await;
        }
    }

    /// A WebSocket stream on `/ws`, authenticated with this client's session; it reconnects
    /// with backoff and resubscribes by itself.
    pub async fn stream(&self) -> Result<Stream, Error> {
        Stream::connect(self.clone()).await
    }

    pub(crate) fn ws_url(&self) -> String {
        let b = &self.inner.base;
        let rest = b
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .unwrap_or_else(|| b.replacen("http://", "ws://", 1));
        format!("{rest}/ws")
    }
}

/// Percent-encode a path segment (symbols such as `XBT/USD`).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn ws_tls() -> Result<Arc<rustls::ClientConfig>, Error> {
    tls_config(&[b"http/1.1"]).map(Arc::new)
}
