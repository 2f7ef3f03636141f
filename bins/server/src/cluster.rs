//! Several instances on one PostgreSQL (DESIGN §19). Each open order's symbol is leased by
//! one instance, which alone executes its orders (every venue's book of the symbol: a routed
//! order crosses venues, and each book's liquidity ledger needs one writer). This module
//! holds the instance's leases ([`Cluster`], the engine's [`Ownership`]), fences its slice
//! writes with them ([`FencedOrders`]), and runs the keeper (renew every TTL/3, take over
//! expired leases and resume their orders as after a restart, adopt new orders, carry out
//! cancels asked elsewhere, give up leases with nothing open) and the listener (the other
//! instances' `NOTIFY`s: new orders, cancels, and order changes for this instance's
//! WebSocket clients).
//!
//! The holder id is new at every start (name, pid, random), so a restarted instance never
//! passes for its crashed predecessor; lease times are the database's clock; no session
//! advisory lock (they break behind PgBouncer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use engine::{
    EngineHandle, InsertOutcome, Order, OrderId, OrderQuery, OrderStore, Ownership, StoreFailure,
    StoredOrder, TokenId, Update,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use model::{Symbol, Timestamp};
use store::{Fence, Store, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ports::{StoreOrders, fail, record_items, stored};

/// This instance's part in a cluster: who it is and the leases it holds.
#[derive(Debug)]
pub struct Cluster {
    store: Store,
    holder: String,
    ttl_ms: i64,
    /// Held leases: symbol → epoch.
    leases: Mutex<HashMap<Symbol, i64>>,
    /// Wakes the keeper early (a new order, a cancel asked, a lease lost).
    wake: Notify,
    /// Orders executed elsewhere whose changes this instance's subscribers were told of:
    /// slices told and last status.
    told: Mutex<HashMap<OrderId, (usize, engine::OrderStatus)>>,
}

impl Cluster {
    /// This instance, named `name` (host name by default), with leases of `ttl_ms`.
    pub fn new(store: Store, name: &str, ttl_ms: u64) -> Arc<Cluster> {
        let mut r = [0u8; 6];
        let _ = getrandom::fill(&mut r);
        let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
        Arc::new(Cluster {
            store,
            holder: format!("{name}/{}/{tag}", std::process::id()),
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            leases: Mutex::default(),
            wake: Notify::new(),
            told: Mutex::default(),
        })
    }

    /// The holder id, unique to this process start.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<Symbol, i64>> {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn held(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self
            .leases()
            .iter()
            .map(|(s, e)| (s.as_str().to_owned(), *e))
            .collect();
        v.sort();
        v
    }

    /// Give every lease up (a graceful stop, after the engine has written its last
    /// slices): the other instances take the orders over at once instead of after a TTL.
    pub async fn release_all(&self) {
        for (scope, epoch) in self.held() {
            match self.store.release_lease(&scope, &self.holder, epoch).await {
                Ok(_) => info!(%scope, epoch, "lease released"),
                Err(e) => warn!(%scope, error = %e, "could not release a lease; it expires"),
            }
        }
        self.leases().clear();
    }

    /// Stop executing `symbol`'s orders: its lease is gone.
    async fn lose(&self, engine: &EngineHandle, symbol: Symbol) {
        self.leases().remove(&symbol);
        warn!(%symbol, "lease lost; its orders are executed elsewhere from now on");
        let _ = engine.drop_symbol(symbol).await;
    }
}

impl Ownership for Cluster {
    fn clustered(&self) -> bool {
        true
    }

    fn owns(&self, symbol: &Symbol) -> bool {
        self.leases().contains_key(symbol)
    }

    fn unowned(&self, symbol: &Symbol) {
        // Taken by this instance's keeper if nobody holds the symbol; else its holder adopts
        // the order now rather than at its next look (a lost notification only delays it).
        self.wake.notify_one();
        let (store, payload) = (self.store.clone(), format!("n:{symbol}"));
        tokio::spawn(async move {
            if let Err(e) = store.notify(&payload).await {
                warn!(error = %e, "could not tell the other instances of a new order");
            }
        });
    }

    fn request_cancel(&self, order: OrderId) -> BoxFuture<'_, Result<bool, StoreFailure>> {
        async move {
            self.store
                .request_cancel(order, Timestamp::now().as_nanos())
                .await
                .map_err(fail)
        }
        .boxed()
    }

    fn cancel_wait(&self) -> Duration {
        // A take-over (≤ 2 TTL) and the adopter's first look.
        Duration::from_millis(u64::try_from(3 * self.ttl_ms).unwrap_or(15_000))
    }
}

