//! The actor around the core: one task owns the [`Engine`], builds and admits new orders,
//! decides idempotent replay vs conflict (the only place that does), sleeps until the next
//! slice is due, persists every change through an [`OrderStore`] **before** publishing it,
//! and serializes submits and cancels with slice execution (a cancel never interleaves with
//! a slice in progress). Reads of open orders are answered from memory ([`OpenOrders`]),
//! which holds exactly what has been stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use model::{ExchangeId, Pair, Symbol};
use rust_decimal::Decimal;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::clock::Clock;
use crate::core::{CancelError, Engine, Update, live_mid};
use crate::order::{Order, OrderId, OrderStatus, Totals};
use crate::plan::{Limits, Rejection, TwapRequest, validate};
use crate::ports::{
    BookAccess, InsertOutcome, OrderDetail, OrderQuery, OrderStore, StatusFilter, StoreFailure,
    StoredOrder,
};
use crate::token::TokenId;
use crate::view::OpenOrders;

/// What the engine needs besides its ports.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Taker fee per exchange, basis points (0 when absent).
    pub fees: HashMap<ExchangeId, Decimal>,
    /// Order limits.
    pub limits: Limits,
}

/// A decoded request for a new order, with the pair it trades and the request text as the
/// client sent it (compared on a repeated `token_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The owner.
    pub user_id: i64,
    /// The decoded request.
    pub request: TwapRequest,
    /// The pair, resolved by the caller.
    pub pair: Pair,
    /// The request as the client sent it.
    pub fingerprint: String,
}

/// What a submit became.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// A new order, stored.
    Created(Box<OrderDetail>),
    /// The same request was submitted before: the original order as it is now.
    Replayed(Box<OrderDetail>),
}

impl SubmitOutcome {
    /// The order, new or replayed.
    pub fn detail(&self) -> &OrderDetail {
        match self {
            SubmitOutcome::Created(d) | SubmitOutcome::Replayed(d) => d,
        }
    }
}

/// Why the engine could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The store failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreFailure),
    /// The request is invalid for its pair or the limits.
    #[error("{}", .0.detail)]
    Rejected(Rejection),
    /// The `token_id` is taken by a different request.
    #[error("token_id `{0}` is already used by a different order")]
    Conflict(TokenId),
    /// Cancel refused.
    #[error(transparent)]
    Cancel(#[from] CancelError),
    /// The engine is stopping.
    #[error("the engine is stopping")]
    Stopped,
}

/// A batch refused: which item (0-based) and why. Nothing of the batch was created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("order #{index}: {error}")]
pub struct BatchError {
    /// The failing item.
    pub index: usize,
    /// Why.
    pub error: EngineError,
}

type SubmitReply = oneshot::Sender<Result<Vec<SubmitOutcome>, BatchError>>;
type CancelReply = oneshot::Sender<Result<OrderDetail, EngineError>>;

enum Command {
    Submit(Vec<Submission>, SubmitReply),
    Cancel(OrderId, CancelReply),
    /// Answered once everything queued before it is stored and in the read view.
    Barrier(oneshot::Sender<()>),
    /// Drop every open order of a removed user (its rows are gone from the store).
    ForgetUser(i64),
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
        if u.previous.is_open() && !u.order.status().is_open() {
            let _ = self
                .open
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(1))
                });
            let c = match u.order.status() {
                OrderStatus::Filled => &self.filled,
                OrderStatus::Expired => &self.expired,
                _ => &self.cancelled,
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A handle to the running engine; cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    updates: broadcast::Sender<Arc<Update>>,
    clock: Clock,
    stats: Arc<EngineStats>,
    view: OpenOrders,
    store: Arc<dyn OrderStore>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle")
            .field("open", &self.view.len())
            .finish_non_exhaustive()
    }
}

impl EngineHandle {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// Submit one order: created (stored before this returns), replayed (same `token_id`,
    /// same request), or refused.
    pub async fn submit(&self, s: Submission) -> Result<SubmitOutcome, EngineError> {
        let mut out = self.submit_batch(vec![s]).await.map_err(|e| e.error)?;
        out.pop().ok_or(EngineError::Stopped)
    }

    /// Submit several orders, all or nothing: if any item is refused (invalid, or a
    /// `token_id` taken by a different request), none is created.
    pub async fn submit_batch(
        &self,
        items: Vec<Submission>,
    ) -> Result<Vec<SubmitOutcome>, BatchError> {
        let stopped = |_| BatchError {
            index: 0,
            error: EngineError::Stopped,
        };
        self.call(|tx| Command::Submit(items, tx))
            .await
            .map_err(stopped)?
    }

