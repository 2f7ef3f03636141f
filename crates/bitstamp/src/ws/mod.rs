//! The Bitstamp feed: one connection carrying `diff_order_book_*` and `live_trades_*` per
//! pair; each book spliced with its REST snapshot; `bts:request_reconnect` answered by a new
//! connection that takes over each book where the two streams overlap.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use market::net::{WsConn, WsEvent, WsStream, ws_connect};
use market::{
    Backoff, FeedCommand, FeedContext, FeedEvent, FeedSender, MarketError, ResyncBackoff,
    VenueSession, run_session,
};
use model::{BookEvent, BookState, ExchangeId, Pair, Timestamp, Trade};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::parse::{BtsBookDiff, BtsInbound, channel_pair, parse_frame};
use crate::rest::BitstampExchange;
use crate::sync::{DiffChain, Step};

mod handover;

use handover::Handover;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// To be subscribed on the current connection at the next tick.
    Pending,
    /// Subscribed; diffs are buffered until a REST snapshot is placed on them.
    Syncing,
    /// Spliced; diffs apply.
    Live,
    /// The venue refused the pair: not retried until asked again or reconnected.
    Refused,
}

struct Sub {
    pair: Pair,
    state: SubState,
    /// The stream of `feed_conn`.
    chain: DiffChain,
    /// The connection whose diffs feed `chain`.
    feed_conn: u64,
    /// During a handover: the new connection's stream, buffered until it overlaps.
    next: Option<DiffChain>,
    /// A REST snapshot is being fetched.
    fetching: bool,
    /// Fetch a snapshot at this time.
    fetch_at: Option<Instant>,
    /// Bumped on every resync, so that a late snapshot is discarded.
    generation: u64,
    resyncs: ResyncBackoff,
}

enum Event {
    Ws(WsEvent),
    Snapshot {
        pair: String,
        generation: u64,
        result: Result<(i64, BookEvent), MarketError>,
    },
    Connected(Box<Result<WsStream, MarketError>>),
}

struct Feed {
    ex: Arc<BitstampExchange>,
    events: FeedSender,
    /// By url symbol (`btcusd`).
    subs: HashMap<String, Sub>,
    conn: Option<WsConn>,
    handover: Option<Handover>,
    /// A replacement connection is being opened.
    connecting: bool,
    next_conn: u64,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    side_tx: mpsc::UnboundedSender<Event>,
    side_rx: mpsc::UnboundedReceiver<Event>,
    pending_unsub: BTreeSet<String>,
    malformed: u64,
}

