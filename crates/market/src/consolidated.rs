//! The consolidated cross-venue book of one canonical symbol: every live, uncrossed venue
//! book's top levels merged by price, with each venue's share. Computed here, once, for
//! every transport (REST and WebSocket alike).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use model::{BookHealth, ExchangeId, Symbol};
use rust_decimal::Decimal;

use crate::error::MarketError;
use crate::hub::{BookSnapshot, BookWatch, Hub};

/// One merged price level: the price, the total quantity and each venue's quantity (in
/// exchange-id order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolidatedLevel {
    /// The price.
    pub price: Decimal,
    /// Σ of the venues' quantities at this price.
    pub total: Decimal,
    /// Each venue's quantity.
    pub venues: Vec<(ExchangeId, Decimal)>,
}

/// A book merged across venues; books that are not live (or are crossed) contribute no
/// levels but their health is reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsolidatedBook {
    /// The canonical symbol.
    pub symbol: Symbol,
    /// Merged bids, best (highest) first.
    pub bids: Vec<ConsolidatedLevel>,
    /// Merged asks, best (lowest) first.
    pub asks: Vec<ConsolidatedLevel>,
    /// Every venue listing the symbol, with its book's health.
    pub venues: Vec<(ExchangeId, BookHealth)>,
}

type Side = BTreeMap<Decimal, BTreeMap<ExchangeId, Decimal>>;

fn levels<'a>(
    side: impl Iterator<Item = (&'a Decimal, &'a BTreeMap<ExchangeId, Decimal>)>,
    depth: usize,
) -> Vec<ConsolidatedLevel> {
    side.take(depth)
        .map(|(p, per)| ConsolidatedLevel {
            price: *p,
            total: per.values().copied().sum(),
            venues: per.iter().map(|(e, q)| (*e, *q)).collect(),
        })
        .collect()
}

/// Merge the top `depth` levels of each venue's snapshot.
pub fn consolidate(
    symbol: &Symbol,
    snaps: &[(ExchangeId, Arc<BookSnapshot>)],
    depth: usize,
) -> ConsolidatedBook {
    let (mut bids, mut asks) = (Side::new(), Side::new());
    let mut venues = Vec::with_capacity(snaps.len());
    for (id, s) in snaps {
        venues.push((*id, s.health.clone()));
        if !s.health.is_tradeable() {
            continue;
        }
        let top = s.book.top(depth);
        for l in top.bids() {
            bids.entry(l.price.get())
                .or_default()
                .insert(*id, l.qty.get());
        }
        for l in top.asks() {
            asks.entry(l.price.get())
                .or_default()
                .insert(*id, l.qty.get());
        }
    }
    ConsolidatedBook {
        symbol: symbol.clone(),
        bids: levels(bids.iter().rev(), depth),
        asks: levels(asks.iter(), depth),
        venues,
    }
}

/// Watches of one canonical symbol on every enabled venue that lists it (exactly, not by a
/// native alias of another pair).
pub struct ConsolidatedWatch {
    symbol: Symbol,
    watches: Vec<(ExchangeId, BookWatch)>,
}

impl std::fmt::Debug for ConsolidatedWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsolidatedWatch")
            .field("symbol", &self.symbol)
            .field("venues", &self.watches.len())
            .finish()
    }
}

impl ConsolidatedWatch {
    /// Subscribe the symbol on every venue listing it; `UnknownSymbol` when none does.
    pub fn new(hub: &Hub, symbol: Symbol) -> Result<Self, MarketError> {
        let mut watches = Vec::new();
        for id in hub.exchange_ids() {
            if let Ok(p) = hub.resolve(id, symbol.as_str())
                && p.symbol == symbol
                && let Ok(w) = hub.watch(id, symbol.as_str())
            {
                watches.push((id, w));
            }
        }
        if watches.is_empty() {
            return Err(MarketError::NoVenueLists(symbol));
        }
        Ok(ConsolidatedWatch { symbol, watches })
    }

    /// As [`ConsolidatedWatch::new`], but when no venue lists the symbol yet, wait up to
    /// `timeout` (in all, for every venue at once) for the pair lists still being loaded
    /// for the first time: a server that has just started may not have them yet. A venue
    /// that already failed to answer is not waited for, so an unknown symbol on a server
    /// with an unreachable venue is refused at once.
    pub async fn new_within(
        hub: &Hub,
        symbol: Symbol,
        timeout: Duration,
    ) -> Result<Self, MarketError> {
        match Self::new(hub, symbol.clone()) {
            Err(MarketError::NoVenueLists(_)) => {
                let waits = hub
                    .exchanges()
                    .into_iter()
                    .filter(|s| s.enabled && s.pairs == 0 && s.last_error.is_none())
                    .map(|s| hub.pairs_within(s.id, timeout));
                let _ = futures_util::future::join_all(waits).await;
                Self::new(hub, symbol)
            }
            other => other,
        }
    }

    /// The canonical symbol.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// Wait up to `timeout` (in all) for every venue's book to settle (live, or down).
    pub async fn settle(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        for (_, w) in &mut self.watches {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let _ = w
                .wait_for(left, |s| {
                    s.health.is_tradeable() || s.health.state == model::BookState::Down
                })
                .await;
        }
    }

    /// The merged book now.
    pub fn current(&self, depth: usize) -> ConsolidatedBook {
        let snaps: Vec<(ExchangeId, Arc<BookSnapshot>)> = self
            .watches
            .iter()
            .map(|(id, w)| (*id, w.current()))
            .collect();
        consolidate(&self.symbol, &snaps, depth)
    }
}
