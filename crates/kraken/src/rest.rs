//! Kraken REST: pairs and klines; and the [`KrakenExchange`] itself.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::net::{RestClient, SlidingLimit};
use market::{Exchange, FeedContext, KlineQuery, MarketError};
use model::{ExchangeId, Kline, OrderBook, Pair};

use crate::config::KrakenConfig;
use crate::parse::{RestBodyError, checksum, ohlc_source, parse_asset_pairs, parse_ohlc};

/// The Kraken spot exchange.
#[derive(Debug)]
pub struct KrakenExchange {
    pub(crate) config: KrakenConfig,
    rest: RestClient,
    rest_limit: SlidingLimit,
    /// New connections per 10 minutes.
    pub(crate) connections: SlidingLimit,
    /// `(pair_decimals, lot_decimals)` by canonical symbol, learnt from `AssetPairs`.
    precisions: RwLock<HashMap<String, (u32, u32)>>,
}

impl KrakenExchange {
    /// An adapter with these settings.
    pub fn new(config: KrakenConfig) -> Result<Self, MarketError> {
        if !KrakenConfig::DEPTHS.contains(&config.depth) {
            return Err(MarketError::Config(format!(
                "Kraken book depth must be one of {:?}, not {}",
                KrakenConfig::DEPTHS,
                config.depth
            )));
        }
        Ok(KrakenExchange {
            rest: RestClient::new(ExchangeId::Kraken, config.rest_timeout)?,
            rest_limit: SlidingLimit::new(config.rest_per_second, Duration::from_secs(1)),
            connections: SlidingLimit::new(config.connections_per_10min, Duration::from_secs(600)),
            precisions: RwLock::new(HashMap::new()),
            config,
        })
    }

    /// The adapter's settings.
    pub fn config(&self) -> &KrakenConfig {
        &self.config
    }

    /// The precisions a pair's checksum is computed at: `AssetPairs`' `pair_decimals` and
    /// `lot_decimals` when known, else the pair's tick and step.
    pub fn precisions(&self, pair: &Pair) -> (u32, u32) {
        self.precisions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pair.symbol.as_str())
            .copied()
            .unwrap_or((pair.price_precision(), pair.qty_precision()))
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, MarketError> {
        self.rest_limit.acquire().await;
        let url = format!("{}{}", self.config.rest_url.trim_end_matches('/'), path);
        Ok(self.rest.get(&url, query).await?.body)
    }
}

/// Map a Kraken REST body error to the market error it means.
fn body_error(e: RestBodyError, symbol: Option<&Pair>) -> MarketError {
    let ex = ExchangeId::Kraken;
    match e {
        RestBodyError::Parse(p) => MarketError::Upstream {
            exchange: ex,
            detail: p.to_string(),
        },
        RestBodyError::Api(api) => {
            let text = api.to_string();
            let has = |s: &str| api.0.iter().any(|e| e.contains(s));
            if has("Unknown asset pair") {
                MarketError::UnknownSymbol {
                    exchange: ex,
                    symbol: symbol.map_or_else(String::new, |p| p.symbol.to_string()),
                }
            } else if has("Too many requests") || has("Rate limit") {
                MarketError::RateLimited {
                    exchange: ex,
                    retry_after: Duration::from_secs(5),
                    banned: false,
                }
            } else if has("EService:") {
                MarketError::Unavailable {
                    exchange: ex,
                    reason: text,
                    retry_after: Some(Duration::from_secs(5)),
                }
            } else {
                MarketError::Upstream {
                    exchange: ex,
                    detail: text,
                }
            }
        }
    }
}

impl Exchange for KrakenExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Kraken
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async move {
            let body = self.get("/0/public/AssetPairs", &[]).await?;
            let pairs = parse_asset_pairs(&body).map_err(|e| body_error(e, None))?;
            let mut map = self
                .precisions
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.clear();
            for p in &pairs {
                map.insert(
                    p.pair.symbol.to_string(),
                    (p.price_decimals, p.qty_decimals),
                );
            }
            Ok(pairs.into_iter().map(|p| p.pair).collect())
        }
        .boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async move {
            let (minutes, aggregate) = ohlc_source(q.interval);
            let mut query = vec![
                ("pair", q.pair.exchange_symbol.clone()),
                ("interval", minutes.to_string()),
            ];
            if let Some(s) = q.start {
                // `since` is exclusive of nothing useful: it filters inside the 720-candle
                // window; the exact range is cut below.
                query.push(("since", (s.as_secs() - 1).max(0).to_string()));
            }
            let body = self.get("/0/public/OHLC", &query).await?;
            let rows = parse_ohlc(&body, minutes).map_err(|e| body_error(e, Some(&q.pair)))?;
            Ok(market::shape_klines(rows, &q, aggregate))
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        let (p, q) = self.precisions(pair);
        // Kraken prints prices and quantities at the pair's precisions; keeping the book at
        // exactly these scales makes the checksum a pure integer rendering.
        OrderBook::with_scales(p, q).with_depth_cap(Some(self.config.depth as usize))
    }

    fn book_checksum(&self, pair: &Pair, book: &OrderBook) -> Option<u32> {
        if !self.config.checksum
            || self
                .config
                .checksum_skip
                .iter()
                .any(|s| s.eq_ignore_ascii_case(pair.symbol.as_str()))
        {
            return None;
        }
        let (p, q) = self.precisions(pair);
        Some(checksum(book, p, q))
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        crate::ws::run(self, ctx).boxed()
    }
}
