//! The Bybit feed: one public spot connection, per-symbol `orderbook` and `publicTrade`
//! subscriptions, a gap resubscribes that symbol only.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use market::net::{WsConn, WsEvent, ws_connect};
use market::{
    Backoff, FeedCommand, FeedContext, FeedEvent, FeedSender, MarketError, ResyncBackoff,
    VenueSession, group_trades, run_session,
};
use model::{BookEventKind, BookState, ExchangeId, Pair, Timestamp, Trade};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::parse::{BybitBook, BybitInbound, parse_frame};
use crate::rest::BybitExchange;
use crate::sync::{UpdateChain, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// To be sent in the next subscribe request.
    Pending,
    /// Subscribe sent; the snapshot has not arrived.
    Subscribing,
    /// Snapshot received; deltas flow.
    Live,
    /// Unsubscribed after a gap; subscribe again at this time.
    Waiting(Instant),
    /// The venue refused the topic: not retried until asked again or reconnected.
    Refused,
}

struct Sub {
    pair: Pair,
    state: SubState,
    chain: UpdateChain,
    /// Recent resyncs, for the backoff.
    resyncs: ResyncBackoff,
    /// The `publicTrade` topic was sent on the current connection.
    trades_sent: bool,
}

/// What a request subscribed, to know what a refusal concerns.
enum Request {
    Books(Vec<String>),
    Trades,
}

struct Feed {
    ex: Arc<BybitExchange>,
    events: FeedSender,
    /// By native symbol (`BTCUSDT`).
    subs: HashMap<String, Sub>,
    conn: Option<WsConn>,
    next_conn: u64,
    next_req: u64,
    requests: HashMap<String, Request>,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    pending_unsub: BTreeSet<String>,
    malformed: u64,
    last_ping: Instant,
}

