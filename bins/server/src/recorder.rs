//! The lab's recorder (DESIGN §17): every feed event of every followed book — books that
//! orders trade on, configured symbols, books someone watches — appended to its tape in
//! `store.tape_dir`, off the ingest path (the hub hands events over a bounded channel and
//! never waits; what it had to drop is counted and marked in the tapes as a resync).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use market::{FeedEvent, Recorded, RecorderTap, Recording};
use model::{BookState, ExchangeId, Symbol, Timestamp};
use tape::{TapeDir, TapeEvent, WriterConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Events the hub may hold for the recorder before it drops (about 10 s of a busy venue).
const QUEUE: usize = 65_536;
/// Events taken at once.
const BATCH: usize = 4_096;
/// How long the recorder lets events gather after a batch.
const GATHER: Duration = Duration::from_millis(20);

/// A running recorder.
#[derive(Debug)]
pub struct Recorder {
    /// The tap to give the hub.
    pub tap: Arc<RecorderTap>,
    /// The task: it ends, tapes flushed, when its token is cancelled.
    pub task: tokio::task::JoinHandle<()>,
    consumed: mpsc::Sender<Consumed>,
    flushes: mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
}

/// Asks the recorder to write out what it holds (a what-if about to read the tapes).
#[derive(Debug, Clone)]
pub struct Flusher(mpsc::Sender<tokio::sync::oneshot::Sender<()>>);

impl Flusher {
    /// Return once everything handed to the recorder so far is written to the tapes (or
    /// at once when the recorder has stopped).
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.0.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Liquidity a paper fill took, on its way to the book's tape.
#[derive(Debug)]
struct Consumed {
    exchange: ExchangeId,
    symbol: String,
    event: TapeEvent,
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
    let (tx, rx) = mpsc::channel(QUEUE);
    let (consumed, consumed_rx) = mpsc::channel(QUEUE);
    let (flushes, flush_rx) = mpsc::channel(64);
    let tap = Arc::new(RecorderTap::new(tx));
    info!(dir = %dir.display(), retention_days, "recording books to tapes");
    let task = tokio::spawn(run(
        tapes,
        Inputs {
            rx,
            consumed: consumed_rx,
            flushes: flush_rx,
        },
        tap.clone(),
        retention_days,
        shutdown,
    ));
    Ok(Recorder {
        tap,
        task,
        consumed,
        flushes,
    })
}

impl Recorder {
    /// A handle that makes the recorder write out what it holds.
    pub fn flusher(&self) -> Flusher {
        Flusher(self.flushes.clone())
    }

    /// Record the liquidity every filled slice takes (what a what-if of another order must
    /// not take again), from the engine's published updates, until `shutdown`; and when the
    /// last open order of a book ends, that the book's paper ledger is released (the engine
    /// forgets it then).
    pub fn follow_fills(
        &self,
        mut updates: tokio::sync::broadcast::Receiver<Arc<engine::Update>>,
        shutdown: CancellationToken,
    ) {
        let tx = self.consumed.clone();
        tokio::spawn(async move {
            let mut open: HashMap<(ExchangeId, Symbol), HashSet<i64>> = HashMap::new();
            loop {
                let u = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    u = updates.recv() => u,
                };
                let u = match u {
                    Ok(u) => u,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        warn!(
                            updates = n,
                            "the recorder missed order updates; their fills are not on tape"
                        );
                        continue;
                    }
                    Err(_) => return,
                };
                for item in fills_of(&u).chain(releases(&mut open, &u)) {
                    if tx.try_send(item).is_err() {
                        warn!("the recorder is behind; a paper fill is not on tape");
                    }
                }
            }
        });
    }
}

/// The liquidity an update's slice took, as tape events.
fn fills_of(u: &engine::Update) -> impl Iterator<Item = Consumed> + '_ {
    let o = &u.order;
    u.slice.iter().flat_map(move |s| {
        s.fills
            .iter()
            .enumerate()
            .filter_map(move |(i, (price, qty))| {
                let shown = s.fill_shown.get(i).copied().unwrap_or(*qty);
                let (Ok(price), Ok(qty), Ok(shown)) = (
                    model::Price::try_from(*price),
                    model::Qty::try_from(*qty),
                    model::Qty::try_from(shown),
                ) else {
                    return None;
                };
                Some(Consumed {
                    exchange: s.fill_venues.get(i).copied().unwrap_or(o.exchange()),
                    symbol: o.symbol().to_string(),
                    event: TapeEvent::Consumed {
                        local: s.executed_at,
                        order: o.id(),
                        side: o.side().takes(),
                        price,
                        qty,
                        shown,
                    },
                })
            })
    })
}