    /// One of a user's orders with its slices: an open order from memory, a closed one
    /// from the store. Another user's order is `None`, like a missing one.
    pub async fn order(
        &self,
        user_id: i64,
        token_id: &TokenId,
    ) -> Result<Option<OrderDetail>, EngineError> {
        if let Some((d, _)) = self.view.get(user_id, token_id) {
            return Ok(Some(d));
        }
        Ok(self
            .store
            .find(user_id, token_id)
            .await?
            .map(OrderDetail::from))
    }

    /// A user's orders matching `q`, newest first, without slices, and the total: open
    /// orders only are answered from memory; any other listing from the store (whose
    /// rows are committed before anything is published).
    pub async fn orders(
        &self,
        user_id: i64,
        q: &OrderQuery,
    ) -> Result<(Vec<Order>, u64), EngineError> {
        if q.status == StatusFilter::Open {
            return Ok(self.view.list(user_id, q));
        }
        Ok(self.store.list(user_id, q).await?)
    }

    /// Cancel an open order; cancelling a cancelled order answers it again. A filled or
    /// expired order is [`CancelError::AlreadyFinal`], a missing one
    /// [`CancelError::NotFound`].
    pub async fn cancel(
        &self,
        user_id: i64,
        token_id: &TokenId,
    ) -> Result<OrderDetail, EngineError> {
        // Two rounds: an order inserted but not yet in the read view shows up after the
        // barrier.
        for _ in 0..2 {
            if let Some(id) = self.view.id_of(user_id, token_id) {
                match self.call(|tx| Command::Cancel(id, tx)).await? {
                    Err(EngineError::Cancel(CancelError::NotFound)) => {}
                    other => return other,
                }
            }
            // Ended meanwhile, or never open here: once everything queued is stored, the
            // store tells.
            self.call(Command::Barrier).await?;
            match self.store.find(user_id, token_id).await? {
                None => return Err(CancelError::NotFound.into()),
                Some(s) if s.order.status() == OrderStatus::Cancelled => return Ok(s.into()),
                Some(s) if !s.order.status().is_open() => {
                    return Err(CancelError::AlreadyFinal(s.order.status()).into());
                }
                Some(_) => {}
            }
        }
        Err(CancelError::NotFound.into())
    }

    /// Drop a removed user's open orders (the store removed them with the user).
    pub async fn forget_user(&self, user_id: i64) -> Result<(), EngineError> {
        self.tx
            .send(Command::ForgetUser(user_id))
            .await
            .map_err(|_| EngineError::Stopped)
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
type Lease = (usize, Option<Box<dyn Send + Sync>>);

/// Work for the writer, in the order the engine produced it.
enum Write {
    /// Store these updates in one transaction, then publish them (and answer `reply`).
    Persist(Vec<Update>, Option<CancelReply>),
    /// Already stored (a new order): into the read view, then published, in sequence.
    Created(Box<StoredOrder>),
    /// Answer once everything before is stored.
    Barrier(oneshot::Sender<()>),
}

/// Batches the writer may hold before the engine waits for it.
const WRITE_QUEUE: usize = 64;

struct Actor {
    engine: Engine,
    config: EngineConfig,
    store: Arc<dyn OrderStore>,
    books: Arc<dyn BookAccess>,
    view: OpenOrders,
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
    config: EngineConfig,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), EngineError> {
    let (updates, _) = broadcast::channel(65_536);
    let (writes, write_rx) = mpsc::channel(WRITE_QUEUE);
    let view = OpenOrders::default();
    let mut actor = Actor {
        engine: Engine::new(),
        config,
        store: store.clone(),
        books,
        view: view.clone(),
        clock,
        writes,
        leases: HashMap::new(),
        shutdown: shutdown.clone(),
    };
    let (resumed, ended) = actor.restore().await?;
    info!(resumed, ended, "engine started");
    let stats = Arc::new(EngineStats::default());
    stats.open.store(resumed as u64, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(1_024);
    let writer = tokio::spawn(
        Writer {
            store: store.clone(),
            updates: updates.clone(),
            view: view.clone(),
            shutdown,
            stats: stats.clone(),
        }
        .run(write_rx),
    );
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
            view,
            store,
        },
        task,
    ))
}

/// One item of a submit being prepared.
enum Prepared {
    Existing(Box<OrderDetail>),
    New(Box<Order>, String),
}

