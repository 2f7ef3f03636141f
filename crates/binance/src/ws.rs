//! The Binance book feed: one combined-stream connection (two during a planned reconnect).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use market::net::{WsConn, WsEvent, ws_connect};
use market::{
    Backoff, FeedCommand, FeedContext, FeedEvent, FeedSender, MarketError, VenueSession,
    run_session,
};
use model::{BookState, ExchangeId, Pair, Timestamp};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::parse::{BinanceInbound, parse_frame};
use crate::rest::BinanceExchange;
use crate::sync::{DepthSnapshot, DepthSync, SnapshotOutcome, Step};

/// Streams per SUBSCRIBE message (Binance allows 1024 streams per connection).
const STREAMS_PER_MESSAGE: usize = 200;

/// A live connection and its request-id counter.
struct Conn {
    ws: WsConn,
    next_request: u64,
}

impl Conn {
    fn id(&self) -> u64 {
        self.ws.id()
    }

    fn send_control(&mut self, method: &str, params: &[String]) {
        for chunk in params.chunks(STREAMS_PER_MESSAGE) {
            self.next_request += 1;
            let body = serde_json::json!({
                "method": method,
                "params": chunk,
                "id": self.next_request,
            });
            self.ws.send_text(body.to_string());
        }
    }

    fn close(self) {
        self.ws.close();
    }
}

struct Sub {
    pair: Pair,
    sync: DepthSync,
    /// Bumped whenever the sync restarts, so late snapshot results are discarded.
    generation: u64,
    snapshot_pending: bool,
    attempts: u32,
}

/// The streams of one pair: its diff-depth stream and its trades, on the same connection.
fn stream_names(p: &Pair) -> [String; 2] {
    [
        format!("{}@depth@100ms", p.ws_symbol),
        format!("{}@trade", p.ws_symbol),
    ]
}

struct Feed {
    ex: Arc<BinanceExchange>,
    events: FeedSender,
    shutdown: CancellationToken,
    subs: HashMap<String, Sub>,
    primary: Option<Conn>,
    /// The new connection of a planned reconnect, and the symbols it has caught up on.
    secondary: Option<(Conn, HashSet<String>, Instant)>,
    next_conn: u64,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    snap_tx: mpsc::UnboundedSender<(String, u64, Result<DepthSnapshot, MarketError>)>,
    snap_rx: mpsc::UnboundedReceiver<(String, u64, Result<DepthSnapshot, MarketError>)>,
    pending_sub: BTreeSet<String>,
    pending_unsub: BTreeSet<String>,
    malformed: u64,
}

/// What the Binance feed waits on besides commands and ticks.
enum BinanceEvent {
    /// A frame or state change of one of its connections.
    Conn(WsEvent),
    /// A REST depth snapshot for (symbol key, sync generation).
    Snapshot(String, u64, Result<DepthSnapshot, MarketError>),
}

pub(crate) async fn run(ex: Arc<BinanceExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        ex,
        events: ctx.events.clone(),
        shutdown: ctx.shutdown.clone(),
        subs: HashMap::new(),
        primary: None,
        secondary: None,
        next_conn: 0,
        conn_tx,
        conn_rx,
        snap_tx,
        snap_rx,
        pending_sub: BTreeSet::new(),
        pending_unsub: BTreeSet::new(),
        malformed: 0,
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

impl VenueSession for Feed {
    type Event = BinanceEvent;

    fn name(&self) -> &'static str {
        "binance"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(250)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        let conn = self.connect_quietly().await?;
        info!(conn = conn.id(), url = %self.ex.config.ws_url, "connected");
        self.primary = Some(conn);
        Ok(())
    }

    async fn resume(&mut self) {
        let streams: Vec<String> = self
            .subs
            .values()
            .flat_map(|s| stream_names(&s.pair))
            .collect();
        if let Some(conn) = self.primary.as_mut() {
            conn.send_control("SUBSCRIBE", &streams);
        }
        self.pending_sub.clear();
        self.pending_unsub.clear();
        let keys: Vec<String> = self.subs.keys().cloned().collect();
        for k in keys {
            self.restart_sync(&k, BookState::Syncing, None).await;
        }
    }

    async fn next_event(&mut self) -> BinanceEvent {
        // The feed holds both senders: neither channel closes while it runs.
        tokio::select! {
            Some(ev) = self.conn_rx.recv() => BinanceEvent::Conn(ev),
            Some((sym, generation, res)) = self.snap_rx.recv() => BinanceEvent::Snapshot(sym, generation, res),
            else => std::future::pending().await,
        }
    }

    async fn on_event(&mut self, ev: BinanceEvent) -> Option<String> {
        match ev {
            BinanceEvent::Conn(ev) => self.on_conn_event(ev).await,
            BinanceEvent::Snapshot(sym, generation, res) => {
                self.on_snapshot(sym, generation, res).await;
                None
            }
        }
    }

    async fn on_command(&mut self, cmd: FeedCommand) {
        self.command(cmd).await;
    }

    async fn on_tick(&mut self) {
        self.tick().await;
    }

    fn is_connected(&self) -> bool {
        self.primary.is_some()
    }

    fn close(&mut self) {
        if let Some(c) = self.primary.take() {
            c.close();
        }
        if let Some((c, _, _)) = self.secondary.take() {
            c.close();
        }
    }
}

