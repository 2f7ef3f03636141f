//! The rolling public-trade tape of one book: bounded in count and age, de-duplicated by the
//! venue's trade id (a reconnect that replays recent prints adds nothing), numbered so that
//! readers can ask for everything after what they saw.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use model::{Timestamp, Trade, TradeId};
use rust_decimal::Decimal;
use tokio::sync::watch;

use super::book_watch::{Lease, Slot};
use super::rd;
use crate::error::MarketError;

/// How many recent trade ids are remembered for de-duplication: far more than any venue
/// replays after a reconnect (Kraken's snapshot sends 50, OKX none, Binance none).
const DEDUP_WINDOW: usize = 8_192;

/// Limits of every tape (from `market.trades_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapeLimits {
    /// At most this many trades per book.
    pub max_trades: usize,
    /// Trades received longer ago than this are dropped.
    pub retention: Duration,
}

impl Default for TapeLimits {
    fn default() -> Self {
        TapeLimits {
            max_trades: 1_000_000,
            retention: Duration::from_secs(86_400),
        }
    }
}

/// One book's trades, oldest first.
#[derive(Debug)]
pub struct TradeTape {
    trades: VecDeque<Trade>,
    /// Sequence number of `trades[0]`; trade `i` has `first_seq + i`.
    first_seq: u64,
    limits: TapeLimits,
    recent: HashSet<TradeId>,
    recent_order: VecDeque<TradeId>,
    duplicates: u64,
}

/// What [`TradeTape::since`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradesSince {
    /// The trades after the asked sequence number, oldest first.
    pub trades: Vec<Trade>,
    /// The sequence number to ask from next time.
    pub next: u64,
    /// Trades that were dropped from the tape before they could be read (a reader far
    /// behind); 0 normally.
    pub missed: u64,
}

impl TradeTape {
    /// An empty tape.
    pub fn new(limits: TapeLimits) -> Self {
        TradeTape {
            trades: VecDeque::new(),
            first_seq: 0,
            limits,
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            duplicates: 0,
        }
    }

    /// Trades held.
    pub fn len(&self) -> usize {
        self.trades.len()
    }

    /// True when no trade is held.
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
    }

    /// The sequence number the next trade will get (= trades ever appended).
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.trades.len() as u64
    }

    /// Trades refused as repeats of one already on the tape.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Append a trade unless its id was seen recently; then drop what is beyond the limits
    /// (`now` is the local clock). Returns whether it was appended.
    pub fn push(&mut self, trade: Trade, now: Timestamp) -> bool {
        if !self.recent.insert(trade.trade_id.clone()) {
            self.duplicates += 1;
            return false;
        }
        self.recent_order.push_back(trade.trade_id.clone());
        if self.recent_order.len() > DEDUP_WINDOW
            && let Some(old) = self.recent_order.pop_front()
        {
            self.recent.remove(&old);
        }
        self.trades.push_back(trade);
        self.evict(now);
        true
    }

    fn evict(&mut self, now: Timestamp) {
        let retention = i64::try_from(self.limits.retention.as_nanos()).unwrap_or(i64::MAX);
        let oldest_kept = now.as_nanos().saturating_sub(retention);
        while self.trades.len() > self.limits.max_trades
            || self
                .trades
                .front()
                .is_some_and(|t| t.local_ts.as_nanos() < oldest_kept)
        {
            self.trades.pop_front();
            self.first_seq += 1;
        }
    }

    /// The trades numbered `seq` and after, at most `max` of them (the oldest first).
    pub fn since(&self, seq: u64, max: usize) -> TradesSince {
        let missed = self.first_seq.saturating_sub(seq);
        let from = usize::try_from(seq.saturating_sub(self.first_seq)).unwrap_or(usize::MAX);
        let trades: Vec<Trade> = self.trades.iter().skip(from).take(max).cloned().collect();
        let next = seq.max(self.first_seq) + trades.len() as u64;
        TradesSince {
            trades,
            next,
            missed,
        }
    }

    /// The newest `limit` trades whose venue time is within `[start, end]`, oldest first.
    /// Venue times are taken as arrival-ordered (they are, per book, on every venue; a
    /// venue clock that steps back only narrows the window by that step).
    pub fn window(
        &self,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> Vec<Trade> {
        let lo = start.map_or(0, |s| self.trades.partition_point(|t| t.exchange_ts < s));
        let hi = end.map_or(self.trades.len(), |e| {
            self.trades.partition_point(|t| t.exchange_ts <= e)
        });
        if hi <= lo {
            return Vec::new();
        }
        let from = hi.saturating_sub(limit).max(lo);
        self.trades.range(from..hi).cloned().collect()
    }
}

impl TradeTape {
    /// Σ qty and Σ price·qty of the trades **received** in `(after, upto]` (local time:
    /// each trade counts in exactly one window of a series, whatever its venue time), and
    /// whether the tape still reaches back to `after` (trades may have been evicted).
    pub fn volume_between(&self, after: Timestamp, upto: Timestamp) -> (Decimal, Decimal, bool) {
        let lo = self.trades.partition_point(|t| t.local_ts <= after);
        let hi = self.trades.partition_point(|t| t.local_ts <= upto);
        let (mut v, mut n) = (Decimal::ZERO, Decimal::ZERO);
        for t in self.trades.range(lo..hi.max(lo)) {
            v += t.qty.get();
            n += t.qty.get() * t.price.get();
        }
        (v, n, self.first_seq == 0 || lo > 0)
    }
}

