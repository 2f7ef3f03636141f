//! The hub's side of the tapes: each venue's ingest task encodes its books' events where it
//! applies them, one block per book, and hands a book's block to the writer when it is full,
//! when a checkpoint starts the next one, when the hour turns, and once a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use market::{BookRecorder, RecorderFactory};
use model::{BookEvent, BookState, ExchangeId, OrderBook, Symbol, Timestamp, Trade};
use tape::BlockEncoder;
use tokio::sync::mpsc;

use super::{Dropped, Item};

/// A block is handed over when it reaches this size (or at the next second).
const BLOCK_BYTES: usize = 64 * 1024;
const HOUR_NS: i64 = 3_600_000_000_000;

/// The recorders of every venue: what the hub's config holds.
#[derive(Debug)]
pub struct TapeRecorders {
    tx: mpsc::Sender<Item>,
    dropped: Arc<Dropped>,
    /// Raised by a flush: each venue hands over what it holds when it sees it change.
    generation: Arc<AtomicU64>,
    venues: Mutex<Vec<ExchangeId>>,
}

impl TapeRecorders {
    pub(super) fn new(tx: mpsc::Sender<Item>) -> Self {
        TapeRecorders {
            tx,
            dropped: Arc::default(),
            generation: Arc::default(),
            venues: Mutex::default(),
        }
    }

    /// Blocks and events that could not be handed over.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
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
            exchange,
            books: HashMap::new(),
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
            generation: self.generation.clone(),
            seen: 0,
        })
    }
}

/// One book's block in the making.
struct Open {
    symbol: Arc<str>,
    block: Option<BlockEncoder>,
    /// A block of this book could not be handed over: the next one says `resyncing`, until
    /// a checkpoint gives readers the book again.
    lost: bool,
}

/// One venue's books, on its ingest task.
struct VenueTapes {
    exchange: ExchangeId,
    books: HashMap<Symbol, Open>,
    tx: mpsc::Sender<Item>,
    dropped: Arc<Dropped>,
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
            let item = Item::Flushed {
                exchange: self.exchange,
                generation: g,
            };
            if self.tx.try_send(item).is_err() {
                self.dropped.add();
            }
        }
    }

    fn ship_all(&mut self) {
        let (exchange, tx, dropped) = (self.exchange, &self.tx, &self.dropped);
        for open in self.books.values_mut() {
            ship(exchange, tx, dropped, open);
        }
    }

    /// The block `symbol`'s event at `at` goes into (a new one at a new hour).
    fn block(&mut self, symbol: &Symbol, at: Timestamp) -> &mut BlockEncoder {
        self.check_flush();
        let VenueTapes {
            exchange,
            books,
            tx,
            dropped,
            ..
        } = self;
        let open = open_of(books, symbol);
        let hour = |t: Timestamp| t.as_nanos().div_euclid(HOUR_NS);
        if open
            .block
            .as_ref()
            .is_some_and(|b| b.bytes() >= BLOCK_BYTES || hour(b.first()) != hour(at))
        {
            ship(*exchange, tx, dropped, open);
        }
        let lost = open.lost;
        open.block.get_or_insert_with(|| {
            let mut b = BlockEncoder::new(at);
            if lost {
                b.state(at, BookState::Resyncing);
            }
            b
        })
    }
}

/// `symbol`'s book.
fn open_of<'a>(books: &'a mut HashMap<Symbol, Open>, symbol: &Symbol) -> &'a mut Open {
    // Looked up first: the key is cloned only for a new book.
    if !books.contains_key(symbol) {
        books.insert(
            symbol.clone(),
            Open {
                symbol: Arc::from(symbol.as_str()),
                block: None,
                lost: false,
            },
        );
    }
    match books.get_mut(symbol) {
        Some(open) => open,
        None => unreachable!("inserted above"),
    }
}

/// Hand `open`'s block (if it holds anything) to the writer.
fn ship(exchange: ExchangeId, tx: &mpsc::Sender<Item>, dropped: &Dropped, open: &mut Open) {
    let Some(block) = open.block.take() else {
        return;
    };
    if block.events() == 0 {
        return;
    }
    let item = Item::Block {
        exchange,
        symbol: open.symbol.clone(),
        block: block.finish(),
    };
    if tx.try_send(item).is_err() {
        dropped.add();
        open.lost = true;
    }
}

impl BookRecorder for VenueTapes {
    fn book(&mut self, symbol: &Symbol, event: &BookEvent, received: Timestamp) {
        self.block(symbol, received).book(received, event);
    }

    fn trades(&mut self, symbol: &Symbol, trades: &[Trade]) {
        for t in trades {
            self.block(symbol, t.local_ts).trade(t);
        }
    }

    fn state(&mut self, symbol: &Symbol, at: Timestamp, state: BookState) {
        self.block(symbol, at).state(at, state);
    }

    fn checkpoint(&mut self, symbol: &Symbol, at: Timestamp, book: &OrderBook) {
        self.check_flush();
        let VenueTapes {
            exchange,
            books,
            tx,
            dropped,
            ..
        } = self;
        let open = open_of(books, symbol);
        ship(*exchange, tx, dropped, open);
        open.block = Some(BlockEncoder::checkpoint(at, book));
        open.lost = false;
    }

    fn tick(&mut self) {
        self.check_flush();
        self.ship_all();
    }
}