impl Feed {
    async fn emit(&self, ev: FeedEvent) {
        let _ = self.events.send(ev).await;
    }

    /// Restart one symbol's sync (new buffer, late snapshots discarded).
    async fn restart_sync(&mut self, key: &str, state: BookState, reason: Option<String>) {
        let Some(sub) = self.subs.get_mut(key) else {
            return;
        };
        sub.sync.reset();
        sub.generation += 1;
        sub.snapshot_pending = false;
        let symbol = sub.pair.symbol.clone();
        self.events.state(&symbol, state, reason).await;
    }

    async fn command(&mut self, cmd: FeedCommand) {
        match cmd {
            FeedCommand::Subscribe(pairs) => {
                for p in pairs {
                    let key = p.exchange_symbol.clone();
                    if self.subs.contains_key(&key) {
                        continue;
                    }
                    for name in stream_names(&p) {
                        self.pending_unsub.remove(&name);
                        self.pending_sub.insert(name);
                    }
                    let symbol = p.symbol.clone();
                    self.subs.insert(
                        key,
                        Sub {
                            pair: p,
                            sync: DepthSync::default(),
                            generation: 0,
                            snapshot_pending: false,
                            attempts: 0,
                        },
                    );
                    self.events.state(&symbol, BookState::Syncing, None).await;
                }
            }
            FeedCommand::Unsubscribe(pairs) => {
                for p in pairs {
                    if self.subs.remove(&p.exchange_symbol).is_some() {
                        for name in stream_names(&p) {
                            self.pending_sub.remove(&name);
                            self.pending_unsub.insert(name);
                        }
                    }
                }
            }
            FeedCommand::Resync(p) => {
                debug!(symbol = %p.symbol, "hub asked for a resync");
                self.restart_sync(&p.exchange_symbol, BookState::Resyncing, None)
                    .await;
            }
        }
    }

    /// Returns the reason when the primary connection was lost (and not replaced).
    async fn on_conn_event(&mut self, ev: WsEvent) -> Option<String> {
        match ev {
            WsEvent::Alive(_) => {
                self.events.alive();
                None
            }
            WsEvent::Frame(id, text) => {
                self.events.alive();
                self.on_frame(id, &text).await;
                None
            }
            WsEvent::Closed(id, reason) => {
                if self
                    .secondary
                    .as_ref()
                    .is_some_and(|(c, _, _)| c.id() == id)
                {
                    warn!(conn = id, %reason, "replacement connection lost; keeping the current one");
                    self.secondary = None;
                    return None;
                }
                if self.primary.as_ref().is_none_or(|c| c.id() != id) {
                    return None;
                }
                if self.secondary.is_some() {
                    info!(%reason, "old connection closed during the overlap; switching now");
                    self.switch_over().await;
                    return None;
                }
                warn!(conn = id, %reason, "connection lost");
                self.primary = None;
                for sub in self.subs.values_mut() {
                    sub.sync.reset();
                    sub.generation += 1;
                    sub.snapshot_pending = false;
                }
                Some(reason)
            }
        }
    }

