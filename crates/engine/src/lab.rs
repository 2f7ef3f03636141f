//! The lab's re-run (DESIGN §17): one order executed alone, by the same core as live
//! trading, against a recorded market instead of the live one.
//!
//! Exactness: a paper fill never moves the venue's book, so an order re-run against the books
//! it saw, with the liquidity other orders took before it replayed into the ledger, fills
//! exactly as it did. Each slice of the re-run whose scheduled time equals one of the
//! original's is run at the original's execution time against the book the original saw (its
//! `book_time`); any other slice runs at its scheduled time against the book as recorded then.
//! Such a slice also counts the market volume the original counted when its window is the
//! same: live, trades received just before a window closed may not have reached the trade
//! tape yet when the slice ran, and no recording can tell which did.

use std::collections::HashMap;
use std::sync::Arc;

use model::{BookSide, ExchangeId, Symbol, Timestamp};
use rust_decimal::Decimal;

use crate::core::{BookRef, Books, Engine};
use crate::order::{Order, SliceRecord};

/// Liquidity another order took, as recorded: replayed into the re-run's ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumption {
    /// The venue.
    pub exchange: ExchangeId,
    /// The symbol.
    pub symbol: Symbol,
    /// The book side taken from.
    pub side: BookSide,
    /// The level's price.
    pub price: Decimal,
    /// The quantity the venue showed there when it was taken.
    pub shown: Decimal,
    /// The quantity taken.
    pub qty: Decimal,
}

/// What the recording says about the paper ledger of a book.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    /// Another order took liquidity.
    Consumed(Consumption),
    /// Everything taken before no longer holds (no order traded the book, or the server
    /// restarted).
    Released {
        /// The venue.
        exchange: ExchangeId,
        /// The symbol.
        symbol: Symbol,
    },
}

/// A recorded market a re-run executes against: books (with health and market volume)
/// positioned on demand, moving forward only.
pub trait RecordedMarket: Books {
    /// Bring every book to what a slice executed at `now` saw: venue events received up to
    /// `book_time` (`now` when `None`) and book states published up to `now`; hand what
    /// the recording says of the paper ledger up to `now` (other orders' consumption,
    /// releases) to `ledger`, in recorded order.
    fn advance(
        &mut self,
        now: Timestamp,
        book_time: Option<Timestamp>,
        ledger: &mut dyn FnMut(LedgerEvent),
    );

    /// The server restarted: every book is as a new process has it — none yet, until the
    /// events recorded after the restart give it one.
    fn restart(&mut self);
}

/// Where a slice of the original was observed: run a re-run's slice due at the same time
/// at the same moment on the same book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    executed_at: Timestamp,
    book_time: Option<Timestamp>,
    /// The market window the original's slice counted, and the volume it counted there.
    window: (Timestamp, Timestamp),
    volume: Option<(Decimal, Decimal)>,
}

/// A re-run's result: the order as it ended (or stood when the recording ended) and its
/// slices, markouts included where the recording reached them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    /// The order.
    pub order: Order,
    /// Its slices, by index.
    pub slices: Vec<SliceRecord>,
}

