//! Rendered order bodies by order and version: an order's JSON changes only when the order
//! does (a slice recorded, a status change, a markout taken), so polling `GET /orders/{token_id}` of an
//! unchanged order reuses the bytes rendered for it instead of converting and serializing
//! the order again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use actix_web::web::Bytes;
use engine::{OrderDetail, OrderStatus};

use crate::convert;

/// Orders kept at most; beyond, the cache starts over (a bound, not an LRU: renders are
/// cheap, the cache only saves repeats).
const MAX_ORDERS: usize = 4_096;

type Version = (u32, u32, OrderStatus, u32);

/// Order bodies by order id (unique across users: the engine has already checked that the
/// caller owns the order) and version.
#[derive(Debug, Default)]
pub(crate) struct OrderJsonCache {
    map: Mutex<HashMap<i64, (Version, Bytes)>>,
}

impl OrderJsonCache {
    /// The JSON body of `d` (with its slices), rendered once per version.
    pub(crate) fn render(&self, d: &OrderDetail) -> Bytes {
        let (id, version) = (d.order.id(), d.version());
        {
            let g = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((v, body)) = g.get(&id)
                && *v == version
            {
                return body.clone();
            }
        }
        let body = Bytes::from(serde_json::to_vec(&convert::order_detail(d)).unwrap_or_default());
        let mut g = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if g.len() >= MAX_ORDERS {
            g.clear();
        }
        g.insert(id, (version, body.clone()));
        body
    }
}