    async fn on_frame(&mut self, conn: u64, text: &str) {
        match parse_frame(text) {
            Ok(BinanceInbound::Depth { symbol, update }) => {
                self.on_depth(conn, symbol, update).await
            }
            Ok(BinanceInbound::Trade { symbol, mut trade }) => {
                // Both connections of a planned reconnect deliver trades; the hub drops
                // the repeats by trade id.
                if let Some(sub) = self.subs.get(&symbol) {
                    trade.local_ts = Timestamp::now();
                    let symbol = sub.pair.symbol.clone();
                    let _ = self
                        .events
                        .send(FeedEvent::Trades {
                            symbol,
                            trades: vec![trade],
                        })
                        .await;
                }
            }
            Ok(BinanceInbound::Ack) => {}
            Ok(BinanceInbound::ControlError { code, msg }) => {
                warn!(code, %msg, "Binance refused a control message");
            }
            Ok(BinanceInbound::ServerShutdown) => {
                if self.primary.as_ref().is_some_and(|c| c.id() == conn) {
                    info!("serverShutdown announced: reconnecting ahead of it");
                    self.begin_planned_reconnect().await;
                }
            }
            Ok(BinanceInbound::Other(kind)) => debug!(%kind, "ignored message type"),
            Err(e) => {
                self.malformed += 1;
                // A lost depth event shows up as a gap in the update-id chain.
                warn!(error = %e, malformed = self.malformed, "malformed frame ignored");
            }
        }
    }

    async fn on_depth(&mut self, conn: u64, key: String, update: crate::sync::DepthUpdate) {
        let is_secondary = self
            .secondary
            .as_ref()
            .is_some_and(|(c, _, _)| c.id() == conn);
        let Some(sub) = self.subs.get_mut(&key) else {
            return;
        };
        if is_secondary {
            // During the overlap the old connection stays authoritative: the new one only
            // proves, symbol by symbol, that it continues the same chain.
            let caught_up = if sub.sync.continues(update.first, update.last) {
                if let Step::Apply(ev) = sub.sync.on_update(update) {
                    let symbol = sub.pair.symbol.clone();
                    self.emit(FeedEvent::Book {
                        symbol,
                        event: ev,
                        received: Timestamp::now(),
                    })
                    .await;
                }
                true
            } else {
                sub.sync.book_id() == Some(update.last)
            };
            if caught_up {
                if let Some((_, set, _)) = self.secondary.as_mut() {
                    set.insert(key);
                }
                self.maybe_switch().await;
            }
            return;
        }
        if self.primary.as_ref().is_none_or(|c| c.id() != conn) {
            return;
        }
        let symbol = sub.pair.symbol.clone();
        match sub.sync.on_update(update) {
            Step::Nothing => {}
            Step::NeedSnapshot => self.request_snapshot(&key, Duration::ZERO),
            Step::Apply(ev) => {
                self.emit(FeedEvent::Book {
                    symbol,
                    event: ev,
                    received: Timestamp::now(),
                })
                .await
            }
            Step::Gap { expected, got } => {
                warn!(%symbol, expected, got, "update-id gap; resyncing this symbol");
                self.events
                    .state(
                        &symbol,
                        BookState::Resyncing,
                        Some(format!("update-id gap: expected {expected}, got {got}")),
                    )
                    .await;
                self.request_snapshot(&key, Duration::ZERO);
            }
        }
    }

