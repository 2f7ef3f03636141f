//! The engine's handle and the types its callers see: what to submit, what comes back,
//! what can go wrong, and the activity counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use model::{ExchangeId, Pair, Timestamp};
use rust_decimal::Decimal;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::Clock;
use crate::core::{CancelError, Update};
use crate::order::{Order, OrderStatus};
use crate::plan::{Limits, OrderRequest, Rejection};
use crate::ports::{OrderDetail, OrderQuery, OrderStore, StatusFilter, StoreFailure};
use crate::runner::Command;
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

impl EngineConfig {
    /// The taker fee of `exchange`, basis points (0 when none is configured).
    pub fn fee_of(&self, exchange: ExchangeId) -> Decimal {
        self.fees.get(&exchange).copied().unwrap_or_default()
    }
}

/// A decoded request for a new order, with the pair it trades and the request text as the
/// client sent it (compared on a repeated `token_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The owner.
    pub user_id: i64,
    /// The decoded request.
    pub request: OrderRequest,
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

pub(crate) type SubmitReply = oneshot::Sender<Result<Vec<SubmitOutcome>, BatchError>>;
pub(crate) type CancelReply = oneshot::Sender<Result<OrderDetail, EngineError>>;

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
    /// Symbols whose lease this instance holds (several instances on PostgreSQL; 0 alone).
    pub leases: AtomicU64,
    /// Batches of slices not written because a lease had moved on (fenced), since start.
    pub fenced: AtomicU64,
}

impl EngineStats {
    pub(crate) fn count(&self, u: &Update) {
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
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) updates: broadcast::Sender<Arc<Update>>,
    pub(crate) clock: Clock,
    pub(crate) stats: Arc<EngineStats>,
    pub(crate) view: OpenOrders,
    pub(crate) store: Arc<dyn OrderStore>,
    pub(crate) ownership: Arc<dyn crate::ports::Ownership>,
    pub(crate) config: Arc<EngineConfig>,
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

    /// One of a user's orders as stored, with the request it was created from (what the
    /// lab re-runs). Another user's order is `None`, like a missing one.
    pub async fn stored(
        &self,
        user_id: i64,
        token_id: &TokenId,
    ) -> Result<Option<crate::StoredOrder>, EngineError> {
        Ok(self.store.find(user_id, token_id).await?)
    }

    /// A user's orders matching `q`, newest first, without slices, and the total: open
    /// orders only are answered from memory; any other listing from the store (whose
    /// rows are committed before anything is published).
    pub async fn orders(
        &self,
        user_id: i64,
        q: &OrderQuery,
    ) -> Result<(Vec<Order>, u64), EngineError> {
        // With several instances, another may execute some of them: the store knows all.
        if q.status == StatusFilter::Open && !self.ownership.clustered() {
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
                Some(s) if self.ownership.clustered() => {
                    return self.cancel_elsewhere(s).await;
                }
                Some(_) => {}
            }
        }
        Err(CancelError::NotFound.into())
    }

    /// Cancel an open order another instance executes (or will, after a take-over): ask
    /// it, then wait for the order to end, within [`crate::Ownership::cancel_wait`].
    async fn cancel_elsewhere(&self, s: crate::StoredOrder) -> Result<OrderDetail, EngineError> {
        let (user, token) = (s.order.user_id(), s.order.token_id().clone());
        self.ownership.request_cancel(s.order.id()).await?;
        let deadline = tokio::time::Instant::now() + self.ownership.cancel_wait();
        loop {
            // Taken over by this instance meanwhile: cancelled here.
            if let Some(id) = self.view.id_of(user, &token) {
                match self.call(|tx| Command::Cancel(id, tx)).await? {
                    Err(EngineError::Cancel(CancelError::NotFound)) => {}
                    other => return other,
                }
            }
            match self.store.find(user, &token).await? {
                None => return Err(CancelError::NotFound.into()),
                Some(s) if s.order.status() == OrderStatus::Cancelled => return Ok(s.into()),
                Some(s) if !s.order.status().is_open() => {
                    return Err(CancelError::AlreadyFinal(s.order.status()).into());
                }
                Some(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(EngineError::Store(crate::StoreFailure(
                        "the instance executing this order did not cancel it in time; the cancel stays asked and is carried out when it or its successor next looks".to_owned(),
                    )));
                }
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    /// Execute these stored open orders from now on (this instance took their symbol's
    /// lease): slices missed meanwhile are recorded `server_down`, as after a restart.
    /// How many resumed (orders already executing here are left as they are).
    pub async fn adopt(&self, orders: Vec<crate::StoredOrder>) -> Result<usize, EngineError> {
        self.call(|tx| Command::Adopt(orders, tx)).await
    }

    /// Stop executing `symbol`'s orders (its lease was lost), writing nothing more.
    pub async fn drop_symbol(&self, symbol: model::Symbol) -> Result<(), EngineError> {
        self.tx
            .send(Command::Drop(symbol))
            .await
            .map_err(|_| EngineError::Stopped)
    }

    /// Cancel an order executed here whose cancel another instance was asked.
    pub async fn cancel_asked(&self, id: crate::OrderId) -> Result<(), EngineError> {
        self.tx
            .send(Command::CancelAsked(id))
            .await
            .map_err(|_| EngineError::Stopped)
    }

    /// Tell this instance's subscribers of a change another instance stored.
    pub fn publish_elsewhere(&self, u: Update) {
        let _ = self.updates.send(Arc::new(u));
    }

    /// True when this instance executes the order.
    pub fn is_executing(&self, id: crate::OrderId) -> bool {
        self.view.contains(id)
    }

    /// The symbols of the open orders executing here.
    pub fn executing(&self) -> Vec<model::Symbol> {
        self.view.symbols()
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

    /// The engine's fees and limits.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Build the order `s` would create, without storing or scheduling it (for a preview):
    /// validated exactly as a submit is (`mid`: the book's mid now, if live), with the fee
    /// it would pay.
    pub fn draft(&self, s: &Submission, mid: Option<Decimal>) -> Result<Order, EngineError> {
        let now = self.clock.now();
        let plan = crate::plan::validate(&s.request, &s.pair, now, &self.config.limits, mid)
            .map_err(EngineError::Rejected)?;
        let fee = self.config.fee_of(s.request.exchange);
        Ok(Order::draft(s, plan, fee, now, mid))
    }

    /// Build the order a what-if of `original` runs: `s` (the original's request with the
    /// overrides) validated as it would have been when the original was accepted, with the
    /// original's id, owner and acceptance time.
    pub fn whatif_draft(&self, s: &Submission, original: &Order) -> Result<Order, EngineError> {
        let at = original.created_at;
        let plan = crate::plan::validate(&s.request, &s.pair, at, &self.config.limits, None)
            .map_err(EngineError::Rejected)?;
        // The fee the original paid (the configured one may have changed since).
        let mut order = Order::draft(s, plan, original.fee_bps, at, original.totals.decision_mid);
        order.id = original.id;
        order.user_id = original.user_id;
        order.token_id = original.token_id.clone();
        Ok(order)
    }

    /// Build the order a backtest runs: `s` validated as if submitted at `at` (its window's
    /// start), with the fee configured now. Its id (0) is no stored order's.
    pub fn backtest_draft(&self, s: &Submission, at: Timestamp) -> Result<Order, EngineError> {
        let plan = crate::plan::validate(&s.request, &s.pair, at, &self.config.limits, None)
            .map_err(EngineError::Rejected)?;
        let fee = self.config.fee_of(s.request.exchange);
        Ok(Order::draft(s, plan, fee, at, None))
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
