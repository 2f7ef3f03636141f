//! The engine's ports: where orders are kept ([`OrderStore`]) and where books come from
//! ([`BookAccess`]). Implemented by the composition root, never by the HTTP layer.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use model::{ExchangeId, Symbol};

use crate::core::{Books, Update};
use crate::order::{Order, OrderId, OrderStatus, SliceRecord};
use crate::slices::SliceList;
use crate::token::TokenId;

/// A store failure, as text (the store's own error type stays in the store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreFailure(pub String);

/// An order as stored: the order, its slices by index and the request text it was created
/// from (compared on a repeated `token_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOrder {
    /// The order.
    pub order: Order,
    /// Its slices, by index.
    pub slices: Vec<SliceRecord>,
    /// The request as the client sent it.
    pub request: String,
}

/// An order with its slices, as the engine answers reads: both shared with the engine's
/// memory (a read copies nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDetail {
    /// The order.
    pub order: Arc<Order>,
    /// Its slices, by index.
    pub slices: SliceList,
}

impl OrderDetail {
    /// A version of what a reader sees: it changes whenever the order does (a slice
    /// recorded, a status change), so an answer rendered for one version can be reused.
    pub fn version(&self) -> (u32, u32, OrderStatus, u32) {
        (
            self.order.next_index(),
            self.slices.len() as u32,
            self.order.status(),
            self.order.totals().markouts_taken,
        )
    }
}

impl From<StoredOrder> for OrderDetail {
    fn from(s: StoredOrder) -> Self {
        OrderDetail {
            order: Arc::new(s.order),
            slices: SliceList::new(s.slices),
        }
    }
}

/// The result of inserting a new order.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    /// Written with this id.
    Inserted(OrderId),
    /// The user already has an order with this `token_id`: here it is.
    Existing(Box<StoredOrder>),
}

/// Which orders a listing wants (by status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// `pending` or `working`.
    Open,
    /// `filled`, `expired` or `cancelled`.
    Closed,
    /// Every order.
    #[default]
    All,
}

crate::words::words!(StatusFilter, "status filter", { Open => "open", Closed => "closed", All => "all" });

impl StatusFilter {
    /// True when an order in `s` belongs in the listing.
    pub fn admits(self, s: OrderStatus) -> bool {
        match self {
            StatusFilter::Open => s.is_open(),
            StatusFilter::Closed => !s.is_open(),
            StatusFilter::All => true,
        }
    }
}

/// A listing of one user's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// By status.
    pub status: StatusFilter,
    /// Exactly this token id.
    pub token_id: Option<TokenId>,
    /// On this exchange (`Some(None)`: routed across venues, `best`).
    pub exchange: Option<Option<ExchangeId>>,
    /// With this canonical symbol (text: a filter may name a symbol no order has).
    pub symbol: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Skipping this many.
    pub offset: u32,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            status: StatusFilter::All,
            token_id: None,
            exchange: None,
            symbol: None,
            limit: 100,
            offset: 0,
        }
    }
}

impl OrderQuery {
    /// True when `o` matches every filter but the paging.
    pub fn matches(&self, o: &Order) -> bool {
        self.status.admits(o.status())
            && self.token_id.as_ref().is_none_or(|t| t == o.token_id())
            // A routed order is listed as `best` (as the store has it), never under a venue.
            && self.exchange.is_none_or(|e| match e {
                Some(e) => o.route().is_none() && e == o.exchange(),
                None => o.route().is_some(),
            })
            && self
                .symbol
                .as_deref()
                .is_none_or(|s| s == o.symbol().as_str())
    }
}

impl OrderQuery {
    /// The page of `orders` this query asks for, newest (highest id) first, with the number
    /// matching in all: the listing rule of every in-memory order source.
    pub fn page<'a>(&self, orders: impl Iterator<Item = &'a Order>) -> (Vec<Order>, u64) {
        let mut hits: Vec<&Order> = orders.filter(|o| self.matches(o)).collect();
        hits.sort_unstable_by_key(|o| std::cmp::Reverse(o.id()));
        let total = hits.len() as u64;
        let page = hits
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit as usize)
            .cloned()
            .collect();
        (page, total)
    }
}

/// Where orders and slices are kept.
pub trait OrderStore: Send + Sync + 'static {
    /// Insert a new order (with the request text as the client sent it, for idempotent
    /// replays), unless the user already has one with the same `token_id`. Atomic:
    /// concurrent duplicates create one order.
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>>;
    /// Write these slices and the order totals/status that go with them, in one
    /// transaction. Updates of orders that no longer exist (their user was removed) are
    /// skipped, never an error. Several instances on one store: updates of symbols whose
    /// lease this instance has lost are not written (fencing); those symbols are returned.
    fn record<'a>(
        &'a self,
        updates: &'a [Update],
    ) -> BoxFuture<'a, Result<Vec<Symbol>, StoreFailure>>;
    /// Every order still `pending` or `working`, with its slices and request.
    fn load_open(&self) -> BoxFuture<'_, Result<Vec<StoredOrder>, StoreFailure>>;
    /// One user's order by token id, with its slices and request.
    fn find<'a>(
        &'a self,
        user_id: i64,
        token_id: &'a TokenId,
    ) -> BoxFuture<'a, Result<Option<StoredOrder>, StoreFailure>>;
    /// One user's orders matching `query`, newest first, and how many match in all.
    fn list<'a>(
        &'a self,
        user_id: i64,
        query: &'a OrderQuery,
    ) -> BoxFuture<'a, Result<(Vec<Order>, u64), StoreFailure>>;
}

/// Books, plus keeping a book subscribed while open orders use it.
pub trait BookAccess: Books + Send + Sync + 'static {
    /// A lease that keeps (exchange, symbol) subscribed while it lives.
    fn hold(&self, exchange: ExchangeId, symbol: &Symbol) -> Option<Box<dyn Send + Sync>>;
}

/// Which open orders this instance executes when several instances share one store
/// (DESIGN §19): the orders of the symbols whose lease it holds. Implemented by the
/// composition root; [`Alone`] when one instance runs everything.
pub trait Ownership: Send + Sync + 'static {
    /// True when other instances share the store: open orders are then listed from the
    /// store, and a cancel of an order executed elsewhere is asked of its instance.
    fn clustered(&self) -> bool;
    /// True when this instance executes `symbol`'s orders now.
    fn owns(&self, symbol: &Symbol) -> bool;
    /// An order on `symbol` was stored that this instance does not execute: see that the
    /// instance that does (or will) takes it.
    fn unowned(&self, symbol: &Symbol);
    /// Ask the instance executing `order` to cancel it: false when it is no longer open.
    fn request_cancel(&self, order: OrderId) -> BoxFuture<'_, Result<bool, StoreFailure>>;
    /// How long a cancel asked of another instance may take (a take-over included).
    fn cancel_wait(&self) -> std::time::Duration;
}

/// One instance alone on its store: it executes every order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alone;

impl Ownership for Alone {
    fn clustered(&self) -> bool {
        false
    }

    fn owns(&self, _: &Symbol) -> bool {
        true
    }

    fn unowned(&self, _: &Symbol) {}

    fn request_cancel(&self, _: OrderId) -> BoxFuture<'_, Result<bool, StoreFailure>> {
        Box::pin(async { Ok(false) })
    }

    fn cancel_wait(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}
