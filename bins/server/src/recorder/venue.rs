//! The hub's side of the tapes: each venue's ingest task encodes its books' events where it
//! applies them, one block per book, and hands a book's block to the writer when it is full,
//! when a checkpoint starts the next one, when the hour turns, once a second, and when the
//! hub stops keeping the book. A book's block is found by its [`TapeKey`], an index the hub
//! keeps beside the book: nothing is looked up per event.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use market::{BookRecorder, RecorderFactory, TapeKey};
use model::{BookEvent, BookState, ExchangeId, OrderBook, Pair, Symbol, Timestamp, Trade};
use tape::BlockEncoder;
use tape::dir::HOUR_NS;
use tokio::sync::mpsc;

use super::{Buffers, Dropped, Item};

/// A block is handed over when it reaches this size (or at the next second).
const BLOCK_BYTES: usize = 64 * 1024;

/// The recorders of every venue: what the hub's config holds.
#[derive(Debug)]
pub struct TapeRecorders {
    tx: mpsc::Sender<Item>,
    dropped: Arc<Dropped>,
    buffers: Arc<Buffers>,
    /// Raised by a flush: each venue hands over what it holds when it sees it change.
    generation: Arc<AtomicU64>,
    venues: Mutex<Vec<ExchangeId>>,
}

impl TapeRecorders {
    pub(super) fn new(tx: mpsc::Sender<Item>) -> Self {
        TapeRecorders {
            tx,
            dropped: Arc::default(),
            buffers: Arc::default(),
            generation: Arc::default(),
            venues: Mutex::default(),
        }
    }

    /// Blocks and events that could not be handed over.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Written blocks' buffers, for the next blocks.
    pub(super) fn buffers(&self) -> &Buffers {
        &self.buffers
    }