/// Run `order` (a draft: not yet admitted) alone against `market` until it ends and its
/// markouts are taken, or the recording ends at `horizon`. A what-if passes the `original`
/// order and its slices: its slices are anchored on the original's, and `decision_mid` (and
/// `arrival_mid` when the start is unchanged) are the original's — the decision was taken
/// then, whatever is changed afterwards. A backtest passes none: the order is accepted at
/// its draft's `created_at`, with the recorded mid then.
pub fn rerun(
    mut order: Order,
    original: Option<(&Order, &[SliceRecord])>,
    market: &mut dyn RecordedMarket,
    horizon: Timestamp,
) -> Rerun {
    let anchors: HashMap<i64, Anchor> = original
        .map(|(o, slices)| {
            slices
                .iter()
                .filter(|s| s.skipped != Some(crate::SkipReason::ServerDown))
                .map(|s| {
                    let anchor = Anchor {
                        executed_at: s.executed_at,
                        book_time: s.book_time,
                        window: o.window(s.index),
                        volume: s.market_volume.zip(s.market_notional),
                    };
                    (s.scheduled_at.as_nanos(), anchor)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut downs = restarts(original.map(|(_, slices)| slices).unwrap_or_default());
    let created = original.map_or(order.created_at, |(o, _)| o.created_at);
    let mut engine = Engine::new();
    market.advance(created, None, &mut |c| engine.replay_ledger(&c));
    engine.admit(&mut order, created, market);
    order.created_at = created;
    if let Some((o, _)) = original {
        order.totals.decision_mid = o.totals.decision_mid;
        if order.plan.start == o.plan.start {
            order.totals.arrival_mid = o.totals.arrival_mid;
        }
    }
    let id = order.id;
    let mut last = Arc::new(order.clone());
    engine.schedule(order);
    let mut slices: Vec<SliceRecord> = Vec::new();
    while let Some(due) = engine.next_due() {
        if due > horizon {
            break;
        }
        // The server was down then: as it did, the order resumes at the restart, its slices
        // due meanwhile recorded `server_down`.
        let next_slice = engine
            .get(id)
            .filter(|o| o.next_index < o.plan.slices && o.due(o.next_index) <= due)
            .map(|o| o.plan.slice_time(o.next_index));
        let down = next_slice.and_then(|t| downs.iter().position(|w| w.0 <= t && t < w.1));
        if let Some(k) = down {
            // Each restart happens once.
            let (down, at) = downs.swap_remove(k);
            // Down by the first slice it skipped: the books as a new process has them
            // (none), then what it received before the engine resumed.
            market.advance(down, None, &mut |c| engine.replay_ledger(&c));
            market.restart();
            market.advance(at, None, &mut |c| engine.replay_ledger(&c));
            if let Some(o) = engine.forget(id) {
                for u in engine.restore(o, at) {
                    slices.extend(u.slice);
                    last = u.order;
                }
            }
            continue;
        }
        // The next slice's anchor, when the original ran a slice at that time.
        let anchor = next_slice
            .and_then(|t| anchors.get(&t.as_nanos()))
            .filter(|a| a.executed_at >= due);
        // Its window's volume as the original counted it, when the window is the same.
        let observed = anchor.zip(engine.get(id)).and_then(|(a, o)| {
            let same = o.next_index < o.plan.slices && o.window(o.next_index) == a.window;
            same.then(|| ObservedVolume {
                window: a.window,
                volume: a.volume,
                first: o.exchanges().next(),
            })
        });
        let (now, book_time) = match anchor {
            // The original saw no book data at all (none received yet): no event since.
            Some(a) => (
                a.executed_at,
                Some(a.book_time.unwrap_or(Timestamp::from_nanos(i64::MIN))),
            ),
            None => (due, None),
        };
        market.advance(now, book_time, &mut |c| engine.replay_ledger(&c));
        let books = Observed {
            market: &*market,
            volume: observed,
        };
        for u in engine.run_due(now, &books) {
            if let Some(s) = u.slice {
                slices.push(s);
            }
            // Slices are recorded once each, in index order.
            if let Some((i, m)) = u.markouts
                && let Some(s) = slices.get_mut(i as usize).filter(|s| s.index == i)
            {
                s.markouts = m;
            }
            last = u.order;
        }
    }
    Rerun {
        order: Arc::unwrap_or_clone(last),
        slices,
    }
}

/// The volume an original's slice counted in its market window.
#[derive(Debug, Clone, Copy)]
struct ObservedVolume {
    window: (Timestamp, Timestamp),
    volume: Option<(Decimal, Decimal)>,
    /// The order's first venue: a route's volume is the sum over its venues, so the whole
    /// of it is answered for this one and nothing more for the others.
    first: Option<ExchangeId>,
}

/// The recorded market as a slice sees it. The books are the recording's. The market volume
/// of the slice's window is the one the original counted when the window is the same: live,
/// a trade received just before the window closed may still have been on its way to the
/// trade tape when the slice ran, and the recording cannot tell which (the slice keeps
/// what it counted, so a re-run counts the same).
struct Observed<'a> {
    market: &'a dyn RecordedMarket,
    volume: Option<ObservedVolume>,
}

impl Books for Observed<'_> {
    fn with_book(&self, exchange: ExchangeId, symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        self.market.with_book(exchange, symbol, f);
    }

    fn market_volume(
        &self,
        exchange: ExchangeId,
        symbol: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(Decimal, Decimal)> {
        match self.volume {
            Some(o) if o.window == (after, upto) => match o.volume {
                Some(v) if o.first == Some(exchange) => Some(v),
                Some(_) => Some((Decimal::ZERO, Decimal::ZERO)),
                None => None,
            },
            _ => self.market.market_volume(exchange, symbol, after, upto),
        }
    }
}

/// When the original's server was down: for each restart (the execution time of its
/// `server_down` slices), from the earliest slice it skipped to the restart.
fn restarts(slices: &[SliceRecord]) -> Vec<(Timestamp, Timestamp)> {
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    for s in slices
        .iter()
        .filter(|s| s.skipped == Some(crate::SkipReason::ServerDown))
    {
        match out.iter_mut().find(|w| w.1 == s.executed_at) {
            Some(w) => w.0 = w.0.min(s.scheduled_at),
            None => out.push((s.scheduled_at, s.executed_at)),
        }
    }
    out
}

/// The fields that make two runs of a slice the same execution: when and what it asked,
/// what it took at which prices, and why it was skipped or short.
pub fn same_execution(a: &SliceRecord, b: &SliceRecord) -> bool {
    a.index == b.index
        && a.scheduled_at == b.scheduled_at
        && a.target == b.target
        && a.filled == b.filled
        && a.notional == b.notional
        && a.avg_price == b.avg_price
        && a.fee == b.fee
        && a.fills == b.fills
        && a.fill_venues == b.fill_venues
        && a.skipped == b.skipped
        && a.short == b.short
        && a.mid == b.mid
        && a.best_bid == b.best_bid
        && a.best_ask == b.best_ask
}

/// True when a re-run reproduced the original: the same slices, fill for fill, and the same
/// end.
pub fn reproduces(original: &Order, slices: &[SliceRecord], run: &Rerun) -> bool {
    original.status == run.order.status
        && slices.len() == run.slices.len()
        && slices
            .iter()
            .zip(&run.slices)
            .all(|(a, b)| same_execution(a, b))
}