/// The store as the engine's order store, every slice write fenced by this instance's
/// leases.
#[derive(Debug, Clone)]
pub struct FencedOrders {
    /// The store.
    pub orders: StoreOrders,
    /// Whose leases fence the writes.
    pub cluster: Arc<Cluster>,
}

impl OrderStore for FencedOrders {
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>> {
        self.orders.insert(order, request)
    }

    fn record<'a>(
        &'a self,
        updates: &'a [Update],
    ) -> BoxFuture<'a, Result<Vec<Symbol>, StoreFailure>> {
        async move {
            let items = record_items(updates);
            let scopes: Vec<&str> = updates.iter().map(|u| u.order.symbol().as_str()).collect();
            let leases = self.cluster.held();
            let fence = Fence {
                holder: &self.cluster.holder,
                leases: &leases,
            };
            let lost = self
                .orders
                .0
                .record_fenced(&items, Some((fence, &scopes)))
                .await
                .map_err(fail)?;
            let lost: Vec<Symbol> = lost.iter().filter_map(|s| s.parse().ok()).collect();
            if !lost.is_empty() {
                // The keeper drops them from the engine at once.
                self.cluster.wake.notify_one();
            }
            Ok(lost)
        }
        .boxed()
    }

    fn load_open(&self) -> BoxFuture<'_, Result<Vec<StoredOrder>, StoreFailure>> {
        self.orders.load_open()
    }

    fn find<'a>(
        &'a self,
        user_id: i64,
        token_id: &'a TokenId,
    ) -> BoxFuture<'a, Result<Option<StoredOrder>, StoreFailure>> {
        self.orders.find(user_id, token_id)
    }

    fn list<'a>(
        &'a self,
        user_id: i64,
        query: &'a OrderQuery,
    ) -> BoxFuture<'a, Result<(Vec<Order>, u64), StoreFailure>> {
        self.orders.list(user_id, query)
    }
}

/// Run the keeper and the listener until `shutdown`.
pub fn spawn(cluster: Arc<Cluster>, engine: EngineHandle, shutdown: CancellationToken) {
    tokio::spawn(listen(cluster.clone(), engine.clone(), shutdown.clone()));
    tokio::spawn(keep(cluster, engine, shutdown));
}

