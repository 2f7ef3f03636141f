use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use model::{
    BookEvent, BookState, ExchangeId, Interval, Kline, OrderBook, Pair, Symbol, Timestamp, Trade,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::MarketError;

/// A klines request, already resolved to a pair.
#[derive(Debug, Clone)]
pub struct KlineQuery {
    /// The pair.
    pub pair: Pair,
    /// Candle interval.
    pub interval: Interval,
    /// Earliest bucket start wanted (inclusive).
    pub start: Option<Timestamp>,
    /// Latest bucket start wanted (inclusive).
    pub end: Option<Timestamp>,
    /// At most this many candles: the oldest ones from `start` when it is given, else the
    /// newest ones.
    pub limit: usize,
}

/// What the hub asks of a running feed.
#[derive(Debug, Clone)]
pub enum FeedCommand {
    /// Start streaming these pairs' books (a snapshot, then deltas) and public trades.
    Subscribe(Vec<Pair>),
    /// Stop streaming these pairs' books.
    Unsubscribe(Vec<Pair>),
    /// The hub no longer trusts this book: deliver a fresh baseline.
    Resync(Pair),
}

/// Connection state of one exchange's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Dialing or handshaking.
    Connecting,
    /// Connected and streaming.
    Connected,
    /// Not connected; retrying with backoff.
    Down,
    /// Gave up for a reason retrying will not fix (geo-block, configuration).
    Failed,
}

impl ConnState {
    /// `connecting`, `connected`, `down` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Connected => "connected",
            ConnState::Down => "down",
            ConnState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text named no connection state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown connection state `{0}` (expected connecting, connected, down or failed)")]
pub struct UnknownConnState(pub String);

impl std::str::FromStr for ConnState {
    type Err = UnknownConnState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ConnState::Connecting,
            ConnState::Connected,
            ConnState::Down,
            ConnState::Failed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| UnknownConnState(s.to_owned()))
    }
}

/// What a feed reports to the hub.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    /// A snapshot or delta for one book. A snapshot (re)establishes the baseline; deltas
    /// are applied only on top of one.
    Book {
        /// Canonical symbol.
        symbol: Symbol,
        /// The normalized event.
        event: BookEvent,
        /// Local receive time.
        received: Timestamp,
    },
    /// Public trades of one book, oldest first (the hub drops repeats by trade id).
    Trades {
        /// Canonical symbol.
        symbol: Symbol,
        /// The trades.
        trades: Vec<Trade>,
    },
    /// A book changed state outside the data path (syncing, resyncing after a gap, down
    /// because the venue refused the subscription).
    State {
        /// Canonical symbol.
        symbol: Symbol,
        /// New state.
        state: BookState,
        /// Why, for operators.
        reason: Option<String>,
    },
    /// The feed's connection changed state.
    Connection {
        /// New state.
        state: ConnState,
        /// The last error, if the change was caused by one.
        error: Option<String>,
    },
}

/// Group a venue's trades by our symbol for [`FeedEvent::Trades`], in arrival order: each
/// trade's venue key (its native symbol) is looked up with `symbol_of` (trades of symbols not
/// subscribed are dropped) and stamped with our receive time.
pub fn group_trades(
    trades: Vec<(String, Trade)>,
    symbol_of: impl Fn(&str) -> Option<Symbol>,
    received: Timestamp,
) -> Vec<(Symbol, Vec<Trade>)> {
    let mut out: Vec<(Symbol, Vec<Trade>)> = Vec::new();
    for (key, mut t) in trades {
        let Some(symbol) = symbol_of(&key) else {
            continue;
        };
        t.local_ts = received;
        match out.iter_mut().find(|(s, _)| *s == symbol) {
            Some((_, v)) => v.push(t),
            None => out.push((symbol, vec![t])),
        }
    }
    out
}

/// The sending half a feed reports through. Also carries the connection's liveness stamp,
/// which the feed refreshes on every inbound frame (data, heartbeat or pong) so that the hub
/// can tell a quiet market on a live connection from a dead one.
#[derive(Debug, Clone)]
pub struct FeedSender {
    tx: mpsc::Sender<FeedEvent>,
    alive: Arc<AtomicU64>,
    clock: tokio::time::Instant,
}

impl FeedSender {
    pub(crate) fn new(
        tx: mpsc::Sender<FeedEvent>,
        alive: Arc<AtomicU64>,
        clock: tokio::time::Instant,
    ) -> Self {
        FeedSender { tx, alive, clock }
    }

    /// Send an event; waits while the hub is behind (back-pressure onto the socket, which is
    /// what keeps memory bounded). Fails only when the hub is gone.
    pub async fn send(&self, ev: FeedEvent) -> Result<(), MarketError> {
        self.tx
            .send(ev)
            .await
            .map_err(|_| MarketError::ShuttingDown)
    }

    /// Report a book's state (with the reason it left `live`, if it did); a hub that is
    /// gone is ignored, the feed is stopping anyway.
    pub async fn state(&self, symbol: &Symbol, state: BookState, reason: Option<String>) {
        let _ = self
            .send(FeedEvent::State {
                symbol: symbol.clone(),
                state,
                reason,
            })
            .await;
    }

    /// Record that the connection showed a sign of life now.
    pub fn alive(&self) {
        let ms = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.alive.store(ms.max(1), Ordering::Relaxed);
    }
}

/// Everything a feed needs to run.
#[derive(Debug)]
pub struct FeedContext {
    /// Commands from the hub.
    pub commands: mpsc::UnboundedReceiver<FeedCommand>,
    /// Where to report.
    pub events: FeedSender,
    /// Fires when the server shuts down; the feed must return promptly.
    pub shutdown: CancellationToken,
}

/// Somewhere to keep each exchange's last pair list, so that a start without the venue
/// (offline, geo-blocked) can still resolve its symbols and list its pairs.
pub trait PairCache: std::fmt::Debug + Send + Sync + 'static {
    /// The last list saved for `exchange`, if any.
    fn load(&self, exchange: ExchangeId) -> BoxFuture<'_, Option<Vec<Pair>>>;
    /// Replace the list saved for `exchange`.
    fn save(&self, exchange: ExchangeId, pairs: Vec<Pair>) -> BoxFuture<'_, ()>;
}

/// A venue adapter. Implementations are cheap to share (`Arc<dyn Exchange>`).
pub trait Exchange: Send + Sync + 'static {
    /// Which exchange this is.
    fn id(&self) -> ExchangeId;

    /// Every pair the venue lists, normalized.
    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>>;

    /// Candles, oldest first, the in-progress one flagged `closed: false`.
    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>>;

    /// Run the book feed until `ctx.shutdown` fires: obey commands, report events.
    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()>;

    /// An empty book set up for this pair (scales, depth cap) as the venue's rules need.
    fn new_book(&self, pair: &Pair) -> OrderBook {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    }

    /// The venue's checksum of `book`, for venues whose events carry one; `None` when the
    /// venue has no checksum.
    fn book_checksum(&self, _pair: &Pair, _book: &OrderBook) -> Option<u32> {
        None
    }
}
