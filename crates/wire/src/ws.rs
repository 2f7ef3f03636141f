use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::enums::Channel;
use std::collections::BTreeMap;

use crate::{BookHealth, Order, OrderBook, Slice, Trades};

/// What a `/ws` client sends (`{"op": …}`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Authenticate (or re-authenticate before expiry) with a token from `POST /token`.
    Auth {
        /// The bearer token.
        token: String,
    },
    /// Start a subscription.
    Subscribe(Subscription),
    /// Stop a subscription (same fields as the subscribe).
    Unsubscribe(Subscription),
    /// Liveness check; answered `{"type":"pong"}`.
    Ping,
}

/// A subscription: `book` (exchange, symbol, depth, interval_ms), `orders`,
/// `consolidated` (symbol, depth, interval_ms) or `trades` (exchange, symbol, interval_ms:
/// the batching period, default 100).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// `book`, `orders`, `consolidated` or `trades`.
    pub channel: Channel,
    /// Exchange id (`book`, `trades`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// Symbol in any spelling (`book`, `consolidated`, `trades`; answered canonical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Levels per side, 1–100 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Milliseconds between frames, 100–60 000 (default 1 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
}

/// One merged level of a consolidated book: price, total quantity, quantity per exchange.
pub type ConsolidatedLevel = (Decimal, Decimal, BTreeMap<String, Decimal>);

/// A book merged across every enabled exchange listing the symbol (live books only).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolidatedBook {
    /// Canonical symbol.
    pub symbol: String,
    /// When the frame was produced.
    pub ts: DateTime<Utc>,
    /// Merged bids, best first: `[price, total, {exchange: qty}]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<serde_json::Value>>))]
    pub bids: Vec<ConsolidatedLevel>,
    /// Merged asks, best first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<serde_json::Value>>))]
    pub asks: Vec<ConsolidatedLevel>,
    /// Each exchange's book health (books not `live` contribute no levels).
    pub exchanges: BTreeMap<String, BookHealth>,
}

/// What the server sends on `/ws` (`{"type": …}`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The connection is authenticated until `expires_at`.
    Authenticated {
        /// Token expiry: the connection closes then unless re-authenticated.
        expires_at: DateTime<Utc>,
    },
    /// A subscription started (fields normalized: canonical symbol, defaults filled).
    Subscribed(Subscription),
    /// A subscription stopped.
    Unsubscribed(Subscription),
    /// Answer to `ping`.
    Pong,
    /// A message could not be honoured; the connection stays open.
    Error {
        /// Stable identifier.
        code: String,
        /// Human sentence.
        detail: String,
    },
    /// A book frame: the `/orderbook` body; `ts` is when the frame was produced.
    Book(Box<OrderBook>),
    /// A consolidated book frame.
    Consolidated(Box<ConsolidatedBook>),
    /// New public trades of one book (batched, at most one frame per `interval_ms`).
    Trades(Box<Trades>),
    /// One of the user's orders changed (stored before it is sent).
    Order {
        /// The order, without slices.
        order: Box<Order>,
        /// The slice just recorded, if any.
        slice: Option<Box<Slice>>,
    },
}
