//! Binance REST: pairs, klines, depth snapshots; and the [`BinanceExchange`] itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit, WeightLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError};
use model::{ExchangeId, Kline, OrderBook, Pair, Timestamp};

use crate::config::BinanceConfig;
use crate::parse::{interval_param, parse_exchange_info, parse_klines, parse_snapshot};
use crate::sync::DepthSnapshot;

/// The Binance spot exchange.
#[derive(Debug)]
pub struct BinanceExchange {
    pub(crate) config: BinanceConfig,
    pub(crate) rest: RestClient,
    /// Request weight budget shared by every REST call of this adapter.
    pub(crate) weight: Arc<WeightLimit>,
    /// New connections per 5 minutes.
    pub(crate) connections: Arc<SlidingLimit>,
}

impl BinanceExchange {
    /// An adapter with these settings.
    pub fn new(config: BinanceConfig) -> Result<Self, MarketError> {
        Ok(BinanceExchange {
            rest: RestClient::new(ExchangeId::Binance, config.rest_timeout)?,
            weight: Arc::new(WeightLimit::new(
                config.weight_per_minute,
                Duration::from_secs(60),
            )),
            connections: Arc::new(SlidingLimit::new(
                config.connections_per_5min,
                Duration::from_secs(300),
            )),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &BinanceConfig {
        &self.config
    }

    /// Request weight used in the last minute (for tests and metrics).
    pub fn weight_used(&self) -> u32 {
        self.weight.used()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.rest_url.trim_end_matches('/'), path)
    }

    /// GET with the weight limiter; a 429/418 closes the limiter for the venue's
    /// `Retry-After`.
    async fn get(
        &self,
        path: &str,
        weight: u32,
        query: &[(&str, String)],
    ) -> Result<String, MarketError> {
        self.weight.acquire(weight).await;
        match self.rest.get(&self.url(path), query).await {
            Ok(r) => Ok(r.body),
            Err(e) => {
                if let MarketError::RateLimited { retry_after, .. } = &e {
                    self.weight.block_for(*retry_after);
                }
                Err(e)
            }
        }
    }

    /// `GET /api/v3/depth?symbol=…&limit=…`.
    pub(crate) async fn depth_snapshot(
        &self,
        exchange_symbol: &str,
    ) -> Result<DepthSnapshot, MarketError> {
        let body = self
            .get(
                "/api/v3/depth",
                self.config.snapshot_weight(),
                &[
                    ("symbol", exchange_symbol.to_owned()),
                    ("limit", self.config.snapshot_limit.to_string()),
                ],
            )
            .await?;
        parse_snapshot(&body).map_err(|e| upstream(e.to_string()))
    }
}

fn upstream(detail: String) -> MarketError {
    MarketError::Upstream {
        exchange: ExchangeId::Binance,
        detail,
    }
}

impl Exchange for BinanceExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Binance
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self.get("/api/v3/exchangeInfo", 20, &[]).await?;
            parse_exchange_info(&body).map_err(|e| upstream(e.to_string()))
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let mut query = vec![
                ("symbol", q.pair.exchange_symbol.clone()),
                ("interval", interval_param(q.interval).to_owned()),
                ("limit", q.limit.clamp(1, 1_000).to_string()),
            ];
            if let Some(s) = q.start {
                query.push(("startTime", s.as_millis().to_string()));
            }
            if let Some(e) = q.end {
                query.push(("endTime", e.as_millis().to_string()));
            }
            let body = self.get("/api/v3/klines", 2, &query).await?;
            parse_klines(&body, Timestamp::now()).map_err(|e| upstream(e.to_string()))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        // Binance sends 8-decimal strings; start there so the first snapshot needs no
        // rescale. Levels beyond the snapshot depth are unknown until they change, so the
        // book keeps the snapshot's depth.
        OrderBook::with_scales(pair.price_precision().max(8), pair.qty_precision().max(8))
            .with_depth_cap(Some(self.config.depth_cap))
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