    /// The venues recording.
    pub(super) fn venues(&self) -> Vec<ExchangeId> {
        self.venues.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Ask every venue to hand over what it holds; the flush's generation.
    pub(super) fn ask_flush(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl RecorderFactory for TapeRecorders {
    fn for_venue(&self, exchange: ExchangeId) -> Box<dyn BookRecorder> {
        if let Ok(mut v) = self.venues.lock()
            && !v.contains(&exchange)
        {
            v.push(exchange);
        }
        Box::new(VenueTapes {
            books: Vec::new(),
            free: Vec::new(),
            lost_closed: HashSet::new(),
            described: HashSet::new(),
            writer: Writer {
                exchange,
                tx: self.tx.clone(),
                dropped: self.dropped.clone(),
                buffers: self.buffers.clone(),
            },
            generation: self.generation.clone(),
            seen: 0,
        })
    }
}

/// One book's block in the making.
struct Open {
    symbol: Arc<str>,
    block: Option<BlockEncoder>,
    /// The hour of the block's first event, `[start, end)` in ns: a block holds one hour's
    /// events (its tape file's), and comparing is cheaper than dividing per event.
    hour: (i64, i64),
    /// A block of this book could not be handed over: the next one says `resyncing`, until
    /// a checkpoint gives readers the book again.
    lost: bool,
}

/// Where a venue's finished blocks go.
struct Writer {
    exchange: ExchangeId,
    tx: mpsc::Sender<Item>,
    dropped: Arc<Dropped>,
    buffers: Arc<Buffers>,
}

impl Writer {
    /// Hand an item over without waiting; false (and counted) when the writer is behind.
    fn send(&self, item: Item) -> bool {
        let sent = self.tx.try_send(item).is_ok();
        if !sent {
            self.dropped.add();
        }
        sent
    }

    /// Hand `open`'s block (if it holds anything) over.
    fn ship(&self, open: &mut Open) {
        let Some(block) = open.block.take().filter(|b| b.events() > 0) else {
            return;
        };
        let item = Item::Block {
            exchange: self.exchange,
            symbol: open.symbol.clone(),
            block: block.finish(),
        };
        if !self.send(item) {
            open.lost = true;
        }
    }
}

/// One venue's books, on its ingest task.
struct VenueTapes {
    /// Open books by key (`None`: a closed book's key, free for the next).
    books: Vec<Option<Open>>,
    /// Keys of closed books.
    free: Vec<u32>,
    /// Books closed while their last block was lost: reopened, they start `resyncing`.
    lost_closed: HashSet<Arc<str>>,
    /// Books whose rules (`pair.json`) this process has written.
    described: HashSet<Symbol>,
    writer: Writer,
    generation: Arc<AtomicU64>,
    seen: u64,
}

impl VenueTapes {
    /// Hand everything over if a flush was asked since the last call.
    fn check_flush(&mut self) {
        let g = self.generation.load(Ordering::Relaxed);
        if g != self.seen {
            self.seen = g;
            self.ship_all();
            self.writer.send(Item::Flushed {
                exchange: self.writer.exchange,
                generation: g,
            });
        }
    }

    fn ship_all(&mut self) {
        for open in self.books.iter_mut().flatten() {
            self.writer.ship(open);
        }
    }

    /// The block `key`'s event at `at` goes into (a new one at a new hour); `None` for a key
    /// the hub never had (not reached: keys come from [`BookRecorder::open`]).
    fn block(&mut self, key: TapeKey, at: Timestamp) -> Option<&mut BlockEncoder> {
        self.check_flush();
        let open = self.books.get_mut(key.0 as usize)?.as_mut()?;
        let t = at.as_nanos();
        if open
            .block
            .as_ref()
            .is_some_and(|b| b.bytes() >= BLOCK_BYTES || t < open.hour.0 || t >= open.hour.1)
        {
            self.writer.ship(open);
        }
        if open.block.is_none() {
            let mut b = BlockEncoder::reusing(at, self.writer.buffers.take());
            if open.lost {
                b.state(at, BookState::Resyncing);
            }
            open.hour = hour_of(t);
            open.block = Some(b);
        }
        open.block.as_mut()
    }
}

impl BookRecorder for VenueTapes {
    fn open(&mut self, symbol: &Symbol) -> TapeKey {
        let open = Open {
            symbol: Arc::from(symbol.as_str()),
            block: None,
            hour: (0, 0),
            lost: self.lost_closed.remove(symbol.as_str()),
        };
        match self.free.pop() {
            Some(k) => {
                if let Some(slot) = self.books.get_mut(k as usize) {
                    *slot = Some(open);
                }
                TapeKey(k)
            }
            None => {
                // A venue follows far fewer than 2^32 books at once.
                let k = u32::try_from(self.books.len()).unwrap_or(u32::MAX);
                self.books.push(Some(open));
                TapeKey(k)
            }
        }
    }

    fn close(&mut self, key: TapeKey) {
        if let Some(slot) = self.books.get_mut(key.0 as usize)
            && let Some(mut open) = slot.take()
        {
            self.writer.ship(&mut open);
            if open.lost {
                self.lost_closed.insert(open.symbol);
            }
            self.free.push(key.0);
        }
    }

    fn book(&mut self, key: TapeKey, event: &BookEvent, received: Timestamp) {
        if let Some(b) = self.block(key, received) {
            b.book(received, event);
        }
    }

    fn trades(&mut self, key: TapeKey, trades: &[Trade]) {
        for t in trades {
            if let Some(b) = self.block(key, t.local_ts) {
                b.trade(t);
            }
        }
    }

    fn state(&mut self, key: TapeKey, at: Timestamp, state: BookState) {
        if let Some(b) = self.block(key, at) {
            b.state(at, state);
        }
    }

    fn checkpoint(&mut self, key: TapeKey, pair: &Pair, at: Timestamp, book: &OrderBook) {
        self.check_flush();
        if !self.described.contains(&pair.symbol) {
            // The rules go beside the tapes once a process (a replay needs them).
            self.described.insert(pair.symbol.clone());
            self.writer.send(Item::Pair(Box::new(pair.clone())));
        }
        let Some(open) = self.books.get_mut(key.0 as usize).and_then(Option::as_mut) else {
            return;
        };
        self.writer.ship(open);
        open.block = Some(BlockEncoder::checkpoint(at, book));
        open.hour = hour_of(at.as_nanos());
        open.lost = false;
    }

    fn tick(&mut self) {
        self.check_flush();
        self.ship_all();
    }
}

/// The hour holding `t` (ns), as `[start, end)`.
fn hour_of(t: i64) -> (i64, i64) {
    let start = t.div_euclid(HOUR_NS) * HOUR_NS;
    (start, start.saturating_add(HOUR_NS))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use model::Level;
    use tape::TapeEvent;

    fn delta() -> BookEvent {
        BookEvent::delta(vec![Level::parse("99", "1").unwrap()], vec![])
    }

    /// The blocks handed to the writer: (symbol, first event's time, events).
    fn shipped(rx: &mut mpsc::Receiver<Item>) -> Vec<(String, i64, usize)> {
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            if let Item::Block { symbol, block, .. } = item {
                out.push((symbol.to_string(), block.first().as_nanos(), block.events()));
            }
        }
        out
    }

    #[test]
    fn a_block_holds_one_hours_events_and_a_closed_books_key_serves_the_next() {
        let (tx, mut rx) = mpsc::channel(16);
        let recorders = TapeRecorders::new(tx);
        let mut rec = recorders.for_venue(ExchangeId::Sim);
        let btc = rec.open(&"BTC-USDT".parse().unwrap());
        let eth = rec.open(&"ETH-USDT".parse().unwrap());
        assert_ne!(btc, eth);
        let hour = HOUR_NS;
        // Across the hour (and back before it: a late event starts a block of its own hour).
        for t in [hour - 2, hour - 1, hour, hour + 1, hour - 3] {
            rec.book(btc, &delta(), Timestamp::from_nanos(t));
        }
        rec.tick();
        assert_eq!(
            shipped(&mut rx),
            [
                ("BTC-USDT".to_owned(), hour - 2, 2),
                ("BTC-USDT".to_owned(), hour, 2),
                ("BTC-USDT".to_owned(), hour - 3, 1),
            ]
        );
        // Closing ships what the book holds; its key goes to the next book opened.
        rec.book(btc, &delta(), Timestamp::from_nanos(5 * hour));
        rec.close(btc);
        assert_eq!(shipped(&mut rx), [("BTC-USDT".to_owned(), 5 * hour, 1)]);
        let sol = rec.open(&"SOL-USDT".parse().unwrap());
        assert_eq!(sol, btc);
        rec.book(sol, &delta(), Timestamp::from_nanos(6 * hour));
        rec.book(eth, &delta(), Timestamp::from_nanos(6 * hour));
        rec.tick();
        let mut got = shipped(&mut rx);
        got.sort();
        assert_eq!(
            got,
            [
                ("ETH-USDT".to_owned(), 6 * hour, 1),
                ("SOL-USDT".to_owned(), 6 * hour, 1),
            ]
        );
    }

    #[test]
    fn a_book_closed_after_losing_a_block_reopens_resyncing() {
        let (tx, mut rx) = mpsc::channel(1);
        let recorders = TapeRecorders::new(tx);
        let mut rec = recorders.for_venue(ExchangeId::Sim);
        let btc: Symbol = "BTC-USDT".parse().unwrap();
        let key = rec.open(&btc);
        rec.book(key, &delta(), Timestamp::from_nanos(1));
        rec.tick();
        // The writer is behind (its queue of one is full): the next block is lost.
        rec.book(key, &delta(), Timestamp::from_nanos(2));
        rec.close(key);
        assert_eq!(recorders.dropped(), 1);
        assert_eq!(shipped(&mut rx).len(), 1);
        let key = rec.open(&btc);
        rec.book(key, &delta(), Timestamp::from_nanos(3));
        rec.tick();
        let Some(Item::Block { block, .. }) = rx.try_recv().ok() else {
            panic!("no block");
        };
        // The resyncing state, then the event.
        assert_eq!(block.events(), 2);
        let dir = tempfile::tempdir().unwrap();
        let mut tapes = tape::TapeDir::new(dir.path(), tape::WriterConfig::default()).unwrap();
        tapes.append_block("sim", "BTC-USDT", &block).unwrap();
        tapes.flush().unwrap();
        let files = tape::dir::list(dir.path()).unwrap();
        let events: Vec<TapeEvent> = tape::TapeReader::open(&files[0].path)
            .unwrap()
            .events()
            .map(Result::unwrap)
            // A folder's first event for a book in a process: its paper ledger is released.
            .filter(|e| !matches!(e, TapeEvent::Released { .. }))
            .collect();
        assert!(
            matches!(
                events.first(),
                Some(TapeEvent::State {
                    state: BookState::Resyncing,
                    ..
                })
            ),
            "{events:?}"
        );
    }
}
