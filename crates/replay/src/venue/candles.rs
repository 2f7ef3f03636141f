//! The replay venue's candles: built from the trades it has played (a tape holds trades, not
//! candles), one-minute buckets kept per book, coarser intervals merged from them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use market::{KlineQuery, shape_klines};
use model::{Interval, Kline, Symbol, Timestamp, Trade};

/// One-minute candles kept per book (a week).
const MAX_CANDLES: usize = 10_080;

/// Candles of the trades played so far, per book.
#[derive(Debug, Default)]
pub(crate) struct Candles {
    by_symbol: Mutex<HashMap<Symbol, VecDeque<Kline>>>,
}

impl Candles {
    /// Add trades as played (in order) to their one-minute candles.
    pub(crate) fn record<'a>(&self, symbol: &Symbol, trades: impl Iterator<Item = &'a Trade>) {
        let mut trades = trades.peekable();
        if trades.peek().is_none() {
            return; // most batches are book events only: no lock
        }
        let mut all = self
            .by_symbol
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let candles = all.entry(symbol.clone()).or_default();
        for t in trades {
            let start = Interval::M1.bucket_start(t.exchange_ts);
            match candles.back_mut() {
                Some(k) if k.open_time == start => k.grow(t.price, t.price, t.price, t.qty),
                // A trade older than the newest candle (a new pass, a venue clock step
                // back) starts no bucket in the past.
                Some(k) if k.open_time > start => {}
                _ => {
                    candles.push_back(Kline {
                        open_time: start,
                        close_time: Interval::M1.next_start(start),
                        open: t.price,
                        high: t.price,
                        low: t.price,
                        close: t.price,
                        volume: t.qty,
                        closed: false,
                    });
                    if candles.len() > MAX_CANDLES {
                        candles.pop_front();
                    }
                }
            }
        }
    }

    /// The candles `q` asks for, as of `now` (a bucket is closed once its minute is over).
    pub(crate) fn query(&self, q: &KlineQuery, now: Timestamp) -> Vec<Kline> {
        let rows: Vec<Kline> = {
            let all = self
                .by_symbol
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            all.get(&q.pair.symbol)
                .map(|c| {
                    c.iter()
                        .map(|k| Kline {
                            closed: k.close_time <= now,
                            ..k.clone()
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        shape_klines(rows, q, q.interval != Interval::M1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{ExchangeId, Pair, PairStatus, Price, Qty, Side, TradeId};
    use rust_decimal::Decimal;

    fn trade(id: u64, at_ms: i64, price: i64, qty: i64) -> Trade {
        Trade {
            trade_id: TradeId::Num(id),
            exchange_ts: Timestamp::from_millis(at_ms),
            local_ts: Timestamp::from_millis(at_ms),
            price: Price::try_from(Decimal::new(price, 1)).unwrap(),
            qty: Qty::try_from(Decimal::new(qty, 2)).unwrap(),
            taker_side: Side::Buy,
        }
    }

    fn query(interval: Interval) -> KlineQuery {
        KlineQuery {
            pair: Pair {
                exchange: ExchangeId::Replay,
                symbol: "ETH-USD".parse().unwrap(),
                exchange_symbol: "ethusd".into(),
                ws_symbol: "ethusd".into(),
                aliases: vec![],
                status: PairStatus::Trading,
                price_tick: Decimal::new(1, 1),
                qty_step: Decimal::new(1, 2),
                min_qty: Decimal::ZERO,
                min_notional: None,
            },
            interval,
            start: None,
            end: None,
            limit: 100,
        }
    }

    #[test]
    fn trades_make_minute_candles_and_coarser_ones_merge_them() {
        let c = Candles::default();
        let sym: Symbol = "ETH-USD".parse().unwrap();
        let m = 60_000;
        c.record(
            &sym,
            [
                trade(1, 5 * m + 1, 100, 1),
                trade(2, 5 * m + 2, 103, 2),
                trade(3, 5 * m + 3, 99, 3),
                trade(4, 6 * m, 101, 4),
                trade(5, 5 * m + 9, 500, 9), // older than the newest bucket: ignored
            ]
            .iter(),
        );
        let now = Timestamp::from_millis(6 * m + 30_000);
        let k = c.query(&query(Interval::M1), now);
        assert_eq!(k.len(), 2);
        assert_eq!(
            (
                k[0].open.get(),
                k[0].high.get(),
                k[0].low.get(),
                k[0].close.get()
            ),
            (
                Decimal::new(100, 1),
                Decimal::new(103, 1),
                Decimal::new(99, 1),
                Decimal::new(99, 1)
            )
        );
        assert_eq!(k[0].volume.get(), Decimal::new(6, 2));
        assert!(k[0].closed && !k[1].closed);
        let k5 = c.query(&query(Interval::M5), now);
        assert_eq!(k5.len(), 1, "{k5:?}");
        assert_eq!(k5[0].volume.get(), Decimal::new(10, 2));
        assert!(
            c.query(&query(Interval::M1), now)
                .iter()
                .all(|k| k.volume.get() > Decimal::ZERO)
        );
    }
}
