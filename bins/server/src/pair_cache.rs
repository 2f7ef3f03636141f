//! The hub's pair cache kept in the store, so a start without a venue still lists its pairs.
//! The JSON here is a private storage format, not the API's (`wire`): it keeps every field
//! needed to rebuild a `model::Pair`, native names included.

use std::str::FromStr;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::PairCache;
use model::{ExchangeId, Pair, PairStatus, Symbol};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::Store;
use tracing::warn;

/// [`PairCache`] over the store's `pair_cache` table.
#[derive(Debug, Clone)]
pub(crate) struct StorePairCache {
    store: Store,
}

impl StorePairCache {
    /// A cache writing to `store`.
    pub(crate) fn new(store: Store) -> Self {
        StorePairCache { store }
    }
}

fn encode(pairs: &[Pair]) -> String {
    Value::Array(
        pairs
            .iter()
            .map(|p| {
                json!({
                    "symbol": p.symbol.as_str(),
                    "exchange_symbol": p.exchange_symbol,
                    "ws_symbol": p.ws_symbol,
                    "aliases": p.aliases,
                    "status": p.status.as_str(),
                    "price_tick": p.price_tick.to_string(),
                    "qty_step": p.qty_step.to_string(),
                    "min_qty": p.min_qty.to_string(),
                    "min_notional": p.min_notional.map(|d| d.to_string()),
                })
            })
            .collect(),
    )
    .to_string()
}

fn status(s: &str) -> PairStatus {
    match PairStatus::from_str(s) {
        Ok(st) => st,
        Err(never) => match never {},
    }
}

fn decode(exchange: ExchangeId, body: &str) -> Option<Vec<Pair>> {
    let v: Vec<Value> = serde_json::from_str(body).ok()?;
    let text = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let dec = |p: &Value, k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .and_then(|s| Decimal::from_str(s).ok())
    };
    v.iter()
        .map(|p| {
            Some(Pair {
                exchange,
                symbol: Symbol::from_str(&text(p, "symbol")?).ok()?,
                exchange_symbol: text(p, "exchange_symbol")?,
                ws_symbol: text(p, "ws_symbol")?,
                aliases: p
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                status: status(&text(p, "status")?),
                price_tick: dec(p, "price_tick")?,
                qty_step: dec(p, "qty_step")?,
                min_qty: dec(p, "min_qty")?,
                min_notional: dec(p, "min_notional"),
            })
        })
        .collect()
}

impl PairCache for StorePairCache {
    fn load(&self, exchange: ExchangeId) -> BoxFuture<'_, Option<Vec<Pair>>> {
        async move {
            match self.store.cached_pairs(exchange.as_str()).await {
                Ok(Some(body)) => {
                    let pairs = decode(exchange, &body);
                    if pairs.is_none() {
                        warn!(%exchange, "cached pair list is unreadable; ignoring it");
                    }
                    pairs
                }
                Ok(None) => None,
                Err(e) => {
                    warn!(%exchange, error = %e, "reading the pair cache failed");
                    None
                }
            }
        }
        .boxed()
    }

    fn save(&self, exchange: ExchangeId, pairs: Vec<Pair>) -> BoxFuture<'_, ()> {
        async move {
            if let Err(e) = self
                .store
                .cache_pairs(exchange.as_str(), &encode(&pairs))
                .await
            {
                warn!(%exchange, error = %e, "writing the pair cache failed");
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let p = Pair {
            exchange: ExchangeId::Kraken,
            symbol: "BTC-USD".parse().unwrap(),
            exchange_symbol: "XBTUSD".into(),
            ws_symbol: "BTC/USD".into(),
            aliases: vec!["XXBTZUSD".into(), "XBT/USD".into()],
            status: PairStatus::CancelOnly,
            price_tick: Decimal::new(1, 1),
            qty_step: Decimal::new(1, 8),
            min_qty: Decimal::new(5, 5),
            min_notional: Some(Decimal::new(5, 1)),
        };
        let back = decode(ExchangeId::Kraken, &encode(std::slice::from_ref(&p))).unwrap();
        assert_eq!(back, vec![p]);
        assert!(decode(ExchangeId::Kraken, "not json").is_none());
    }
}
