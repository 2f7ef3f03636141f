//! The read side of open orders: what has been **stored**, kept in memory so reads of open
//! orders never touch the store. Only the writer changes it, after each commit; closed
//! orders leave it (the store answers for them).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::core::Update;
use crate::order::{Order, OrderId};
use crate::ports::{OrderDetail, OrderQuery, StoredOrder};
use crate::slices::SliceList;
use crate::token::TokenId;

/// One open order as stored. Readers share its parts; the writer replaces them (copy on
/// write), so a read never copies an order or its slices.
#[derive(Debug)]
struct Entry {
    order: Arc<Order>,
    slices: SliceList,
    request: Arc<str>,
}

#[derive(Debug, Default)]
struct Inner {
    by_user: HashMap<i64, HashMap<TokenId, Entry>>,
    keys: HashMap<OrderId, (i64, TokenId)>,
}

/// Open orders as stored, by user and token id; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenOrders(Arc<RwLock<Inner>>);

impl OpenOrders {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing every read: keep serving.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Add a stored open order.
    pub(crate) fn insert(&self, s: StoredOrder) {
        if !s.order.status().is_open() {
            return;
        }
        let (user, token, id) = (s.order.user_id(), s.order.token_id().clone(), s.order.id());
        let entry = Entry {
            order: Arc::new(s.order),
            slices: SliceList::new(s.slices),
            request: s.request.into(),
        };
        let mut g = self.write();
        g.keys.insert(id, (user, token.clone()));
        g.by_user.entry(user).or_default().insert(token, entry);
    }

    /// Fold a stored update in. A closed order leaves the view; its detail is returned.
    pub(crate) fn apply(&self, u: &Update) -> Option<OrderDetail> {
        let mut g = self.write();
        let (user, token) = g.keys.get(&u.order.id())?.clone();
        let open = u.order.status().is_open();
        let entries = g.by_user.get_mut(&user)?;
        let e = entries.get_mut(&token)?;
        e.order = u.order.clone();
        if let Some(s) = &u.slice {
            e.slices = e.slices.pushed(s);
        }
        if let Some((index, values)) = u.markouts {
            e.slices = e.slices.with_markouts(index, values);
        }
        if open {
            return None;
        }
        let e = entries.remove(&token)?;
        if entries.is_empty() {
            g.by_user.remove(&user);
        }
        g.keys.remove(&u.order.id());
        Some(OrderDetail {
            order: e.order,
            slices: e.slices,
        })
    }

    /// Forget every order of a user (the user was removed; the store dropped them).
    pub(crate) fn forget_user(&self, user: i64) -> Vec<OrderId> {
        let mut g = self.write();
        let ids: Vec<OrderId> = g
            .by_user
            .remove(&user)
            .map(|m| m.values().map(|e| e.order.id()).collect())
            .unwrap_or_default();
        for id in &ids {
            g.keys.remove(id);
        }
        ids
    }

    /// Remove one order (no longer executed here).
    pub(crate) fn remove(&self, id: OrderId) {
        let mut g = self.write();
        if let Some((user, token)) = g.keys.remove(&id)
            && let Some(m) = g.by_user.get_mut(&user)
        {
            m.remove(&token);
            if m.is_empty() {
                g.by_user.remove(&user);
            }
        }
    }

    /// An open order with its slices and request text.
    pub(crate) fn get(&self, user: i64, token: &TokenId) -> Option<(OrderDetail, Arc<str>)> {
        let g = self.read();
        let e = g.by_user.get(&user)?.get(token)?;
        Some((
            OrderDetail {
                order: e.order.clone(),
                slices: e.slices.clone(),
            },
            e.request.clone(),
        ))
    }

    /// The id of an open order.
    pub(crate) fn id_of(&self, user: i64, token: &TokenId) -> Option<OrderId> {
        self.read()
            .by_user
            .get(&user)?
            .get(token)
            .map(|e| e.order.id())
    }

    /// A user's open orders matching `q`, newest first, and the total.
    pub(crate) fn list(&self, user: i64, q: &OrderQuery) -> (Vec<Order>, u64) {
        let g = self.read();
        let Some(m) = g.by_user.get(&user) else {
            return (Vec::new(), 0);
        };
        q.page(m.values().map(|e| &*e.order))
    }

    /// True when the order is held.
    pub(crate) fn contains(&self, id: OrderId) -> bool {
        self.read().keys.contains_key(&id)
    }

    /// The symbols of the open orders held, each once.
    pub(crate) fn symbols(&self) -> Vec<model::Symbol> {
        let g = self.read();
        let mut v: Vec<model::Symbol> = g
            .by_user
            .values()
            .flat_map(|m| m.values().map(|e| e.order.symbol().clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Open orders held.
    pub(crate) fn len(&self) -> usize {
        self.read().keys.len()
    }
}
