//! The actor around the core: one task owns the [`Engine`], sleeps until the next slice is
//! due, persists every change through an [`OrderStore`] **before** publishing it, and
//! serializes submits and cancels with slice execution (a cancel never interleaves with a
//! slice in progress).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use model::{ExchangeId, Symbol, Timestamp};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::core::{Books, CancelError, Engine, Update};
use crate::order::{Order, OrderId, OrderStatus};

/// The engine's clock: a wall-clock origin advanced by tokio's monotonic clock, so a paused
/// tokio clock (tests) drives the engine deterministically and wall-clock jumps cannot
/// reorder slices.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Timestamp,
    base: Instant,
}

impl Clock {
    /// Starting at the system time now.
    pub fn system() -> Self {
        Clock::starting_at(Timestamp::now())
    }

    /// Starting at `origin` now.
    pub fn starting_at(origin: Timestamp) -> Self {
        Clock {
            origin,
            base: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        let ns = i64::try_from(self.base.elapsed().as_nanos()).unwrap_or(i64::MAX / 2);
        Timestamp::from_nanos(self.origin.as_nanos().saturating_add(ns))
    }

    /// The tokio instant at which the clock shows `t`.
    pub fn instant_at(&self, t: Timestamp) -> Instant {
        let ns = t.as_nanos().saturating_sub(self.origin.as_nanos()).max(0);
        self.base + Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
    }
}

/// A store failure, as text (the store's own error type stays in the store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreFailure(pub String);

/// The result of inserting a new order.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    /// Written with this id.
    Inserted(OrderId),
    /// The user already has an order with this `token_id`; here it is, with the request
    /// text it was created from.
    Existing(Box<Order>, String),
}

/// Where orders and slices are kept.
pub trait OrderStore: Send + Sync + 'static {
    /// Insert a new order (with the request text as the client sent it, for idempotent
    /// replays), unless the user already has one with the same `token_id`.
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>>;
    /// Write these slices and the order totals/status that go with them, in one transaction.
    fn record<'a>(&'a self, updates: &'a [Update]) -> BoxFuture<'a, Result<(), StoreFailure>>;
    /// Every order still `pending` or `working`.
    fn load_open(&self) -> BoxFuture<'_, Result<Vec<Order>, StoreFailure>>;
}

/// Books, plus keeping a book subscribed while open orders use it.
pub trait BookAccess: Books + Send + Sync + 'static {
    /// A lease that keeps (exchange, symbol) subscribed while it lives.
    fn hold(&self, exchange: ExchangeId, symbol: &Symbol) -> Option<Box<dyn Send>>;
}

/// What a submit became.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// A new order.
    Created(Box<Order>),
    /// The same request was submitted before: the original order.
    Replayed(Box<Order>),
    /// The `token_id` is taken by a different request: the existing order.
    Conflict(Box<Order>),
}

/// Why the engine could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The store failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreFailure),
    /// Cancel refused.
    #[error(transparent)]
    Cancel(#[from] CancelError),
    /// The engine is stopping.
    #[error("the engine is stopping")]
    Stopped,
}

enum Command {
    Submit(
        Box<Order>,
        String,
        oneshot::Sender<Result<SubmitOutcome, EngineError>>,
    ),
    Cancel(OrderId, oneshot::Sender<Result<Update, EngineError>>),
}

/// Counters of stored engine activity (for `/metrics`).
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Orders accepted since start.
    pub accepted: AtomicU64,
    /// Orders open now.
    pub open: AtomicU64,
    /// Slices executed (filled in full or short) since start.
    pub slices_done: AtomicU64,
    /// Slices skipped since start.
    pub slices_skipped: AtomicU64,
    /// Orders that ended `filled` since start.
    pub filled: AtomicU64,
    /// Orders that ended `expired` since start.
    pub expired: AtomicU64,
    /// Orders that ended `cancelled` since start.
    pub cancelled: AtomicU64,
}

