//! [`MemoryStore`]: an [`OrderStore`] in memory, for tests and tools that need a real
//! engine without a database. Not durable; failures can be injected.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::core::Update;
use crate::order::{Order, OrderId, OrderStatus, SliceRecord};
use crate::ports::{InsertOutcome, OrderQuery, OrderStore, StoreFailure, StoredOrder};
use crate::token::TokenId;

#[derive(Debug, Default)]
struct Inner {
    orders: HashMap<OrderId, (Order, String)>,
    slices: Vec<(OrderId, SliceRecord)>,
    fail_writes: usize,
    reads_fail: bool,
}

/// Orders and slices in memory, keyed like the real store (unique `(user, token_id)`).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` writes of slices fail (the engine must hold them back and retry).
    pub fn fail_next_writes(&self, n: usize) {
        self.lock().fail_writes = n;
    }

    /// Writes still to fail.
    pub fn failing_writes(&self) -> usize {
        self.lock().fail_writes
    }

    /// While on, reads (`find`, `list`) fail: what is still answered comes from memory.
    pub fn fail_reads(&self, on: bool) {
        self.lock().reads_fail = on;
    }

    /// Orders stored.
    pub fn order_count(&self) -> usize {
        self.lock().orders.len()
    }

    /// Slices stored.
    pub fn slice_count(&self) -> usize {
        self.lock().slices.len()
    }

    /// True when slice `index` of order `id` is stored.
    pub fn has_slice(&self, id: OrderId, index: u32) -> bool {
        self.lock()
            .slices
            .iter()
            .any(|(o, s)| *o == id && s.index == index)
    }

    /// The stored status of order `id`.
    pub fn status(&self, id: OrderId) -> Option<OrderStatus> {
        self.lock().orders.get(&id).map(|(o, _)| o.status())
    }

    /// Remove a user's orders and slices, as removing the user does in the real store.
    pub fn remove_user(&self, user_id: i64) {
        let mut g = self.lock();
        let ids: Vec<OrderId> = g
            .orders
            .values()
            .filter(|(o, _)| o.user_id() == user_id)
            .map(|(o, _)| o.id())
            .collect();
        for id in &ids {
            g.orders.remove(id);
        }
        g.slices.retain(|(o, _)| !ids.contains(o));
    }

    fn stored(g: &Inner, id: OrderId) -> Option<StoredOrder> {
        let (o, r) = g.orders.get(&id)?;
        let mut slices: Vec<SliceRecord> = g
            .slices
            .iter()
            .filter(|(oid, _)| *oid == id)
            .map(|(_, s)| s.clone())
            .collect();
        slices.sort_by_key(|s| s.index);
        Some(StoredOrder {
            order: o.clone(),
            slices,
            request: r.clone(),
        })
    }

    fn id_of(g: &Inner, user: i64, token: &TokenId) -> Option<OrderId> {
        g.orders
            .values()
            .find(|(o, _)| o.user_id() == user && o.token_id() == token)
            .map(|(o, _)| o.id())
    }
}

fn unavailable() -> StoreFailure {
    StoreFailure("reads are failing (injected)".to_owned())
}

impl OrderStore for MemoryStore {
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>> {
        async move {
            let mut g = self.lock();
            if let Some(id) = Self::id_of(&g, order.user_id(), order.token_id()) {
                let existing = Self::stored(&g, id).ok_or_else(unavailable)?;
                return Ok(InsertOutcome::Existing(Box::new(existing)));
            }
            let id = g.orders.keys().max().copied().unwrap_or(0) + 1;
            let mut p = order.clone().into_parts();
            p.id = id;
            g.orders
                .insert(id, (Order::from_parts(p), request.to_owned()));
            Ok(InsertOutcome::Inserted(id))
        }
        .boxed()
    }

    fn record<'a>(
        &'a self,
        updates: &'a [Update],
    ) -> BoxFuture<'a, Result<Vec<model::Symbol>, StoreFailure>> {
        async move {
            let mut g = self.lock();
            if g.fail_writes > 0 {
                g.fail_writes -= 1;
                return Err(StoreFailure("disk full (injected)".to_owned()));
            }
            for u in updates {
                let id = u.order.id();
                // Updates of orders that no longer exist (their user was removed) are
                // skipped, as the real store does.
                if !g.orders.contains_key(&id) {
                    continue;
                }
                if let Some(s) = &u.slice {
                    if g.slices.iter().any(|(o, x)| *o == id && x.index == s.index) {
                        return Err(StoreFailure(format!("slice {id}/{} stored twice", s.index)));
                    }
                    g.slices.push((id, s.clone()));
                }
                if let Some((index, values)) = u.markouts
                    && let Some((_, s)) = g
                        .slices
                        .iter_mut()
                        .find(|(o, x)| *o == id && x.index == index)
                {
                    s.markouts = values;
                }
                if let Some(e) = g.orders.get_mut(&id) {
                    e.0 = (*u.order).clone();
                }
            }
            Ok(Vec::new())
        }
        .boxed()
    }

    fn load_open(&self) -> BoxFuture<'_, Result<Vec<StoredOrder>, StoreFailure>> {
        async move {
            let g = self.lock();
            let mut ids: Vec<OrderId> = g
                .orders
                .values()
                .filter(|(o, _)| o.status().is_open())
                .map(|(o, _)| o.id())
                .collect();
            ids.sort_unstable();
            Ok(ids
                .into_iter()
                .filter_map(|id| Self::stored(&g, id))
                .collect())
        }
        .boxed()
    }

    fn find<'a>(
        &'a self,
        user_id: i64,
        token_id: &'a TokenId,
    ) -> BoxFuture<'a, Result<Option<StoredOrder>, StoreFailure>> {
        async move {
            let g = self.lock();
            if g.reads_fail {
                return Err(unavailable());
            }
            Ok(Self::id_of(&g, user_id, token_id).and_then(|id| Self::stored(&g, id)))
        }
        .boxed()
    }

    fn list<'a>(
        &'a self,
        user_id: i64,
        q: &'a OrderQuery,
    ) -> BoxFuture<'a, Result<(Vec<Order>, u64), StoreFailure>> {
        async move {
            let g = self.lock();
            if g.reads_fail {
                return Err(unavailable());
            }
            Ok(q.page(
                g.orders
                    .values()
                    .map(|(o, _)| o)
                    .filter(|o| o.user_id() == user_id),
            ))
        }
        .boxed()
    }
}
