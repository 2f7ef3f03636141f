//! The hub: sole owner of live books.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use model::{
    BookEventKind, BookHealth, BookState, ExchangeId, Interval, Kline, OrderBook, Pair, PairIndex,
    Symbol, Timestamp,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::backoff::Backoff;
use crate::error::MarketError;
use crate::exchange::{
    ConnState, Exchange, FeedCommand, FeedContext, FeedEvent, FeedSender, KlineQuery, PairCache,
};

/// Hub settings (from `market.*` and `exchanges.<id>.symbols`).
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// A live book whose connection showed no sign of life for this long becomes `stale`.
    pub stale_after: Duration,
    /// A lazily subscribed book with no user for this long is released.
    pub release_after: Duration,
    /// Symbols each exchange keeps subscribed from start, as configured (any spelling).
    pub default_symbols: HashMap<ExchangeId, Vec<String>>,
    /// Exchanges configured but disabled (listed by status, never connected).
    pub disabled: Vec<ExchangeId>,
    /// Exchanges enabled in configuration that this server cannot run, with the reason
    /// (listed as `down`; requests to them answer "unavailable" with that reason).
    pub unavailable: Vec<(ExchangeId, String)>,
    /// Checksum mismatches within [`HubConfig::checksum_window`] beyond which a symbol's
    /// checksum is declared unreliable instead of resyncing again.
    pub checksum_max_failures: usize,
    /// The window for [`HubConfig::checksum_max_failures`].
    pub checksum_window: Duration,
    /// How often a loaded pair list is refreshed.
    pub pairs_refresh: Duration,
    /// Longest wait for a venue's klines.
    pub klines_timeout: Duration,
    /// Where pair lists are kept between runs (served until the venue answers).
    pub pair_cache: Option<Arc<dyn PairCache>>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            stale_after: Duration::from_millis(5_000),
            release_after: Duration::from_secs(300),
            default_symbols: HashMap::new(),
            disabled: Vec::new(),
            unavailable: Vec::new(),
            checksum_max_failures: 3,
            checksum_window: Duration::from_secs(300),
            pairs_refresh: Duration::from_secs(3_600),
            klines_timeout: Duration::from_secs(10),
            pair_cache: None,
        }
    }
}

/// An immutable picture of one book and its health, as last published.
#[derive(Debug, Clone)]
pub struct BookSnapshot {
    /// The exchange.
    pub exchange: ExchangeId,
    /// The pair (canonical symbol, native names, tick and lot).
    pub pair: Pair,
    /// The book.
    pub book: OrderBook,
    /// Its health when published (`age_ms` is computed by readers from `last_update`).
    pub health: BookHealth,
}

impl BookSnapshot {
    /// Canonical symbol.
    pub fn symbol(&self) -> &Symbol {
        &self.pair.symbol
    }
}

/// Per-exchange state as shown by `/exchanges` and `/health`.
#[derive(Debug, Clone)]
pub struct ExchangeStatus {
    /// The exchange.
    pub id: ExchangeId,
    /// Enabled in configuration.
    pub enabled: bool,
    /// Feed connection state (`None` when disabled).
    pub connection: Option<ConnState>,
    /// Pairs known (0 until the pair list is loaded).
    pub pairs: usize,
    /// Books currently subscribed.
    pub books: usize,
    /// The last error from the feed or the pair list, if any.
    pub last_error: Option<String>,
    /// Book events received from the feed since start.
    pub messages: u64,
}

/// A subscription to one book: the latest snapshot now and whenever it changes. Holding it
/// keeps the book subscribed.
#[derive(Debug)]
pub struct BookWatch {
    rx: watch::Receiver<Arc<BookSnapshot>>,
    _lease: Lease,
}

impl BookWatch {
    /// The latest published snapshot.
    pub fn current(&self) -> Arc<BookSnapshot> {
        self.rx.borrow().clone()
    }

    /// Wait until a newer snapshot is published.
    pub async fn changed(&mut self) -> Result<Arc<BookSnapshot>, MarketError> {
        self.rx
            .changed()
            .await
            .map_err(|_| MarketError::ShuttingDown)?;
        Ok(self.rx.borrow_and_update().clone())
    }

