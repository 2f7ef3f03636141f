//! The actor around the core: one task owns the [`Engine`], builds and admits new orders,
//! decides idempotent replay vs conflict (the only place that does), sleeps until the next
//! slice is due, persists every change through an [`OrderStore`] **before** publishing it,
//! and serializes submits and cancels with slice execution (a cancel never interleaves with
//! a slice in progress). Reads of open orders are answered from memory (the read view),
//! which holds exactly what has been stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use model::{ExchangeId, Symbol};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::core::{Engine, live_mid};
use crate::handle::{
    BatchError, CancelReply, EngineConfig, EngineError, EngineHandle, EngineStats, Submission,
    SubmitOutcome, SubmitReply,
};
use crate::order::{Order, OrderId};
use crate::plan::validate;
use crate::ports::{
    Alone, BookAccess, InsertOutcome, OrderDetail, OrderStore, Ownership, StoreFailure, StoredOrder,
};
use crate::token::TokenId;
use crate::view::OpenOrders;
use crate::writer::{WRITE_QUEUE, Write, Writer};

pub(crate) enum Command {
    Submit(Vec<Submission>, SubmitReply),
    Cancel(OrderId, CancelReply),
    /// Answered once everything queued before it is stored and in the read view.
    Barrier(oneshot::Sender<()>),
    /// Drop every open order of a removed user (its rows are gone from the store).
    ForgetUser(i64),
    /// Execute these stored open orders from now on (a lease taken), as after a restart.
    Adopt(Vec<StoredOrder>, oneshot::Sender<usize>),
    /// Stop executing the orders of a symbol (its lease lost), writing nothing.
    Drop(Symbol),
    /// Cancel an order another instance was asked to cancel.
    CancelAsked(OrderId),
}

/// Open orders using a book, and the lease keeping it subscribed.
type Lease = (usize, Option<Box<dyn Send + Sync>>);

struct Actor {
    engine: Engine,
    config: EngineConfig,
    store: Arc<dyn OrderStore>,
    books: Arc<dyn BookAccess>,
    ownership: Arc<dyn Ownership>,
    view: OpenOrders,
    clock: Clock,
    writes: mpsc::Sender<Write>,
    /// Book leases by (exchange, symbol): how many open orders use it, and the lease.
    leases: HashMap<(ExchangeId, Symbol), Lease>,
    shutdown: CancellationToken,
    stats: Arc<EngineStats>,
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
    start_with(store, books, Arc::new(Alone), config, clock, shutdown).await
}

/// As [`start`], executing only the orders `ownership` says are this instance's (several
/// instances on one store): none at start; the rest come through [`EngineHandle::adopt`].
pub async fn start_with(
    store: Arc<dyn OrderStore>,
    books: Arc<dyn BookAccess>,
    ownership: Arc<dyn Ownership>,
    config: EngineConfig,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), EngineError> {
    let (updates, _) = broadcast::channel(65_536);
    let (writes, write_rx) = mpsc::channel(WRITE_QUEUE);
    let view = OpenOrders::default();
    let stats = Arc::new(EngineStats::default());
    let shared_config = Arc::new(config.clone());
    let mut actor = Actor {
        engine: Engine::new(),
        config,
        store: store.clone(),
        books,
        ownership: ownership.clone(),
        view: view.clone(),
        clock,
        writes,
        leases: HashMap::new(),
        shutdown: shutdown.clone(),
        stats: stats.clone(),
    };
    let (resumed, ended) = actor.restore().await?;
    info!(resumed, ended, "engine started");
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
            ownership,
            config: shared_config,
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
    /// Load open orders; record slices missed while down; fill the read view. With
    /// several instances, none: each is adopted with its symbol's lease.
    async fn restore(&mut self) -> Result<(usize, usize), EngineError> {
        if self.ownership.clustered() {
            return Ok((0, 0));
        }
        let open = self.store.load_open().await?;
        self.adopt(open).await
    }

    /// Execute stored open orders from now on (those not executing already): slices
    /// missed meanwhile recorded `server_down`, then into the read view. How many resumed
    /// and how many ended at once.
    async fn adopt(&mut self, open: Vec<StoredOrder>) -> Result<(usize, usize), EngineError> {
        let now = self.clock.now();
        let (mut resumed, mut ended) = (0usize, 0usize);
        for stored in open {
            if self.engine.get(stored.order.id()).is_some() {
                continue;
            }
            let StoredOrder {
                order,
                mut slices,
                request,
            } = stored;
            let keys = order.books();
            let id = order.id();
            let mut latest = order.clone();
            let missed = self.engine.restore(order, now);
            if !missed.is_empty() {
                self.store.record(&missed).await?;
            }
            for u in missed {
                slices.extend(u.slice);
                latest = Arc::unwrap_or_clone(u.order);
            }
            if self.engine.get(id).is_some() {
                resumed += 1;
                self.hold_all(&keys);
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

    fn hold_all(&mut self, keys: &[(ExchangeId, Symbol)]) {
        for k in keys {
            self.hold(k.clone());
        }
    }

    fn release_all(&mut self, keys: &[(ExchangeId, Symbol)]) {
        for k in keys {
            self.release(k);
        }
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
                            if u.previous.is_open() && !u.order.status().is_open() {
                                self.release_all(&u.order.books());
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
                        self.release_all(&u.order.books());
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
                    self.forget(id);
                }
            }
            Command::Adopt(orders, reply) => match self.adopt(orders).await {
                Ok((resumed, _)) => {
                    self.stats.open.fetch_add(resumed as u64, Ordering::Relaxed);
                    let _ = reply.send(resumed);
                }
                Err(e) => warn!(error = %e, "could not adopt orders; the next look retries"),
            },
            Command::Drop(symbol) => {
                for id in self.engine.ids_on(&symbol) {
                    self.view.remove(id);
                    self.forget(id);
                }
            }
            Command::CancelAsked(id) => {
                if let Ok(u) = self.engine.cancel(id, self.clock.now()) {
                    self.release_all(&u.order.books());
                    let _ = self.writes.send(Write::Persist(vec![u], None)).await;
                }
            }
        }
    }

    /// Stop executing an order without recording anything.
    fn forget(&mut self, id: OrderId) {
        if let Some(o) = self.engine.forget(id) {
            self.release_all(&o.books());
            let _ = self
                .stats
                .open
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(1))
                });
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
        let now = self.clock.now();
        let fee = self.config.fee_of(s.request.exchange);
        let mut order = Order::draft(s, plan, fee, now, None);
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
                if !self.ownership.owns(&order.symbol) {
                    // Stored: the instance executing this symbol takes it from the store.
                    self.ownership.unowned(&order.symbol);
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    return Ok(SubmitOutcome::Created(Box::new(OrderDetail {
                        order: Arc::new(order),
                        slices: crate::SliceList::default(),
                    })));
                }
                self.hold_all(&order.books());
                self.engine.schedule(order.clone());
                let detail = OrderDetail {
                    order: Arc::new(order.clone()),
                    slices: crate::SliceList::default(),
                };
                // Into the read view before the caller hears of it: a listing of open orders
                // right after the acknowledgement must show it (read your writes). The
                // writer publishes it after every update queued before it.
                self.view.insert(StoredOrder {
                    order: order.clone(),
                    slices: Vec::new(),
                    request,
                });
                let _ = self.writes.send(Write::Created(Box::new(order))).await;
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