/// A reader of one book's trades: the tape and a notification per appended batch. Holding it
/// keeps the book (and its trades) subscribed.
#[derive(Debug)]
pub struct TradeWatch {
    pub(super) tape: Arc<RwLock<TradeTape>>,
    pub(super) rx: watch::Receiver<u64>,
    pub(super) _lease: Lease,
}

impl TradeWatch {
    /// The trades numbered `seq` and after (at most `max`).
    pub fn since(&self, seq: u64, max: usize) -> TradesSince {
        rd(&self.tape).since(seq, max)
    }

    /// The sequence number the next trade will get: start reading from here to get only
    /// trades that arrive from now on.
    pub fn next_seq(&self) -> u64 {
        *self.rx.borrow()
    }

    /// Wait until trades are appended.
    pub async fn changed(&mut self) -> Result<u64, MarketError> {
        self.rx
            .changed()
            .await
            .map_err(|_| MarketError::ShuttingDown)?;
        Ok(*self.rx.borrow_and_update())
    }
}

impl Slot {
    /// Append a batch of a venue's trades; readers are told once per batch.
    pub(super) fn record_trades(&self, trades: Vec<Trade>, now: Timestamp) {
        let next = {
            let mut tape = self
                .trades
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for t in trades {
                tape.push(t, now);
            }
            tape.next_seq()
        };
        self.trades_tx.send_if_modified(|seq| {
            let changed = *seq != next;
            *seq = next;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Price, Qty, Side};
    use rust_decimal::Decimal;

    fn trade(id: u64, at_ms: i64) -> Trade {
        Trade {
            trade_id: TradeId::Num(id),
            exchange_ts: Timestamp::from_millis(at_ms),
            local_ts: Timestamp::from_millis(at_ms),
            price: Price::try_from(Decimal::new(100 + id as i64, 0)).unwrap(),
            qty: Qty::try_from(Decimal::ONE).unwrap(),
            taker_side: Side::Buy,
        }
    }

    fn limits(max_trades: usize, secs: u64) -> TapeLimits {
        TapeLimits {
            max_trades,
            retention: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_trade_costs_seventy_two_bytes_on_the_tape() {
        // The figure behind `market.trades_per_book`'s memory note (72 MB per million).
        assert_eq!(std::mem::size_of::<Trade>(), 72);
    }

    #[test]
    fn repeats_are_dropped_and_sequence_numbers_are_dense() {
        let mut tape = TradeTape::new(limits(100, 3_600));
        let now = Timestamp::from_millis(10_000);
        for id in [1, 2, 3, 2, 3, 4] {
            tape.push(trade(id, 1_000 * id as i64), now);
        }
        assert_eq!(tape.len(), 4);
        assert_eq!(tape.duplicates(), 2);
        assert_eq!(tape.next_seq(), 4);
        let s = tape.since(2, 10);
        assert_eq!(
            s.trades
                .iter()
                .map(|t| t.trade_id.clone())
                .collect::<Vec<_>>(),
            vec![TradeId::Num(3), TradeId::Num(4)]
        );
        assert_eq!((s.next, s.missed), (4, 0));
        assert!(tape.since(4, 10).trades.is_empty());
    }

    #[test]
    fn bounded_by_count_and_age() {
        let mut tape = TradeTape::new(limits(3, 10));
        for id in 0..5 {
            tape.push(trade(id, 1_000 * id as i64), Timestamp::from_millis(5_000));
        }
        assert_eq!(tape.len(), 3);
        let s = tape.since(0, 10);
        assert_eq!((s.missed, s.next, s.trades.len()), (2, 5, 3));
        // 20 s later everything is older than the 10 s retention.
        tape.push(trade(9, 25_000), Timestamp::from_millis(25_000));
        assert_eq!(tape.len(), 1);
        assert_eq!(tape.next_seq(), 6);
    }

    #[test]
    fn window_is_the_newest_within_the_times_oldest_first() {
        let mut tape = TradeTape::new(limits(100, 3_600));
        for id in 0..10 {
            tape.push(trade(id, 1_000 * id as i64), Timestamp::from_millis(10_000));
        }
        let ids = |v: Vec<Trade>| v.into_iter().map(|t| t.trade_id).collect::<Vec<_>>();
        assert_eq!(
            ids(tape.window(None, None, 3)),
            vec![TradeId::Num(7), TradeId::Num(8), TradeId::Num(9)]
        );
        assert_eq!(
            ids(tape.window(
                Some(Timestamp::from_millis(2_000)),
                Some(Timestamp::from_millis(4_000)),
                10
            )),
            vec![TradeId::Num(2), TradeId::Num(3), TradeId::Num(4)]
        );
        assert!(
            tape.window(Some(Timestamp::from_millis(9_500)), None, 10)
                .is_empty()
        );
    }
}
