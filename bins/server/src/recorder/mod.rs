//! The lab's recorder (DESIGN §17): every event of every followed book — books that orders
//! trade on, configured symbols, books someone watches — written to its tape in
//! `store.tape_dir`, and the liquidity paper fills take.
//!
//! Off the ingest path: each venue's ingest task encodes its books' events where it applies
//! them, by reference, into one block per book (`venue.rs`), and hands finished blocks (about
//! one per book a second) to the writer task here through a bounded channel that never waits
//! (a block it cannot take is counted, and the book's next block starts `resyncing` until
//! its next checkpoint). The engine's fills come the same way (`fills.rs`).

mod fills;
mod venue;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use model::{ExchangeId, Timestamp};
use tape::{Block, TapeDir, TapeEvent, WriterConfig};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use venue::TapeRecorders;

/// Items the writer may hold before producers drop (blocks are about one per book a second).
const QUEUE: usize = 16_384;
/// How long a flush waits for the ingest tasks to hand over what they hold.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What the writer task writes.
#[derive(Debug)]
pub(crate) enum Item {
    /// A book's finished block.
    Block {
        exchange: ExchangeId,
        symbol: Arc<str>,
        block: Block,
    },
    /// One event (paper consumption, a release).
    Event {
        exchange: ExchangeId,
        symbol: String,
        event: TapeEvent,
    },
    /// A book's trading rules, kept beside its tapes.
    Pair(Box<model::Pair>),
    /// A venue handed over everything it held when flush `generation` was asked.
    Flushed {
        exchange: ExchangeId,
        generation: u64,
    },
    /// Reply once every venue answered flush `generation` and the files are written.
    Flush {
        generation: u64,
        reply: oneshot::Sender<()>,
    },
}

/// A running recorder.
#[derive(Debug)]
pub struct Recorder {
    /// The hub's recorders (one per venue ingest task).
    pub recorders: Arc<TapeRecorders>,
    /// The writer task: it ends, tapes written, when its token is cancelled.
    pub task: tokio::task::JoinHandle<()>,
    tx: mpsc::Sender<Item>,
    /// The folder's lock, held while this process records into it.
    _lock: std::fs::File,
}

/// Asks the recorder to write out what it holds (a what-if about to read the tapes).
#[derive(Debug, Clone)]
pub struct Flusher {
    recorders: Arc<TapeRecorders>,
    tx: mpsc::Sender<Item>,
}

impl Flusher {
    /// Return once everything recorded so far is in the tape files: every venue's ingest task
    /// handed over its blocks (at its next event or within a second), and the writer wrote
    /// them. Waits at most two seconds.
    pub async fn flush(&self) {
        let generation = self.recorders.ask_flush();
        let (reply, done) = oneshot::channel();
        if self
            .tx
            .send(Item::Flush { generation, reply })
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(FLUSH_WAIT, done).await;
        }
    }
}

/// Start recording into `dir`.
pub fn start(
    dir: PathBuf,
    retention_days: u32,
    shutdown: CancellationToken,
) -> anyhow::Result<Recorder> {
    // The hub takes the checkpoints (it has the books): the writers keep none.
    let config = WriterConfig {
        checkpoint_every_ns: None,
        ..WriterConfig::default()
    };
    let tapes = TapeDir::new(&dir, config)
        .map_err(|e| anyhow::anyhow!("store.tape_dir {}: {e}", dir.display()))?;
    let lock = lock_folder(&dir)?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let recorders = Arc::new(TapeRecorders::new(tx.clone()));
    info!(dir = %dir.display(), retention_days, "recording books to tapes");
    let task = tokio::spawn(run(tapes, rx, recorders.clone(), retention_days, shutdown));
    Ok(Recorder {
        recorders,
        task,
        tx,
        _lock: lock,
    })
}

/// One process records into a folder at a time (two would interleave their blocks in the
/// same files): an exclusive lock on `<dir>/.lock`, released when the process ends,
/// however it ends.
fn lock_folder(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("store.tape_dir {}: {e}", dir.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "store.tape_dir {} is being recorded by another process: give each instance its own folder",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!(
            "store.tape_dir {}: locking: {e}",
            dir.display()
        )),
    }
}

impl Recorder {
    /// A handle that makes the recorder write out what it holds.
    pub fn flusher(&self) -> Flusher {
        Flusher {
            recorders: self.recorders.clone(),
            tx: self.tx.clone(),
        }
    }

    /// Blocks and events the recorder could not take (each a gap in a tape, marked there).
    pub fn dropped(&self) -> u64 {
        self.recorders.dropped()
    }

