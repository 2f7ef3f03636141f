//! The Kraken book feed: one WS v2 connection, per-symbol subscriptions.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use market::net::{WsConn, WsEvent, ws_connect};
use market::{
    Backoff, FeedCommand, FeedContext, FeedEvent, FeedSender, MarketError, ResyncBackoff,
    VenueSession, group_trades, run_session,
};
use model::{BookEventKind, BookState, ExchangeId, Pair, Timestamp};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::parse::{KrakenInbound, parse_frame};
use crate::rest::KrakenExchange;

/// Request ids of `trade` subscriptions start here, so that a refusal (which names no
/// channel) is never taken for the book's.
const TRADE_REQ_BASE: u64 = 1 << 40;

/// How long to wait for an unsubscribe answer before resubscribing anyway.
const UNSUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// To be sent in the next subscribe message.
    Pending,
    /// Subscribe sent; the snapshot has not arrived.
    Subscribing,
    /// Snapshot received; updates flow.
    Live,
    /// Unsubscribed for a resync; subscribe again at `resubscribe_at` once the venue has
    /// answered (or `UNSUBSCRIBE_WAIT` has passed since `sent`).
    Unsubscribing {
        resubscribe_at: Instant,
        sent: Instant,
    },
    /// Unsubscribed; subscribe again at this time.
    Waiting(Instant),
    /// The venue refused the subscription: not retried until asked again or reconnected.
    Refused,
}

struct Sub {
    pair: Pair,
    state: SubState,
    /// Recent resyncs, for the backoff.
    resyncs: ResyncBackoff,
    /// The `trade` subscription was sent on the current connection.
    trades_sent: bool,
}

struct Feed {
    ex: Arc<KrakenExchange>,
    events: FeedSender,
    /// By WS v2 symbol (`BTC/USD`).
    subs: HashMap<String, Sub>,
    conn: Option<WsConn>,
    next_conn: u64,
    next_req: u64,
    next_trade_req: u64,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    pending_unsub: BTreeSet<String>,
    pending_trade_unsub: BTreeSet<String>,
    malformed: u64,
    last_frame: Instant,
    last_ping: Instant,
}

pub(crate) async fn run(ex: Arc<KrakenExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        ex,
        events: ctx.events.clone(),
        subs: HashMap::new(),
        conn: None,
        next_conn: 0,
        next_req: 0,
        next_trade_req: TRADE_REQ_BASE,
        conn_tx,
        conn_rx,
        pending_unsub: BTreeSet::new(),
        pending_trade_unsub: BTreeSet::new(),
        malformed: 0,
        last_frame: Instant::now(),
        last_ping: Instant::now(),
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

impl VenueSession for Feed {
    type Event = WsEvent;

    fn name(&self) -> &'static str {
        "kraken"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Kraken, &cfg.ws_url, cfg.connect_timeout).await?;
        self.next_conn += 1;
        let conn = WsConn::spawn(
            ws,
            self.next_conn,
            self.conn_tx.clone(),
            cfg.control_per_second,
            cfg.dead_after,
        );
        info!(conn = conn.id(), url = %cfg.ws_url, "connected");
        self.conn = Some(conn);
        self.last_frame = Instant::now();
        self.pending_unsub.clear();
        self.pending_trade_unsub.clear();
        Ok(())
    }

    async fn resume(&mut self) {
        let mut syncing = Vec::new();
        for sub in self.subs.values_mut() {
            sub.state = SubState::Pending;
            sub.trades_sent = false;
            syncing.push(sub.pair.symbol.clone());
        }
        for s in syncing {
            self.events.state(&s, BookState::Syncing, None).await;
        }
        self.tick();
    }

    async fn next_event(&mut self) -> WsEvent {
        match self.conn_rx.recv().await {
            Some(ev) => ev,
            // The feed holds a sender: the channel never closes while it runs.
            None => std::future::pending().await,
        }
    }

    async fn on_event(&mut self, ev: WsEvent) -> Option<String> {
        self.on_conn_event(ev).await
    }

    async fn on_command(&mut self, cmd: FeedCommand) {
        self.command(cmd).await;
    }

    async fn on_tick(&mut self) {
        self.tick();
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }
}

impl Feed {
    async fn emit(&self, ev: FeedEvent) {
        let _ = self.events.send(ev).await;
    }

