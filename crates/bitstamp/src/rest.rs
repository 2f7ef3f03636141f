//! Bitstamp REST (`/api/v2/…`): pairs, candles and the book snapshot; and the
//! [`BitstampExchange`] itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError, kline_pages, shape_klines};
use model::{BookEvent, ExchangeId, Kline, OrderBook, Pair, Timestamp};

use crate::config::BitstampConfig;
use crate::parse::{RestBodyError, parse_ohlc, parse_order_book, parse_pairs, step};

/// The most candles one OHLC request returns.
const OHLC_LIMIT: usize = 1_000;

/// The Bitstamp exchange.
#[derive(Debug)]
pub struct BitstampExchange {
    pub(crate) config: BitstampConfig,
    rest: RestClient,
    rest_limit: SlidingLimit,
    /// New connections per minute.
    pub(crate) connections: SlidingLimit,
}

impl BitstampExchange {
    /// An adapter with these settings.
    pub fn new(config: BitstampConfig) -> Result<Self, MarketError> {
        Ok(BitstampExchange {
            rest: RestClient::new(ExchangeId::Bitstamp, config.rest_timeout)?,
            rest_limit: SlidingLimit::new(config.rest_per_second, Duration::from_secs(1)),
            connections: SlidingLimit::new(config.connections_per_minute, Duration::from_secs(60)),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &BitstampConfig {
        &self.config
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, MarketError> {
        self.rest_limit.acquire().await;
        let url = format!(
            "{}/api/v2{path}",
            self.config.rest_url.trim_end_matches('/')
        );
        Ok(self.rest.get(&url, query).await?.body)
    }

    /// The REST book of `pair` (`btcusd`): its `microtimestamp` and the book.
    pub(crate) async fn order_book(&self, pair: &str) -> Result<(i64, BookEvent), MarketError> {
        let body = self.get(&format!("/order_book/{pair}/"), &[]).await?;
        parse_order_book(&body).map_err(body_error)
    }
}

fn body_error(e: RestBodyError) -> MarketError {
    if e.is_rate_limit() {
        return MarketError::RateLimited {
            exchange: ExchangeId::Bitstamp,
            retry_after: Duration::from_secs(10),
            banned: false,
        };
    }
    MarketError::Upstream {
        exchange: ExchangeId::Bitstamp,
        detail: e.to_string(),
    }
}

impl Exchange for BitstampExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Bitstamp
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self.get("/trading-pairs-info/", &[]).await?;
            parse_pairs(&body).map_err(body_error)
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let (secs, source) = step(q.interval);
            let now = Timestamp::now();
            let path = format!("/ohlc/{}/", q.pair.exchange_symbol);
            let mut rows = Vec::new();
            // Any failed page fails the query: a partial answer is never served.
            for (from, to) in kline_pages(&q, source, OHLC_LIMIT, now) {
                let n = (to.as_secs() - from.as_secs()) / i64::from(secs) + 1;
                let query = [
                    ("step", secs.to_string()),
                    ("limit", n.clamp(1, OHLC_LIMIT as i64).to_string()),
                    ("start", from.as_secs().to_string()),
                    ("end", to.as_secs().to_string()),
                ];
                let body = self.get(&path, &query).await?;
                rows.extend(parse_ohlc(&body, source, now).map_err(body_error)?);
            }
            Ok(shape_klines(rows, &q, source != q.interval))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
            .with_depth_cap(self.config.depth_cap)
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
