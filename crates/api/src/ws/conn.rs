//! One WebSocket connection: authentication, client messages, subscriptions, ticks and
//! order updates.

use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Message, Session};
use bytestring::ByteString;
use futures_util::StreamExt;
use model::Timestamp;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tracing::{debug, info};
use wire::{Channel, ClientMessage, ServerMessage, Subscription};

use super::WsConfig;
use super::fanout::{self, Membership};
use super::frames::{Feed, Sub, Ticked, consolidated_frame, instant_at, next_tick, trades_frame};
use super::subscription::normalize;
use crate::auth::Claims;
use crate::convert;
use crate::state::AppState;

struct Conn {
    state: Arc<AppState>,
    session: Session,
    claims: Option<Claims>,
    /// Consolidated and trades subscriptions, ticked by this connection.
    subs: Vec<Sub>,
    /// Book subscriptions, ticked by their group (`fanout`).
    books: Vec<(Subscription, Membership)>,
    /// Notified by a book group when this client stopped reading.
    evicted: Rc<Notify>,
    orders: Option<broadcast::Receiver<Arc<engine::Update>>>,
    budget: MessageBudget,
}

/// A token bucket over client messages, in thousandths of a message (integer arithmetic).
struct MessageBudget {
    milli: u64,
    cap: u64,
    per_ms: u64,
    last: Instant,
}

impl MessageBudget {
    fn new(c: &WsConfig) -> Self {
        let cap = u64::from(c.message_burst) * 1_000;
        MessageBudget {
            milli: cap,
            cap,
            // messages per second = thousandths of a message per millisecond
            per_ms: u64::from(c.max_messages_per_second),
            last: Instant::now(),
        }
    }

    /// Spend one message; `false` when the client is over its budget.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let ms = u64::try_from(now.duration_since(self.last).as_millis()).unwrap_or(u64::MAX);
        self.last = now;
        self.milli = self
            .milli
            .saturating_add(ms.saturating_mul(self.per_ms))
            .min(self.cap);
        if self.milli < 1_000 {
            return false;
        }
        self.milli -= 1_000;
        true
    }
}

enum Flow {
    Continue,
    Close(Option<CloseReason>),
}

fn err(code: &str, detail: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code: code.to_owned(),
        detail: detail.into(),
    }
}

pub(super) fn json(m: &ServerMessage) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| {
        r#"{"type":"error","code":"internal_error","detail":"could not encode a frame"}"#.to_owned()
    })
}

/// Run one connection; returns the user id it counted against, if any.
pub(super) async fn run(
    state: Arc<AppState>,
    session: Session,
    mut stream: actix_ws::MessageStream,
    claims: Option<Claims>,
) -> Option<i64> {
    let budget = MessageBudget::new(&state.ws.config);
    let mut c = Conn {
        state,
        session,
        claims,
        subs: Vec::new(),
        books: Vec::new(),
        evicted: Rc::new(Notify::new()),
        orders: None,
        budget,
    };
    if let Some(cl) = &c.claims {
        let m = ServerMessage::Authenticated {
            expires_at: chrono::DateTime::from_timestamp(cl.exp, 0).unwrap_or_default(),
        };
        if c.send_text(json(&m)).await.is_err() {
            return c.claims.map(|x| x.uid);
        }
    }
    // The three timers live as long as the connection and are re-armed only when their
    // instant moves: registering and cancelling timer entries on every loop turn was a tenth
    // of the server's time at 5 000 subscribers (perf, docs/PERFORMANCE.md).
    let auth_deadline = tokio::time::sleep(c.state.ws.config.auth_timeout);
    let tick = tokio::time::sleep(Duration::ZERO);
    let expiry = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(auth_deadline, tick, expiry);
    let mut tick_at: Option<i64> = None;
    let mut expiry_at: Option<i64> = None;
    let reason = loop {
        let next_ms = c.subs.iter().map(|s| s.next_ms).min();
        if next_ms != tick_at {
            if let Some(ms) = next_ms {
                tick.as_mut().reset(instant_at(ms));
            }
            tick_at = next_ms;
        }
        let exp_ms = c.claims.as_ref().map(|cl| cl.exp * 1_000);
        if exp_ms != expiry_at {
            if let Some(ms) = exp_ms {
                expiry.as_mut().reset(instant_at(ms));
            }
            expiry_at = exp_ms;
        }
        let flow = tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(m)) if c.budget.take() => c.on_message(m).await,
                Some(Ok(_)) => {
                    let cfg = &c.state.ws.config;
                    let detail = format!(
                        "more than {} messages at once or {} per second",
                        cfg.message_burst, cfg.max_messages_per_second
                    );
                    let _ = c.send_text(json(&err("too_many_messages", detail))).await;
                    Flow::Close(Some(CloseReason { code: CloseCode::Policy, description: Some("too many messages".into()) }))
                }
                Some(Err(e)) => Flow::Close(Some(CloseReason { code: if matches!(e, actix_ws::ProtocolError::Overflow) { CloseCode::Size } else { CloseCode::Protocol }, description: Some(e.to_string()) })),
                None => break None,
            },
            () = &mut tick, if tick_at.is_some() => {
                // Re-armed on the next turn even if the earliest tick did not move.
                tick_at = None;
                c.on_tick().await
            }
            () = c.evicted.notified() => {
                info!("WebSocket client stopped reading; closing");
                Flow::Close(None)
            }
            upd = async { match c.orders.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => c.on_order(upd).await,
            () = &mut auth_deadline, if c.claims.is_none() => {
                let _ = c.send_text(json(&err("unauthenticated", "no auth message within 5 s"))).await;
                Flow::Close(Some(CloseReason { code: CloseCode::Policy, description: Some("authentication required".into()) }))
            }
            () = &mut expiry, if expiry_at.is_some() => {
                let _ = c.send_text(json(&err("token_expired", "the token expired; re-authenticate before expiry to stay connected"))).await;
                Flow::Close(Some(CloseReason { code: CloseCode::Policy, description: Some("token expired".into()) }))
            }
        };
        match flow {
            Flow::Continue => {}
            Flow::Close(r) => break r,
        }
    };
    let uid = c.claims.as_ref().map(|x| x.uid);
    let _ = tokio::time::timeout(Duration::from_secs(1), c.session.close(reason)).await;
    uid
}

