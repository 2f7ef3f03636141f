//! The ingest state machine: one venue's books and their health, driven by feed events and
//! an injected monotonic clock. Synchronous and free of tokio: the hub's ingestion task
//! feeds it, publishes what it marks dirty and sends the resyncs it asks for; its tests
//! drive it directly. When recording, it hands its recorder what it applies, with each
//! book's [`TapeKey`] kept beside the book.

use std::collections::{HashMap, HashSet, VecDeque};

use model::{
    BookEvent, BookEventKind, BookHealth, BookState, OrderBook, Pair, Symbol, Timestamp, Trade,
};
use tracing::{info, warn};

use super::record::{BookRecorder, TapeKey};

use crate::exchange::{ConnState, FeedEvent};

/// What the state machine asks of its venue.
pub(crate) trait IngestVenue {
    /// True while `symbol` is subscribed (once released, late events for it are dropped).
    fn is_subscribed(&self, symbol: &Symbol) -> bool;
    /// The pair of a subscribed `symbol`.
    fn pair(&self, symbol: &Symbol) -> Option<Pair>;
    /// A fresh, empty book for `pair` at the venue's precision.
    fn new_book(&self, pair: &Pair) -> OrderBook;
    /// The venue's checksum of `book`, if the venue has one.
    fn checksum(&self, pair: &Pair, book: &OrderBook) -> Option<u32>;
}

/// Limits of the state machine (from [`crate::HubConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IngestLimits {
    /// A live book is stale after this long without any sign of life, ms.
    pub(crate) stale_after_ms: u64,
    /// More checksum failures than this within the window mark the checksum unreliable.
    pub(crate) checksum_max_failures: usize,
    /// The checksum failure window, ms.
    pub(crate) checksum_window_ms: u64,
    /// When recording: a live book's whole picture is taken at least this often (ms of
    /// monotonic time, at the next event), for the recorder's checkpoints.
    pub(crate) checkpoint_every_ms: Option<u64>,
}

/// One book as the hub keeps it.
#[derive(Debug)]
pub(crate) struct LiveBook {
    pub(crate) pair: Pair,
    pub(crate) book: OrderBook,
    pub(crate) health: BookHealth,
    has_baseline: bool,
    ever_live: bool,
    /// Monotonic ms of the last applied event.
    last_event: u64,
    checksum_failures: VecDeque<u64>,
    /// Monotonic ms of the last checkpoint taken.
    last_checkpoint: Option<u64>,
    /// The state at the last publication (`None` before the first).
    published: Option<BookState>,
    /// Its recording, when recording.
    tape: Option<TapeKey>,
}

/// One venue's books, their health and its connection state.
#[derive(Debug)]
pub(crate) struct IngestState {
    books: HashMap<Symbol, LiveBook>,
    dirty: HashSet<Symbol>,
    limits: IngestLimits,
    /// The feed's last reported connection state.
    pub(crate) conn: (ConnState, Option<String>),
    /// Set when `conn` changed since the driver last took it.
    conn_changed: bool,
    /// Book events received.
    pub(crate) messages: u64,
    /// The venue's recorder, when recording.
    recorder: Option<Box<dyn BookRecorder>>,
}

impl IngestState {
    /// No books yet; the connection is `connecting`; recording into `recorder` if any.
    pub(crate) fn new(limits: IngestLimits, recorder: Option<Box<dyn BookRecorder>>) -> Self {
        IngestState {
            books: HashMap::new(),
            dirty: HashSet::new(),
            limits,
            conn: (ConnState::Connecting, None),
            conn_changed: false,
            messages: 0,
            recorder,
        }
    }

    /// About once a second, and at the end: the recorder hands over what it holds.
    pub(crate) fn tick_recorder(&mut self) {
        if let Some(rec) = self.recorder.as_deref_mut() {
            rec.tick();
        }
    }

    /// Public trades of a subscribed book, to its recording.
    pub(crate) fn trades(&mut self, venue: &dyn IngestVenue, symbol: &Symbol, trades: &[Trade]) {
        if self.recorder.is_none() {
            return;
        }
        let tape = live_book(&mut self.books, self.recorder.as_deref_mut(), venue, symbol)
            .and_then(|lb| lb.tape);
        if let (Some(rec), Some(key)) = (self.recorder.as_deref_mut(), tape) {
            rec.trades(key, trades);
        }
    }

