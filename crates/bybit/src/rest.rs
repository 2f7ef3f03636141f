//! Bybit REST: pairs and klines; and the [`BybitExchange`] itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError};
use model::{ExchangeId, Kline, OrderBook, Pair, Timestamp};

use crate::config::BybitConfig;
use crate::parse::{RestBodyError, interval_param, parse_instruments, parse_klines};

/// The Bybit spot exchange.
#[derive(Debug)]
pub struct BybitExchange {
    pub(crate) config: BybitConfig,
    rest: RestClient,
    rest_limit: SlidingLimit,
    /// New connections per 5 minutes.
    pub(crate) connections: SlidingLimit,
}

impl BybitExchange {
    /// An adapter with these settings.
    pub fn new(config: BybitConfig) -> Result<Self, MarketError> {
        if !BybitConfig::DEPTHS.contains(&config.depth) {
            return Err(MarketError::Config(format!(
                "Bybit book depth must be one of {:?}, not {}",
                BybitConfig::DEPTHS,
                config.depth
            )));
        }
        Ok(BybitExchange {
            rest: RestClient::new(ExchangeId::Bybit, config.rest_timeout)?,
            rest_limit: SlidingLimit::new(config.rest_per_second, Duration::from_secs(1)),
            connections: SlidingLimit::new(config.connections_per_5min, Duration::from_secs(300)),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &BybitConfig {
        &self.config
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, MarketError> {
        self.rest_limit.acquire().await;
        let url = format!("{}{}", self.config.rest_url.trim_end_matches('/'), path);
        Ok(self.rest.get(&url, query).await?.body)
    }
}

/// Map a Bybit REST body error to the market error it means.
fn body_error(e: RestBodyError, pair: Option<&Pair>) -> MarketError {
    let ex = ExchangeId::Bybit;
    match e {
        RestBodyError::Parse(p) => MarketError::Upstream {
            exchange: ex,
            detail: p.to_string(),
        },
        // "Too many visits!"
        RestBodyError::Api { code: 10006, .. } => MarketError::RateLimited {
            exchange: ex,
            retry_after: Duration::from_secs(5),
            banned: false,
        },
        RestBodyError::Api { code: 10001, msg } if pair.is_some() && msg.contains("symbol") => {
            MarketError::UnknownSymbol {
                exchange: ex,
                symbol: pair.map_or_else(String::new, |p| p.symbol.to_string()),
            }
        }
        e @ RestBodyError::Api { .. } => MarketError::Upstream {
            exchange: ex,
            detail: e.to_string(),
        },
    }
}

impl Exchange for BybitExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Bybit
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self
                .get(
                    "/v5/market/instruments-info",
                    &[("category", "spot".to_owned())],
                )
                .await?;
            parse_instruments(&body).map_err(|e| body_error(e, None))
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let (param, aggregate) = interval_param(q.interval);
            // Enough source candles for `limit` aggregated ones (3 days from days).
            let want = if aggregate {
                q.limit.saturating_mul(3).saturating_add(3)
            } else {
                q.limit
            };
            let mut query = vec![
                ("category", "spot".to_owned()),
                ("symbol", q.pair.exchange_symbol.clone()),
                ("interval", param.to_owned()),
                ("limit", want.clamp(1, 1_000).to_string()),
            ];
            if let Some(s) = q.start {
                query.push(("start", s.as_millis().to_string()));
            }
            if let Some(e) = q.end {
                query.push(("end", e.as_millis().to_string()));
            }
            let body = self.get("/v5/market/kline", &query).await?;
            let source = if aggregate {
                model::Interval::D1
            } else {
                q.interval
            };
            let rows = parse_klines(&body, source, Timestamp::now())
                .map_err(|e| body_error(e, Some(&q.pair)))?;
            Ok(market::shape_klines(rows, &q, aggregate))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        // Bybit sends prices and sizes at the pair's precisions; the book keeps the
        // subscribed depth (levels pushed out are not deleted by the venue).
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
            .with_depth_cap(Some(self.config.depth as usize))
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