impl Actor {
    /// Load open orders; record slices missed while down; fill the read view.
    async fn restore(&mut self) -> Result<(usize, usize), EngineError> {
        let open = self.store.load_open().await?;
        let now = self.clock.now();
        let (mut resumed, mut ended) = (0usize, 0usize);
        for stored in open {
            let StoredOrder {
                order,
                mut slices,
                request,
            } = stored;
            let key = (order.exchange(), order.symbol().clone());
            let id = order.id();
            let mut latest = order.clone();
            let missed = self.engine.restore(order, now);
            if !missed.is_empty() {
                self.store.record(&missed).await?;
            }
            for u in missed {
                slices.extend(u.slice);
                latest = u.order;
            }
            if self.engine.get(id).is_some() {
                resumed += 1;
                self.hold(key);
                self.view.insert(StoredOrder {
                    order: latest,
                    slices,
                    request,
                });
            } else {
                ended += 1;
            }
        }
        Ok((resumed, ended))
    }

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
                            if !u.order.status().is_open() {
                                self.release(&(u.order.exchange(), u.order.symbol().clone()));
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
            Command::Submit(items, reply) => {
                let res = self.submit(items).await;
                let _ = reply.send(res);
                // A first slice due now runs on the next loop turn.
            }
            Command::Cancel(id, reply) => {
                let now = self.clock.now();
                match self.engine.cancel(id, now) {
                    Ok(u) => {
                        self.release(&(u.order.exchange(), u.order.symbol().clone()));
                        // Answered by the writer once stored, after every earlier slice.
                        let _ = self.writes.send(Write::Persist(vec![u], Some(reply))).await;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(EngineError::Cancel(e)));
                    }
                }
            }
            Command::Barrier(reply) => {
                let _ = self.writes.send(Write::Barrier(reply)).await;
            }
            Command::ForgetUser(user) => {
                for id in self.view.forget_user(user) {
                    if let Some(o) = self.engine.forget(id) {
                        self.release(&(o.exchange(), o.symbol().clone()));
                    }
                }
            }
        }
    }

    /// The stored order with this token id, if any (memory first).
    async fn existing(
        &self,
        user: i64,
        token: &TokenId,
    ) -> Result<Option<(OrderDetail, Arc<str>)>, StoreFailure> {
        if let Some(found) = self.view.get(user, token) {
            return Ok(Some(found));
        }
        Ok(self.store.find(user, token).await?.map(|s| {
            let req: Arc<str> = s.request.as_str().into();
            (OrderDetail::from(s), req)
        }))
    }

    fn replay_or_conflict(
        found: (OrderDetail, Arc<str>),
        fingerprint: &str,
    ) -> Result<OrderDetail, EngineError> {
        let (detail, request) = found;
        if &*request == fingerprint {
            Ok(detail)
        } else {
            Err(EngineError::Conflict(detail.order.token_id().clone()))
        }
    }

    /// Build a new order from a validated request.
    fn build(&self, s: &Submission, plan: crate::plan::Plan) -> Order {
        let r = &s.request;
        let now = self.clock.now();
        let mut order = Order {
            id: 0,
            user_id: s.user_id,
            token_id: r.token_id.clone(),
            exchange: r.exchange,
            symbol: s.pair.symbol.clone(),
            side: r.side,
            limit_price: r.limit_price,
            catch_up: r.catch_up,
            plan,
            fee_bps: self
                .config
                .fees
                .get(&r.exchange)
                .copied()
                .unwrap_or_default(),
            created_at: now,
            status: OrderStatus::Pending,
            closed_at: None,
            next_index: 0,
            totals: Totals::default(),
        };
        self.engine.admit(&mut order, now, &*self.books);
        order
    }

    /// Prepare one item: an existing order to replay, a new order to insert, or why not.
    async fn prepare(&self, s: &Submission, batch: bool) -> Result<Prepared, EngineError> {
        let token = &s.request.token_id;
        // A batch checks the store up front, so a conflict later in the batch can never
        // leave earlier items created; a single submit learns it from the insert.
        let known = match self.view.get(s.user_id, token) {
            Some(f) => Some(f),
            None if batch => self.existing(s.user_id, token).await?,
            None => None,
        };
        if let Some(found) = known {
            return Self::replay_or_conflict(found, &s.fingerprint)
                .map(|d| Prepared::Existing(Box::new(d)));
        }
        let now = self.clock.now();
        let mid = live_mid(&*self.books, s.request.exchange, &s.pair.symbol);
        match validate(&s.request, &s.pair, now, &self.config.limits, mid) {
            Ok(plan) => Ok(Prepared::New(
                Box::new(self.build(s, plan)),
                s.fingerprint.clone(),
            )),
            Err(rejection) => {
                // A repeat of an order that has ended may no longer validate (its start has
                // passed): it is still a replay.
                if !batch && let Some(found) = self.existing(s.user_id, token).await? {
                    return Self::replay_or_conflict(found, &s.fingerprint)
                        .map(|d| Prepared::Existing(Box::new(d)));
                }
                Err(EngineError::Rejected(rejection))
            }
        }
    }

    async fn submit(&mut self, items: Vec<Submission>) -> Result<Vec<SubmitOutcome>, BatchError> {
        let batch = items.len() > 1;
        let mut prepared = Vec::with_capacity(items.len());
        for (index, s) in items.iter().enumerate() {
            let p = self
                .prepare(s, batch)
                .await
                .map_err(|error| BatchError { index, error })?;
            prepared.push(p);
        }
        let mut out = Vec::with_capacity(prepared.len());
        for (index, p) in prepared.into_iter().enumerate() {
            let outcome = match p {
                Prepared::Existing(d) => SubmitOutcome::Replayed(d),
                Prepared::New(order, request) => self
                    .insert(*order, request)
                    .await
                    .map_err(|error| BatchError { index, error })?,
            };
            out.push(outcome);
        }
        Ok(out)
    }

    async fn insert(
        &mut self,
        mut order: Order,
        request: String,
    ) -> Result<SubmitOutcome, EngineError> {
        match self.store.insert(&order, &request).await {
            Ok(InsertOutcome::Inserted(id)) => {
                order.id = id;
                info!(token_id = %order.token_id, user = order.user_id, exchange = %order.exchange, symbol = %order.symbol, "order accepted");
                self.hold((order.exchange, order.symbol.clone()));
                self.engine.schedule(order.clone());
                let detail = OrderDetail {
                    order: order.clone(),
                    slices: Vec::new(),
                };
                let _ = self
                    .writes
                    .send(Write::Created(Box::new(StoredOrder {
                        order,
                        slices: Vec::new(),
                        request,
                    })))
                    .await;
                Ok(SubmitOutcome::Created(Box::new(detail)))
            }
            Ok(InsertOutcome::Existing(existing)) => {
                let req: Arc<str> = existing.request.as_str().into();
                Self::replay_or_conflict((OrderDetail::from(*existing), req), &request)
                    .map(|d| SubmitOutcome::Replayed(Box::new(d)))
            }
            Err(e) => {
                warn!(error = %e, "order not stored; rejected");
                Err(EngineError::Store(e))
            }
        }
    }
}