pub(crate) async fn run(ex: Arc<BybitExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        ex,
        events: ctx.events.clone(),
        subs: HashMap::new(),
        conn: None,
        next_conn: 0,
        next_req: 0,
        requests: HashMap::new(),
        conn_tx,
        conn_rx,
        pending_unsub: BTreeSet::new(),
        malformed: 0,
        last_ping: Instant::now(),
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

impl VenueSession for Feed {
    type Event = WsEvent;

    fn name(&self) -> &'static str {
        "bybit"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Bybit, &cfg.ws_url, cfg.connect_timeout).await?;
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
        self.pending_unsub.clear();
        self.requests.clear();
        self.last_ping = Instant::now();
        Ok(())
    }

    async fn resume(&mut self) {
        let mut syncing = Vec::new();
        for sub in self.subs.values_mut() {
            sub.state = SubState::Pending;
            sub.chain.reset();
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
        let current = self.conn.as_ref().map(WsConn::id);
        match ev {
            WsEvent::Alive(id) => {
                if Some(id) == current {
                    self.events.alive();
                }
                None
            }
            WsEvent::Frame(id, text) => {
                if Some(id) == current {
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
                    sub.chain.reset();
                    sub.trades_sent = false;
                    if sub.state != SubState::Refused {
                        sub.state = SubState::Pending;
                    }
                }
                Some(reason)
            }
        }
    }

    async fn on_command(&mut self, cmd: FeedCommand) {
        match cmd {
            FeedCommand::Subscribe(pairs) => {
                for p in pairs {
                    let key = p.ws_symbol.clone();
                    match self.subs.get_mut(&key) {
                        Some(s) if s.state == SubState::Refused => s.state = SubState::Pending,
                        Some(_) => continue,
                        None => {
                            self.pending_unsub.remove(&self.book_topic(&key));
                            self.pending_unsub.remove(&trade_topic(&key));
                            self.subs.insert(
                                key,
                                Sub {
                                    pair: p.clone(),
                                    state: SubState::Pending,
                                    chain: UpdateChain::default(),
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
                    if !matches!(s.state, SubState::Refused | SubState::Waiting(_)) {
                        self.pending_unsub.insert(self.book_topic(&p.ws_symbol));
                    }
                    if s.trades_sent {
                        self.pending_unsub.insert(trade_topic(&p.ws_symbol));
                    }
                }
            }
            FeedCommand::Resync(p) => {
                self.resync(&p.ws_symbol, "the hub asked for a fresh book".to_owned())
                    .await
            }
        }
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

fn trade_topic(symbol: &str) -> String {
    format!("publicTrade.{symbol}")
}

impl Feed {
    fn book_topic(&self, symbol: &str) -> String {
        format!("orderbook.{}.{symbol}", self.ex.config.depth)
    }

    /// Send `op` for `topics`, at most `topics_per_message` per request; `what` tells a
    /// refusal's meaning.
    fn send(&mut self, op: &str, topics: &[String], what: impl Fn(&[String]) -> Option<Request>) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        for chunk in topics.chunks(self.ex.config.topics_per_message.clamp(1, 10)) {
            self.next_req += 1;
            let req_id = self.next_req.to_string();
            if let Some(r) = what(chunk) {
                self.requests.insert(req_id.clone(), r);
            }
            let body = serde_json::json!({"req_id": req_id, "op": op, "args": chunk});
            conn.send_text(body.to_string());
        }
    }

    fn tick(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let now = Instant::now();
        let mut books = Vec::new();
        let mut trades = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            let due = match sub.state {
                SubState::Pending => true,
                SubState::Waiting(at) => at <= now,
                _ => false,
            };
            if due {
                sub.state = SubState::Subscribing;
                books.push(key.clone());
            }
            if !sub.trades_sent && sub.state != SubState::Refused {
                sub.trades_sent = true;
                trades.push(trade_topic(key));
            }
        }
        books.sort();
        trades.sort();
        let unsubscribe: Vec<String> = std::mem::take(&mut self.pending_unsub)
            .into_iter()
            .collect();
        if !unsubscribe.is_empty() {
            self.send("unsubscribe", &unsubscribe, |_| None);
        }
        let topics: Vec<String> = books.iter().map(|s| self.book_topic(s)).collect();
        if !topics.is_empty() {
            let depth = self.ex.config.depth;
            self.send("subscribe", &topics, |chunk| {
                let prefix = format!("orderbook.{depth}.");
                Some(Request::Books(
                    chunk
                        .iter()
                        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_owned))
                        .collect(),
                ))
            });
        }
        if !trades.is_empty() {
            self.send("subscribe", &trades, |_| Some(Request::Trades));
        }
        if self.last_ping.elapsed() >= self.ex.config.ping_every {
            self.last_ping = now;
            if let Some(c) = self.conn.as_ref() {
                c.send_text(r#"{"req_id":"ping","op":"ping"}"#.to_owned());
            }
        }
    }

    async fn on_frame(&mut self, text: &str) {
        match parse_frame(text) {
            Ok(BybitInbound::Book(b)) => self.on_book(b).await,
            Ok(BybitInbound::Trades(t)) => self.on_trades(t).await,
            Ok(BybitInbound::Ack { op, req_id }) => {
                if let Some(id) = req_id {
                    self.requests.remove(&id);
                }
                debug!(%op, "acknowledged");
            }
            Ok(BybitInbound::Refused { op, req_id, reason }) => {
                self.refused(&op, req_id, reason).await
            }
            Ok(BybitInbound::Pong) => {}
            Ok(BybitInbound::Other(kind)) => debug!(%kind, "ignored message type"),
            Err(e) => {
                self.malformed += 1;
                // A lost delta shows up as a gap in the update ids of the next one.
                warn!(error = %e, malformed = self.malformed, "malformed frame ignored");
            }
        }
    }

    async fn on_book(&mut self, b: BybitBook) {
        let Some(sub) = self.subs.get_mut(&b.symbol) else {
            return;
        };
        if matches!(sub.state, SubState::Waiting(_) | SubState::Refused) {
            return;
        }
        let verdict = if b.event.kind == BookEventKind::Snapshot {
            sub.state = SubState::Live;
            sub.chain.snapshot(b.update_id)
        } else {
            sub.chain.delta(b.update_id)
        };
        match verdict {
            Verdict::Apply => {
                let symbol = sub.pair.symbol.clone();
                let _ = self
                    .events
                    .send(FeedEvent::Book {
                        symbol,
                        event: b.event,
                        received: Timestamp::now(),
                    })
                    .await;
            }
            Verdict::Ignore => {}
            Verdict::Gap { expected, got } => {
                let reason = format!("update id gap: expected {expected}, got {got}");
                self.resync(&b.symbol, reason).await;
            }
        }
    }

    async fn on_trades(&mut self, trades: Vec<(String, Trade)>) {
        let symbol_of = |k: &str| self.subs.get(k).map(|s| s.pair.symbol.clone());
        for (symbol, trades) in group_trades(trades, symbol_of, Timestamp::now()) {
            let _ = self.events.send(FeedEvent::Trades { symbol, trades }).await;
        }
    }

    async fn refused(&mut self, op: &str, req_id: Option<String>, reason: String) {
        let request = req_id.and_then(|id| self.requests.remove(&id));
        let symbols = match request {
            Some(Request::Books(symbols)) => symbols,
            Some(Request::Trades) => {
                warn!(%op, %reason, "Bybit refused a trade subscription; the books are unaffected");
                return;
            }
            None => {
                warn!(%op, %reason, "Bybit refused a request");
                return;
            }
        };
        // A request names up to 10 topics; the reason names the bad ones when it can.
        let named: Vec<String> = symbols
            .iter()
            .filter(|s| reason.contains(s.as_str()))
            .cloned()
            .collect();
        let refused = if named.is_empty() { symbols } else { named };
        for key in refused {
            let Some(sub) = self.subs.get_mut(&key) else {
                continue;
            };
            warn!(symbol = %key, %reason, "Bybit refused the subscription; not retrying");
            sub.state = SubState::Refused;
            let symbol = sub.pair.symbol.clone();
            self.events
                .state(
                    &symbol,
                    BookState::Down,
                    Some(format!("Bybit refused the subscription: {reason}")),
                )
                .await;
        }
    }

    /// Unsubscribe this symbol's book and subscribe it again (a fresh snapshot) after a
    /// delay that doubles with each resync in the last five minutes.
    async fn resync(&mut self, key: &str, reason: String) {
        let now = Instant::now();
        let (base, cap) = (
            self.ex.config.resubscribe_base,
            self.ex.config.resubscribe_cap,
        );
        let topic = self.book_topic(key);
        let connected = self.conn.is_some();
        let Some(sub) = self.subs.get_mut(key) else {
            return;
        };
        if matches!(sub.state, SubState::Refused | SubState::Waiting(_)) {
            return;
        }
        let delay = sub.resyncs.next_delay(now, base, cap);
        sub.chain.reset();
        let was_subscribed = sub.state != SubState::Pending;
        sub.state = SubState::Waiting(now + delay);
        let symbol = sub.pair.symbol.clone();
        if connected && was_subscribed {
            self.send("unsubscribe", &[topic], |_| None);
        }
        info!(%symbol, %reason, delay_ms = delay.as_millis() as u64, "resubscribing this symbol");
        self.events
            .state(&symbol, BookState::Resyncing, Some(reason))
            .await;
    }
}
