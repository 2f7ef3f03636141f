//! The OKX feed: one public connection, per-instrument `books` and `trades` subscriptions, a
//! REST splice when no in-band snapshot comes, a break resubscribes that instrument only.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use market::net::{WsConn, WsEvent, ws_connect};
use market::{
    Backoff, FeedCommand, FeedContext, FeedEvent, FeedSender, MarketError, ResyncBackoff,
    VenueSession, group_trades, run_session,
};
use model::{BookEvent, BookEventKind, BookState, ExchangeId, Pair, Symbol, Timestamp, Trade};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::parse::{OkxBook, OkxInbound, OkxRestBook, parse_frame};
use crate::rest::OkxExchange;
use crate::sync::{SeqChain, Splice, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    /// To be sent in the next subscribe request.
    Pending,
    /// Subscribe sent at this time; no baseline yet.
    Subscribing(Instant),
    /// A REST book is being fetched for the splice.
    Fetching,
    /// Live.
    Live,
    /// Unsubscribed after a break; subscribe again at this time.
    Waiting(Instant),
    /// The venue refused the instrument: not retried until asked again or reconnected.
    Refused,
}

struct Sub {
    pair: Pair,
    state: SubState,
    chain: SeqChain,
    resyncs: ResyncBackoff,
    /// Bumped on every resubscribe, so that a late REST book is discarded.
    generation: u64,
}

enum Event {
    Ws(WsEvent),
    RestBook {
        inst: String,
        generation: u64,
        result: Result<OkxRestBook, MarketError>,
    },
}

struct Feed {
    ex: Arc<OkxExchange>,
    events: FeedSender,
    /// By instId (`BTC-USDT`).
    subs: HashMap<String, Sub>,
    conn: Option<WsConn>,
    next_conn: u64,
    next_req: u64,
    /// Request id → the instruments of a `books` subscribe (to place a refusal).
    requests: HashMap<String, Vec<String>>,
    conn_tx: mpsc::UnboundedSender<WsEvent>,
    conn_rx: mpsc::UnboundedReceiver<WsEvent>,
    rest_tx: mpsc::UnboundedSender<Event>,
    rest_rx: mpsc::UnboundedReceiver<Event>,
    pending_unsub: Vec<(String, String)>,
    /// When each (un)subscribe request of the current connection was sent (last hour).
    ops: VecDeque<Instant>,
    malformed: u64,
    last_frame: Instant,
    last_ping: Instant,
}

pub(crate) async fn run(ex: Arc<OkxExchange>, ctx: FeedContext) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    let (rest_tx, rest_rx) = mpsc::unbounded_channel();
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
        rest_tx,
        rest_rx,
        pending_unsub: Vec::new(),
        ops: VecDeque::new(),
        malformed: 0,
        last_frame: Instant::now(),
        last_ping: Instant::now(),
    };
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    run_session(feed, ctx, backoff).await;
}

impl VenueSession for Feed {
    type Event = Event;

