//! The hub: sole owner of live books. [`ingest`] is the synchronous state machine of one
//! venue's books; this module holds the hub's API, its subscriptions and the tasks that
//! drive it.

mod book_watch;
mod ingest;
mod record;
mod tasks;
mod trades;

pub use book_watch::BookWatch;
use book_watch::{Lease, Slot};
pub use record::{BookRecorder, RecorderFactory, TapeKey};
pub use trades::{TapeLimits, TradeTape, TradeWatch, TradesSince};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use model::{
    BookHealth, BookState, ExchangeId, Interval, Kline, OrderBook, Pair, PairIndex, Symbol,
    Timestamp,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

use crate::error::MarketError;
use crate::exchange::{
    ConnState, Exchange, FeedCommand, FeedContext, FeedSender, KlineQuery, PairCache,
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
    /// How many public trades each book keeps, and for how long.
    pub trades: TapeLimits,
    /// The lab's recorder: every ingest task records its books through one.
    pub recorder: Option<Arc<dyn RecorderFactory>>,
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
            trades: TapeLimits::default(),
            recorder: None,
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

    /// An empty book as the venue's feed builds it for `pair` (its scales and depth cap): what
    /// a replay of the venue's recorded events must start from to reach the same books.
    pub fn new_book(&self, pair: &Pair) -> Result<OrderBook, MarketError> {
        Ok(self.venue(pair.exchange)?.exchange.new_book(pair))
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
            trades: Arc::new(RwLock::new(TradeTape::new(self.inner.config.trades))),
            trades_tx: watch::channel(0).0,
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

    /// Watch a book's public trades (subscribing the book on first use). The book stays
    /// subscribed while the watch lives.
    pub fn watch_trades(&self, id: ExchangeId, symbol: &str) -> Result<TradeWatch, MarketError> {
        let slot = self.slot(id, symbol, true)?;
        Ok(TradeWatch {
            tape: slot.trades.clone(),
            rx: slot.trades_tx.subscribe(),
            _lease: Lease {
                slot,
                clock: self.inner.clock,
            },
        })
    }

    /// The newest `limit` public trades of a book within `[start, end]` (venue times),
    /// oldest first, with the pair (subscribing the book on first use: a book nobody
    /// followed has no trades yet).
    pub fn trades(
        &self,
        id: ExchangeId,
        symbol: &str,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> Result<(Pair, Vec<model::Trade>), MarketError> {
        let slot = self.slot(id, symbol, false)?;
        let trades = rd(&slot.trades).window(start, end, limit);
        Ok((slot.pair.clone(), trades))
    }

    /// The volume and notional of a book's public trades received in `(after, upto]`, or
    /// `None` when the book is not followed or its tape no longer reaches back to `after`.
    pub fn trade_volume(
        &self,
        id: ExchangeId,
        symbol: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(rust_decimal::Decimal, rust_decimal::Decimal)> {
        let slot = self.venue(id).ok()?.slot(symbol)?;
        let (v, n, complete) = rd(&slot.trades).volume_between(after, upto);
        complete.then_some((v, n))
    }

    /// The latest snapshot of a book (subscribing on first use), whatever its state.
    pub fn snapshot(&self, id: ExchangeId, symbol: &str) -> Result<Arc<BookSnapshot>, MarketError> {
        let slot = self.slot(id, symbol, false)?;
        let snap = slot.tx.borrow().clone();
        Ok(snap)
    }

    /// The latest snapshot for trading: as [`Hub::snapshot`], but a `live` book whose venue
    /// has shown no sign of life and whose book has not changed for `stale_after` reads as
    /// `stale` now — the ingest task's sweep that marks it runs once a second and may run
    /// late under load; a reader about to fill must not wait for it.
    pub fn snapshot_for_trading(
        &self,
        id: ExchangeId,
        symbol: &str,
    ) -> Result<Arc<BookSnapshot>, MarketError> {
        let snap = self.snapshot(id, symbol)?;
        if snap.health.state != BookState::Live {
            return Ok(snap);
        }
        let v = self.venue(id)?;
        let stale = u64::try_from(self.inner.config.stale_after.as_millis()).unwrap_or(u64::MAX);
        let alive = v.alive.load(Ordering::Relaxed);
        let conn_quiet = alive == 0 || mono_ms(self.inner.clock).saturating_sub(alive) > stale;
        let book_quiet = snap.health.last_update.is_none_or(|t| {
            Timestamp::now().millis_since(t) > i64::try_from(stale).unwrap_or(i64::MAX)
        });
        if !(conn_quiet && book_quiet) {
            return Ok(snap);
        }
        let mut s = (*snap).clone();
        s.health.state = BookState::Stale;
        s.health.last_error = Some("venue went quiet".to_owned());
        Ok(Arc::new(s))
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
}
