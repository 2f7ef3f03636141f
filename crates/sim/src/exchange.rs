use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::{
    Backoff, Exchange, FeedCommand, FeedContext, FeedEvent, FeedSender, KlineQuery, MarketError,
    VenueSession, run_session,
};
use model::{BookEvent, ExchangeId, Kline, OrderBook, Pair, Symbol, Timestamp};
use tracing::{debug, info};

use crate::market_gen::{SimMarket, SimSpec, SpecError};

/// Settings of the simulated exchange (`exchanges.sim.*`).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every market's randomness.
    pub seed: u64,
    /// Time between book updates (each market updates once per interval).
    pub update_interval: Duration,
    /// Closed 1-minute candles generated at start.
    pub history_minutes: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            update_interval: Duration::from_millis(50),
            history_minutes: 10_080,
        }
    }
}

/// The simulated exchange. All markets advance together on one timer, whether subscribed or
/// not, so candles keep forming while nobody watches a book.
#[derive(Debug)]
pub struct SimExchange {
    config: SimConfig,
    markets: Mutex<Vec<SimMarket>>,
}

impl SimExchange {
    /// The default markets, history ending now.
    pub fn new(config: SimConfig) -> Result<Self, SpecError> {
        Self::with_specs(config, SimSpec::defaults(), Timestamp::now())
    }

    /// Chosen markets, history ending at `now`.
    pub fn with_specs(
        config: SimConfig,
        specs: Vec<SimSpec>,
        now: Timestamp,
    ) -> Result<Self, SpecError> {
        let markets = specs
            .into_iter()
            .map(|s| SimMarket::new(s, config.seed, now, config.history_minutes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimExchange {
            config,
            markets: Mutex::new(markets),
        })
    }

    fn markets(&self) -> std::sync::MutexGuard<'_, Vec<SimMarket>> {
        self.markets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn snapshot_of(&self, symbol: &Symbol, now: Timestamp) -> Option<BookEvent> {
        self.markets()
            .iter()
            .find(|m| &m.pair().symbol == symbol)
            .map(|m| m.snapshot(now))
    }
}

impl Exchange for SimExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Sim
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        let pairs = self.markets().iter().map(|m| m.pair().clone()).collect();
        async move { Ok(pairs) }.boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        let all = self
            .markets()
            .iter()
            .find(|m| m.pair().symbol == q.pair.symbol)
            .map(|m| m.klines(q.interval));
        async move {
            let all = all.ok_or_else(|| MarketError::UnknownSymbol {
                exchange: ExchangeId::Sim,
                symbol: q.pair.symbol.to_string(),
            })?;
            Ok(select_klines(all, &q))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        async move { self.feed(ctx).await }.boxed()
    }
}

/// The sim's side of the shared session loop: an in-process "connection" that always
/// opens, a market step per tick, snapshots on subscribe and resync.
struct SimSession {
    ex: Arc<SimExchange>,
    events: FeedSender,
    subscribed: HashSet<Symbol>,
    open: bool,
}

impl SimSession {
    async fn send_all(&self, out: Vec<FeedEvent>) {
        self.events.alive();
        for ev in out {
            if self.events.send(ev).await.is_err() {
                return;
            }
        }
    }
}

impl VenueSession for SimSession {
    type Event = std::convert::Infallible;

    fn name(&self) -> &'static str {
        "sim"
    }

    fn tick_every(&self) -> Duration {
        self.ex.config.update_interval
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        info!(
            markets = self.ex.markets().len(),
            "simulated exchange running"
        );
        self.open = true;
        Ok(())
    }

    async fn resume(&mut self) {
        let now = Timestamp::now();
        let out = self
            .subscribed
            .iter()
            .filter_map(|s| self.ex.snapshot_event(s, now))
            .collect();
        self.send_all(out).await;
    }

    async fn next_event(&mut self) -> std::convert::Infallible {
        std::future::pending().await
    }

    async fn on_event(&mut self, ev: std::convert::Infallible) -> Option<String> {
        match ev {}
    }

    async fn on_command(&mut self, cmd: FeedCommand) {
        let now = Timestamp::now();
        let out = match cmd {
            FeedCommand::Subscribe(pairs) => pairs
                .into_iter()
                .filter(|p| self.subscribed.insert(p.symbol.clone()))
                .filter_map(|p| self.ex.snapshot_event(&p.symbol, now))
                .collect(),
            FeedCommand::Unsubscribe(pairs) => {
                for p in pairs {
                    self.subscribed.remove(&p.symbol);
                }
                Vec::new()
            }
            FeedCommand::Resync(p) => {
                debug!(symbol = %p.symbol, "resync requested");
                if self.subscribed.contains(&p.symbol) {
                    self.ex.snapshot_event(&p.symbol, now).into_iter().collect()
                } else {
                    Vec::new()
                }
            }
        };
        self.send_all(out).await;
    }

    async fn on_tick(&mut self) {
        let now = Timestamp::now();
        let mut out: Vec<FeedEvent> = Vec::new();
        {
            let mut markets = self.ex.markets();
            for m in markets.iter_mut() {
                // Every market moves, followed or not, so a later subscriber sees its day.
                let (ev, trades) = m.step(now);
                let symbol = &m.pair().symbol;
                if !self.subscribed.contains(symbol) {
                    continue;
                }
                out.push(FeedEvent::Book {
                    symbol: symbol.clone(),
                    event: ev,
                    received: now,
                });
                if !trades.is_empty() {
                    out.push(FeedEvent::Trades {
                        symbol: symbol.clone(),
                        trades,
                    });
                }
            }
        }
        self.send_all(out).await;
    }

    fn is_connected(&self) -> bool {
        self.open
    }

    fn close(&mut self) {
        self.open = false;
    }
}