    /// Record the liquidity every filled slice takes (what a what-if of another order must
    /// not take again), from the engine's published updates, until `shutdown`; and when the
    /// last open order of a book ends, that the book's paper ledger is released (the engine
    /// forgets it then).
    pub fn follow_fills(
        &self,
        updates: tokio::sync::broadcast::Receiver<Arc<engine::Update>>,
        shutdown: CancellationToken,
    ) {
        fills::follow(self.tx.clone(), updates, shutdown);
    }
}

/// Flushes asked and not answered yet, and what each venue answered.
#[derive(Debug, Default)]
struct Flushes {
    answered: HashMap<ExchangeId, u64>,
    waiting: Vec<(u64, oneshot::Sender<()>)>,
}

impl Flushes {
    /// Answer the flushes every venue has answered, after writing the files.
    fn settle(&mut self, tapes: &mut TapeDir, venues: &[ExchangeId]) {
        let answered = &self.answered;
        let done = |g: u64| {
            venues
                .iter()
                .all(|v| answered.get(v).is_some_and(|a| *a >= g))
        };
        if !self.waiting.iter().any(|(g, _)| done(*g)) {
            return;
        }
        if let Err(e) = tapes.flush() {
            warn!(error = %e, "could not write tapes");
        }
        let (ready, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(g, _)| done(*g));
        self.waiting = rest;
        for (_, reply) in ready {
            let _ = reply.send(());
        }
    }
}

fn write(tapes: &mut TapeDir, item: Item, flushes: &mut Flushes, spare: &Buffers) {
    let result = match item {
        Item::Block {
            exchange,
            symbol,
            block,
        } => {
            let r = tapes.append_block(exchange.as_str(), &symbol, &block);
            spare.give(block.into_buffer());
            r
        }
        Item::Event {
            exchange,
            symbol,
            event,
        } => tapes.append(exchange.as_str(), &symbol, &event),
        Item::Pair(pair) => tape::write_pair(tapes.root(), &pair),
        Item::Flushed {
            exchange,
            generation,
        } => {
            flushes.answered.insert(exchange, generation);
            Ok(())
        }
        Item::Flush { generation, reply } => {
            flushes.waiting.push((generation, reply));
            Ok(())
        }
    };
    if let Err(e) = result {
        warn!(error = %e, "could not record to tape");
    }
}

async fn run(
    mut tapes: TapeDir,
    mut rx: mpsc::Receiver<Item>,
    recorders: Arc<TapeRecorders>,
    retention_days: u32,
    shutdown: CancellationToken,
) {
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut sweep = tokio::time::interval(Duration::from_secs(3_600));
    let mut dropped = 0u64;
    let mut flushes = Flushes::default();
    let mut buf = Vec::with_capacity(256);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            n = rx.recv_many(&mut buf, 256) => {
                if n == 0 {
                    break;
                }
                for item in buf.drain(..) {
                    write(&mut tapes, item, &mut flushes, recorders.buffers());
                }
                flushes.settle(&mut tapes, &recorders.venues());
            }
            _ = flush.tick() => {
                let now = recorders.dropped();
                if now > dropped {
                    warn!(dropped = now - dropped, "the recorder fell behind; the books it lost are marked resyncing until their next checkpoints");
                    dropped = now;
                }
                if let Err(e) = tapes.flush() {
                    warn!(error = %e, "could not write tapes");
                }
            }
            _ = sweep.tick() => {
                match tapes.sweep(Timestamp::now(), retention_days) {
                    Ok(0) => {}
                    Ok(n) => info!(files = n, retention_days, "old tapes removed"),
                    Err(e) => warn!(error = %e, "could not remove old tapes"),
                }
            }
        }
    }
    while let Ok(item) = rx.try_recv() {
        write(&mut tapes, item, &mut flushes, recorders.buffers());
    }
    if let Err(e) = tapes.flush() {
        warn!(error = %e, "could not write tapes at shutdown");
    }
    for (_, reply) in flushes.waiting {
        let _ = reply.send(());
    }
}

/// Counted by the producers: what they could not hand over.
#[derive(Debug, Default)]
pub(crate) struct Dropped(AtomicU64);

/// Written blocks' buffers, handed back to the ingest tasks for their next blocks (no
/// allocation and no zero-fill per block); bounded.
#[derive(Debug, Default)]
pub(crate) struct Buffers(std::sync::Mutex<Vec<Vec<u8>>>);

impl Buffers {
    /// Buffers kept at most (a block is at most about 64 KiB: 32 MiB in all).
    const MAX: usize = 512;