    /// Wait up to `timeout` for a snapshot satisfying `pred` (the current one counts).
    /// `Err` carries the last snapshot seen when the time ran out or the hub stopped.
    pub async fn wait_for(
        &mut self,
        timeout: std::time::Duration,
        pred: impl Fn(&BookSnapshot) -> bool,
    ) -> Result<Arc<BookSnapshot>, Arc<BookSnapshot>> {
        let cur = self.rx.borrow_and_update().clone();
        if pred(&cur) {
            return Ok(cur);
        }
        let found = tokio::time::timeout(timeout, async {
            while self.rx.changed().await.is_ok() {
                let s = self.rx.borrow_and_update().clone();
                if pred(&s) {
                    return Some(s);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(s)) => Ok(s),
            _ => Err(self.current()),
        }
    }
}

#[derive(Debug)]
struct Lease {
    slot: Arc<Slot>,
    clock: Instant,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.touch(self.clock);
        self.slot.leases.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
struct Slot {
    pair: Pair,
    tx: watch::Sender<Arc<BookSnapshot>>,
    leases: AtomicUsize,
    /// Monotonic ms (since hub start) of the last use.
    last_used: AtomicU64,
    pinned: bool,
}

impl Slot {
    fn touch(&self, clock: Instant) {
        self.last_used.store(mono_ms(clock), Ordering::Relaxed);
    }
}

fn mono_ms(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Venue {
    exchange: Arc<dyn Exchange>,
    commands: mpsc::UnboundedSender<FeedCommand>,
    pairs: RwLock<Option<Arc<PairIndex>>>,
    pairs_ready: watch::Sender<bool>,
    pairs_error: Mutex<Option<String>>,
    conn: Mutex<(ConnState, Option<String>)>,
    books: RwLock<HashMap<Symbol, Arc<Slot>>>,
    alive: Arc<AtomicU64>,
    /// Book events received from the feed.
    messages: AtomicU64,
}

impl Venue {
    fn id(&self) -> ExchangeId {
        self.exchange.id()
    }

    fn slot(&self, symbol: &Symbol) -> Option<Arc<Slot>> {
        rd(&self.books).get(symbol).cloned()
    }
}

struct HubInner {
    config: HubConfig,
    venues: HashMap<ExchangeId, Arc<Venue>>,
    clock: Instant,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// The owner of every live book. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("exchanges", &self.inner.venues.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Hub {
    /// Start the hub: one feed and one ingestion task per exchange, pair loading, the release
    /// janitor. Everything stops when `shutdown` fires; [`Hub::wait`] waits for it.
    pub fn start(
        config: HubConfig,
        exchanges: Vec<Arc<dyn Exchange>>,
        shutdown: CancellationToken,
    ) -> Hub {
        let clock = Instant::now();
        let tracker = TaskTracker::new();
        let mut venues = HashMap::new();
        let mut feeds = Vec::new();
        for ex in exchanges {
            let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
            let (ev_tx, ev_rx) = mpsc::channel(4_096);
            let alive = Arc::new(AtomicU64::new(0));
            let venue = Arc::new(Venue {
                exchange: ex.clone(),
                commands: cmd_tx,
                pairs: RwLock::new(None),
                pairs_ready: watch::channel(false).0,
                pairs_error: Mutex::new(None),
                conn: Mutex::new((ConnState::Connecting, None)),
                books: RwLock::new(HashMap::new()),
                alive: alive.clone(),
                messages: AtomicU64::new(0),
            });
            let ctx = FeedContext {
                commands: cmd_rx,
                events: FeedSender::new(ev_tx, alive, clock),
                shutdown: shutdown.child_token(),
            };
            feeds.push((venue.clone(), ctx, ev_rx));
            venues.insert(ex.id(), venue);
        }
        let hub = Hub {
            inner: Arc::new(HubInner {
                config,
                venues,
                clock,
                shutdown,
                tracker,
            }),
        };
        for (venue, ctx, ev_rx) in feeds {
            let id = venue.id();
            let span = info_span!("feed", exchange = %id);
            hub.inner
                .tracker
                .spawn(venue.exchange.clone().run_feed(ctx).instrument(span));
            let h = hub.clone();
            let v = venue.clone();
            hub.inner.tracker.spawn(
                async move { h.ingest(v, ev_rx).await }
                    .instrument(info_span!("ingest", exchange = %id)),
            );
            let h = hub.clone();
            hub.inner.tracker.spawn(
                async move { h.load_pairs(venue).await }
                    .instrument(info_span!("pairs", exchange = %id)),
            );
        }
        let h = hub.clone();
        hub.inner
            .tracker
            .spawn(async move { h.janitor().await }.instrument(info_span!("hub_janitor")));
        hub.inner.tracker.close();
        hub
    }

    /// Wait until every hub task has stopped (after the shutdown token fired).
    pub async fn wait(&self) {
        self.inner.tracker.wait().await;
    }

    /// The hub's configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Enabled exchanges, in id order.
    pub fn exchange_ids(&self) -> Vec<ExchangeId> {
        let mut v: Vec<_> = self.inner.venues.keys().copied().collect();
        v.sort();
        v
    }

    fn venue(&self, id: ExchangeId) -> Result<&Arc<Venue>, MarketError> {
        if let Some(v) = self.inner.venues.get(&id) {
            return Ok(v);
        }
        match self.inner.config.unavailable.iter().find(|(u, _)| *u == id) {
            Some((_, reason)) => Err(MarketError::Unavailable {
                exchange: id,
                reason: reason.clone(),
                retry_after: None,
            }),
            None => Err(MarketError::ExchangeDisabled(id)),
        }
    }

    /// Status of every configured exchange (enabled ones first, then disabled).
    pub fn exchanges(&self) -> Vec<ExchangeStatus> {
        let mut out: Vec<ExchangeStatus> = self
            .exchange_ids()
            .into_iter()
            .filter_map(|id| self.inner.venues.get(&id))
            .map(|v| {
                let (state, conn_err) = lock(&v.conn).clone();
                let pairs = rd(&v.pairs).as_ref().map_or(0, |p| p.len());
                let pairs_err = lock(&v.pairs_error).clone();
                ExchangeStatus {
                    id: v.id(),
                    enabled: true,
                    connection: Some(state),
                    pairs,
                    books: rd(&v.books).len(),
                    last_error: conn_err.or(pairs_err),
                    messages: v.messages.load(Ordering::Relaxed),
                }
            })
            .collect();
        for (id, reason) in &self.inner.config.unavailable {
            if !self.inner.venues.contains_key(id) {
                out.push(ExchangeStatus {
                    id: *id,
                    enabled: true,
                    connection: Some(ConnState::Down),
                    pairs: 0,
                    books: 0,
                    last_error: Some(reason.clone()),
                    messages: 0,
                });
            }
        }
        for id in &self.inner.config.disabled {
            if !self.inner.venues.contains_key(id) {
                out.push(ExchangeStatus {
                    id: *id,
                    enabled: false,
                    connection: None,
                    pairs: 0,
                    books: 0,
                    last_error: None,
                    messages: 0,
                });
            }
        }
        out
    }

    /// Every pair of an exchange.
    pub fn pairs(&self, id: ExchangeId) -> Result<Arc<PairIndex>, MarketError> {
        let v = self.venue(id)?;
        rd(&v.pairs)
            .clone()
            .ok_or_else(|| MarketError::PairsUnavailable {
                exchange: id,
                reason: lock(&v.pairs_error)
                    .clone()
                    .unwrap_or_else(|| "the pair list is still loading".to_owned()),
            })
    }

    /// Wait up to `timeout` for an exchange's pair list (a fresh start, a lazy request).
    pub async fn pairs_within(
        &self,
        id: ExchangeId,
        timeout: Duration,
    ) -> Result<Arc<PairIndex>, MarketError> {
        let v = self.venue(id)?;
        let mut rx = v.pairs_ready.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|ready| *ready)).await;
        self.pairs(id)
    }

    /// Resolve any spelling of a symbol to the exchange's pair.
    pub fn resolve(&self, id: ExchangeId, text: &str) -> Result<Pair, MarketError> {
        let idx = self.pairs(id)?;
        idx.resolve(text)
            .cloned()
            .ok_or_else(|| MarketError::UnknownSymbol {
                exchange: id,
                symbol: text.to_owned(),
            })
    }

    /// Candles from the venue.
    pub async fn klines(
        &self,
        id: ExchangeId,
        symbol: &str,
        interval: Interval,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> Result<(Pair, Vec<Kline>), MarketError> {
        let pair = self.resolve(id, symbol)?;
        let v = self.venue(id)?;
        let q = KlineQuery {
            pair: pair.clone(),
            interval,
            start,
            end,
            limit,
        };
        match tokio::time::timeout(self.inner.config.klines_timeout, v.exchange.klines(q)).await {
            Ok(r) => r.map(|k| (pair, k)),
            Err(_) => Err(MarketError::Unavailable {
                exchange: id,
                reason: "the exchange did not answer in time".to_owned(),
                retry_after: Some(Duration::from_secs(5)),
            }),
        }
    }

    /// Subscribe (if needed) and return the book's slot; `lease` counts a long-lived user.
    fn slot(&self, id: ExchangeId, text: &str, lease: bool) -> Result<Arc<Slot>, MarketError> {
        let pair = self.resolve(id, text)?;
        let v = self.venue(id)?;
        {
            let books = rd(&v.books);
            if let Some(s) = books.get(&pair.symbol) {
                // Under the read lock, so the janitor cannot release it in between.
                if lease {
                    s.leases.fetch_add(1, Ordering::AcqRel);
                }
                s.touch(self.inner.clock);
                return Ok(s.clone());
            }
        }
        let mut books = wr(&v.books);
        let slot = books
            .entry(pair.symbol.clone())
            .or_insert_with(|| {
                debug!(exchange = %id, symbol = %pair.symbol, "lazy subscribe");
                let _ = v.commands.send(FeedCommand::Subscribe(vec![pair.clone()]));
                self.new_slot(v, pair, false)
            })
            .clone();
        if lease {
            slot.leases.fetch_add(1, Ordering::AcqRel);
        }
        slot.touch(self.inner.clock);
        Ok(slot)
    }

    fn new_slot(&self, v: &Venue, pair: Pair, pinned: bool) -> Arc<Slot> {
        let book = v.exchange.new_book(&pair);
        let snap = Arc::new(BookSnapshot {
            exchange: v.id(),
            pair: pair.clone(),
            book,
            health: BookHealth::syncing(),
        });
        Arc::new(Slot {
            pair,
            tx: watch::channel(snap).0,
            leases: AtomicUsize::new(0),
            last_used: AtomicU64::new(mono_ms(self.inner.clock)),
            pinned,
        })
    }

    /// Watch a book (subscribing on first use). The book stays subscribed while the watch
    /// lives.
    pub fn watch(&self, id: ExchangeId, symbol: &str) -> Result<BookWatch, MarketError> {
        let slot = self.slot(id, symbol, true)?;
        Ok(BookWatch {
            rx: slot.tx.subscribe(),
            _lease: Lease {
                slot,
                clock: self.inner.clock,
            },
        })
    }

    /// The latest snapshot of a book (subscribing on first use), whatever its state.
    pub fn snapshot(&self, id: ExchangeId, symbol: &str) -> Result<Arc<BookSnapshot>, MarketError> {
        let slot = self.slot(id, symbol, false)?;
        let snap = slot.tx.borrow().clone();
        Ok(snap)
    }

    /// The latest snapshot, waiting up to `timeout` for the book to be live (a first request
    /// for a lazily subscribed book). Returns the latest snapshot either way.
    pub async fn snapshot_live_within(
        &self,
        id: ExchangeId,
        symbol: &str,
        timeout: Duration,
    ) -> Result<Arc<BookSnapshot>, MarketError> {
        let mut w = self.watch(id, symbol)?;
        let deadline = Instant::now() + timeout;
        loop {
            let cur = w.current();
            if cur.health.state == BookState::Live {
                return Ok(cur);
            }
            match tokio::time::timeout_at(deadline, w.changed()).await {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(w.current()),
            }
        }
    }

    /// Symbols currently subscribed on an exchange.
    pub fn subscribed(&self, id: ExchangeId) -> Vec<Symbol> {
        self.inner
            .venues
            .get(&id)
            .map(|v| rd(&v.books).keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn load_pairs(&self, venue: Arc<Venue>) {
        let shutdown = self.inner.shutdown.clone();
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut first = true;
        let cache = self.inner.config.pair_cache.clone();
        if let Some(c) = &cache
            && let Some(pairs) = c.load(venue.id()).await.filter(|p| !p.is_empty())
        {
            info!(
                pairs = pairs.len(),
                "serving the cached pair list until the venue answers"
            );
            let index = Arc::new(PairIndex::new(pairs));
            *wr(&venue.pairs) = Some(index.clone());
            venue.pairs_ready.send_replace(true);
            self.subscribe_defaults(&venue, &index);
            first = false;
        }
        loop {
            let wait = match venue.exchange.pairs().await {
                Ok(pairs) => {
                    info!(pairs = pairs.len(), "pair list loaded");
                    if let Some(c) = &cache {
                        c.save(venue.id(), pairs.clone()).await;
                    }
                    let index = Arc::new(PairIndex::new(pairs));
                    *wr(&venue.pairs) = Some(index.clone());
                    *lock(&venue.pairs_error) = None;
                    venue.pairs_ready.send_replace(true);
                    backoff.reset();
                    if first {
                        self.subscribe_defaults(&venue, &index);
                        first = false;
                    }
                    self.inner.config.pairs_refresh
                }
                Err(e) => {
                    warn!(error = %e, retryable = e.is_retryable(), "pair list unavailable");
                    *lock(&venue.pairs_error) = Some(e.to_string());
                    if e.is_retryable() {
                        backoff.next_delay()
                    } else {
                        // Deterministic refusals (geo-block) are not retried in a loop.
                        self.inner.config.pairs_refresh
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn subscribe_defaults(&self, venue: &Venue, index: &PairIndex) {
        let wanted = self
            .inner
            .config
            .default_symbols
            .get(&venue.id())
            .cloned()
            .unwrap_or_default();
        let mut new = Vec::new();
        {
            let mut books = wr(&venue.books);
            for text in wanted {
                let Some(pair) = index.resolve(&text) else {
                    warn!(symbol = %text, "configured default symbol is not listed; skipped");
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(e) =
                    books.entry(pair.symbol.clone())
                {
                    e.insert(self.new_slot(venue, pair.clone(), true));
                    new.push(pair.clone());
                }
            }
        }
        if !new.is_empty() {
            info!(symbols = new.len(), "subscribing default symbols");
            let _ = venue.commands.send(FeedCommand::Subscribe(new));
        }
    }

    async fn janitor(&self) {
        let release = self.inner.config.release_after;
        let period = (release / 4).clamp(Duration::from_millis(250), Duration::from_secs(15));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = mono_ms(self.inner.clock);
            let limit = u64::try_from(release.as_millis()).unwrap_or(u64::MAX);
            for venue in self.inner.venues.values() {
                let mut released = Vec::new();
                {
                    let mut books = wr(&venue.books);
                    books.retain(|_, s| {
                        let idle = now.saturating_sub(s.last_used.load(Ordering::Relaxed));
                        let keep = s.pinned || s.leases.load(Ordering::Acquire) > 0 || idle < limit;
                        if !keep {
                            released.push(s.pair.clone());
                        }
                        keep
                    });
                }
                if !released.is_empty() {
                    info!(exchange = %venue.id(), symbols = ?released.iter().map(|p| p.symbol.as_str()).collect::<Vec<_>>(), "releasing unused books");
                    let _ = venue.commands.send(FeedCommand::Unsubscribe(released));
                }
            }
        }
    }

    async fn ingest(&self, venue: Arc<Venue>, mut rx: mpsc::Receiver<FeedEvent>) {
        let mut state = Ingest {
            venue: venue.clone(),
            books: HashMap::new(),
            dirty: HashSet::new(),
            config: self.inner.config.clone(),
            clock: self.inner.clock,
        };
        let mut buf = Vec::with_capacity(256);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                n = rx.recv_many(&mut buf, 256) => {
                    if n == 0 {
                        break;
                    }
                    for ev in buf.drain(..) {
                        state.handle(ev);
                    }
                    state.publish();
                }
                _ = tick.tick() => {
                    state.check_liveness();
                    state.publish();
                }
            }
        }
        // Readers must not keep trusting books nobody maintains any more.
        for lb in state.books.values_mut() {
            lb.health.state = BookState::Down;
            lb.health.last_error = Some("server shutting down".to_owned());
        }
        state.dirty = state.books.keys().cloned().collect();
        state.publish();
    }
}

struct LiveBook {
    pair: Pair,
    book: OrderBook,
    health: BookHealth,
    has_baseline: bool,
    ever_live: bool,
    /// Monotonic ms of the last applied event.
    last_event: u64,
    checksum_failures: VecDeque<u64>,
}

struct Ingest {
    venue: Arc<Venue>,
    books: HashMap<Symbol, LiveBook>,
    dirty: HashSet<Symbol>,
    config: HubConfig,
    clock: Instant,
}

impl Ingest {
    fn live_book(&mut self, symbol: &Symbol) -> Option<&mut LiveBook> {
        let Some(slot) = self.venue.slot(symbol) else {
            // Not subscribed (any more): late events after an unsubscribe are dropped.
            self.books.remove(symbol);
            return None;
        };
        let venue = &self.venue;
        Some(
            self.books
                .entry(symbol.clone())
                .or_insert_with(|| LiveBook {
                    book: venue.exchange.new_book(&slot.pair),
                    pair: slot.pair.clone(),
                    health: BookHealth::syncing(),
                    has_baseline: false,
                    ever_live: false,
                    last_event: 0,
                    checksum_failures: VecDeque::new(),
                }),
        )
    }

    fn handle(&mut self, ev: FeedEvent) {
        match ev {
            FeedEvent::Book {
                symbol,
                event,
                received,
            } => {
                self.venue.messages.fetch_add(1, Ordering::Relaxed);
                self.apply(symbol, event, received)
            }
            FeedEvent::State {
                symbol,
                state,
                reason,
            } => {
                if let Some(lb) = self.live_book(&symbol) {
                    if state != BookState::Live {
                        lb.has_baseline = false;
                    }
                    lb.health.state = state;
                    if reason.is_some() {
                        lb.health.last_error = reason;
                    }
                    self.dirty.insert(symbol);
                }
            }
            FeedEvent::Connection { state, error } => {
                info!(
                    state = state.as_str(),
                    error = error.as_deref().unwrap_or(""),
                    "connection state"
                );
                *lock(&self.venue.conn) = (state, error.clone());
                if state != ConnState::Connected {
                    for (sym, lb) in self.books.iter_mut() {
                        if lb.health.state != BookState::Down {
                            lb.health.state = BookState::Down;
                            lb.has_baseline = false;
                            lb.health.last_error = Some(
                                error
                                    .clone()
                                    .unwrap_or_else(|| "connection lost".to_owned()),
                            );
                            self.dirty.insert(sym.clone());
                        }
                    }
                }
            }
        }
    }

    fn apply(&mut self, symbol: Symbol, event: model::BookEvent, received: Timestamp) {
        let now = mono_ms(self.clock);
        let cfg_max = self.config.checksum_max_failures;
        let window = u64::try_from(self.config.checksum_window.as_millis()).unwrap_or(u64::MAX);
        let exchange = self.venue.exchange.clone();
        let commands = self.venue.commands.clone();
        let Some(lb) = self.live_book(&symbol) else {
            return;
        };
        if event.kind == BookEventKind::Delta && !lb.has_baseline {
            // Deltas without a baseline cannot be applied honestly; the feed is resyncing.
            return;
        }
        if event.kind == BookEventKind::Snapshot {
            if lb.ever_live {
                lb.health.resyncs += 1;
            }
            lb.has_baseline = true;
        }
        lb.last_event = now;
        lb.health.last_update = Some(received);
        let resync = |lb: &mut LiveBook, reason: String| {
            warn!(symbol = %lb.pair.symbol, %reason, "book invalid, resyncing");
            lb.health.state = BookState::Resyncing;
            lb.health.last_error = Some(reason);
            lb.has_baseline = false;
            let _ = commands.send(FeedCommand::Resync(lb.pair.clone()));
        };
        match lb.book.apply(&event) {
            Err(e) => resync(lb, e.to_string()),
            Ok(_) => {
                lb.health.orphan_deletes = lb.book.orphan_deletes();
                lb.health.seq = lb.book.seq();
                lb.health.exchange_ts = lb.book.exchange_ts();
                let mismatch = match event.checksum {
                    Some(expected) if !lb.health.checksum_unreliable => exchange
                        .book_checksum(&lb.pair, &lb.book)
                        .filter(|got| *got != expected),
                    _ => None,
                };
                lb.health.crossed = lb.book.is_crossed();
                if let Some(got) = mismatch {
                    lb.health.checksum_failures += 1;
                    lb.checksum_failures.push_back(now);
                    while lb
                        .checksum_failures
                        .front()
                        .is_some_and(|t| now.saturating_sub(*t) > window)
                    {
                        lb.checksum_failures.pop_front();
                    }
                    if lb.checksum_failures.len() > cfg_max {
                        warn!(symbol = %lb.pair.symbol, "checksum keeps failing; marking it unreliable and streaming on");
                        lb.health.checksum_unreliable = true;
                        lb.health.state = BookState::Live;
                        lb.ever_live = true;
                    } else {
                        let expected = event.checksum.unwrap_or_default();
                        resync(
                            lb,
                            format!("checksum mismatch: venue {expected}, local {got}"),
                        );
                    }
                } else if lb.health.crossed {
                    resync(lb, "crossed book after update".to_owned());
                } else {
                    lb.health.state = BookState::Live;
                    lb.ever_live = true;
                }
            }
        }
        self.dirty.insert(symbol);
    }

    fn check_liveness(&mut self) {
        let now = mono_ms(self.clock);
        let stale = u64::try_from(self.config.stale_after.as_millis()).unwrap_or(u64::MAX);
        let alive = self.venue.alive.load(Ordering::Relaxed);
        let conn_quiet = alive == 0 || now.saturating_sub(alive) > stale;
        // Drop books whose subscription was released.
        let subscribed: HashSet<Symbol> = rd(&self.venue.books).keys().cloned().collect();
        self.books.retain(|s, _| subscribed.contains(s));
        for (sym, lb) in self.books.iter_mut() {
            let book_quiet = now.saturating_sub(lb.last_event) > stale;
            match lb.health.state {
                BookState::Live if conn_quiet && book_quiet => {
                    warn!(symbol = %sym, "no sign of life from the venue; book is stale");
                    lb.health.state = BookState::Stale;
                    lb.health.last_error = Some("venue went quiet".to_owned());
                    self.dirty.insert(sym.clone());
                }
                BookState::Stale if !conn_quiet && lb.has_baseline => {
                    lb.health.state = BookState::Live;
                    self.dirty.insert(sym.clone());
                }
                _ => {}
            }
        }
    }

    fn publish(&mut self) {
        for sym in self.dirty.drain() {
            let (Some(lb), Some(slot)) = (self.books.get(&sym), self.venue.slot(&sym)) else {
                continue;
            };
            slot.tx.send_replace(Arc::new(BookSnapshot {
                exchange: self.venue.exchange.id(),
                pair: lb.pair.clone(),
                book: lb.book.clone(),
                health: lb.health.clone(),
            }));
        }
    }
}