    /// Handle one feed event at monotonic time `now_ms`; books that must be resynced are
    /// pushed to `resync`.
    pub(crate) fn handle(
        &mut self,
        venue: &dyn IngestVenue,
        ev: FeedEvent,
        now_ms: u64,
        resync: &mut Vec<Pair>,
    ) {
        match ev {
            FeedEvent::Book {
                symbol,
                event,
                received,
            } => {
                self.book_event(venue, &symbol, &event, received, now_ms, resync);
            }
            FeedEvent::State {
                symbol,
                state,
                reason,
            } => {
                if let Some(lb) = live_book(
                    &mut self.books,
                    self.recorder.as_deref_mut(),
                    venue,
                    &symbol,
                ) {
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
            // The driver files trades on the book's tape; nothing here depends on them.
            FeedEvent::Trades { .. } => {}
            FeedEvent::Connection { state, error } => {
                info!(
                    state = state.as_str(),
                    error = error.as_deref().unwrap_or(""),
                    "connection state"
                );
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
                self.conn = (state, error);
                self.conn_changed = true;
            }
        }
    }

    /// Apply (and record) one book event, by reference.
    pub(crate) fn book_event(
        &mut self,
        venue: &dyn IngestVenue,
        symbol: &Symbol,
        event: &BookEvent,
        received: Timestamp,
        now: u64,
        resyncs: &mut Vec<Pair>,
    ) {
        self.messages += 1;
        let IngestLimits {
            checksum_max_failures: cfg_max,
            checksum_window_ms: window,
            checkpoint_every_ms,
            ..
        } = self.limits;
        let Some(lb) = live_book(&mut self.books, self.recorder.as_deref_mut(), venue, symbol)
        else {
            return;
        };
        // Recorded as received, by reference (a replay applies the same rules to it).
        let mut rec = self.recorder.as_deref_mut().zip(lb.tape);
        if let Some((rec, key)) = rec.as_mut() {
            rec.book(*key, event, received);
        }
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
        let mut resync = |lb: &mut LiveBook, reason: String| {
            warn!(symbol = %lb.pair.symbol, %reason, "book invalid, resyncing");
            lb.health.state = BookState::Resyncing;
            lb.health.last_error = Some(reason);
            lb.has_baseline = false;
            resyncs.push(lb.pair.clone());
        };
        match lb.book.apply(event) {
            Err(e) => resync(lb, e.to_string()),
            Ok(_) => {
                lb.health.orphan_deletes = lb.book.orphan_deletes();
                lb.health.seq = lb.book.seq();
                lb.health.exchange_ts = lb.book.exchange_ts();
                let mismatch = match event.checksum {
                    Some(expected) if !lb.health.checksum_unreliable => venue
                        .checksum(&lb.pair, &lb.book)
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
        if let Some(every) = checkpoint_every_ms
            && let Some((rec, key)) = rec.as_mut()
            && lb.health.state == BookState::Live
            && lb
                .last_checkpoint
                .is_none_or(|t| now.saturating_sub(t) >= every)
        {
            // The whole book right after this event: a place where a replay can start.
            lb.last_checkpoint = Some(now);
            rec.checkpoint(*key, &lb.pair, received, &lb.book);
        }
        if !self.dirty.contains(symbol) {
            self.dirty.insert(symbol.clone());
        }
    }

    /// At monotonic `now_ms`, with the connection's last sign of life at `alive_ms` (0 =
    /// never): a live book whose connection and book have both been quiet beyond
    /// `stale_after` becomes `stale`; a stale book whose connection shows life again is
    /// live. Books no longer subscribed are dropped.
    pub(crate) fn check_liveness(&mut self, venue: &dyn IngestVenue, now_ms: u64, alive_ms: u64) {
        let stale = self.limits.stale_after_ms;
        let conn_quiet = alive_ms == 0 || now_ms.saturating_sub(alive_ms) > stale;
        let mut rec = self.recorder.as_deref_mut();
        self.books.retain(|s, lb| {
            let keep = venue.is_subscribed(s);
            if !keep {
                close_tape(rec.as_deref_mut(), lb);
            }
            keep
        });
        for (sym, lb) in self.books.iter_mut() {
            let book_quiet = now_ms.saturating_sub(lb.last_event) > stale;
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

    /// The connection state, once after each change (`None` when unchanged).
    pub(crate) fn take_conn_change(&mut self) -> Option<(ConnState, Option<String>)> {
        std::mem::take(&mut self.conn_changed).then(|| self.conn.clone())
    }

    /// Mark every book down (the feed is stopping).
    pub(crate) fn shut_down(&mut self) {
        for (sym, lb) in self.books.iter_mut() {
            lb.health.state = BookState::Down;
            lb.health.last_error = Some("server shutting down".to_owned());
            self.dirty.insert(sym.clone());
        }
    }

    /// The books changed since the last call; a state that changed since it was last
    /// published is recorded at `at`.
    pub(crate) fn drain_dirty(&mut self, at: Timestamp) -> Vec<&LiveBook> {
        let mut rec = self.recorder.as_deref_mut();
        let dirty: Vec<Symbol> = self
            .dirty
            .drain()
            .filter(|s| {
                let Some(lb) = self.books.get_mut(s) else {
                    return false;
                };
                if lb.published != Some(lb.health.state) {
                    lb.published = Some(lb.health.state);
                    if let (Some(rec), Some(key)) = (rec.as_deref_mut(), lb.tape) {
                        rec.state(key, at, lb.health.state);
                    }
                }
                true
            })
            .collect();
        dirty.iter().filter_map(|s| self.books.get(s)).collect()
    }
}

/// `symbol`'s book, created (and opened on the recorder) at its first event; `None` (and
/// dropped, its recording closed) once it is no longer subscribed.
fn live_book<'a>(
    books: &'a mut HashMap<Symbol, LiveBook>,
    recorder: Option<&mut (dyn BookRecorder + 'static)>,
    venue: &dyn IngestVenue,
    symbol: &Symbol,
) -> Option<&'a mut LiveBook> {
    if !venue.is_subscribed(symbol) {
        // Not subscribed (any more): late events after an unsubscribe are dropped.
        if let Some(lb) = books.remove(symbol) {
            close_tape(recorder, &lb);
        }
        return None;
    }
    if !books.contains_key(symbol) {
        let pair = venue.pair(symbol)?;
        let tape = recorder.map(|r| r.open(symbol));
        books.insert(
            symbol.clone(),
            LiveBook {
                book: venue.new_book(&pair),
                pair,
                health: BookHealth::syncing(),
                has_baseline: false,
                ever_live: false,
                last_event: 0,
                checksum_failures: VecDeque::new(),
                last_checkpoint: None,
                published: None,
                tape,
            },
        );
    }
    books.get_mut(symbol)
}

/// `lb` is no longer kept: its recording hands over what it holds.
fn close_tape(rec: Option<&mut (dyn BookRecorder + 'static)>, lb: &LiveBook) {
    if let (Some(rec), Some(key)) = (rec, lb.tape) {
        rec.close(key);
    }
}

#[cfg(test)]
mod tests {
    //! The state machine alone: plain function calls and a hand-moved clock, no runtime.
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;
    use std::str::FromStr;

    use model::{ExchangeId, Level, PairStatus};
    use rust_decimal::Decimal;

    use super::*;

    /// One subscribed pair; the "checksum" is the number of bid levels plus `skew`.
    struct Venue {
        subscribed: Cell<bool>,
        skew: Cell<u32>,
        pair: Pair,
    }

    impl Venue {
        fn new() -> Self {
            Venue {
                subscribed: Cell::new(true),
                skew: Cell::new(0),
                pair: Pair {
                    exchange: ExchangeId::Kraken,
                    symbol: sym(),
                    exchange_symbol: "XBTUSD".into(),
                    ws_symbol: "BTC/USD".into(),
                    aliases: vec![],
                    status: PairStatus::Trading,
                    price_tick: Decimal::new(1, 1),
                    qty_step: Decimal::new(1, 8),
                    min_qty: Decimal::new(1, 4),
                    min_notional: None,
                },
            }
        }
    }

    impl IngestVenue for Venue {
        fn is_subscribed(&self, symbol: &Symbol) -> bool {
            self.subscribed.get() && *symbol == self.pair.symbol
        }
        fn pair(&self, _symbol: &Symbol) -> Option<Pair> {
            Some(self.pair.clone())
        }
        fn new_book(&self, _pair: &Pair) -> OrderBook {
            OrderBook::with_scales(1, 8)
        }
        fn checksum(&self, _pair: &Pair, book: &OrderBook) -> Option<u32> {
            Some(book.len().0 as u32 + self.skew.get())
        }
    }

    fn sym() -> Symbol {
        Symbol::from_str("BTC-USD").unwrap()
    }

    fn lvl(p: &str, q: &str) -> Level {
        Level::parse(p, q).unwrap()
    }

    fn book(kind_snapshot: bool, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> FeedEvent {
        let b = bids.iter().map(|(p, q)| lvl(p, q)).collect();
        let a = asks.iter().map(|(p, q)| lvl(p, q)).collect();
        FeedEvent::Book {
            symbol: sym(),
            event: if kind_snapshot {
                BookEvent::snapshot(b, a)
            } else {
                BookEvent::delta(b, a)
            },
            received: Timestamp::from_secs(1),
        }
    }

    /// A one-level bid delta carrying the venue checksum `sum`.
    fn delta_with_checksum(sum: u32) -> FeedEvent {
        let mut event = BookEvent::delta(vec![lvl("98", "1")], vec![]);
        event.checksum = Some(sum);
        FeedEvent::Book {
            symbol: sym(),
            event,
            received: Timestamp::from_secs(1),
        }
    }

    fn limits() -> IngestLimits {
        IngestLimits {
            stale_after_ms: 5_000,
            checksum_max_failures: 3,
            checksum_window_ms: 300_000,
            checkpoint_every_ms: None,
        }
    }

    fn health(s: &mut IngestState) -> BookHealth {
        s.books[&sym()].health.clone()
    }

    /// A recorder that writes down what it is called with.
    struct Calls {
        log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        next: u32,
    }

    impl BookRecorder for Calls {
        fn open(&mut self, symbol: &Symbol) -> TapeKey {
            self.next += 1;
            self.log
                .lock()
                .unwrap()
                .push(format!("open {symbol} {}", self.next));
            TapeKey(self.next)
        }
        fn close(&mut self, key: TapeKey) {
            self.log.lock().unwrap().push(format!("close {}", key.0));
        }
        fn book(&mut self, key: TapeKey, event: &BookEvent, _received: Timestamp) {
            let n = event.bids.len() + event.asks.len();
            let kind = event.kind;
            self.log
                .lock()
                .unwrap()
                .push(format!("book {} {kind:?} {n}", key.0));
        }
        fn trades(&mut self, key: TapeKey, trades: &[Trade]) {
            let n = trades.len();
            self.log
                .lock()
                .unwrap()
                .push(format!("trades {} {n}", key.0));
        }
        fn state(&mut self, key: TapeKey, _at: Timestamp, state: BookState) {
            self.log
                .lock()
                .unwrap()
                .push(format!("state {} {state:?}", key.0));
        }
        fn checkpoint(&mut self, key: TapeKey, _pair: &Pair, _at: Timestamp, book: &OrderBook) {
            let (b, a) = book.len();
            self.log
                .lock()
                .unwrap()
                .push(format!("checkpoint {} {b}/{a}", key.0));
        }
        fn tick(&mut self) {
            self.log.lock().unwrap().push("tick".to_owned());
        }
    }

    #[test]
    fn the_recorder_gets_a_books_events_under_its_key_with_checkpoints_when_due() {
        let v = Venue::new();
        let log = std::sync::Arc::default();
        let rec = Calls {
            log: std::sync::Arc::clone(&log),
            next: 0,
        };
        let limits = IngestLimits {
            checkpoint_every_ms: Some(60_000),
            ..limits()
        };
        let mut s = IngestState::new(limits, Some(Box::new(rec)));
        let mut resync = Vec::new();
        let at = Timestamp::from_nanos(0);
        // Recorded as received: a delta before any baseline too (a replay ignores it alike).
        s.handle(&v, book(false, &[("99", "1")], &[]), 10, &mut resync);
        s.handle(
            &v,
            book(true, &[("99", "1")], &[("101", "1")]),
            20,
            &mut resync,
        );
        assert_eq!(s.drain_dirty(at).len(), 1);
        s.handle(&v, book(false, &[("98", "1")], &[]), 30, &mut resync);
        let trade = Trade {
            trade_id: model::TradeId::Num(7),
            exchange_ts: at,
            local_ts: at,
            price: lvl("99", "1").price,
            qty: lvl("99", "1").qty,
            taker_side: model::Side::Sell,
        };
        s.trades(&v, &sym(), &[trade]);
        // A minute on: the next event is followed by the whole book.
        s.handle(&v, book(false, &[("97", "1")], &[]), 60_020, &mut resync);
        assert_eq!(
            s.drain_dirty(at).len(),
            1,
            "dirty, but its state did not change"
        );
        v.subscribed.set(false);
        s.check_liveness(&v, 60_100, 60_000);
        s.tick_recorder();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "open BTC-USD 1",
                "book 1 Delta 1",
                "book 1 Snapshot 2",
                "checkpoint 1 1/1",
                "state 1 Live",
                "book 1 Delta 1",
                "trades 1 1",
                "book 1 Delta 1",
                "checkpoint 1 3/1",
                "close 1",
                "tick",
            ]
        );
    }

    #[test]
    fn a_snapshot_makes_a_book_live_and_deltas_need_a_baseline() {
        let v = Venue::new();
        let mut s = IngestState::new(limits(), None);
        let mut resync = Vec::new();
        s.handle(&v, book(false, &[("99", "1")], &[]), 10, &mut resync);
        assert_eq!(
            health(&mut s).state,
            BookState::Syncing,
            "a delta without a snapshot is ignored"
        );
        s.handle(
            &v,
            book(true, &[("99", "1")], &[("101", "1")]),
            20,
            &mut resync,
        );
        assert_eq!(health(&mut s).state, BookState::Live);
        assert_eq!(health(&mut s).resyncs, 0, "the first sync is not a resync");
        s.handle(&v, book(false, &[("100", "2")], &[]), 30, &mut resync);
        assert_eq!(s.books[&sym()].book.len(), (2, 1));
        assert!(resync.is_empty());
        assert_eq!(s.drain_dirty(Timestamp::from_nanos(0)).len(), 1);
        assert!(
            s.drain_dirty(Timestamp::from_nanos(0)).is_empty(),
            "published once"
        );
    }

    #[test]
    fn a_crossed_book_or_a_checksum_mismatch_asks_for_a_resync_of_that_book() {
        let v = Venue::new();
        let mut s = IngestState::new(limits(), None);
        let mut resync = Vec::new();
        s.handle(
            &v,
            book(true, &[("99", "1")], &[("101", "1")]),
            0,
            &mut resync,
        );
        s.handle(&v, book(false, &[("102", "1")], &[]), 1, &mut resync);
        assert_eq!(health(&mut s).state, BookState::Resyncing);
        assert!(health(&mut s).crossed);
        assert_eq!(resync.len(), 1);
        // The new snapshot after the resync counts as one.
        s.handle(
            &v,
            book(true, &[("99", "1")], &[("101", "1")]),
            2,
            &mut resync,
        );
        assert_eq!(
            (health(&mut s).state, health(&mut s).resyncs),
            (BookState::Live, 1)
        );
        resync.clear();
        v.skew.set(7);
        s.handle(&v, delta_with_checksum(2), 3, &mut resync);
        assert_eq!(health(&mut s).state, BookState::Resyncing);
        assert_eq!(health(&mut s).checksum_failures, 1);
        assert_eq!(resync.len(), 1);
    }

    #[test]
    fn repeated_checksum_failures_mark_the_checksum_unreliable_instead_of_flapping() {
        let v = Venue::new();
        v.skew.set(1);
        let mut s = IngestState::new(limits(), None);
        let mut resync = Vec::new();
        for i in 0..5u64 {
            s.handle(
                &v,
                book(true, &[("99", "1")], &[("101", "1")]),
                i,
                &mut resync,
            );
            s.handle(&v, delta_with_checksum(0), i, &mut resync);
        }
        let h = health(&mut s);
        assert!(h.checksum_unreliable);
        assert_eq!(h.state, BookState::Live);
        assert_eq!(resync.len(), 3, "three resyncs, then the breaker");
    }

    #[test]
    fn quiet_connections_make_books_stale_and_a_lost_one_makes_them_down() {
        let v = Venue::new();
        let mut s = IngestState::new(limits(), None);
        let mut resync = Vec::new();
        s.handle(
            &v,
            book(true, &[("99", "1")], &[("101", "1")]),
            1_000,
            &mut resync,
        );
        // A quiet market on a live connection stays live.
        s.check_liveness(&v, 9_000, 8_500);
        assert_eq!(health(&mut s).state, BookState::Live);
        // No sign of life from the connection either: stale.
        s.check_liveness(&v, 9_000, 1_000);
        assert_eq!(health(&mut s).state, BookState::Stale);
        // Life again: live.
        s.check_liveness(&v, 9_500, 9_400);
        assert_eq!(health(&mut s).state, BookState::Live);
        s.handle(
            &v,
            FeedEvent::Connection {
                state: ConnState::Down,
                error: Some("reset".into()),
            },
            9_600,
            &mut resync,
        );
        assert_eq!(health(&mut s).state, BookState::Down);
        assert_eq!(s.conn.0, ConnState::Down);
        assert_eq!(s.take_conn_change().map(|c| c.0), Some(ConnState::Down));
        assert_eq!(s.take_conn_change(), None, "reported once per change");
        // Deltas after the loss are not applied until a new snapshot.
        s.handle(&v, book(false, &[("98", "1")], &[]), 9_700, &mut resync);
        assert_eq!(s.books[&sym()].book.len(), (1, 1));
        // A released book is dropped.
        v.subscribed.set(false);
        s.check_liveness(&v, 10_000, 9_900);
        assert!(s.books.is_empty());
    }
}
