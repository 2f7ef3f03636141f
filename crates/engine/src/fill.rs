//! The paper-fill simulator: aggressive walks that consume the liquidity they take.

use std::collections::HashMap;

use model::{BookSide, ExchangeId, OrderBook, Price, Side, Symbol};
use rust_decimal::Decimal;

/// Why a slice filled less than it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShortReason {
    /// The next level was beyond the limit price.
    LimitPrice,
    /// The book (after earlier paper fills) had no more levels.
    Depth,
}

crate::words::words!(ShortReason, "short reason", { LimitPrice => "limit_price", Depth => "depth" });

/// What one walk took.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fill {
    /// `(price, qty)` taken, best level first.
    pub levels: Vec<(Decimal, Decimal)>,
    /// The quantity the venue showed at each level taken (parallel to `levels`): what a
    /// replay needs to know how long the paper consumption lasts.
    pub shown: Vec<Decimal>,
    /// Total quantity.
    pub qty: Decimal,
    /// Σ price·qty.
    pub notional: Decimal,
    /// Why it is short of the asked quantity, if it is.
    pub short: Option<ShortReason>,
}

impl Fill {
    /// Volume-weighted average price, when anything filled.
    pub fn vwap(&self) -> Option<Decimal> {
        (!self.qty.is_zero()).then(|| self.notional / self.qty)
    }
}

/// A level a walk may take from: its venue (an index into the walk's venues), its price,
/// what paper fills left of it, and the quantity the venue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Which venue of the walk.
    pub venue: usize,
    /// Price.
    pub price: Decimal,
    /// Quantity left after earlier paper fills.
    pub available: Decimal,
    /// Quantity the venue shows.
    pub venue_qty: Decimal,
}

/// Paper consumption of one level: how much was taken while the venue showed `venue_qty`.
#[derive(Debug, Clone, Copy)]
struct Taken {
    venue_qty: Decimal,
    taken: Decimal,
}

/// Liquidity taken by paper fills, shared by every order: quantity taken from a level stays
/// unavailable until the venue changes that level (its quantity differs from what it was
/// when taken, or it disappears).
#[derive(Debug, Default)]
pub struct Liquidity {
    books: HashMap<(ExchangeId, Symbol, BookSide), HashMap<Decimal, Taken>>,
}

impl Liquidity {
    /// Walk `book` for an aggressive `side` order of `qty`, never beyond `limit`, taking at
    /// most what earlier paper fills left of each level, and record what was taken.
    pub fn take(
        &mut self,
        exchange: ExchangeId,
        symbol: &Symbol,
        book: &OrderBook,
        side: Side,
        qty: Decimal,
        limit: Option<Decimal>,
    ) -> Fill {
        let mut fill = Fill::default();
        if qty <= Decimal::ZERO {
            return fill;
        }
        let mut levels = Vec::new();
        let at_limit = self.candidates(exchange, symbol, book, side, qty, limit, 0, &mut levels);
        let mut remaining = qty;
        for c in &levels {
            let q = c.available.min(remaining);
            self.commit(exchange, symbol, side, c, q);
            fill.levels.push((c.price, q));
            fill.shown.push(c.venue_qty);
            fill.qty += q;
            fill.notional += c.price * q;
            remaining -= q;
        }
        if remaining > Decimal::ZERO {
            fill.short = Some(if at_limit {
                ShortReason::LimitPrice
            } else {
                ShortReason::Depth
            });
        }
        fill
    }

    /// The levels of `book` an aggressive `side` order of `qty` could take, best first:
    /// within `limit`, what earlier paper fills left of each (consumption of levels the venue
    /// has changed or removed is forgotten first), and no more than `qty` in all. Appended
    /// to `out` tagged `venue`; returns whether the walk stopped at the limit.
    #[allow(clippy::too_many_arguments)]
    pub fn candidates(
        &mut self,
        exchange: ExchangeId,
        symbol: &Symbol,
        book: &OrderBook,
        side: Side,
        qty: Decimal,
        limit: Option<Decimal>,
        venue: usize,
        out: &mut Vec<Candidate>,
    ) -> bool {
        let book_side = side.takes();
        let taken = self
            .books
            .entry((exchange, symbol.clone(), book_side))
            .or_default();
        taken.retain(|p, t| {
            Price::try_from(*p)
                .ok()
                .and_then(|p| book.qty_at(book_side, p))
                .is_some_and(|q| q.get() == t.venue_qty)
        });
        let mut enough = Decimal::ZERO;
        for level in book.levels(book_side) {
            if enough >= qty {
                return false;
            }
            let (price, venue_qty) = (level.price.get(), level.qty.get());
            let beyond = match (side, limit) {
                (Side::Buy, Some(l)) => price > l,
                (Side::Sell, Some(l)) => price < l,
                _ => false,
            };
            if beyond {
                return true;
            }
            let used = taken.get(&price).map_or(Decimal::ZERO, |t| t.taken);
            let available = venue_qty - used;
            if available <= Decimal::ZERO {
                continue;
            }
            enough += available;
            out.push(Candidate {
                venue,
                price,
                available,
                venue_qty,
            });
        }
        false
    }

    /// Record that `q` was taken from candidate level `c` of (exchange, symbol).
    pub fn commit(
        &mut self,
        exchange: ExchangeId,
        symbol: &Symbol,
        side: Side,
        c: &Candidate,
        q: Decimal,
    ) {
        let taken = self
            .books
            .entry((exchange, symbol.clone(), side.takes()))
            .or_default();
        let used = taken.get(&c.price).map_or(Decimal::ZERO, |t| t.taken);
        taken.insert(
            c.price,
            Taken {
                venue_qty: c.venue_qty,
                taken: used + q,
            },
        );
    }

    /// Replay a paper fill another order made (recorded on a tape): `qty` taken at `price`
    /// of that book side while the venue showed `shown`. As [`Liquidity::commit`] does, it
    /// adds to what was taken at that level if the venue still showed the same quantity,
    /// and starts afresh if the level had changed.
    pub fn inject(
        &mut self,
        exchange: ExchangeId,
        symbol: &Symbol,
        side: BookSide,
        price: Decimal,
        shown: Decimal,
        qty: Decimal,
    ) {
        let taken = self
            .books
            .entry((exchange, symbol.clone(), side))
            .or_default();
        let used = taken
            .get(&price)
            .filter(|t| t.venue_qty == shown)
            .map_or(Decimal::ZERO, |t| t.taken);
        taken.insert(
            price,
            Taken {
                venue_qty: shown,
                taken: used + qty,
            },
        );
    }

    /// Quantity of `price` on that book side currently taken by paper fills.
    pub fn taken_at(
        &self,
        exchange: ExchangeId,
        symbol: &Symbol,
        side: BookSide,
        price: Decimal,
    ) -> Decimal {
        self.books
            .get(&(exchange, symbol.clone(), side))
            .and_then(|m| m.get(&price))
            .map_or(Decimal::ZERO, |t| t.taken)
    }

    /// Forget a book entirely (no open order uses it any more).
    pub fn forget(&mut self, exchange: ExchangeId, symbol: &Symbol) {
        self.books
            .retain(|(e, s, _), _| !(*e == exchange && s == symbol));
    }
}
