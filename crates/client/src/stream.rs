//! The WebSocket stream: typed messages, automatic reconnect with backoff, resubscription.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wire::{ClientMessage, ServerMessage, Subscription};

use crate::{Client, Error};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Which book a subscription follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookChannel {
    /// Exchange id.
    pub exchange: String,
    /// Symbol (any spelling).
    pub symbol: String,
    /// Levels per side (1–100).
    pub depth: u32,
    /// Milliseconds between frames (100–60 000).
    pub interval_ms: u64,
}

/// A live `/ws` connection. Subscriptions survive reconnects.
pub struct Stream {
    client: Client,
    ws: Option<Ws>,
    subs: Vec<Subscription>,
    backoff: Duration,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("subscriptions", &self.subs)
            .finish()
    }
}

async fn open(client: &Client) -> Result<Ws, Error> {
    let token = client.token().await?;
    let mut req = client
        .ws_url()
        .into_client_request()
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let v = format!("Bearer {token}")
        .parse()
        .map_err(|_| Error::Invalid("token is not a header value".into()))?;
    req.headers_mut().insert("authorization", v);
    let tls = tokio_tungstenite::Connector::Rustls(crate::ws_tls()?);
    // tungstenite zero-fills `read_buffer_size` bytes before every read (128 KiB by default);
    // a frame is a few KiB and a larger one still reserves its whole length.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    match tokio_tungstenite::connect_async_tls_with_config(req, Some(config), false, Some(tls))
        .await
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let status = r.status().as_u16();
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let p = serde_json::from_str::<wire::Problem>(&body).ok();
            Err(Error::Api {
                status,
                code: p.as_ref().map_or("http_error".into(), |p| p.code.clone()),
                detail: p.map_or(body, |p| p.detail),
            })
        }
        Err(e) => Err(Error::Transport(e.to_string())),
    }
}

impl Stream {
    pub(crate) async fn connect(client: Client) -> Result<Stream, Error> {
        let ws = open(&client).await?;
        Ok(Stream {
            client,
            ws: Some(ws),
            subs: Vec::new(),
            backoff: Duration::from_millis(250),
        })
    }

    async fn send(&mut self, m: &ClientMessage) -> Result<(), Error> {
        let text = serde_json::to_string(m).map_err(|e| Error::Decode(e.to_string()))?;
        match self.ws.as_mut() {
            Some(ws) => ws
                .send(Message::text(text))
                .await
                .map_err(|e| Error::Transport(e.to_string())),
            None => Ok(()), // sent on reconnect
        }
    }

    /// Subscribe and wait for the server's answer: `Ok` with the normalized subscription, or
    /// the server's `error` as [`Error::Api`] (status 400).
    async fn subscribe(&mut self, s: Subscription) -> Result<Subscription, Error> {
        self.send(&ClientMessage::Subscribe(s.clone())).await?;
        loop {
            match self.next().await {
                Some(Ok(ServerMessage::Subscribed(got))) => {
                    if !self.subs.contains(&got) {
                        self.subs.push(got.clone());
                    }
                    return Ok(got);
                }
                Some(Ok(ServerMessage::Error { code, detail })) => {
                    return Err(Error::Api {
                        status: 400,
                        code,
                        detail,
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(Error::Transport("stream closed".into())),
            }
        }
    }

    /// Book frames for one exchange's book.
    pub async fn subscribe_book(&mut self, b: BookChannel) -> Result<Subscription, Error> {
        self.subscribe(Subscription {
            channel: wire::Channel::Book,
            exchange: Some(b.exchange),
            symbol: Some(b.symbol),
            depth: Some(b.depth),
            interval_ms: Some(b.interval_ms),
        })
        .await
    }

    /// Consolidated frames for a canonical symbol across every enabled exchange.
    pub async fn subscribe_consolidated(
        &mut self,
        symbol: &str,
        depth: u32,
        interval_ms: u64,
    ) -> Result<Subscription, Error> {
        self.subscribe(Subscription {
            channel: wire::Channel::Consolidated,
            exchange: None,
            symbol: Some(symbol.into()),
            depth: Some(depth),
            interval_ms: Some(interval_ms),
        })
        .await
    }

    /// Public trades of one exchange's book, batched every `interval_ms` (100–60 000; the
    /// server's default is 100). Only trades from now on: the history is
    /// [`Client::trades`].
    pub async fn subscribe_trades(
        &mut self,
        exchange: &str,
        symbol: &str,
        interval_ms: Option<u64>,
    ) -> Result<Subscription, Error> {
        self.subscribe(Subscription {
            channel: wire::Channel::Trades,
            exchange: Some(exchange.into()),
            symbol: Some(symbol.into()),
            depth: None,
            interval_ms,
        })
        .await
    }

    /// The user's order updates.
    pub async fn subscribe_orders(&mut self) -> Result<Subscription, Error> {
        self.subscribe(Subscription {
            channel: wire::Channel::Orders,
            exchange: None,
            symbol: None,
            depth: None,
            interval_ms: None,
        })
        .await
    }

    /// The next message. Connection failures are handled inside: the stream reconnects
    /// (backoff 0.25 s doubling to 10 s) and resubscribes; `None` only if the client is not
    /// logged in any more.
    pub async fn next(&mut self) -> Option<Result<ServerMessage, Error>> {
        loop {
            let Some(ws) = self.ws.as_mut() else {
                match open(&self.client).await {
                    Ok(mut ws) => {
                        let mut ok = true;
                        for s in &self.subs {
                            let t = serde_json::to_string(&ClientMessage::Subscribe(s.clone()))
                                .unwrap_or_default();
                            if ws.send(Message::text(t)).await.is_err() {
                                ok = false;
                                break;
                            }
                        }
                        if ok {
                            self.ws = Some(ws);
                            self.backoff = Duration::from_millis(250);
                        }
                    }
                    Err(Error::NotLoggedIn) => return None,
                    Err(Error::Api { status: 401, .. }) => return None,
                    Err(_) => {
                        tokio::time::sleep(self.backoff).await;
                        self.backoff = (self.backoff * 2).min(Duration::from_secs(10));
                    }
                }
                continue;
            };
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).map_err(|e| {
                        Error::Decode(format!("{e}: {}", t.chars().take(120).collect::<String>()))
                    }));
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    self.ws = None;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