    /// A buffer for a new block (empty when none is spare).
    pub(crate) fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    /// A written block's buffer, for a later block.
    pub(crate) fn give(&self, buf: Vec<u8>) {
        if let Ok(mut v) = self.0.lock()
            && v.len() < Self::MAX
        {
            v.push(buf);
        }
    }
}

impl Dropped {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use market::{Exchange, Hub, HubConfig};
    use model::{BookEvent, BookState, OrderBook};
    use sim::{SimConfig, SimExchange};
    use tape::TapeReader;

    /// The sim's books recorded for a while: replaying each tape gives exactly the book the
    /// hub ended with (every event it applied was recorded, in order), and its trades.
    #[tokio::test]
    async fn a_recorded_tape_replays_to_the_hubs_book() {
        let dir = tempfile::tempdir().unwrap();
        let stop_recorder = CancellationToken::new();
        let recorder = start(dir.path().join("tapes"), 7, stop_recorder.clone()).unwrap();
        let stop_hub = CancellationToken::new();
        let sim: Arc<dyn Exchange> = Arc::new(
            SimExchange::new(SimConfig {
                update_interval: Duration::from_millis(20),
                ..SimConfig::default()
            })
            .unwrap(),
        );
        let config = HubConfig {
            default_symbols: [(ExchangeId::Sim, vec!["BTC-USDT".to_owned()])].into(),
            recorder: Some(recorder.recorders.clone()),
            ..HubConfig::default()
        };
        let hub = Hub::start(config, vec![sim], stop_hub.clone());
        testkit::eventually(
            "the sim book went live and moved",
            Duration::from_secs(20),
            || {
                hub.snapshot(ExchangeId::Sim, "BTC-USDT")
                    .is_ok_and(|s| s.health.is_tradeable() && s.health.seq.is_some_and(|q| q > 60))
            },
        )
        .await;
        stop_hub.cancel();
        hub.wait().await;
        stop_recorder.cancel();
        assert_eq!(recorder.dropped(), 0);
        recorder.task.await.unwrap();

        let end = hub.snapshot(ExchangeId::Sim, "BTC-USDT").unwrap();
        let files = tape::dir::list(dir.path().join("tapes")).unwrap();
        let mut book = OrderBook::new();
        let (mut events, mut trades, mut states, mut checkpoints) = (0, 0, Vec::new(), 0);
        for f in files.iter().filter(|f| f.symbol == "BTC-USDT") {
            let r = TapeReader::open(&f.path).unwrap();
            assert_eq!(r.torn_bytes(), 0);
            for e in r.events() {
                match e.unwrap() {
                    TapeEvent::Book { event, .. } => {
                        events += 1;
                        book.apply(&event).unwrap();
                    }
                    TapeEvent::Checkpoint { bids, asks, .. } => {
                        // The hub's picture equals the book the events before it made.
                        checkpoints += 1;
                        let here = (
                            book.levels(model::BookSide::Bid).collect::<Vec<_>>(),
                            book.levels(model::BookSide::Ask).collect::<Vec<_>>(),
                        );
                        assert_eq!(here, (bids.clone(), asks.clone()));
                        book.apply(&BookEvent::snapshot(bids, asks)).unwrap();
                    }
                    TapeEvent::Trade(_) => trades += 1,
                    TapeEvent::State { state, .. } => states.push(state),
                    _ => {}
                }
            }
        }
        assert!(events > 60, "{events} book events recorded");
        assert!(trades > 0, "no trades recorded");
        assert!(checkpoints >= 1, "the hub's first checkpoint once live");
        // The states the hub published: live once synced, down when the feeds stopped.
        assert_eq!(states.first(), Some(&BookState::Live), "{states:?}");
        assert_eq!(states.last(), Some(&BookState::Down), "{states:?}");
        assert_eq!(book.top(1_000), end.book.top(1_000));
        assert_eq!(book.seq(), end.book.seq());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod lock_tests {
    use super::*;

    /// A second process (or instance) recording into the same folder is refused, naming
    /// the key; the folder is free again once the first stops.
    #[tokio::test]
    async fn one_recorder_per_folder() {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let first = start(dir.path().to_owned(), 1, stop.clone()).unwrap();
        let e = start(dir.path().to_owned(), 1, stop.clone())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("store.tape_dir") && e.contains("another process"),
            "{e}"
        );
        stop.cancel();
        let Recorder { task, _lock, .. } = first;
        task.await.unwrap();
        drop(_lock);
        assert!(start(dir.path().to_owned(), 1, CancellationToken::new()).is_ok());
    }
}