    fn name(&self) -> &'static str {
        "okx"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.ex.connections.acquire().await;
        let cfg = &self.ex.config;
        let ws = ws_connect(ExchangeId::Okx, &cfg.ws_url, cfg.connect_timeout).await?;
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
        self.requests.clear();
        self.pending_unsub.clear();
        self.ops.clear();
        self.last_frame = Instant::now();
        Ok(())
    }

    async fn resume(&mut self) {
        let mut syncing = Vec::new();
        for sub in self.subs.values_mut() {
            sub.state = SubState::Pending;
            sub.chain.reset();
            sub.generation += 1;
            syncing.push(sub.pair.symbol.clone());
        }
        for s in syncing {
            self.events.state(&s, BookState::Syncing, None).await;
        }
        self.tick();
    }

    async fn next_event(&mut self) -> Event {
        tokio::select! {
            Some(ev) = self.conn_rx.recv() => Event::Ws(ev),
            Some(ev) = self.rest_rx.recv() => ev,
        }
    }

    async fn on_event(&mut self, ev: Event) -> Option<String> {
        match ev {
            Event::Ws(ev) => self.on_conn_event(ev).await,
            Event::RestBook {
                inst,
                generation,
                result,
            } => {
                self.on_rest_book(&inst, generation, result).await;
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
                            self.pending_unsub.retain(|(_, i)| *i != key);
                            self.subs.insert(
                                key,
                                Sub {
                                    pair: p.clone(),
                                    state: SubState::Pending,
                                    chain: SeqChain::default(),
                                    resyncs: ResyncBackoff::default(),
                                    generation: 0,
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
                        self.pending_unsub
                            .push(("books".into(), p.ws_symbol.clone()));
                        self.pending_unsub
                            .push(("trades".into(), p.ws_symbol.clone()));
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

impl Feed {
    /// Send `op` for `(channel, instId)` args, `args_per_message` per request; returns the
    /// request ids with their instruments.
    fn send(&mut self, op: &str, args: &[(String, String)]) -> Vec<(String, Vec<String>)> {
        let Some(conn) = self.conn.as_ref() else {
            return Vec::new();
        };
        let now = Instant::now();
        self.ops.extend(std::iter::repeat_n(
            now,
            args.len().div_ceil(self.ex.config.args_per_message.max(1)),
        ));
        let mut sent = Vec::new();
        for chunk in args.chunks(self.ex.config.args_per_message.max(1)) {
            self.next_req += 1;
            let id = self.next_req.to_string();
            let list: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(c, i)| serde_json::json!({"channel": c, "instId": i}))
                .collect();
            conn.send_text(serde_json::json!({"id": id, "op": op, "args": list}).to_string());
            sent.push((id, chunk.iter().map(|(_, i)| i.clone()).collect()));
        }
        sent
    }

    /// Requests this connection may still send within the venue's hourly budget.
    fn budget(&mut self) -> usize {
        let now = Instant::now();
        while self
            .ops
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3_600))
        {
            self.ops.pop_front();
        }
        self.ex
            .config
            .requests_per_hour
            .saturating_sub(self.ops.len())
    }

    fn tick(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let now = Instant::now();
        // Subscriptions wait (Pending) while this connection's hourly request budget is
        // spent; each one costs a request per 10 instruments (books and trades together).
        let may_subscribe = self.budget() >= 2;
        let wait = self.ex.config.snapshot_wait;
        let mut subscribe = Vec::new();
        let mut fetch = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            match sub.state {
                SubState::Pending | SubState::Waiting(_) if !may_subscribe => continue,
                SubState::Pending => {}
                SubState::Waiting(at) if at <= now => {}
                SubState::Subscribing(since) if now.duration_since(since) >= wait => {
                    // No in-band snapshot in time: splice a REST book onto the buffer.
                    sub.state = SubState::Fetching;
                    fetch.push((key.clone(), sub.generation));
                    continue;
                }
                _ => continue,
            }
            sub.state = SubState::Subscribing(now);
            subscribe.push(key.clone());
        }
        subscribe.sort();
        if !may_subscribe && self.subs.values().any(|s| s.state == SubState::Pending) {
            debug!("this connection's hourly subscription budget is spent; subscriptions wait");
        }
        if !self.pending_unsub.is_empty() {
            let unsub = std::mem::take(&mut self.pending_unsub);
            self.send("unsubscribe", &unsub);
        }
        if !subscribe.is_empty() {
            let books: Vec<(String, String)> = subscribe
                .iter()
                .flat_map(|i| {
                    [
                        ("books".to_owned(), i.clone()),
                        ("trades".to_owned(), i.clone()),
                    ]
                })
                .collect();
            for (id, insts) in self.send("subscribe", &books) {
                self.requests.insert(id, insts);
            }
        }
        for (inst, generation) in fetch {
            let ex = self.ex.clone();
            let tx = self.rest_tx.clone();
            tokio::spawn(async move {
                let result = ex.rest_book(&inst).await;
                let _ = tx.send(Event::RestBook {
                    inst,
                    generation,
                    result,
                });
            });
        }
        let ping_after = self.ex.config.ping_after;
        if self.last_frame.elapsed() >= ping_after && self.last_ping.elapsed() >= ping_after {
            self.last_ping = now;
            if let Some(c) = self.conn.as_ref() {
                c.send_text("ping".to_owned());
            }
        }
    }

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
                if Some(id) != current {
                    return None;
                }
                self.last_frame = Instant::now();
                self.events.alive();
                self.on_frame(&text).await
            }
            WsEvent::Closed(id, reason) => {
                if Some(id) != current {
                    return None;
                }
                warn!(conn = id, %reason, "connection lost");
                self.lost();
                Some(reason)
            }
        }
    }

    fn lost(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
        for sub in self.subs.values_mut() {
            sub.chain.reset();
            sub.generation += 1;
            if sub.state != SubState::Refused {
                sub.state = SubState::Pending;
            }
        }
    }

    /// Returns a reason when the connection must be replaced (the venue's notice).
    async fn on_frame(&mut self, text: &str) -> Option<String> {
        match parse_frame(text) {
            Ok(OkxInbound::Book(books)) => {
                for b in books {
                    self.on_book(b).await;
                }
            }
            Ok(OkxInbound::Trades(t)) => self.on_trades(t).await,
            Ok(OkxInbound::Subscribed { channel, inst_id }) => {
                debug!(%channel, inst = inst_id.as_deref().unwrap_or(""), "subscribed")
            }
            Ok(OkxInbound::Unsubscribed { .. } | OkxInbound::Pong) => {}
            Ok(OkxInbound::Error { id, code, msg }) => self.refused(id, code, msg).await,
            Ok(OkxInbound::Notice { code, msg }) => {
                info!(%code, %msg, "venue notice: reconnecting ahead of the close");
                self.lost();
                return Some(format!("venue notice {code}: {msg}"));
            }
            Ok(OkxInbound::Other(kind)) => debug!(%kind, "ignored message type"),
            Err(e) => {
                self.malformed += 1;
                // A lost update shows up as a break in the seqId chain of the next one.
                warn!(error = %e, malformed = self.malformed, "malformed frame ignored");
            }
        }
        None
    }

    async fn emit_book(&self, symbol: Symbol, event: BookEvent) {
        let _ = self
            .events
            .send(FeedEvent::Book {
                symbol,
                event,
                received: Timestamp::now(),
            })
            .await;
    }

    async fn on_book(&mut self, b: OkxBook) {
        let Some(sub) = self.subs.get_mut(&b.inst_id) else {
            return;
        };
        if matches!(sub.state, SubState::Waiting(_) | SubState::Refused) {
            return;
        }
        if b.event.kind == BookEventKind::Snapshot {
            // An in-band snapshot (also replaces a pending REST splice).
            sub.chain.snapshot(b.seq);
            sub.state = SubState::Live;
            sub.generation += 1;
            let symbol = sub.pair.symbol.clone();
            self.emit_book(symbol, b.event).await;
            return;
        }
        match sub.chain.update(b.prev_seq, b.seq, &b.event) {
            Verdict::Apply => {
                let symbol = sub.pair.symbol.clone();
                self.emit_book(symbol, b.event).await;
            }
            Verdict::Buffer => {}
            Verdict::Gap { last, prev } => {
                let reason = format!("seqId chain broken: expected prevSeqId {last}, got {prev}");
                self.resync(&b.inst_id, reason).await;
            }
        }
    }

    async fn on_rest_book(
        &mut self,
        inst: &str,
        generation: u64,
        result: Result<OkxRestBook, MarketError>,
    ) {
        let Some(sub) = self.subs.get_mut(inst) else {
            return;
        };
        if sub.generation != generation || sub.state != SubState::Fetching {
            return; // a snapshot came in band meanwhile, or the book was resubscribed
        }
        let book = match result {
            Ok(b) => b,
            Err(e) => {
                warn!(%inst, error = %e, "REST book for the splice failed; retrying");
                sub.state = SubState::Subscribing(Instant::now());
                let symbol = sub.pair.symbol.clone();
                self.events
                    .state(&symbol, BookState::Syncing, Some(e.to_string()))
                    .await;
                return;
            }
        };
        match sub.chain.splice(book.seq, book.event) {
            Splice::Ready(snapshot, updates) => {
                info!(%inst, buffered = updates.len(), "book spliced from REST");
                sub.state = SubState::Live;
                let symbol = sub.pair.symbol.clone();
                self.emit_book(symbol.clone(), snapshot).await;
                for u in updates {
                    self.emit_book(symbol.clone(), u).await;
                }
            }
            Splice::TooOld => {
                debug!(%inst, "REST book older than the stream; fetching again");
                sub.state = SubState::Subscribing(Instant::now() - self.ex.config.snapshot_wait);
            }
            Splice::Unplaceable => {
                let symbol = sub.pair.symbol.clone();
                sub.state = SubState::Subscribing(Instant::now());
                self.events
                    .state(
                        &symbol,
                        BookState::Syncing,
                        Some(
                            "no in-band snapshot, and the REST book carries no seqId to splice"
                                .to_owned(),
                        ),
                    )
                    .await;
            }
        }
    }

    async fn on_trades(&mut self, trades: Vec<(String, Trade)>) {
        let symbol_of = |k: &str| self.subs.get(k).map(|s| s.pair.symbol.clone());
        for (symbol, trades) in group_trades(trades, symbol_of, Timestamp::now()) {
            let _ = self.events.send(FeedEvent::Trades { symbol, trades }).await;
        }
    }

    async fn refused(&mut self, id: Option<String>, code: String, msg: String) {
        let insts = id
            .and_then(|i| self.requests.remove(&i))
            .unwrap_or_default();
        // The message names the offending instrument when it can.
        let named: Vec<String> = insts
            .iter()
            .filter(|i| msg.contains(i.as_str()))
            .cloned()
            .collect();
        let refused = if named.is_empty() { insts } else { named };
        if refused.is_empty() {
            warn!(%code, %msg, "OKX refused a request");
            return;
        }
        for key in refused {
            let Some(sub) = self.subs.get_mut(&key) else {
                continue;
            };
            warn!(inst = %key, %code, %msg, "OKX refused the subscription; not retrying");
            sub.state = SubState::Refused;
            let symbol = sub.pair.symbol.clone();
            self.events
                .state(
                    &symbol,
                    BookState::Down,
                    Some(format!("OKX refused the subscription: {code} {msg}")),
                )
                .await;
        }
    }

    /// Unsubscribe this instrument's book and subscribe it again (a fresh snapshot) after a
    /// delay that doubles with each resync in the last five minutes.
    async fn resync(&mut self, key: &str, reason: String) {
        let now = Instant::now();
        let (base, cap) = (
            self.ex.config.resubscribe_base,
            self.ex.config.resubscribe_cap,
        );
        let Some(sub) = self.subs.get_mut(key) else {
            return;
        };
        if matches!(sub.state, SubState::Refused | SubState::Waiting(_)) {
            return;
        }
        let delay = sub.resyncs.next_delay(now, base, cap);
        sub.chain.reset();
        sub.generation += 1;
        let was_subscribed = sub.state != SubState::Pending;
        sub.state = SubState::Waiting(now + delay);
        let symbol = sub.pair.symbol.clone();
        if was_subscribed && self.conn.is_some() {
            // Both channels: the subscribe sends both again.
            self.send(
                "unsubscribe",
                &[
                    ("books".into(), key.to_owned()),
                    ("trades".into(), key.to_owned()),
                ],
            );
        }
        info!(%symbol, %reason, delay_ms = delay.as_millis() as u64, "resubscribing this instrument");
        self.events
            .state(&symbol, BookState::Resyncing, Some(reason))
            .await;
    }
}