    fn request_snapshot(&mut self, key: &str, delay: Duration) {
        let Some(sub) = self.subs.get_mut(key) else {
            return;
        };
        if sub.snapshot_pending {
            return;
        }
        sub.snapshot_pending = true;
        let generation = sub.generation;
        let exchange_symbol = sub.pair.exchange_symbol.clone();
        let ex = self.ex.clone();
        let tx = self.snap_tx.clone();
        let key = key.to_owned();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                res = async {
                    tokio::time::sleep(delay).await;
                    ex.depth_snapshot(&exchange_symbol).await
                } => { let _ = tx.send((key, generation, res)); }
            }
        });
    }

    async fn on_snapshot(
        &mut self,
        key: String,
        generation: u64,
        res: Result<DepthSnapshot, MarketError>,
    ) {
        let Some(sub) = self.subs.get_mut(&key) else {
            return;
        };
        if sub.generation != generation {
            return;
        }
        sub.snapshot_pending = false;
        let symbol = sub.pair.symbol.clone();
        match res {
            Ok(snap) => match sub.sync.on_snapshot(snap) {
                SnapshotOutcome::Synced(events) => {
                    sub.attempts = 0;
                    for event in events {
                        self.emit(FeedEvent::Book {
                            symbol: symbol.clone(),
                            event,
                            received: Timestamp::now(),
                        })
                        .await;
                    }
                }
                SnapshotOutcome::TooOld {
                    snapshot,
                    first_buffered,
                } => {
                    sub.attempts += 1;
                    let delay = Duration::from_millis(250 * u64::from(sub.attempts.min(20)));
                    debug!(%symbol, snapshot, first_buffered, "snapshot older than the stream; fetching again, buffer kept");
                    self.request_snapshot(&key, delay);
                }
                SnapshotOutcome::Unexpected => {}
            },
            Err(e) => {
                sub.attempts += 1;
                let delay = match &e {
                    // The weight limiter is already closed for the venue's Retry-After.
                    MarketError::RateLimited { .. } => Duration::ZERO,
                    _ => Duration::from_millis(500)
                        .saturating_mul(1 << sub.attempts.min(6))
                        .min(Duration::from_secs(30)),
                };
                warn!(%symbol, error = %e, retry_in_ms = delay.as_millis() as u64, "snapshot failed");
                self.events
                    .state(&symbol, BookState::Syncing, Some(e.to_string()))
                    .await;
                self.request_snapshot(&key, delay);
            }
        }
    }

    async fn tick(&mut self) {
        if let Some(p) = self.primary.as_mut() {
            let subs: Vec<String> = std::mem::take(&mut self.pending_sub).into_iter().collect();
            let unsubs: Vec<String> = std::mem::take(&mut self.pending_unsub)
                .into_iter()
                .collect();
            if !subs.is_empty() {
                p.send_control("SUBSCRIBE", &subs);
            }
            if !unsubs.is_empty() {
                p.send_control("UNSUBSCRIBE", &unsubs);
            }
            if let Some((s, _, _)) = self.secondary.as_mut() {
                if !subs.is_empty() {
                    s.send_control("SUBSCRIBE", &subs);
                }
                if !unsubs.is_empty() {
                    s.send_control("UNSUBSCRIBE", &unsubs);
                }
            }
        }
        let age = self.primary.as_ref().map(|c| c.ws.opened().elapsed());
        if age.is_some_and(|a| a >= self.ex.config.max_connection_age) && self.secondary.is_none() {
            info!("connection reached its planned lifetime; reconnecting ahead of the venue's cut");
            self.begin_planned_reconnect().await;
        }
        if self
            .secondary
            .as_ref()
            .is_some_and(|(_, _, deadline)| Instant::now() >= *deadline)
        {
            self.switch_over().await;
        }
    }

    async fn begin_planned_reconnect(&mut self) {
        if self.secondary.is_some() {
            return;
        }
        match self.connect_quietly().await {
            Ok(mut conn) => {
                let streams: Vec<String> = self
                    .subs
                    .values()
                    .flat_map(|s| stream_names(&s.pair))
                    .collect();
                conn.send_control("SUBSCRIBE", &streams);
                let deadline = Instant::now() + self.ex.config.overlap;
                self.secondary = Some((conn, HashSet::new(), deadline));
                self.maybe_switch().await;
            }
            Err(e) => warn!(error = %e, "planned reconnect failed; keeping the current connection"),
        }
    }

    /// Connect without reporting `connecting` (the current connection still serves).
    async fn connect_quietly(&mut self) -> Result<Conn, MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Binance, &cfg.ws_url, cfg.connect_timeout).await?;
        self.next_conn += 1;
        Ok(Conn {
            ws: WsConn::spawn(
                ws,
                self.next_conn,
                self.conn_tx.clone(),
                cfg.control_per_second,
                cfg.dead_after,
            ),
            next_request: 0,
        })
    }

    async fn maybe_switch(&mut self) {
        let Some((_, caught, _)) = self.secondary.as_ref() else {
            return;
        };
        let all = self
            .subs
            .iter()
            .filter(|(_, s)| s.sync.is_live())
            .all(|(k, _)| caught.contains(k));
        if all && !self.subs.is_empty() {
            self.switch_over().await;
        }
    }

    async fn switch_over(&mut self) {
        let Some((new, caught, _)) = self.secondary.take() else {
            return;
        };
        let lagging: Vec<String> = self
            .subs
            .iter()
            .filter(|(k, s)| s.sync.is_live() && !caught.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        info!(
            conn = new.id(),
            lagging = lagging.len(),
            "switched to the new connection"
        );
        if let Some(old) = self.primary.replace(new) {
            old.close();
        }
        // A symbol the new connection never proved continuity for (`lagging`) is checked by
        // its next event like any other: it continues the chain or it is a gap.
    }
}