/// The writer: stores batches in order (coalescing what is queued into one transaction),
/// retrying until the store accepts, then updates the read view and publishes each update,
/// only after its commit.
struct Writer {
    store: Arc<dyn OrderStore>,
    updates: broadcast::Sender<Arc<Update>>,
    view: OpenOrders,
    shutdown: CancellationToken,
    stats: Arc<EngineStats>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Write>) {
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
                    _ => Vec::new(),
                })
                .collect();
            if !batch.is_empty() && !self.persist(&batch).await {
                return;
            }
            for w in items {
                self.publish(w).await;
            }
        }
    }

    /// Store a batch, retrying; false when stopping with the batch unstored.
    async fn persist(&self, batch: &[Update]) -> bool {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.record(batch).await {
                Ok(()) => return true,
                Err(e) if self.shutdown.is_cancelled() => {
                    error!(error = %e, slices = batch.len(), "could not store slices before stopping; they were never published and will be recorded as missed at the next start");
                    return false;
                }
                Err(e) => {
                    error!(error = %e, slices = batch.len(), retry_in_ms = delay.as_millis() as u64, "could not store slices; holding them back");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn publish(&self, w: Write) {
        match w {
            Write::Created(s) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                self.stats.open.fetch_add(1, Ordering::Relaxed);
                let u = Update {
                    previous: s.order.status(),
                    order: s.order.clone(),
                    slice: None,
                };
                self.view.insert(*s);
                let _ = self.updates.send(Arc::new(u));
            }
            Write::Persist(b, reply) => {
                let mut answer = None;
                for u in b {
                    self.stats.count(&u);
                    let closed = self.view.apply(&u);
                    if answer.is_none() {
                        answer = Some(closed.ok_or(u.order.token_id().clone()));
                    }
                    let _ = self.updates.send(Arc::new(u));
                }
                if let (Some(r), Some(a)) = (reply, answer) {
                    let res = match a {
                        Ok(detail) => Ok(detail),
                        // Not in the view (cannot happen for a cancel of an open order):
                        // the store has what was just committed.
                        Err(_) => Err(EngineError::Cancel(CancelError::NotFound)),
                    };
                    let _ = r.send(res);
                }
            }
            Write::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }
}
