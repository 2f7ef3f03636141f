//! The hub as the engine's book source.

use engine::{BookAccess, BookRef, Books};
use market::Hub;
use model::{ExchangeId, Symbol, Timestamp};
use rust_decimal::Decimal;

/// The hub as the engine's book source: the latest snapshot per book, and a watch as the
/// lease that keeps a traded book subscribed.
#[derive(Debug, Clone)]
pub struct HubBooks(pub Hub);

impl Books for HubBooks {
    fn with_book(&self, exchange: ExchangeId, symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        // Staleness judged at the moment of the fill, not at the hub's last sweep.
        match self.0.snapshot_for_trading(exchange, symbol.as_str()) {
            Ok(s) => f(Some((&s.book, &s.health))),
            Err(_) => f(None),
        }
    }

    fn market_volume(
        &self,
        exchange: ExchangeId,
        symbol: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(Decimal, Decimal)> {
        self.0.trade_volume(exchange, symbol, after, upto)
    }
}

impl BookAccess for HubBooks {
    fn hold(&self, exchange: ExchangeId, symbol: &Symbol) -> Option<Box<dyn Send + Sync>> {
        self.0
            .watch(exchange, symbol.as_str())
            .ok()
            .map(|w| Box::new(w) as Box<dyn Send + Sync>)
    }
}
