//! Routing across venues (`exchange: "best"`): each slice walks the consolidated book of
//! every venue of the order's route whose book is live, taking levels by price net of each
//! venue's fee (a buy the cheapest all-in first, a sell the richest), never beyond the limit
//! at any venue, with paper consumption kept per venue as for a single-venue order.

use std::sync::Arc;

use model::{BookState, Side, Symbol, Timestamp};
use rust_decimal::Decimal;

use crate::core::Books;
use crate::fill::{Candidate, Fill, Liquidity, ShortReason};
use crate::order::SkipReason;

/// One venue of a route and the taker fee it charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Venue {
    /// The exchange.
    pub exchange: model::ExchangeId,
    /// Its taker fee, bps.
    pub fee_bps: Decimal,
}

/// The venues an order routes across (`None`: one venue).
pub type Route = Option<Arc<[Venue]>>;

/// What one routed slice met and took.
#[derive(Debug, Clone, Default)]
pub(crate) struct Walk {
    /// The fills, best net price first.
    pub(crate) fill: Fill,
    /// The venue of each fill.
    pub(crate) venues: Vec<model::ExchangeId>,
    /// Fees: per venue, on that venue's notional.
    pub(crate) fee: Decimal,
    /// The best bid and ask across the live venues.
    pub(crate) best_bid: Option<Decimal>,
    /// The best ask across the live venues.
    pub(crate) best_ask: Option<Decimal>,
    /// The oldest live book used, ms.
    pub(crate) age_ms: Option<i64>,
    /// The latest receive time of the last event of any book looked at: every book's state
    /// is its events up to then (a re-run's bound, [`crate::lab`]).
    pub(crate) book_time: Option<model::Timestamp>,
    /// Why nothing could be attempted (no venue live).
    pub(crate) skipped: Option<SkipReason>,
}

/// The net price a taker pays (buy) or receives (sell) at `price` on a venue charging
/// `fee_bps`.
fn net(side: Side, price: Decimal, fee_bps: Decimal) -> Decimal {
    let f = fee_bps / Decimal::from(10_000);
    match side {
        Side::Buy => price * (Decimal::ONE + f),
        Side::Sell => price * (Decimal::ONE - f),
    }
}

/// Per-venue fee on a notional, rounded as a single-venue slice's fee is.
pub(crate) fn fee_on(notional: Decimal, fee_bps: Decimal) -> Decimal {
    (notional * fee_bps / Decimal::from(10_000))
        .round_dp(12)
        .normalize()
}

/// Walk the route's live books for an aggressive `side` order of `qty` within `limit`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn walk(
    liquidity: &mut Liquidity,
    books: &dyn Books,
    venues: &[Venue],
    symbol: &Symbol,
    side: Side,
    qty: Decimal,
    limit: Option<Decimal>,
    now: Timestamp,
) -> Walk {
    let mut w = Walk::default();
    let mut cands: Vec<Candidate> = Vec::new();
    let (mut any_book, mut crossed, mut stale, mut live, mut at_limit) =
        (false, false, false, 0usize, false);
    for (k, v) in venues.iter().enumerate() {
        books.with_book(v.exchange, symbol, &mut |b| {
            let Some((book, health)) = b else {
                return;
            };
            any_book = true;
            w.book_time = w.book_time.max(health.last_update);
            if health.crossed || book.is_crossed() {
                crossed = true;
                return;
            }
            if health.state != BookState::Live {
                stale |= health.last_update.is_some();
                return;
            }
            live += 1;
            let bid = book.best_bid().map(|l| l.price.get());
            let ask = book.best_ask().map(|l| l.price.get());
            w.best_bid = w.best_bid.max(bid);
            w.best_ask = match (w.best_ask, ask) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            w.age_ms = w.age_ms.max(health.age_ms(now));
            at_limit |=
                liquidity.candidates(v.exchange, symbol, book, side, qty, limit, k, &mut cands);
        });
    }
    if live == 0 {
        w.skipped = Some(if crossed {
            SkipReason::CrossedBook
        } else if stale || any_book {
            SkipReason::StaleBook
        } else {
            SkipReason::NoBook
        });
        return w;
    }
    // Best all-in price first; at equal net price, the route's order, then the book's.
    cands.sort_by(|a, b| {
        let (na, nb) = (
            net(side, a.price, venues[a.venue].fee_bps),
            net(side, b.price, venues[b.venue].fee_bps),
        );
        let by_price = match side {
            Side::Buy => na.cmp(&nb),
            Side::Sell => nb.cmp(&na),
        };
        by_price.then(a.venue.cmp(&b.venue))
    });
    let mut remaining = qty;
    let mut notional_by_venue = vec![Decimal::ZERO; venues.len()];
    for c in &cands {
        if remaining.is_zero() {
            break;
        }
        let q = c.available.min(remaining);
        liquidity.commit(venues[c.venue].exchange, symbol, side, c, q);
        w.fill.levels.push((c.price, q));
        w.fill.shown.push(c.venue_qty);
        w.venues.push(venues[c.venue].exchange);
        w.fill.qty += q;
        w.fill.notional += c.price * q;
        notional_by_venue[c.venue] += c.price * q;
        remaining -= q;
    }
    w.fee = venues
        .iter()
        .zip(&notional_by_venue)
        .map(|(v, n)| fee_on(*n, v.fee_bps))
        .sum::<Decimal>()
        .normalize();
    if remaining > Decimal::ZERO {
        w.fill.short = Some(if at_limit {
            ShortReason::LimitPrice
        } else {
            ShortReason::Depth
        });
    }
    w
}
