//! Recorded books as the engine's book source: each book's tape read from the last checkpoint
//! before a window, then played forward on demand ([`RecordedMarket::advance`]).

use std::path::Path;

use engine::lab::{Consumption, LedgerEvent, RecordedMarket};
use engine::{BookRef, Books};
use model::{BookEventKind, BookHealth, BookState, ExchangeId, OrderBook, Symbol, Timestamp};
use rust_decimal::Decimal;
use tape::dir::HOUR_NS;
use tape::{TapeEvent, TapeReader};

use crate::LabError;

/// Another order's consumption (or a release) as recorded, and whether it came after the
/// re-run order's own consumption recorded at the same instant (same wake of the engine: it
/// ran later).
#[derive(Debug, Clone)]
struct Recorded {
    local: Timestamp,
    after_own: bool,
    event: LedgerEvent,
}

/// One book being replayed.
#[derive(Debug)]
struct Replayed {
    exchange: ExchangeId,
    symbol: Symbol,
    /// The empty book a feed starts from (scales, depth cap).
    empty: OrderBook,
    book: OrderBook,
    health: BookHealth,
    /// A baseline (venue snapshot or checkpoint) has been applied since the last resync.
    synced: bool,
    /// Book events, checkpoints and states, in tape order.
    stream: Vec<TapeEvent>,
    next: usize,
    /// Public trades: (local time, qty, price·qty), by local time.
    trades: Vec<(Timestamp, Decimal, Decimal)>,
    /// Other orders' consumption and the releases, by local time (tape order within one
    /// instant).
    consumed: Vec<Recorded>,
    next_consumed: usize,
}

/// The recorded span of one book: from its first baseline to its last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first checkpoint or venue snapshot read (reading starts there).
    pub start: Option<Timestamp>,
    /// The last event recorded.
    pub end: Option<Timestamp>,
}

/// Recorded books, played forward.
#[derive(Debug, Default)]
pub struct TapeMarket {
    books: Vec<Replayed>,
}

/// The tapes of one book under `root`: (hour, path), oldest first.
fn tapes_of(
    root: &Path,
    exchange: ExchangeId,
    symbol: &Symbol,
) -> Result<Vec<(Timestamp, std::path::PathBuf)>, LabError> {
    let mut files: Vec<(Timestamp, std::path::PathBuf)> = tape::dir::list(root)?
        .into_iter()
        .filter(|f| f.exchange == exchange.as_str() && f.symbol == symbol.as_str())
        .map(|f| (f.hour, f.path))
        .collect();
    files.sort();
    Ok(files)
}

impl TapeMarket {
    /// An empty market (add books with [`TapeMarket::add`]).
    pub fn new() -> Self {
        TapeMarket::default()
    }