pub(crate) async fn run(ex: Arc<BitstampExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let (side_tx, side_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        ex,
        events: ctx.events.clone(),
        subs: HashMap::new(),
        conn: None,
        handover: None,
        connecting: false,
        next_conn: 0,
        conn_tx,
        conn_rx,
        side_tx,
        side_rx,
        pending_unsub: BTreeSet::new(),
        malformed: 0,
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

fn book_channel(pair: &str) -> String {
    format!("diff_order_book_{pair}")
}

fn trades_channel(pair: &str) -> String {
    format!("live_trades_{pair}")
}

impl VenueSession for Feed {
    type Event = Event;

    fn name(&self) -> &'static str {
        "bitstamp"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Bitstamp, &cfg.ws_url, cfg.connect_timeout).await?;
        self.adopt(ws);
        Ok(())
    }

    async fn resume(&mut self) {
        let mut syncing = Vec::new();
        for sub in self.subs.values_mut() {
            sub.state = SubState::Pending;
            syncing.push(sub.pair.symbol.clone());
        }
        for s in syncing {
            self.events.state(&s, BookState::Syncing, None).await;
        }
        self.tick().await;
    }

    async fn next_event(&mut self) -> Event {
        tokio::select! {
            Some(ev) = self.conn_rx.recv() => Event::Ws(ev),
            Some(ev) = self.side_rx.recv() => ev,
            // The feed holds both senders: neither channel closes while it runs.
            else => std::future::pending().await,
        }
    }

    async fn on_event(&mut self, ev: Event) -> Option<String> {
        match ev {
            Event::Ws(ev) => self.on_ws(ev).await,
            Event::Snapshot {
                pair,
                generation,
                result,
            } => {
                self.on_snapshot(&pair, generation, result).await;
                None
            }
            Event::Connected(result) => {
                self.connecting = false;
                match *result {
                    Ok(ws) => self.begin_handover(ws).await,
                    Err(e) => {
                        warn!(error = %e, "the replacement connection failed; the old one stays")
                    }
                }
                None
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
                            self.pending_unsub.remove(&book_channel(&key));
                            self.pending_unsub.remove(&trades_channel(&key));
                            let cap = self.ex.config.buffer_cap;
                            self.subs.insert(
                                key,
                                Sub {
                                    pair: p.clone(),
                                    state: SubState::Pending,
                                    chain: DiffChain::new(cap),
                                    feed_conn: 0,
                                    next: None,
                                    fetching: false,
                                    fetch_at: None,
                                    generation: 0,
                                    resyncs: ResyncBackoff::default(),
                                },
                            );
                        }
                    }
                    self.events.state(&p.symbol, BookState::Syncing, None).await;
                }
            }
            FeedCommand::Unsubscribe(pairs) => {
                for p in pairs {
                    if let Some(s) = self.subs.remove(&p.ws_symbol)
                        && matches!(s.state, SubState::Syncing | SubState::Live)
                    {
                        self.pending_unsub.insert(book_channel(&p.ws_symbol));
                        self.pending_unsub.insert(trades_channel(&p.ws_symbol));
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
        self.tick().await;
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
        if let Some(h) = self.handover.take() {
            h.old.close();
        }
    }
}

impl Feed {
    fn adopt(&mut self, ws: WsStream) {
        let cfg = &self.ex.config;
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
    }

    fn current(&self) -> Option<u64> {
        self.conn.as_ref().map(WsConn::id)
    }

    fn send(&self, event: &str, channel: &str) {
        if let Some(c) = self.conn.as_ref() {
            let body = serde_json::json!({"event": event, "data": {"channel": channel}});
            c.send_text(body.to_string());
        }
    }

    async fn tick(&mut self) {
        let Some(current) = self.current() else {
            return;
        };
        let now = Instant::now();
        for ch in std::mem::take(&mut self.pending_unsub) {
            self.send("bts:unsubscribe", &ch);
        }
        let mut subscribe = Vec::new();
        let mut fetch = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            if sub.state == SubState::Pending {
                sub.state = SubState::Syncing;
                sub.chain = DiffChain::new(self.ex.config.buffer_cap);
                sub.feed_conn = current;
                sub.next = None;
                sub.generation += 1;
                sub.fetching = false;
                sub.fetch_at = None;
                subscribe.push(key.clone());
            }
            if sub.state == SubState::Syncing
                && !sub.fetching
                && sub.fetch_at.is_some_and(|at| at <= now)
            {
                sub.fetching = true;
                sub.fetch_at = None;
                fetch.push((key.clone(), sub.generation));
            }
        }
        subscribe.sort();
        for key in &subscribe {
            self.send("bts:subscribe", &book_channel(key));
            self.send("bts:subscribe", &trades_channel(key));
        }
        for (pair, generation) in fetch {
            let ex = self.ex.clone();
            let tx = self.side_tx.clone();
            tokio::spawn(async move {
                let result = ex.order_book(&pair).await;
                let _ = tx.send(Event::Snapshot {
                    pair,
                    generation,
                    result,
                });
            });
        }
        if self.handover.as_ref().is_some_and(|h| h.until <= now) {
            self.end_handover("the streams did not overlap in time")
                .await;
        }
    }

    async fn on_ws(&mut self, ev: WsEvent) -> Option<String> {
        let current = self.current();
        let old = self.handover.as_ref().map(|h| h.old.id());
        match ev {
            WsEvent::Alive(id) | WsEvent::Frame(id, _)
                if Some(id) != current && Some(id) != old =>
            {
                None
            }
            WsEvent::Alive(id) => {
                if Some(id) == current {
                    self.events.alive();
                }
                None
            }
            WsEvent::Frame(id, text) => {
                if Some(id) == current {
                    self.events.alive();
                }
                self.on_frame(id, &text).await;
                None
            }
            WsEvent::Closed(id, reason) if Some(id) == old => {
                info!(conn = id, %reason, "the old connection closed during the handover");
                self.end_handover("the old connection closed first").await;
                None
            }
            WsEvent::Closed(id, reason) => {
                if Some(id) != current {
                    return None;
                }
                warn!(conn = id, %reason, "connection lost");
                self.conn = None;
                if let Some(h) = self.handover.take() {
                    h.old.close();
                }
                for sub in self.subs.values_mut() {
                    if sub.state != SubState::Refused {
                        sub.state = SubState::Pending;
                    }
                }
                Some(reason)
            }
        }
    }

    async fn on_frame(&mut self, conn: u64, text: &str) {
        match parse_frame(text) {
            Ok(BtsInbound::Diff(d)) => self.on_diff(conn, d).await,
            Ok(BtsInbound::Trade(pair, t)) => self.on_trade(&pair, t).await,
            Ok(BtsInbound::Subscribed(ch)) => debug!(conn, channel = %ch, "subscribed"),
            Ok(BtsInbound::Unsubscribed(ch)) => debug!(conn, channel = %ch, "unsubscribed"),
            Ok(BtsInbound::RequestReconnect) => self.request_replacement(conn),
            Ok(BtsInbound::Error { channel, message }) => self.refused(&channel, message).await,
            Ok(BtsInbound::Other(kind)) => debug!(%kind, "ignored event"),
            Err(e) => {
                // Loss cannot be seen on this channel; a malformed diff is a lost diff.
                self.malformed += 1;
                warn!(error = %e, malformed = self.malformed, "malformed frame");
                if let Some(pair) = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| {
                        v["channel"]
                            .as_str()
                            .and_then(channel_pair)
                            .map(str::to_owned)
                    })
                    && text.contains("diff_order_book_")
                {
                    self.resync(&pair, format!("a malformed diff: {e}")).await;
                }
            }
        }
    }

    async fn on_diff(&mut self, conn: u64, d: BtsBookDiff) {
        let Some(sub) = self.subs.get_mut(&d.pair) else {
            return;
        };
        if !matches!(sub.state, SubState::Syncing | SubState::Live) {
            return;
        }
        let mut emit: Vec<BookEvent> = Vec::new();
        let mut broken = None;
        if conn == sub.feed_conn {
            match sub.chain.diff(d.micros, d.event) {
                Step::Apply(e) => emit.push(e),
                Step::Covered => {}
                Step::Buffered => {
                    // The stream flows: a snapshot taken from now on can be placed on it.
                    if !sub.fetching && sub.fetch_at.is_none() {
                        sub.fetch_at = Some(Instant::now());
                    }
                }
                Step::Broken { last, got } => {
                    broken = Some(format!("microtimestamp went back from {last} to {got}"))
                }
            }
        } else if let Some(next) = sub.next.as_mut() {
            if let Step::Broken { last, got } = next.diff(d.micros, d.event) {
                debug!(pair = %d.pair, last, got, "the new stream went back; it buffers afresh");
            }
        } else {
            return;
        }
        let new_conn = self.conn.as_ref().map_or(0, WsConn::id);
        emit.extend(handover::take_over(sub, new_conn, &d.pair));
        let symbol = sub.pair.symbol.clone();
        for event in emit {
            self.emit(&symbol, event).await;
        }
        if let Some(reason) = broken {
            self.resync(&d.pair, reason).await;
        }
        self.maybe_finish_handover();
    }

    async fn emit(&self, symbol: &model::Symbol, event: BookEvent) {
        let _ = self
            .events
            .send(FeedEvent::Book {
                symbol: symbol.clone(),
                event,
                received: Timestamp::now(),
            })
            .await;
    }

    async fn on_snapshot(
        &mut self,
        pair: &str,
        generation: u64,
        result: Result<(i64, BookEvent), MarketError>,
    ) {
        let Some(sub) = self.subs.get_mut(pair) else {
            return;
        };
        if sub.generation != generation || sub.state != SubState::Syncing {
            return; // resynced or resubscribed meanwhile
        }
        sub.fetching = false;
        let (at, book) = match result {
            Ok(b) => b,
            Err(e) => {
                warn!(%pair, error = %e, "the REST book failed; fetching again");
                let wait = match &e {
                    MarketError::RateLimited { retry_after, .. } => *retry_after,
                    _ => Duration::from_secs(1),
                };
                sub.fetch_at = Some(Instant::now() + wait);
                let symbol = sub.pair.symbol.clone();
                self.events
                    .state(&symbol, BookState::Syncing, Some(e.to_string()))
                    .await;
                return;
            }
        };
        // Placed earlier than its stamp: the margin's diffs are applied again.
        let margin = i64::try_from(self.ex.config.splice_margin.as_micros()).unwrap_or(0);
        let Some(follow) = sub.chain.place(at.saturating_sub(margin)) else {
            // The REST book lags the stream (or no diff came yet to place it on): ask again
            // shortly.
            debug!(%pair, at, floor = ?sub.chain.floor(), "the REST book cannot be placed yet; fetching again");
            sub.fetch_at = Some(Instant::now() + Duration::from_millis(300));
            return;
        };
        info!(%pair, follow = follow.len(), "book spliced from REST");
        sub.state = SubState::Live;
        let symbol = sub.pair.symbol.clone();
        self.emit(&symbol, book).await;
        for e in follow {
            self.emit(&symbol, e).await;
        }
    }

    async fn on_trade(&mut self, pair: &str, mut t: Trade) {
        let Some(sub) = self.subs.get(pair) else {
            return;
        };
        t.local_ts = Timestamp::now();
        let symbol = sub.pair.symbol.clone();
        let _ = self
            .events
            .send(FeedEvent::Trades {
                symbol,
                trades: vec![t],
            })
            .await;
    }

    async fn refused(&mut self, channel: &str, message: String) {
        let Some(pair) = channel.strip_prefix("diff_order_book_").map(str::to_owned) else {
            // Unplaced, or a trades channel: the books are unaffected.
            warn!(%channel, %message, "Bitstamp reported an error");
            return;
        };
        let Some(sub) = self.subs.get_mut(&pair) else {
            return;
        };
        warn!(%pair, %message, "Bitstamp refused the subscription; not retrying");
        sub.state = SubState::Refused;
        sub.generation += 1;
        let symbol = sub.pair.symbol.clone();
        self.events
            .state(
                &symbol,
                BookState::Down,
                Some(format!("Bitstamp refused the subscription: {message}")),
            )
            .await;
    }

    /// Splice this book afresh (the subscription stays): buffer from now on and fetch a
    /// snapshot after a delay that doubles with each resync in the last five minutes.
    async fn resync(&mut self, pair: &str, reason: String) {
        let now = Instant::now();
        let (base, cap) = (self.ex.config.resync_base, self.ex.config.resync_cap);
        let current = self.current();
        let Some(sub) = self.subs.get_mut(pair) else {
            return;
        };
        if !matches!(sub.state, SubState::Syncing | SubState::Live) {
            return;
        }
        let delay = sub.resyncs.next_delay(now, base, cap);
        // A handover in progress continues on the new stream.
        if let Some(next) = sub.next.take() {
            sub.chain = next;
            sub.feed_conn = current.unwrap_or(sub.feed_conn);
        }
        sub.chain.resync();
        sub.state = SubState::Syncing;
        sub.generation += 1;
        sub.fetching = false;
        sub.fetch_at = Some(now + delay);
        let symbol = sub.pair.symbol.clone();
        info!(%pair, %reason, delay_ms = delay.as_millis() as u64, "splicing the book afresh");
        self.events
            .state(&symbol, BookState::Resyncing, Some(reason))
            .await;
        self.maybe_finish_handover();
    }
}