impl EngineStats {
    fn count(&self, u: &Update) {
        if let Some(s) = &u.slice {
            let c = if s.skipped.is_some() {
                &self.slices_skipped
            } else {
                &self.slices_done
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
        if u.previous.is_open() && !u.order.status.is_open() {
            let _ = self
                .open
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(1))
                });
            let c = match u.order.status {
                OrderStatus::Filled => &self.filled,
                OrderStatus::Expired => &self.expired,
                _ => &self.cancelled,
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A handle to the running engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    updates: broadcast::Sender<Arc<Update>>,
    clock: Clock,
    stats: Arc<EngineStats>,
}

impl EngineHandle {
    /// Submit a validated order (`id` is assigned by the store). `request` is the request as
    /// the client sent it, compared on a repeated `token_id`.
    pub async fn submit(
        &self,
        order: Order,
        request: String,
    ) -> Result<SubmitOutcome, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Submit(Box::new(order), request, tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Cancel an open order.
    pub async fn cancel(&self, id: OrderId) -> Result<Update, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Cancel(id, tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Every update, after it is stored (a receiver that falls behind gets `Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.updates.subscribe()
    }

    /// The engine's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Activity counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}

/// Open orders using a book, and the lease keeping it subscribed.
type Lease = (usize, Option<Box<dyn Send>>);

/// Work for the writer, in the order the engine produced it.
enum Write {
    /// Store these updates in one transaction, then publish them (and answer `reply`).
    Persist(
        Vec<Update>,
        Option<oneshot::Sender<Result<Update, EngineError>>>,
    ),
    /// Already stored (a new order): publish in sequence.
    Publish(Box<Update>),
}

/// Batches the writer may hold before the engine waits for it.
const WRITE_QUEUE: usize = 64;

struct Actor {
    engine: Engine,
    store: Arc<dyn OrderStore>,
    books: Arc<dyn BookAccess>,
    clock: Clock,
    writes: mpsc::Sender<Write>,
    /// Book leases by (exchange, symbol): how many open orders use it, and the lease.
    leases: HashMap<(ExchangeId, Symbol), Lease>,
    shutdown: CancellationToken,
}

/// Start the engine: load open orders, record slices missed while down, then run until
/// `shutdown`. Fails only when the store cannot be read or written at start.
pub async fn start(
    store: Arc<dyn OrderStore>,
    books: Arc<dyn BookAccess>,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), EngineError> {
    let (updates, _) = broadcast::channel(65_536);
    let (writes, write_rx) = mpsc::channel(WRITE_QUEUE);
    let mut actor = Actor {
        engine: Engine::new(),
        store: store.clone(),
        books,
        clock,
        writes,
        leases: HashMap::new(),
        shutdown: shutdown.clone(),
    };
    let open = actor.store.load_open().await?;
    let now = clock.now();
    let (mut resumed, mut ended) = (0usize, 0usize);
    for order in open {
        let key = (order.exchange, order.symbol.clone());
        let id = order.id;
        let missed = actor.engine.restore(order, now);
        if !missed.is_empty() {
            actor.store.record(&missed).await?;
        }
        if actor.engine.get(id).is_some() {
            resumed += 1;
            actor.hold(key);
        } else {
            ended += 1;
        }
    }
    info!(resumed, ended, "engine started");
    let stats = Arc::new(EngineStats::default());
    stats.open.store(resumed as u64, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(1_024);
    let writer = tokio::spawn(write_loop(
        store,
        updates.clone(),
        write_rx,
        shutdown,
        stats.clone(),
    ));
    let task = tokio::spawn(async move {
        actor.run(rx).await;
        // The actor has dropped its sender: the writer drains what is queued, then ends.
        let _ = writer.await;
    });
    Ok((
        EngineHandle {
            tx,
            updates,
            clock,
            stats,
        },
        task,
    ))
}

impl Actor {
    fn hold(&mut self, key: (ExchangeId, Symbol)) {
        let e = self.leases.entry(key.clone()).or_insert((0, None));
        if e.0 == 0 {
            e.1 = self.books.hold(key.0, &key.1);
        }
        e.0 += 1;
    }

    fn release(&mut self, key: &(ExchangeId, Symbol)) {
        if let Some(e) = self.leases.get_mut(key) {
            e.0 = e.0.saturating_sub(1);
            if e.0 == 0 {
                self.leases.remove(key);
            }
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let wake = self.engine.next_due().map(|t| self.clock.instant_at(t));
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(c) => self.on_command(c).await,
                    None => break,
                },
                _ = async { match wake { Some(w) => tokio::time::sleep_until(w).await, None => std::future::pending().await } } => {
                    let now = self.clock.now();
                    let batch = self.engine.run_due(now, &*self.books);
                    if !batch.is_empty() {
                        for u in &batch {
                            if !u.order.status.is_open() {
                                self.release(&(u.order.exchange, u.order.symbol.clone()));
                            }
                        }
                        // Executed on time; stored, then published, by the writer. If the
                        // writer is far behind, this waits (back-pressure).
                        let _ = self.writes.send(Write::Persist(batch, None)).await;
                    }
                }
            }
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Submit(mut order, request, reply) => {
                let now = self.clock.now();
                self.engine.admit(&mut order, now, &*self.books);
                let res = match self.store.insert(&order, &request).await {
                    Ok(InsertOutcome::Inserted(id)) => {
                        order.id = id;
                        self.hold((order.exchange, order.symbol.clone()));
                        self.engine.schedule((*order).clone());
                        let _ = self
                            .writes
                            .send(Write::Publish(Box::new(Update {
                                order: (*order).clone(),
                                slice: None,
                                previous: order.status,
                            })))
                            .await;
                        Ok(SubmitOutcome::Created(order))
                    }
                    Ok(InsertOutcome::Existing(existing, original)) => {
                        if original == request {
                            Ok(SubmitOutcome::Replayed(existing))
                        } else {
                            Ok(SubmitOutcome::Conflict(existing))
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "order not stored; rejected");
                        Err(EngineError::Store(e))
                    }
                };
                let _ = reply.send(res);
                // A first slice due now runs on the next loop turn.
            }
            Command::Cancel(id, reply) => {
                let now = self.clock.now();
                match self.engine.cancel(id, now) {
                    Ok(u) => {
                        self.release(&(u.order.exchange, u.order.symbol.clone()));
                        // Answered by the writer once stored, after every earlier slice.
                        let _ = self.writes.send(Write::Persist(vec![u], Some(reply))).await;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(EngineError::Cancel(e)));
                    }
                }
            }
        }
    }
}

/// The writer: stores batches in order (coalescing what is queued into one transaction),
/// retrying until the store accepts, and publishes each update only after its commit.
async fn write_loop(
    store: Arc<dyn OrderStore>,
    updates: broadcast::Sender<Arc<Update>>,
    mut rx: mpsc::Receiver<Write>,
    shutdown: CancellationToken,
    stats: Arc<EngineStats>,
) {
    while let Some(first) = rx.recv().await {
        let mut items = vec![first];
        while items.len() < WRITE_QUEUE
            && let Ok(more) = rx.try_recv()
        {
            items.push(more);
        }
        let batch: Vec<Update> = items
            .iter()
            .flat_map(|w| match w {
                Write::Persist(b, _) => b.clone(),
                Write::Publish(_) => Vec::new(),
            })
            .collect();
        if !batch.is_empty() {
            let mut delay = Duration::from_millis(50);
            loop {
                match store.record(&batch).await {
                    Ok(()) => break,
                    Err(e) if shutdown.is_cancelled() => {
                        error!(error = %e, slices = batch.len(), "could not store slices before stopping; they were never published and will be recorded as missed at the next start");
                        return;
                    }
                    Err(e) => {
                        error!(error = %e, slices = batch.len(), retry_in_ms = delay.as_millis() as u64, "could not store slices; holding them back");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        for w in items {
            match w {
                Write::Publish(u) => {
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    stats.open.fetch_add(1, Ordering::Relaxed);
                    let _ = updates.send(Arc::new(*u));
                }
                Write::Persist(b, reply) => {
                    let answer = b.first().cloned();
                    for u in b {
                        stats.count(&u);
                        let _ = updates.send(Arc::new(u));
                    }
                    if let (Some(r), Some(u)) = (reply, answer) {
                        let _ = r.send(Ok(u));
                    }
                }
            }
        }
    }
}

/// Final statuses, for callers mapping a stored order.
pub fn is_final(s: OrderStatus) -> bool {
    !s.is_open()
}