impl Conn {
    /// Send with the configured deadline; `Err` closes the connection. A send that completes
    /// at once (room in the session's queue: nearly all of them) arms no timer.
    async fn send_text(&mut self, text: impl Into<ByteString>) -> Result<(), ()> {
        let deadline = self.state.ws.config.send_timeout;
        let mut send = std::pin::pin!(self.session.text(text));
        let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
        let sent = match first {
            Poll::Ready(r) => Ok(r),
            Poll::Pending => tokio::time::timeout(deadline, send).await,
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(()),
            Err(_) => {
                info!("WebSocket client stopped reading; closing");
                Err(())
            }
        }
    }

    async fn reply(&mut self, m: &ServerMessage) -> Flow {
        match self.send_text(json(m)).await {
            Ok(()) => Flow::Continue,
            Err(()) => Flow::Close(None),
        }
    }

    async fn on_message(&mut self, m: Message) -> Flow {
        match m {
            Message::Text(t) => self.on_text(&t).await,
            Message::Binary(_) => {
                self.reply(&err("unsupported_message", "send JSON text frames"))
                    .await
            }
            Message::Ping(p) => match self.session.pong(&p).await {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Close(None),
            },
            Message::Pong(_) | Message::Nop | Message::Continuation(_) => Flow::Continue,
            Message::Close(r) => Flow::Close(r),
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                if self.claims.is_none() {
                    let _ = self
                        .send_text(json(&err(
                            "unauthenticated",
                            "the first message must be {\"op\":\"auth\",\"token\":\"…\"}",
                        )))
                        .await;
                    return Flow::Close(Some(CloseReason {
                        code: CloseCode::Policy,
                        description: Some("authentication required".into()),
                    }));
                }
                return self
                    .reply(&err("invalid_message", format!("not a valid message: {e}")))
                    .await;
            }
        };
        match (msg, self.claims.is_some()) {
            (ClientMessage::Auth { token }, _) => self.on_auth(&token).await,
            (_, false) => {
                let _ = self
                    .send_text(json(&err(
                        "unauthenticated",
                        "the first message must be {\"op\":\"auth\",\"token\":\"…\"}",
                    )))
                    .await;
                Flow::Close(Some(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("authentication required".into()),
                }))
            }
            (ClientMessage::Ping, true) => self.reply(&ServerMessage::Pong).await,
            (ClientMessage::Subscribe(s), true) => self.subscribe(s).await,
            (ClientMessage::Unsubscribe(s), true) => self.unsubscribe(s).await,
        }
    }

    async fn on_auth(&mut self, token: &str) -> Flow {
        match self
            .state
            .trading
            .jwt
            .verify(token, chrono::Utc::now().timestamp())
        {
            Ok(cl) => {
                if let Some(prev) = &self.claims
                    && prev.uid != cl.uid
                {
                    return self
                        .reply(&err(
                            "user_mismatch",
                            "re-authentication must be for the same user",
                        ))
                        .await;
                }
                if self.claims.is_none() && !self.state.ws.claim(cl.uid) {
                    let _ = self
                        .send_text(json(&err(
                            "too_many_connections",
                            format!(
                                "at most {} WebSocket connections per user",
                                self.state.ws.config.max_connections_per_user
                            ),
                        )))
                        .await;
                    return Flow::Close(Some(CloseReason {
                        code: CloseCode::Policy,
                        description: Some("too many connections".into()),
                    }));
                }
                let expires_at = chrono::DateTime::from_timestamp(cl.exp, 0).unwrap_or_default();
                self.claims = Some(cl);
                self.reply(&ServerMessage::Authenticated { expires_at })
                    .await
            }
            Err(e) if self.claims.is_some() => {
                self.reply(&err("invalid_token", e.to_string())).await
            }
            Err(e) => {
                let _ = self
                    .send_text(json(&err("invalid_token", e.to_string())))
                    .await;
                Flow::Close(Some(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("invalid token".into()),
                }))
            }
        }
    }

    async fn subscribe(&mut self, s: Subscription) -> Flow {
        let (echo, feed, depth, interval) = match normalize(&self.state, &s) {
            Ok(x) => x,
            Err((code, detail)) => return self.reply(&err(code, detail)).await,
        };
        let Some(feed) = feed else {
            // orders
            if self.orders.is_none() {
                self.orders = Some(self.state.trading.engine.subscribe());
            }
            return self.reply(&ServerMessage::Subscribed(echo)).await;
        };
        if self.subs.iter().any(|x| x.echo == echo) || self.books.iter().any(|(e, _)| *e == echo) {
            return self.reply(&ServerMessage::Subscribed(echo)).await;
        }
        if self.subs.len() + self.books.len() >= self.state.ws.config.max_subscriptions {
            return self
                .reply(&err(
                    "too_many_subscriptions",
                    format!(
                        "at most {} subscriptions per connection",
                        self.state.ws.config.max_subscriptions
                    ),
                ))
                .await;
        }
        let feed = match feed {
            Feed::Ticked(t) => t,
            Feed::Book {
                exchange,
                symbol,
                watch,
            } => {
                // Acknowledged first: the group's frames queue behind the acknowledgement.
                let flow = self.reply(&ServerMessage::Subscribed(echo.clone())).await;
                let key = (exchange, symbol, depth, interval);
                let member = fanout::join(
                    &self.state,
                    key,
                    watch,
                    self.session.clone(),
                    self.evicted.clone(),
                );
                self.books.push((echo, member));
                debug!(
                    subscriptions = self.subs.len() + self.books.len(),
                    "subscribed"
                );
                return flow;
            }
        };
        let next_ms = next_tick(Timestamp::now().as_millis(), interval);
        self.subs.push(Sub {
            echo: echo.clone(),
            feed,
            depth,
            interval_ms: interval,
            next_ms,
        });
        debug!(subscriptions = self.subs.len(), "subscribed");
        self.reply(&ServerMessage::Subscribed(echo)).await
    }

    async fn unsubscribe(&mut self, s: Subscription) -> Flow {
        if s.channel == Channel::Orders {
            let was = self.orders.take().is_some();
            return if was {
                self.reply(&ServerMessage::Unsubscribed(Subscription {
                    channel: Channel::Orders,
                    exchange: None,
                    symbol: None,
                    depth: None,
                    interval_ms: None,
                }))
                .await
            } else {
                self.reply(&err("not_subscribed", "not subscribed to orders"))
                    .await
            };
        }
        let echo = match normalize(&self.state, &s) {
            Ok((echo, _, _, _)) => echo,
            Err((code, detail)) => return self.reply(&err(code, detail)).await,
        };
        let before = self.subs.len() + self.books.len();
        // Match on channel, exchange and symbol (depth/interval need not be repeated).
        let same = |x: &Subscription| {
            x.channel == echo.channel && x.exchange == echo.exchange && x.symbol == echo.symbol
        };
        self.subs.retain(|x| !same(&x.echo));
        // Dropping a membership leaves the group before the acknowledgement is queued.
        self.books.retain(|(e, _)| !same(e));
        if self.subs.len() + self.books.len() == before {
            return self
                .reply(&err("not_subscribed", "no such subscription"))
                .await;
        }
        self.reply(&ServerMessage::Unsubscribed(echo)).await
    }

    async fn on_tick(&mut self) -> Flow {
        let now_ms = Timestamp::now().as_millis();
        let mut frames: Vec<ByteString> = Vec::new();
        for s in self.subs.iter_mut() {
            if s.next_ms > now_ms {
                continue;
            }
            let tick = s.next_ms;
            s.next_ms = next_tick(now_ms, s.interval_ms);
            let frame = match &mut s.feed {
                Ticked::Consolidated(w) => consolidated_frame(w, s.depth, tick),
                Ticked::Trades {
                    exchange,
                    symbol,
                    watch,
                    next,
                } => match trades_frame(*exchange, symbol, watch, next) {
                    Some(f) => f,
                    None => continue,
                },
            };
            frames.push(frame);
        }
        for f in frames {
            if self.send_text(f).await.is_err() {
                return Flow::Close(None);
            }
        }
        Flow::Continue
    }

    async fn on_order(
        &mut self,
        upd: Result<Arc<engine::Update>, broadcast::error::RecvError>,
    ) -> Flow {
        let uid = self.claims.as_ref().map(|c| c.uid);
        match upd {
            Ok(u) if Some(u.order.user_id()) == uid => {
                self.reply(&ServerMessage::Order {
                    order: Box::new(convert::order(&u.order, None)),
                    slice: u.slice.as_ref().map(|s| Box::new(convert::slice(s))),
                })
                .await
            }
            Ok(_) => Flow::Continue,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                self.reply(&err(
                    "orders_lagged",
                    format!("{n} order updates were missed; GET /orders to resynchronize"),
                ))
                .await
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.orders = None;
                Flow::Continue
            }
        }
    }
}
