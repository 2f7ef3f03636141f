//! Coinbase REST (public `market` routes): products and candles; and the
//! [`CoinbaseExchange`] itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError, kline_pages, shape_klines};
use model::{ExchangeId, Kline, OrderBook, Pair, Timestamp};

use crate::config::CoinbaseConfig;
use crate::parse::{RestBodyError, granularity, parse_candles, parse_products};

/// The public REST routes' prefix.
const MARKET: &str = "/api/v3/brokerage/market";

/// The Coinbase Advanced Trade exchange.
#[derive(Debug)]
pub struct CoinbaseExchange {
    pub(crate) config: CoinbaseConfig,
    rest: RestClient,
    rest_limit: SlidingLimit,
    /// New connections per second.
    pub(crate) connections: SlidingLimit,
}

impl CoinbaseExchange {
    /// An adapter with these settings.
    pub fn new(config: CoinbaseConfig) -> Result<Self, MarketError> {
        if config.candles_per_request == 0 || config.candles_per_request > 350 {
            return Err(MarketError::Config(format!(
                "Coinbase answers at most 350 candles a request, not {}",
                config.candles_per_request
            )));
        }
        Ok(CoinbaseExchange {
            rest: RestClient::new(ExchangeId::Coinbase, config.rest_timeout)?,
            rest_limit: SlidingLimit::new(config.rest_per_second, Duration::from_secs(1)),
            connections: SlidingLimit::new(config.connections_per_second, Duration::from_secs(1)),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &CoinbaseConfig {
        &self.config
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, MarketError> {
        self.rest_limit.acquire().await;
        let url = format!(
            "{}{MARKET}{path}",
            self.config.rest_url.trim_end_matches('/')
        );
        Ok(self.rest.get(&url, query).await?.body)
    }
}

fn body_error(e: RestBodyError) -> MarketError {
    MarketError::Upstream {
        exchange: ExchangeId::Coinbase,
        detail: e.to_string(),
    }
}

impl Exchange for CoinbaseExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Coinbase
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self
                .get("/products", &[("product_type", "SPOT".to_owned())])
                .await?;
            parse_products(&body).map_err(body_error)
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let (name, source) = granularity(q.interval);
            let per = self.config.candles_per_request;
            let now = Timestamp::now();
            let path = format!("/products/{}/candles", q.pair.exchange_symbol);
            let mut rows = Vec::new();
            // Any failed page fails the query: a partial answer is never served.
            for (from, to) in kline_pages(&q, source, per, now) {
                let query = [
                    ("start", from.as_secs().to_string()),
                    ("end", to.as_secs().to_string()),
                    ("granularity", name.to_owned()),
                    ("limit", per.to_string()),
                ];
                let body = self.get(&path, &query).await?;
                rows.extend(parse_candles(&body, source, now).map_err(body_error)?);
            }
            Ok(shape_klines(rows, &q, source != q.interval))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        // The whole book, as the venue publishes it (see `CoinbaseConfig::depth_cap`).
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
            .with_depth_cap(self.config.depth_cap)
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