async fn keep(c: Arc<Cluster>, engine: EngineHandle, shutdown: CancellationToken) {
    let every = Duration::from_millis(u64::try_from(c.ttl_ms / 3).unwrap_or(1_000).max(50));
    let ttl = Duration::from_millis(u64::try_from(c.ttl_ms).unwrap_or(5_000));
    let mut renewed = tokio::time::Instant::now();
    info!(holder = %c.holder, ttl_ms = c.ttl_ms, "cluster keeper running");
    loop {
        if let Err(e) = round(&c, &engine, &mut renewed, ttl).await {
            warn!(error = %e, "cluster keeper: the database failed; retrying");
        }
        let held = c.leases().len() as u64;
        engine
            .stats()
            .leases
            .store(held, std::sync::atomic::Ordering::Relaxed);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
            // A burst of wakes (a burst of submissions) makes one look.
            _ = c.wake.notified() => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// One look: renew, take over, adopt, cancel, release.
async fn round(
    c: &Cluster,
    engine: &EngineHandle,
    renewed: &mut tokio::time::Instant,
    ttl: Duration,
) -> Result<(), StoreError> {
    let held = c.held();
    match c.store.renew_leases(&c.holder, &held, c.ttl_ms).await {
        Ok(still) => {
            *renewed = tokio::time::Instant::now();
            for (scope, _) in held.iter().filter(|(s, _)| !still.contains(s)) {
                if let Ok(symbol) = scope.parse() {
                    c.lose(engine, symbol).await;
                }
            }
        }
        Err(e) => {
            // Not renewed for a whole TTL: another instance may hold them by now.
            if renewed.elapsed() >= ttl {
                for (scope, _) in &held {
                    if let Ok(symbol) = scope.parse() {
                        c.lose(engine, symbol).await;
                    }
                }
            }
            return Err(e);
        }
    }
    for scope in c.store.orphan_scopes().await? {
        let Ok(symbol) = scope.parse::<Symbol>() else {
            continue;
        };
        if let Some(epoch) = c.store.acquire_lease(&scope, &c.holder, c.ttl_ms).await? {
            info!(%scope, epoch, holder = %c.holder, "lease taken");
            c.leases().insert(symbol, epoch);
        }
    }
    let held = c.held();
    let scopes: Vec<String> = held.iter().map(|(s, _)| s.clone()).collect();
    let open = c.store.open_order_ids(&scopes).await?;
    // Open orders of held symbols not executing here: taken over, or new from elsewhere.
    let missing: Vec<&(i64, String)> = open
        .iter()
        .filter(|(id, _)| !engine.is_executing(*id))
        .collect();
    // A few by id; many (a take-over) a symbol at a time.
    let mut rows = Vec::new();
    if missing.len() <= 8 {
        for (id, _) in &missing {
            rows.extend(c.store.order_by_id(*id).await?);
        }
    } else {
        let mut symbols: Vec<&str> = missing.iter().map(|(_, s)| s.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        for symbol in symbols {
            let all = c.store.open_orders_of(symbol).await?;
            rows.extend(all.into_iter().filter(|o| !engine.is_executing(o.0.id)));
        }
    }
    let mut adopt = Vec::new();
    for full in rows {
        let id = full.0.id;
        match stored(full) {
            Ok(s) => adopt.push(s),
            Err(e) => warn!(order = id, error = %e, "an order's rows do not read back"),
        }
    }
    if !adopt.is_empty() {
        let n = adopt.len();
        match engine.adopt(adopt).await {
            Ok(resumed) => info!(orders = n, resumed, "orders adopted"),
            Err(e) => warn!(error = %e, "the engine did not adopt orders"),
        }
    }
    for id in c.store.cancels_requested(&scopes).await? {
        let _ = engine.cancel_asked(id).await;
    }
    // Nothing open on a symbol: its lease goes back.
    let executing = engine.executing();
    for (scope, epoch) in held {
        if !open.iter().any(|(_, s)| *s == scope)
            && let Ok(symbol) = scope.parse::<Symbol>()
            && !executing.contains(&symbol)
            && c.store.release_lease(&scope, &c.holder, epoch).await?
        {
            c.leases().remove(&symbol);
        }
    }
    Ok(())
}

async fn listen(c: Arc<Cluster>, engine: EngineHandle, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let mut l = match c.store.listen().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                warn!(error = %e, "cannot listen to the other instances; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = l.recv() => match r {
                    Ok(Some(p)) => heard(&c, &engine, &p).await,
                    // Reconnected: whatever was said meanwhile, the keeper looks again.
                    Ok(None) => c.wake.notify_one(),
                    Err(e) => {
                        warn!(error = %e, "lost the other instances' notifications; reconnecting");
                        c.wake.notify_one();
                        break;
                    }
                },
            }
        }
    }
}

/// One notification of another instance.
async fn heard(c: &Cluster, engine: &EngineHandle, payload: &str) {
    match payload.split_once(':') {
        Some(("n" | "c", _)) => c.wake.notify_one(),
        Some(("u", ids)) => {
            for id in ids.split(',').filter_map(|i| i.parse::<OrderId>().ok()) {
                if !engine.is_executing(id) {
                    tell(c, engine, id).await;
                }
            }
        }
        _ => {}
    }
}

/// Tell this instance's subscribers what another instance stored of order `id`: each new
/// slice, or its new status.
async fn tell(c: &Cluster, engine: &EngineHandle, id: OrderId) {
    let Ok(Some(full)) = c.store.order_by_id(id).await else {
        return;
    };
    let Ok(s) = stored(full) else {
        return;
    };
    let status = s.order.status();
    let (told, previous) = {
        let mut t = c.told.lock().unwrap_or_else(PoisonError::into_inner);
        let before = t.get(&id).copied();
        if status.is_open() {
            t.insert(id, (s.slices.len(), status));
        } else {
            t.remove(&id);
        }
        before.unwrap_or((0, status))
    };
    let order = Arc::new(s.order);
    let new: Vec<_> = s.slices.into_iter().skip(told).collect();
    if new.is_empty() && previous == status {
        return;
    }
    if new.is_empty() {
        engine.publish_elsewhere(Update {
            order,
            slice: None,
            previous,
            markouts: None,
        });
        return;
    }
    for slice in new {
        engine.publish_elsewhere(Update {
            order: order.clone(),
            slice: Some(slice),
            previous,
            markouts: None,
        });
    }
}
