//! Readers' side of a book: [`BookWatch`] (latest snapshot, change notifications) and the
//! lease that keeps a lazily subscribed book alive while it is watched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use model::Pair;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{BookSnapshot, mono_ms};
use crate::error::MarketError;

/// A subscription to one book: the latest snapshot now and whenever it changes. Holding it
/// keeps the book subscribed.
#[derive(Debug)]
pub struct BookWatch {
    pub(super) rx: watch::Receiver<Arc<BookSnapshot>>,
    pub(super) _lease: Lease,
}

impl BookWatch {
    /// The latest published snapshot.
    pub fn current(&self) -> Arc<BookSnapshot> {
        self.rx.borrow().clone()
    }

    /// Wait until a newer snapshot is published.
    pub async fn changed(&mut self) -> Result<Arc<BookSnapshot>, MarketError> {
        self.rx
            .changed()
            .await
            .map_err(|_| MarketError::ShuttingDown)?;
        Ok(self.rx.borrow_and_update().clone())
    }

    /// Wait up to `timeout` for a snapshot satisfying `pred` (the current one counts).
    /// `Err` carries the last snapshot seen when the time ran out or the hub stopped.
    pub async fn wait_for(
        &mut self,
        timeout: std::time::Duration,
        pred: impl Fn(&BookSnapshot) -> bool,
    ) -> Result<Arc<BookSnapshot>, Arc<BookSnapshot>> {
        let cur = self.rx.borrow_and_update().clone();
        if pred(&cur) {
            return Ok(cur);
        }
        let found = tokio::time::timeout(timeout, async {
            while self.rx.changed().await.is_ok() {
                let s = self.rx.borrow_and_update().clone();
                if pred(&s) {
                    return Some(s);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(s)) => Ok(s),
            _ => Err(self.current()),
        }
    }
}

#[derive(Debug)]
pub(super) struct Lease {
    pub(super) slot: Arc<Slot>,
    pub(super) clock: Instant,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.touch(self.clock);
        self.slot.leases.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) pair: Pair,
    pub(super) tx: watch::Sender<Arc<BookSnapshot>>,
    /// The book's public trades, and their next sequence number for readers to wait on.
    pub(super) trades: Arc<std::sync::RwLock<super::trades::TradeTape>>,
    pub(super) trades_tx: watch::Sender<u64>,
    pub(super) leases: AtomicUsize,
    /// Monotonic ms (since hub start) of the last use.
    pub(super) last_used: AtomicU64,
    pub(super) pinned: bool,
}

impl Slot {
    pub(super) fn touch(&self, clock: Instant) {
        self.last_used.store(mono_ms(clock), Ordering::Relaxed);
    }
}
