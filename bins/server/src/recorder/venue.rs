//! The hub's side of the tapes: each venue's ingest task encodes its books' events where it
//! applies them, one block per book, and hands a book's block to the writer when it is full,
//! when a checkpoint starts the next one, when the hour turns, and once a second.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use market::{BookRecorder, RecorderFactory};
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
            books: Books::default(),
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

/// A venue's open blocks by book, looked up once per event: hashed with FNV-1a (a symbol is
/// a few bytes, and only the venue's listed pairs are ever followed, so no one can choose
/// keys that collide) — SipHash was a fifth of the recorder's time on the ingest task.
type Books = HashMap<Symbol, Open, BuildHasherDefault<Fnv>>;

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
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
    books: Books,
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
        for open in self.books.values_mut() {
            self.writer.ship(open);
        }
    }

    /// The block `symbol`'s event at `at` goes into (a new one at a new hour).
    fn block(&mut self, symbol: &Symbol, at: Timestamp) -> &mut BlockEncoder {
        self.check_flush();
        let open = open_of(&mut self.books, symbol);
        let hour = |t: Timestamp| t.as_nanos().div_euclid(HOUR_NS);
        if open
            .block
            .as_ref()
            .is_some_and(|b| b.bytes() >= BLOCK_BYTES || hour(b.first()) != hour(at))
        {
            self.writer.ship(open);
        }
        let lost = open.lost;
        let buffers = &self.writer.buffers;
        open.block.get_or_insert_with(|| {
            let mut b = BlockEncoder::reusing(at, buffers.take());
            if lost {
                b.state(at, BookState::Resyncing);
            }
            b
        })
    }
}

/// `symbol`'s book.
fn open_of<'a>(books: &'a mut Books, symbol: &Symbol) -> &'a mut Open {
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

    fn checkpoint(&mut self, pair: &Pair, at: Timestamp, book: &OrderBook) {
        self.check_flush();
        if !self.described.contains(&pair.symbol) {
            // The rules go beside the tapes once a process (a replay needs them).
            self.described.insert(pair.symbol.clone());
            self.writer.send(Item::Pair(Box::new(pair.clone())));
        }
        let symbol = &pair.symbol;
        let open = open_of(&mut self.books, symbol);
        self.writer.ship(open);
        open.block = Some(BlockEncoder::checkpoint(at, book));
        open.lost = false;
    }

    fn tick(&mut self) {
        self.check_flush();
        self.ship_all();
    }
}
