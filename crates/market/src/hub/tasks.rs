//! The hub's background work: loading pair lists, subscribing default symbols, releasing
//! unused books, and the ingestion task that drives each venue's [`IngestState`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use model::{OrderBook, Pair, PairIndex, Symbol, Timestamp};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::ingest::{IngestLimits, IngestState, IngestVenue};
use super::{BookSnapshot, Hub, Venue, lock, mono_ms, rd, wr};
use crate::backoff::Backoff;
use crate::exchange::{FeedCommand, FeedEvent};

impl Hub {
    pub(super) async fn load_pairs(&self, venue: Arc<Venue>) {
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

    pub(super) async fn janitor(&self) {
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

    pub(super) async fn ingest(&self, venue: Arc<Venue>, mut rx: mpsc::Receiver<FeedEvent>) {
        let cfg = &self.inner.config;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut state = IngestState::new(
            IngestLimits {
                stale_after_ms: ms(cfg.stale_after),
                checksum_max_failures: cfg.checksum_max_failures,
                checksum_window_ms: ms(cfg.checksum_window),
                checkpoint_every_ms: cfg.recorder.as_ref().map(|_| 60_000),
            },
            cfg.recorder.as_ref().map(|f| f.for_venue(venue.id())),
        );
        let clock = self.inner.clock;
        let mut buf = Vec::with_capacity(256);
        let mut resyncs = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                n = rx.recv_many(&mut buf, 256) => {
                    if n == 0 {
                        break;
                    }
                    let now = mono_ms(clock);
                    for ev in buf.drain(..) {
                        match ev {
                            FeedEvent::Trades { symbol, trades } => {
                                // Trades of a book no longer subscribed are dropped.
                                if let Some(slot) = venue.slot(&symbol) {
                                    state.trades(&*venue, &symbol, &trades);
                                    slot.record_trades(trades, Timestamp::now());
                                }
                            }
                            FeedEvent::Book { symbol, event, received } => {
                                // Recorded as applied, by reference, on this task.
                                state.book_event(
                                    &*venue, &symbol, &event, received, now, &mut resyncs,
                                );
                            }
                            ev => state.handle(&*venue, ev, now, &mut resyncs),
                        }
                    }
                }
                _ = tick.tick() => {
                    let alive = venue.alive.load(Ordering::Relaxed);
                    state.check_liveness(&*venue, mono_ms(clock), alive);
                    state.tick_recorder();
                }
            }
            for p in resyncs.drain(..) {
                let _ = venue.commands.send(FeedCommand::Resync(p));
            }
            venue.sync_from(&mut state);
        }
        // Readers must not keep trusting books nobody maintains any more.
        state.shut_down();
        venue.sync_from(&mut state);
        state.tick_recorder();
    }
}

impl IngestVenue for Venue {
    fn is_subscribed(&self, symbol: &Symbol) -> bool {
        rd(&self.books).contains_key(symbol)
    }

    fn pair(&self, symbol: &Symbol) -> Option<Pair> {
        self.slot(symbol).map(|s| s.pair.clone())
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        self.exchange.new_book(pair)
    }

    fn checksum(&self, pair: &Pair, book: &OrderBook) -> Option<u32> {
        self.exchange.book_checksum(pair, book)
    }
}

impl Venue {
    /// Publish what the state machine changed: its connection state, message count and
    /// every dirty book's snapshot.
    fn sync_from(&self, state: &mut IngestState) {
        if let Some(conn) = state.take_conn_change() {
            *lock(&self.conn) = conn;
        }
        self.messages.store(state.messages, Ordering::Relaxed);
        let id = self.exchange.id();
        for lb in state.drain_dirty(Timestamp::now()) {
            if let Some(slot) = self.slot(&lb.pair.symbol) {
                slot.tx.send_replace(Arc::new(BookSnapshot {
                    exchange: id,
                    pair: lb.pair.clone(),
                    book: lb.book.clone(),
                    health: lb.health.clone(),
                }));
            }
        }
    }
}