/// Follow which orders are open on which books; when an update ends a book's last open
/// order, that book's release.
fn releases(
    open: &mut HashMap<(ExchangeId, Symbol), HashSet<i64>>,
    u: &engine::Update,
) -> Vec<Consumed> {
    let o = &u.order;
    let mut out = Vec::new();
    for key in o.books() {
        if o.status().is_open() {
            open.entry(key).or_default().insert(o.id());
        } else if let Some(ids) = open.get_mut(&key)
            && ids.remove(&o.id())
            && ids.is_empty()
        {
            open.remove(&key);
            out.push(Consumed {
                exchange: key.0,
                symbol: key.1.to_string(),
                event: TapeEvent::Released {
                    local: o.closed_at().unwrap_or_else(Timestamp::now),
                },
            });
        }
    }
    out
}

/// What the recorder reads: the hub's events, paper fills and flush requests.
struct Inputs {
    rx: mpsc::Receiver<Recorded>,
    consumed: mpsc::Receiver<Consumed>,
    flushes: mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
}

async fn run(
    mut tapes: TapeDir,
    Inputs {
        mut rx,
        mut consumed,
        mut flushes,
    }: Inputs,
    tap: Arc<RecorderTap>,
    retention_days: u32,
    shutdown: CancellationToken,
) {
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut sweep = tokio::time::interval(Duration::from_secs(3_600));
    let mut dropped = 0u64;
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            n = rx.recv_many(&mut buf, BATCH) => {
                if n == 0 {
                    break;
                }
                for r in buf.drain(..) {
                    record(&mut tapes, r);
                }
                // Let events gather: one wake-up per batch, not per event (the tapes are
                // written once a second anyway); a full batch means more is waiting.
                if n < BATCH {
                    tokio::time::sleep(GATHER).await;
                }
            }
            Some(c) = consumed.recv() => append(&mut tapes, c.exchange, &c.symbol, &c.event),
            Some(done) = flushes.recv() => {
                while let Ok(r) = rx.try_recv() {
                    record(&mut tapes, r);
                }
                while let Ok(c) = consumed.try_recv() {
                    append(&mut tapes, c.exchange, &c.symbol, &c.event);
                }
                if let Err(e) = tapes.flush() {
                    warn!(error = %e, "could not write tapes");
                }
                let _ = done.send(());
            }
            _ = flush.tick() => {
                let now = tap.dropped();
                if now > dropped {
                    warn!(dropped = now - dropped, "the recorder fell behind; the tapes are marked resyncing until the venues' next snapshots");
                    dropped = now;
                    let ev = TapeEvent::State { local: Timestamp::now(), state: BookState::Resyncing };
                    if let Err(e) = tapes.append_all(&ev) {
                        warn!(error = %e, "could not mark the tapes");
                    }
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
    while let Ok(r) = rx.try_recv() {
        record(&mut tapes, r);
    }
    while let Ok(c) = consumed.try_recv() {
        append(&mut tapes, c.exchange, &c.symbol, &c.event);
    }
    if let Err(e) = tapes.flush() {
        warn!(error = %e, "could not write tapes at shutdown");
    }
}

fn record(tapes: &mut TapeDir, r: Recorded) {
    let ex = r.exchange;
    let feed = match r.event {
        Recording::Feed(f) => f,
        Recording::Checkpoint {
            symbol,
            at,
            bids,
            asks,
        } => {
            let ev = TapeEvent::Checkpoint {
                local: at,
                bids,
                asks,
            };
            append(tapes, ex, symbol.as_str(), &ev);
            return;
        }
    };
    match feed {
        FeedEvent::Book {
            symbol,
            event,
            received,
        } => {
            let ev = TapeEvent::Book {
                local: received,
                event,
            };
            append(tapes, ex, symbol.as_str(), &ev);
        }
        FeedEvent::Trades { symbol, trades } => {
            for t in trades {
                append(tapes, ex, symbol.as_str(), &TapeEvent::Trade(t));
            }
        }
        FeedEvent::State { symbol, state, .. } => {
            let ev = TapeEvent::State { local: r.at, state };
            append(tapes, ex, symbol.as_str(), &ev);
        }
        // The hub records book states as it publishes them (a lost connection included).
        FeedEvent::Connection { .. } => {}
    }
}

fn append(tapes: &mut TapeDir, exchange: ExchangeId, symbol: &str, ev: &TapeEvent) {
    if let Err(e) = tapes.append(exchange.as_str(), symbol, ev) {
        warn!(%exchange, symbol, error = %e, "could not record to tape");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use market::{Exchange, Hub, HubConfig};
    use model::{BookEvent, OrderBook};
    use sim::{SimConfig, SimExchange};
    use tape::TapeReader;

    /// The sim's books recorded for a while: replaying each tape gives exactly the book the
    /// hub ended with (every event it applied was recorded, in order), and its trades.
    #[tokio::test]
    async fn a_recorded_tape_replays_to_the_hubs_book() {
        let dir = tempfile::tempdir().unwrap();
        let stop_recorder = CancellationToken::new();
        let Recorder { tap, task, .. } =
            start(dir.path().join("tapes"), 7, stop_recorder.clone()).unwrap();
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
            recorder: Some(tap.clone()),
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
        task.await.unwrap();
        assert_eq!(tap.dropped(), 0);

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
