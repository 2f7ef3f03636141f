//! The Coinbase feed: one market-data connection carrying `level2` and `market_trades` per
//! product and `heartbeats`; a `sequence_num` gap resubscribes every book of the connection,
//! a book the hub distrusts is resubscribed alone.

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

use crate::parse::{CbBook, CbInbound, parse_frame};
use crate::rest::CoinbaseExchange;
use crate::sync::{ConnSeq, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// To be sent in the next subscribe message.
    Pending,
    /// Subscribe sent at this time; the snapshot has not arrived.
    Subscribing(Instant),
    /// Snapshot received; updates flow.
    Live,
    /// Unsubscribed after a gap; subscribe again at this time.
    Waiting(Instant),
    /// The venue refused the product: not retried until asked again or reconnected.
    Refused,
}

struct Sub {
    pair: Pair,
    state: SubState,
    /// Recent resyncs, for the backoff.
    resyncs: ResyncBackoff,
    /// `market_trades` was subscribed on the current connection.
    trades_sent: bool,
}

struct Feed {
    ex: Arc<CoinbaseExchange>,
    events: FeedSender,
    /// By product id (`BTC-USD`).
    subs: HashMap<String, Sub>,
    conn: Option<WsConn>,
    next_conn: u64,
    seq: ConnSeq,
    heartbeats_sent: bool,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    /// `(channel, product)` to unsubscribe at the next tick.
    pending_unsub: BTreeSet<(&'static str, String)>,
    malformed: u64,
    gaps: u64,
}

pub(crate) async fn run(ex: Arc<CoinbaseExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        ex,
        events: ctx.events.clone(),
        subs: HashMap::new(),
        conn: None,
        next_conn: 0,
        seq: ConnSeq::default(),
        heartbeats_sent: false,
        conn_tx,
        conn_rx,
        pending_unsub: BTreeSet::new(),
        malformed: 0,
        gaps: 0,
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

const LEVEL2: &str = "level2";
const TRADES: &str = "market_trades";

impl VenueSession for Feed {
    type Event = WsEvent;

    fn name(&self) -> &'static str {
        "coinbase"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Coinbase, &cfg.ws_url, cfg.connect_timeout).await?;
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
        self.seq.reset();
        self.heartbeats_sent = false;
        self.pending_unsub.clear();
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
        self.tick().await;
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
                            self.pending_unsub.remove(&(LEVEL2, key.clone()));
                            self.pending_unsub.remove(&(TRADES, key.clone()));
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
                    if matches!(s.state, SubState::Subscribing(_) | SubState::Live) {
                        self.pending_unsub.insert((LEVEL2, p.ws_symbol.clone()));
                    }
                    if s.trades_sent {
                        self.pending_unsub.insert((TRADES, p.ws_symbol.clone()));
                    }
                }
            }
            FeedCommand::Resync(p) => {
                self.resync(
                    std::slice::from_ref(&p.ws_symbol),
                    "the hub asked for a fresh book".to_owned(),
                )
                .await
            }
        }
    }

    async fn on_tick(&mut self) {
        self.tick().await;
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
    /// Send `op` of `channel` for `products`, at most `products_per_message` per message.
    fn send(&self, op: &str, channel: &str, products: &[String]) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        for chunk in products.chunks(self.ex.config.products_per_message.max(1)) {
            let body = serde_json::json!({"type": op, "product_ids": chunk, "channel": channel});
            conn.send_text(body.to_string());
        }
    }

    async fn tick(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let now = Instant::now();
        let wait = self.ex.config.snapshot_wait;
        let mut books = Vec::new();
        let mut trades = Vec::new();
        let mut late = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            match sub.state {
                SubState::Pending => books.push(key.clone()),
                SubState::Waiting(at) if at <= now => books.push(key.clone()),
                SubState::Subscribing(since) if now.duration_since(since) >= wait => {
                    late.push(key.clone())
                }
                _ => {}
            }
            if !sub.trades_sent && sub.state != SubState::Refused {
                sub.trades_sent = true;
                trades.push(key.clone());
            }
        }
        for key in &books {
            if let Some(sub) = self.subs.get_mut(key) {
                sub.state = SubState::Subscribing(now);
            }
        }
        books.sort();
        trades.sort();
        let unsub = std::mem::take(&mut self.pending_unsub);
        for channel in [LEVEL2, TRADES] {
            let list: Vec<String> = unsub
                .iter()
                .filter(|(c, _)| *c == channel)
                .map(|(_, p)| p.clone())
                .collect();
            if !list.is_empty() {
                self.send("unsubscribe", channel, &list);
            }
        }
        if !books.is_empty() {
            self.send("subscribe", LEVEL2, &books);
        }
        if !trades.is_empty() {
            self.send("subscribe", TRADES, &trades);
        }
        if !self.heartbeats_sent
            && let Some(c) = self.conn.as_ref()
        {
            // Without it the venue closes quiet subscriptions after 60–90 s.
            self.heartbeats_sent = true;
            c.send_text(r#"{"type":"subscribe","channel":"heartbeats"}"#.to_owned());
        }
        if !late.is_empty() {
            let reason = format!("no snapshot within {wait:?} of subscribing");
            self.resync(&late, reason).await;
        }
    }

    async fn on_frame(&mut self, text: &str) {
        let frame = match parse_frame(text) {
            Ok(f) => f,
            Err(e) => {
                // Its `sequence_num` is lost with it: the next message shows the gap.
                self.malformed += 1;
                warn!(error = %e, malformed = self.malformed, "malformed frame ignored");
                return;
            }
        };
        if let Some(seq) = frame.seq
            && let Verdict::Gap { expected, got } = self.seq.check(seq)
        {
            self.gaps += 1;
            let reason = format!("sequence_num gap: expected {expected}, got {got}");
            let all: Vec<String> = self.subs.keys().cloned().collect();
            warn!(%reason, gaps = self.gaps, "every book of the connection is resubscribed");
            self.resync(&all, reason).await;
        }
        match frame.inbound {
            CbInbound::Books(books) => {
                for b in books {
                    self.on_book(b).await;
                }
            }
            CbInbound::Trades { trades, .. } => self.on_trades(trades).await,
            CbInbound::Subscriptions(m) => debug!(subscriptions = ?m, "subscriptions now"),
            CbInbound::Heartbeat(_) => {}
            CbInbound::Error(msg) => self.refused(msg).await,
            CbInbound::Other(channel) => debug!(%channel, "ignored channel"),
        }
    }

    async fn on_book(&mut self, b: CbBook) {
        let Some(sub) = self.subs.get_mut(&b.product_id) else {
            return;
        };
        let apply = match (sub.state, b.event.kind) {
            (SubState::Subscribing(_) | SubState::Live, BookEventKind::Snapshot) => {
                sub.state = SubState::Live;
                true
            }
            (SubState::Live, BookEventKind::Delta) => true,
            // Before its snapshot, or after a gap: nothing applies until a new snapshot.
            _ => false,
        };
        if apply {
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
    }

    async fn on_trades(&mut self, trades: Vec<(String, Trade)>) {
        let symbol_of = |k: &str| self.subs.get(k).map(|s| s.pair.symbol.clone());
        for (symbol, trades) in group_trades(trades, symbol_of, Timestamp::now()) {
            let _ = self.events.send(FeedEvent::Trades { symbol, trades }).await;
        }
    }

    /// An error message: the products it names (if any are awaiting their snapshot) were
    /// refused; anything else is logged.
    async fn refused(&mut self, msg: String) {
        let named: Vec<String> = self
            .subs
            .iter()
            .filter(|(k, s)| {
                matches!(s.state, SubState::Subscribing(_)) && msg.contains(k.as_str())
            })
            .map(|(k, _)| k.clone())
            .collect();
        if named.is_empty() {
            warn!(%msg, "Coinbase reported an error");
            return;
        }
        for key in named {
            let Some(sub) = self.subs.get_mut(&key) else {
                continue;
            };
            warn!(product = %key, %msg, "Coinbase refused the subscription; not retrying");
            sub.state = SubState::Refused;
            let symbol = sub.pair.symbol.clone();
            self.events
                .state(
                    &symbol,
                    BookState::Down,
                    Some(format!("Coinbase refused the subscription: {msg}")),
                )
                .await;
        }
    }

    /// Unsubscribe these books and subscribe them again (fresh snapshots) after a delay
    /// that doubles with each resync in the last five minutes.
    async fn resync(&mut self, keys: &[String], reason: String) {
        let now = Instant::now();
        let (base, cap) = (
            self.ex.config.resubscribe_base,
            self.ex.config.resubscribe_cap,
        );
        let mut states = Vec::new();
        for key in keys {
            let Some(sub) = self.subs.get_mut(key) else {
                continue;
            };
            if matches!(sub.state, SubState::Refused | SubState::Waiting(_)) {
                continue;
            }
            if matches!(sub.state, SubState::Subscribing(_) | SubState::Live) {
                self.pending_unsub.insert((LEVEL2, key.clone()));
            }
            let delay = sub.resyncs.next_delay(now, base, cap);
            sub.state = SubState::Waiting(now + delay);
            info!(product = %key, %reason, delay_ms = delay.as_millis() as u64, "resubscribing");
            states.push(sub.pair.symbol.clone());
        }
        // Sent at once: nothing more of the old subscriptions is wanted.
        let unsub = std::mem::take(&mut self.pending_unsub);
        let list: Vec<String> = unsub
            .iter()
            .filter(|(c, _)| *c == LEVEL2)
            .map(|(_, p)| p.clone())
            .collect();
        self.pending_unsub = unsub.into_iter().filter(|(c, _)| *c != LEVEL2).collect();
        if !list.is_empty() {
            self.send("unsubscribe", LEVEL2, &list);
        }
        for symbol in states {
            self.events
                .state(&symbol, BookState::Resyncing, Some(reason.clone()))
                .await;
        }
    }
}