    fn send(&mut self, method: &str, symbols: &[String]) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        for chunk in symbols.chunks(self.ex.config.symbols_per_message.max(1)) {
            self.next_req += 1;
            let mut params = serde_json::json!({"channel": "book", "symbol": chunk});
            if method == "subscribe" {
                params["depth"] = self.ex.config.depth.into();
                params["snapshot"] = true.into();
            }
            let body =
                serde_json::json!({"method": method, "params": params, "req_id": self.next_req});
            conn.send_text(body.to_string());
        }
    }

    /// Subscribe or unsubscribe the `trade` channel (with the last 50 trades on subscribe;
    /// the hub drops the ones it already has).
    fn send_trades(&mut self, method: &str, symbols: &[String]) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        for chunk in symbols.chunks(self.ex.config.symbols_per_message.max(1)) {
            self.next_trade_req += 1;
            let mut params = serde_json::json!({"channel": "trade", "symbol": chunk});
            if method == "subscribe" {
                params["snapshot"] = true.into();
            }
            let body = serde_json::json!({"method": method, "params": params, "req_id": self.next_trade_req});
            conn.send_text(body.to_string());
        }
    }

    async fn command(&mut self, cmd: FeedCommand) {
        match cmd {
            FeedCommand::Subscribe(pairs) => {
                for p in pairs {
                    let key = p.ws_symbol.clone();
                    match self.subs.get_mut(&key) {
                        Some(s) if s.state == SubState::Refused => s.state = SubState::Pending,
                        Some(_) => continue,
                        None => {
                            self.pending_unsub.remove(&key);
                            self.subs.insert(
                                key,
                                Sub {
                                    pair: p.clone(),
                                    state: SubState::Pending,
                                    resyncs: ResyncBackoff::default(),
                                    trades_sent: false,
                                },
                            );
                        }
                    }
                    self.events.state(&p.symbol, BookState::Syncing, None).await;
                }
            }
            FeedCommand::Unsubscribe(pairs) => {
                for p in pairs {
                    let Some(s) = self.subs.remove(&p.ws_symbol) else {
                        continue;
                    };
                    if s.state != SubState::Refused {
                        self.pending_unsub.insert(p.ws_symbol.clone());
                    }
                    if s.trades_sent {
                        self.pending_trade_unsub.insert(p.ws_symbol.clone());
                    }
                }
            }
            FeedCommand::Resync(p) => self.resync(&p.ws_symbol).await,
        }
    }

    /// Unsubscribe and subscribe again (with a fresh snapshot) this symbol only, after a
    /// delay that doubles with each resync in the last five minutes.
    async fn resync(&mut self, key: &str) {
        let now = Instant::now();
        let (base, cap) = (
            self.ex.config.resubscribe_base,
            self.ex.config.resubscribe_cap,
        );
        let connected = self.conn.is_some();
        let Some(sub) = self.subs.get_mut(key) else {
            return;
        };
        if matches!(
            sub.state,
            SubState::Refused | SubState::Unsubscribing { .. } | SubState::Waiting(_)
        ) {
            return;
        }
        let delay = sub.resyncs.next_delay(now, base, cap);
        let symbol = sub.pair.symbol.clone();
        if !connected || sub.state == SubState::Pending {
            sub.state = SubState::Waiting(now + delay);
        } else {
            sub.state = SubState::Unsubscribing {
                resubscribe_at: now + delay,
                sent: now,
            };
            self.send("unsubscribe", &[key.to_owned()]);
        }
        info!(%symbol, delay_ms = delay.as_millis() as u64, "resubscribing this symbol");
        self.events.state(&symbol, BookState::Resyncing, None).await;
    }

    /// Returns the reason when the connection was lost.
    async fn on_conn_event(&mut self, ev: WsEvent) -> Option<String> {
        let current = self.conn.as_ref().map(WsConn::id);
        match ev {
            WsEvent::Alive(id) => {
                if Some(id) == current {
                    self.last_frame = Instant::now();
                    self.events.alive();
                }
                None
            }
            WsEvent::Frame(id, text) => {
                if Some(id) == current {
                    self.last_frame = Instant::now();
                    self.events.alive();
                    self.on_frame(&text).await;
                }
                None
            }
            WsEvent::Closed(id, reason) => {
                if Some(id) != current {
                    return None;
                }
                warn!(conn = id, %reason, "connection lost");
                self.conn = None;
                for sub in self.subs.values_mut() {
                    sub.trades_sent = false;
                    if sub.state != SubState::Refused {
                        sub.state = SubState::Pending;
                    }
                }
                Some(reason)
            }
        }
    }

    async fn on_frame(&mut self, text: &str) {
        match parse_frame(text) {
            Ok(KrakenInbound::Book(books)) => {
                let received = Timestamp::now();
                for b in books {
                    let Some(sub) = self.subs.get_mut(&b.symbol) else {
                        continue;
                    };
                    let snapshot = b.event.kind == BookEventKind::Snapshot;
                    let accept = match sub.state {
                        SubState::Subscribing | SubState::Pending if snapshot => {
                            sub.state = SubState::Live;
                            true
                        }
                        SubState::Live => true,
                        _ => false,
                    };
                    if accept {
                        let symbol = sub.pair.symbol.clone();
                        self.emit(FeedEvent::Book {
                            symbol,
                            event: b.event,
                            received,
                        })
                        .await;
                    }
                }
            }
            Ok(KrakenInbound::Trades(trades)) => self.on_trades(trades).await,
            Ok(KrakenInbound::Heartbeat | KrakenInbound::Pong) => {}
            Ok(KrakenInbound::Subscribed { symbol }) => debug!(%symbol, "subscribed"),
            Ok(KrakenInbound::Unsubscribed { symbol }) => self.unsubscribed(&symbol),
            Ok(KrakenInbound::MethodFailed {
                req_id: Some(id),
                method,
                symbol,
                error,
            }) if id > TRADE_REQ_BASE => {
                // The book is unaffected; the trades of this symbol are not retried until
                // the next connection.
                warn!(symbol = symbol.as_deref().unwrap_or(""), %method, %error, "Kraken refused a trade subscription");
            }
            Ok(KrakenInbound::MethodFailed {
                method,
                symbol,
                error,
                ..
            }) => self.method_failed(&method, symbol, error).await,
            Ok(KrakenInbound::Status { system }) => {
                if system == "online" {
                    info!(%system, "venue status");
                } else {
                    warn!(%system, "venue is not fully online");
                }
            }
            Ok(KrakenInbound::VenueError(e)) => warn!(error = %e, "Kraken reported an error"),
            Ok(KrakenInbound::Other(kind)) => debug!(%kind, "ignored message type"),
            Err(e) => {
                self.malformed += 1;
                // A lost book update shows up as a checksum mismatch on the next one.
                warn!(error = %e, malformed = self.malformed, "malformed frame ignored");
            }
        }
    }

    /// Hand trades to the hub, one event per symbol, with our receive time.
    async fn on_trades(&mut self, trades: Vec<(String, model::Trade)>) {
        let symbol_of = |k: &str| self.subs.get(k).map(|s| s.pair.symbol.clone());
        for (symbol, trades) in group_trades(trades, symbol_of, Timestamp::now()) {
            self.emit(FeedEvent::Trades { symbol, trades }).await;
        }
    }

    fn unsubscribed(&mut self, key: &str) {
        if let Some(sub) = self.subs.get_mut(key)
            && let SubState::Unsubscribing { resubscribe_at, .. } = sub.state
        {
            sub.state = SubState::Waiting(resubscribe_at);
        }
    }

    async fn method_failed(&mut self, method: &str, symbol: Option<String>, error: String) {
        let Some(key) = symbol else {
            warn!(%method, %error, "Kraken refused a request");
            return;
        };
        if method == "unsubscribe" {
            // Nothing to undo: the symbol is not subscribed, which is what we wanted.
            self.unsubscribed(&key);
            return;
        }
        let Some(sub) = self.subs.get_mut(&key) else {
            return;
        };
        if error.to_ascii_lowercase().contains("already subscribed") {
            // We lost track of a live subscription: cycle it to get a snapshot.
            sub.state = SubState::Live;
            self.resync(&key).await;
            return;
        }
        warn!(symbol = %key, %error, "Kraken refused the subscription; not retrying");
        sub.state = SubState::Refused;
        let symbol = sub.pair.symbol.clone();
        self.events
            .state(
                &symbol,
                BookState::Down,
                Some(format!("Kraken refused the subscription: {error}")),
            )
            .await;
    }

    fn tick(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let now = Instant::now();
        let mut subscribe = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            match sub.state {
                SubState::Pending => {}
                SubState::Waiting(at) if at <= now => {}
                SubState::Unsubscribing {
                    resubscribe_at,
                    sent,
                } if now.duration_since(sent) >= UNSUBSCRIBE_WAIT && resubscribe_at <= now => {}
                _ => continue,
            }
            sub.state = SubState::Subscribing;
            subscribe.push(key.clone());
        }
        subscribe.sort();
        let mut trades: Vec<String> = self
            .subs
            .iter_mut()
            .filter(|(_, s)| !s.trades_sent && s.state != SubState::Refused)
            .map(|(k, s)| {
                s.trades_sent = true;
                k.clone()
            })
            .collect();
        trades.sort();
        let trade_unsubscribe: Vec<String> = std::mem::take(&mut self.pending_trade_unsub)
            .into_iter()
            .collect();
        if !trade_unsubscribe.is_empty() {
            self.send_trades("unsubscribe", &trade_unsubscribe);
        }
        if !trades.is_empty() {
            self.send_trades("subscribe", &trades);
        }
        let unsubscribe: Vec<String> = std::mem::take(&mut self.pending_unsub)
            .into_iter()
            .collect();
        if !unsubscribe.is_empty() {
            self.send("unsubscribe", &unsubscribe);
        }
        if !subscribe.is_empty() {
            self.send("subscribe", &subscribe);
        }
        let ping_after = self.ex.config.ping_after;
        if self.last_frame.elapsed() >= ping_after && self.last_ping.elapsed() >= ping_after {
            self.last_ping = now;
            self.next_req += 1;
            if let Some(c) = self.conn.as_ref() {
                c.send_text(
                    serde_json::json!({"method": "ping", "req_id": self.next_req}).to_string(),
                );
            }
        }
    }
}
