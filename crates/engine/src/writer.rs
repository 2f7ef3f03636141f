//! The writer: the only place that stores engine changes, then makes them visible (read
//! view, broadcast), in the order the engine produced them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::Order;
use crate::core::{CancelError, Update};
use crate::handle::{CancelReply, EngineError, EngineStats};
use crate::ports::OrderStore;
use crate::view::OpenOrders;

/// Work for the writer, in the order the engine produced it.
pub(crate) enum Write {
    /// Store these updates in one transaction, then publish them (and answer `reply`).
    Persist(Vec<Update>, Option<CancelReply>),
    /// Already stored and in the read view (a new order): published, in sequence with the
    /// updates before it.
    Created(Box<Order>),
    /// Answer once everything before is stored.
    Barrier(oneshot::Sender<()>),
}

/// Batches the writer may hold before the engine waits for it.
pub(crate) const WRITE_QUEUE: usize = 1024;
/// The writer: stores batches in order (coalescing what is queued into one transaction),
/// retrying until the store accepts, then updates the read view and publishes each update,
/// only after its commit.
pub(crate) struct Writer {
    pub(crate) store: Arc<dyn OrderStore>,
    pub(crate) updates: broadcast::Sender<Arc<Update>>,
    pub(crate) view: OpenOrders,
    pub(crate) shutdown: CancellationToken,
    pub(crate) stats: Arc<EngineStats>,
}

impl Writer {
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Write>) {
        while let Some(first) = rx.recv().await {
            let mut items = vec![first];
            while items.len() < WRITE_QUEUE
                && let Ok(more) = rx.try_recv()
            {
                items.push(more);
            }
            // The updates of every queued batch, moved (not copied) into one transaction;
            // each batch remembers where it ends, to be published in order after it.
            let mut batch: Vec<Update> = Vec::new();
            let mut after: Vec<Published> = Vec::with_capacity(items.len());
            for w in items {
                after.push(match w {
                    Write::Persist(b, reply) => {
                        batch.extend(b);
                        Published::Updates(batch.len(), reply)
                    }
                    Write::Created(order) => Published::Created(order),
                    Write::Barrier(reply) => Published::Barrier(reply),
                });
            }
            let fenced = if batch.is_empty() {
                Vec::new()
            } else {
                match self.persist(&batch).await {
                    Some(f) => f,
                    None => return,
                }
            };
            if !fenced.is_empty() {
                // Another instance took these symbols over: what this one did on them after
                // losing their lease was not written, and is not shown either.
                warn!(symbols = ?fenced, "lease lost: slices not written (fenced)");
                self.stats.fenced.fetch_add(1, Ordering::Relaxed);
            }
            let mut updates = batch.into_iter();
            let mut start = 0;
            for p in after {
                match p {
                    Published::Updates(end, reply) => {
                        let part: Vec<Update> = updates
                            .by_ref()
                            .take(end - start)
                            .filter(|u| !fenced.contains(u.order.symbol()))
                            .collect();
                        start = end;
                        self.publish(part, reply);
                    }
                    Published::Created(order) => self.created(order),
                    Published::Barrier(reply) => {
                        let _ = reply.send(());
                    }
                }
            }
        }
    }

    /// Store a batch, retrying: the symbols fenced off (not written), or `None` when
    /// stopping with the batch unstored.
    async fn persist(&self, batch: &[Update]) -> Option<Vec<model::Symbol>> {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.record(batch).await {
                Ok(fenced) => return Some(fenced),
                Err(e) if self.shutdown.is_cancelled() => {
                    error!(error = %e, slices = batch.len(), "could not store slices before stopping; they were never published and will be recorded as missed at the next start");
                    return None;
                }
                Err(e) => {
                    error!(error = %e, slices = batch.len(), retry_in_ms = delay.as_millis() as u64, "could not store slices; holding them back");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// A new order (already stored and in the read view), published in sequence.
    fn created(&self, order: Box<Order>) {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        let u = Update {
            previous: order.status(),
            order: Arc::from(order),
            slice: None,
            markouts: None,
        };
        let _ = self.updates.send(Arc::new(u));
    }

    /// Stored updates: into the read view, then to subscribers (and the cancel's answer).
    fn publish(&self, b: Vec<Update>, reply: Option<CancelReply>) {
        let mut answer = None;
        for u in b {
            self.stats.count(&u);
            let closed = self.view.apply(&u);
            if answer.is_none() {
                answer = Some(closed.ok_or(u.order.token_id().clone()));
            }
            // Markouts reach readers through the store and the read view; they are not
            // pushed (at 2 per filled slice they would triple what every orders subscriber
            // must take, for figures that change after the fact).
            if u.slice.is_some() || u.markouts.is_none() {
                let _ = self.updates.send(Arc::new(u));
            }
        }
        if let (Some(r), Some(a)) = (reply, answer) {
            let res = match a {
                Ok(detail) => Ok(detail),
                // Not in the view (cannot happen for a cancel of an open order): the store
                // has what was just committed.
                Err(_) => Err(EngineError::Cancel(CancelError::NotFound)),
            };
            let _ = r.send(res);
        }
    }
}

/// What to do after the commit, in the order the engine produced it.
enum Published {
    /// The batch's updates end (exclusive) at this position of the transaction.
    Updates(usize, Option<CancelReply>),
    Created(Box<Order>),
    Barrier(oneshot::Sender<()>),
}
