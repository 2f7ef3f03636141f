//! OKX REST: pairs, candles, book snapshots for the splice; and the [`OkxExchange`] itself.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError};
use model::{ExchangeId, Kline, OrderBook, Pair, Timestamp};

use crate::config::OkxConfig;
use crate::parse::{
    OkxRestBook, RestBodyError, bar, checksum, parse_candles, parse_instruments, parse_rest_book,
};

/// The OKX spot exchange.
#[derive(Debug)]
pub struct OkxExchange {
    pub(crate) config: OkxConfig,
    rest: RestClient,
    rest_limit: SlidingLimit,
    /// New connections per second.
    pub(crate) connections: SlidingLimit,
}

impl OkxExchange {
    /// An adapter with these settings.
    pub fn new(config: OkxConfig) -> Result<Self, MarketError> {
        Ok(OkxExchange {
            rest: RestClient::new(ExchangeId::Okx, config.rest_timeout)?,
            rest_limit: SlidingLimit::new(config.rest_per_second, Duration::from_secs(1)),
            connections: SlidingLimit::new(config.connections_per_second, Duration::from_secs(1)),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &OkxConfig {
        &self.config
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, MarketError> {
        self.rest_limit.acquire().await;
        let url = format!("{}{}", self.config.rest_url.trim_end_matches('/'), path);
        Ok(self.rest.get(&url, query).await?.body)
    }

    /// `GET /api/v5/market/books?instId=…&sz=400`: the book to splice.
    pub(crate) async fn rest_book(&self, inst_id: &str) -> Result<OkxRestBook, MarketError> {
        let body = self
            .get(
                "/api/v5/market/books",
                &[("instId", inst_id.to_owned()), ("sz", "400".to_owned())],
            )
            .await?;
        parse_rest_book(&body).map_err(|e| body_error(e, None))
    }
}

/// Map an OKX REST body error to the market error it means.
fn body_error(e: RestBodyError, pair: Option<&Pair>) -> MarketError {
    let ex = ExchangeId::Okx;
    match e {
        RestBodyError::Parse(p) => MarketError::Upstream {
            exchange: ex,
            detail: p.to_string(),
        },
        RestBodyError::Api { code, .. } if code == "50011" => MarketError::RateLimited {
            exchange: ex,
            retry_after: Duration::from_secs(2),
            banned: false,
        },
        RestBodyError::Api { code, .. } if code == "51001" && pair.is_some() => {
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

impl Exchange for OkxExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Okx
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self
                .get(
                    "/api/v5/public/instruments",
                    &[("instType", "SPOT".to_owned())],
                )
                .await?;
            parse_instruments(&body).map_err(|e| body_error(e, None))
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let now = Timestamp::now();
            // Older ranges live on `history-candles` (at most 100 a page).
            let old = q
                .start
                .is_some_and(|s| now.as_millis() - s.as_millis() > 100 * 86_400_000);
            let (path, max) = if old {
                ("/api/v5/market/history-candles", 100)
            } else {
                ("/api/v5/market/candles", 300)
            };
            let mut query = vec![
                ("instId", q.pair.exchange_symbol.clone()),
                ("bar", bar(q.interval).to_owned()),
                ("limit", q.limit.clamp(1, max).to_string()),
            ];
            // `after` = older than, `before` = newer than (exclusive, ms).
            if let Some(e) = q.end {
                query.push(("after", (e.as_millis() + 1).to_string()));
            }
            if let Some(s) = q.start {
                query.push(("before", (s.as_millis() - 1).to_string()));
            }
            let body = self.get(path, &query).await?;
            let mut rows =
                parse_candles(&body, q.interval).map_err(|e| body_error(e, Some(&q.pair)))?;
            rows.retain(|k| {
                q.start.is_none_or(|s| k.open_time >= s) && q.end.is_none_or(|e| k.open_time <= e)
            });
            let limit = q.limit.max(1);
            if rows.len() > limit {
                rows.drain(..rows.len() - limit);
            }
            Ok(rows)
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
            .with_depth_cap(Some(self.config.depth_cap))
    }

    fn book_checksum(&self, _pair: &Pair, book: &OrderBook) -> Option<u32> {
        self.config.checksum.then(|| checksum(book))
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