impl SimExchange {
    async fn feed(self: Arc<Self>, ctx: FeedContext) {
        let session = SimSession {
            ex: self,
            events: ctx.events.clone(),
            subscribed: HashSet::new(),
            open: false,
        };
        // In process: it never fails, so the backoff is never used.
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        run_session(session, ctx, backoff).await;
    }

    fn snapshot_event(&self, symbol: &Symbol, now: Timestamp) -> Option<FeedEvent> {
        self.snapshot_of(symbol, now).map(|event| FeedEvent::Book {
            symbol: symbol.clone(),
            event,
            received: now,
        })
    }
}

/// Apply a query's range and limit to a full candle series (oldest first): from `start`
/// when given (the oldest `limit` from there), else the newest `limit`.
fn select_klines(all: Vec<Kline>, q: &KlineQuery) -> Vec<Kline> {
    let in_range = all.into_iter().filter(|k| {
        q.start
            .is_none_or(|s| k.open_time >= q.interval.bucket_start(s))
            && q.end.is_none_or(|e| k.open_time <= e)
    });
    if q.start.is_some() {
        in_range.take(q.limit).collect()
    } else {
        let v: Vec<Kline> = in_range.collect();
        let skip = v.len().saturating_sub(q.limit);
        v.into_iter().skip(skip).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use market::{Hub, HubConfig};
    use model::{BookState, Interval};
    use tokio_util::sync::CancellationToken;

    fn sim() -> Arc<SimExchange> {
        Arc::new(SimExchange::new(SimConfig::default()).unwrap())
    }

    #[tokio::test]
    async fn klines_respect_limit_and_range() {
        let s = sim();
        let pair = s.pairs().await.unwrap().remove(0);
        let q = |start, end, limit| KlineQuery {
            pair: pair.clone(),
            interval: Interval::M1,
            start,
            end,
            limit,
        };
        let newest = s.klines(q(None, None, 5)).await.unwrap();
        assert_eq!(newest.len(), 5);
        assert!(!newest[4].closed, "newest includes the in-progress candle");
        let start = newest[0].open_time;
        let from = s.klines(q(Some(start), None, 2)).await.unwrap();
        assert_eq!(from.len(), 2);
        assert_eq!(from[0].open_time, start);
        let window = s
            .klines(q(Some(start), Some(newest[2].open_time), 100))
            .await
            .unwrap();
        assert_eq!(window.len(), 3);
    }

    #[tokio::test]
    async fn hub_serves_a_live_changing_book_and_releases_it() {
        let shutdown = CancellationToken::new();
        let hub = Hub::start(
            HubConfig {
                release_after: Duration::from_millis(300),
                ..HubConfig::default()
            },
            vec![sim() as Arc<dyn Exchange>],
            shutdown.clone(),
        );
        hub.pairs_within(ExchangeId::Sim, Duration::from_secs(5))
            .await
            .unwrap();
        // Any native spelling resolves; the book goes live and changes.
        let first = hub
            .snapshot_live_within(ExchangeId::Sim, "btcusdt", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(first.health.state, BookState::Live);
        assert_eq!(first.symbol().as_str(), "BTC-USDT");
        assert_eq!(first.book.top(10).bids().len(), 10);
        let mut w = hub.watch(ExchangeId::Sim, "BTC-USDT").unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .unwrap()
            .unwrap();
        assert!(next.book.seq() > first.book.seq());
        drop(w);
        // Released after `release_after` without users.
        let released = tokio::time::timeout(Duration::from_secs(10), async {
            while !hub.subscribed(ExchangeId::Sim).is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(released.is_ok(), "book was not released");
        shutdown.cancel();
        hub.wait().await;
    }

    #[tokio::test]
    async fn default_symbols_stay_subscribed() {
        let shutdown = CancellationToken::new();
        let hub = Hub::start(
            HubConfig {
                release_after: Duration::from_millis(100),
                default_symbols: [(ExchangeId::Sim, vec!["ETH-USDT".to_owned()])].into(),
                ..HubConfig::default()
            },
            vec![sim() as Arc<dyn Exchange>],
            shutdown.clone(),
        );
        hub.pairs_within(ExchangeId::Sim, Duration::from_secs(5))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let subs = hub.subscribed(ExchangeId::Sim);
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].as_str(), "ETH-USDT");
        assert!(hub.snapshot(ExchangeId::Sim, "SOLUSDT").is_ok());
        assert!(matches!(
            hub.snapshot(ExchangeId::Sim, "DOGE-USDT"),
            Err(MarketError::UnknownSymbol { .. })
        ));
        shutdown.cancel();
        hub.wait().await;
    }
}