    /// Read the tape of `(exchange, symbol)` under `root` covering `(from, to)`, starting from
    /// the last checkpoint at or before `from` (`book` is the empty book the venue's feed
    /// builds: its scales and depth cap). `order` is the re-run order: its own recorded
    /// consumption is left out. Returns the span read.
    pub fn add(
        &mut self,
        root: &Path,
        (exchange, symbol): (ExchangeId, &Symbol),
        book: OrderBook,
        order: i64,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Span, LabError> {
        let files = tapes_of(root, exchange, symbol)?;
        let last_hour = to.as_nanos().div_euclid(HOUR_NS) + 1;
        let files: Vec<_> = files
            .into_iter()
            .filter(|(h, _)| h.as_nanos().div_euclid(HOUR_NS) <= last_hour)
            .collect();
        // The file to start in: the last one holding a checkpoint at or before `from`.
        let mut first = files.iter().rposition(|(h, _)| *h <= from).unwrap_or(0);
        let mut readers: Vec<TapeReader> = Vec::new();
        while let Some((_, path)) = files.get(first) {
            let r = TapeReader::open(path)?;
            let found = r.checkpoint_at_or_before(from).is_some();
            readers.insert(0, r);
            if found || first == 0 {
                break;
            }
            first -= 1;
        }
        for (_, path) in files.iter().skip(first + readers.len()) {
            readers.push(TapeReader::open(path)?);
        }
        let mut r = Replayed {
            exchange,
            symbol: symbol.clone(),
            empty: book.clone(),
            book,
            health: BookHealth::syncing(),
            synced: false,
            stream: Vec::new(),
            next: 0,
            trades: Vec::new(),
            consumed: Vec::new(),
            next_consumed: 0,
        };
        let mut span = Span {
            start: None,
            end: None,
        };
        // The instants at which the re-run order's own consumption was recorded.
        let mut own_at: Option<Timestamp> = None;
        let mut ledger = |r: &mut Replayed, ev: TapeEvent| match ev {
            TapeEvent::Consumed {
                local,
                order: o,
                side,
                price,
                qty,
                shown,
            } => {
                if o == order {
                    own_at = Some(local);
                    return;
                }
                r.consumed.push(Recorded {
                    local,
                    after_own: own_at == Some(local),
                    event: LedgerEvent::Consumed(Consumption {
                        exchange,
                        symbol: symbol.clone(),
                        side,
                        price: price.get(),
                        shown: shown.get(),
                        qty: qty.get(),
                    }),
                });
            }
            TapeEvent::Released { local } => r.consumed.push(Recorded {
                local,
                after_own: own_at == Some(local),
                event: LedgerEvent::Released {
                    exchange,
                    symbol: symbol.clone(),
                },
            }),
            _ => {}
        };
        // The paper ledger's events are written as they happen, while a book's events reach
        // the tape a block (about a second) later: they are read from the start of the first
        // file, and of the one before it, not from the checkpoint.
        let before = first
            .checked_sub(1)
            .and_then(|i| files.get(i))
            .map(|(_, p)| TapeReader::open(p))
            .transpose()?;
        for reader in before.iter().chain(readers.first()) {
            for ev in reader.events() {
                let ev = ev?;
                if matches!(ev, TapeEvent::Consumed { .. } | TapeEvent::Released { .. }) {
                    ledger(&mut r, ev);
                }
            }
        }
        for (i, reader) in readers.iter().enumerate() {
            let events = if i == 0 {
                reader.seek(from)
            } else {
                reader.events()
            };
            for ev in events {
                let ev = ev?;
                let local = ev.local();
                span.end = Some(span.end.map_or(local, |e| e.max(local)));
                match ev {
                    TapeEvent::Trade(t) => {
                        r.trades
                            .push((t.local_ts, t.qty.get(), t.qty.get() * t.price.get()));
                    }
                    TapeEvent::Consumed { .. } | TapeEvent::Released { .. } => {
                        if i > 0 {
                            ledger(&mut r, ev);
                        }
                    }
                    TapeEvent::Checkpoint { .. } => {
                        span.start.get_or_insert(local);
                        r.stream.push(ev);
                    }
                    TapeEvent::Book { ref event, .. } => {
                        if event.kind == BookEventKind::Snapshot {
                            span.start.get_or_insert(local);
                        }
                        r.stream.push(ev);
                    }
                    TapeEvent::State { .. } => r.stream.push(ev),
                }
            }
        }
        r.trades.sort_by_key(|t| t.0);
        r.consumed.sort_by_key(|c| c.local);
        self.books.push(r);
        Ok(span)
    }
}

impl Replayed {
    fn advance(
        &mut self,
        now: Timestamp,
        book_time: Option<Timestamp>,
        ledger: &mut dyn FnMut(LedgerEvent),
    ) {
        let until = book_time.unwrap_or(now);
        while let Some(ev) = self.stream.get(self.next) {
            match ev {
                TapeEvent::Book { local, event } if *local <= until => {
                    match event.kind {
                        BookEventKind::Snapshot => self.synced = true,
                        // Deltas without a baseline were not applied by the hub either.
                        BookEventKind::Delta if !self.synced => {
                            self.next += 1;
                            continue;
                        }
                        BookEventKind::Delta => {}
                    }
                    self.health.last_update = Some(*local);
                    if self.book.apply(event).is_err() {
                        self.synced = false;
                    }
                    self.health.seq = self.book.seq();
                    self.health.exchange_ts = self.book.exchange_ts();
                    self.health.crossed = self.book.is_crossed();
                }
                TapeEvent::Checkpoint { local, bids, asks } if *local <= until => {
                    // A reader that applied everything before a checkpoint has its book.
                    if !self.synced {
                        let snap = model::BookEvent::snapshot(bids.clone(), asks.clone());
                        if self.book.apply(&snap).is_ok() {
                            self.synced = true;
                            // Checkpoints are taken of live books, at a venue event's time.
                            self.health.state = BookState::Live;
                            self.health.last_update = Some(*local);
                            self.health.crossed = self.book.is_crossed();
                        }
                    }
                }
                TapeEvent::State { local, state } if *local <= now => {
                    self.health.state = *state;
                    if matches!(
                        state,
                        BookState::Resyncing | BookState::Down | BookState::Syncing
                    ) {
                        self.synced = false;
                    }
                }
                _ => break,
            }
            self.next += 1;
        }
        while let Some(c) = self.consumed.get(self.next_consumed) {
            if c.local > now || (c.local == now && c.after_own) {
                break;
            }
            ledger(c.event.clone());
            self.next_consumed += 1;
        }
    }
}

impl Books for TapeMarket {
    fn with_book(&self, exchange: ExchangeId, symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        match self
            .books
            .iter()
            .find(|b| b.exchange == exchange && b.symbol == *symbol)
        {
            Some(b) => f(Some((&b.book, &b.health))),
            None => f(None),
        }
    }

    fn market_volume(
        &self,
        exchange: ExchangeId,
        symbol: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(Decimal, Decimal)> {
        let b = self
            .books
            .iter()
            .find(|b| b.exchange == exchange && b.symbol == *symbol)?;
        let lo = b.trades.partition_point(|t| t.0 <= after);
        let hi = b.trades.partition_point(|t| t.0 <= upto).max(lo);
        Some(
            b.trades[lo..hi]
                .iter()
                .fold((Decimal::ZERO, Decimal::ZERO), |(v, n), t| {
                    (v + t.1, n + t.2)
                }),
        )
    }
}

impl RecordedMarket for TapeMarket {
    fn restart(&mut self) {
        for b in &mut self.books {
            b.book = b.empty.clone();
            b.health = BookHealth::syncing();
            b.synced = false;
        }
    }

    fn advance(
        &mut self,
        now: Timestamp,
        book_time: Option<Timestamp>,
        ledger: &mut dyn FnMut(LedgerEvent),
    ) {
        for b in &mut self.books {
            b.advance(now, book_time, ledger);
        }
    }
}
