//! Kline helpers shared by the adapters: the request windows for a venue that caps the
//! candles per request ([`kline_pages`]), and the final shaping of what came back
//! ([`shape_klines`]: aggregation from a finer source, the range and the limit).

use model::{Interval, Kline, Timestamp};

use crate::exchange::KlineQuery;

/// Most requests one kline query may cost, whatever its range (the oldest part of a very
/// long range is dropped when no `start` pins it, else the newest).
pub const MAX_KLINE_PAGES: usize = 12;

/// Approximate length of `interval` in ms (a month counts 31 days: windows are generous).
fn approx_millis(interval: Interval) -> i64 {
    interval.fixed_millis().unwrap_or(31 * 86_400_000)
}

/// The inclusive windows `(first bucket start, last bucket start)` of `source` candles to
/// request for `q` (whose candles are built from `source` ones when the two differ), each at
/// most `per_request` buckets long, oldest first, never past `now`'s bucket, at most
/// [`MAX_KLINE_PAGES`] of them.
///
/// Without `start`, the range ends at `end` (or now) and reaches back far enough for `limit`
/// candles of `q.interval`, starting on one of its bucket boundaries so that the oldest
/// aggregated candle is whole. With `start`, it runs from `start` for `limit` candles.
pub fn kline_pages(
    q: &KlineQuery,
    source: Interval,
    per_request: usize,
    now: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let step = approx_millis(source);
    let span = approx_millis(q.interval).saturating_mul(q.limit.max(1) as i64);
    let last = source.bucket_start(now);
    let (from, to) = match (q.start, q.end) {
        (Some(s), e) => {
            let from = q.interval.bucket_start(s);
            let to = from.plus_millis(span - 1);
            let to = e.map_or(to, |e| to.min(e)).min(last);
            (from, to)
        }
        (None, e) => {
            let to = e.map_or(last, |e| e.min(last));
            let back = approx_millis(q.interval).saturating_mul(q.limit.max(1) as i64 - 1);
            let from = q
                .interval
                .bucket_start(q.interval.bucket_start(to).plus_millis(-back));
            (from, to)
        }
    };
    let (from, to) = (source.bucket_start(from), source.bucket_start(to));
    if to < from {
        return Vec::new();
    }
    let page = step.saturating_mul(per_request.max(1) as i64);
    let mut pages = Vec::new();
    let mut at = from;
    while at <= to {
        let end = at.plus_millis(page - step).min(to);
        pages.push((at, end));
        at = end.plus_millis(step);
    }
    if pages.len() > MAX_KLINE_PAGES {
        if q.start.is_some() {
            pages.truncate(MAX_KLINE_PAGES);
        } else {
            pages.drain(..pages.len() - MAX_KLINE_PAGES);
        }
    }
    pages
}

/// Shape candles of the venue (any order, duplicates allowed) into the answer to `q`:
/// oldest first, each bucket once, built from finer candles when `aggregated` (the oldest
/// bucket dropped when the data starts inside it), cut to `start..=end` and to `limit` (the
/// oldest from `start`, else the newest).
pub fn shape_klines(mut rows: Vec<Kline>, q: &KlineQuery, aggregated: bool) -> Vec<Kline> {
    rows.sort_by_key(|k| k.open_time);
    rows.dedup_by_key(|k| k.open_time);
    if aggregated {
        let first = rows.first().map(|k| k.open_time);
        rows = Kline::aggregate(&rows, q.interval);
        if let (Some(f), Some(k)) = (first, rows.first())
            && k.open_time < f
        {
            rows.remove(0);
        }
    }
    rows.retain(|k| {
        q.start.is_none_or(|s| k.open_time >= s) && q.end.is_none_or(|e| k.open_time <= e)
    });
    let limit = q.limit.max(1);
    if rows.len() > limit {
        if q.start.is_some() {
            rows.truncate(limit);
        } else {
            rows.drain(..rows.len() - limit);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{ExchangeId, Pair, PairStatus, Price, Qty, Symbol};
    use rust_decimal::Decimal;

    const MIN: i64 = 60_000;

    fn query(interval: Interval, start: Option<i64>, end: Option<i64>, limit: usize) -> KlineQuery {
        KlineQuery {
            pair: Pair {
                exchange: ExchangeId::Sim,
                symbol: Symbol::new("BTC", "USD").unwrap(),
                exchange_symbol: "BTC-USD".into(),
                ws_symbol: "BTC-USD".into(),
                aliases: Vec::new(),
                status: PairStatus::Trading,
                price_tick: Decimal::new(1, 2),
                qty_step: Decimal::new(1, 8),
                min_qty: Decimal::new(1, 8),
                min_notional: None,
            },
            interval,
            start: start.map(Timestamp::from_millis),
            end: end.map(Timestamp::from_millis),
            limit,
        }
    }

    fn candle(start: i64, len: i64, px: i64) -> Kline {
        Kline {
            open_time: Timestamp::from_millis(start),
            close_time: Timestamp::from_millis(start + len),
            open: Price::try_from(Decimal::from(px)).unwrap(),
            high: Price::try_from(Decimal::from(px + 1)).unwrap(),
            low: Price::try_from(Decimal::from(px - 1)).unwrap(),
            close: Price::try_from(Decimal::from(px)).unwrap(),
            volume: Qty::try_from(Decimal::ONE).unwrap(),
            closed: true,
        }
    }

    #[test]
    fn pages_cover_the_newest_range_in_capped_windows() {
        let now = Timestamp::from_millis(1_000 * MIN + 30_000);
        let p = kline_pages(
            &query(Interval::M1, None, None, 700),
            Interval::M1,
            300,
            now,
        );
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].0.as_millis(), 301 * MIN, "700 buckets ending now");
        assert_eq!(p[2].1.as_millis(), 1_000 * MIN);
        for w in p.windows(2) {
            assert_eq!(w[1].0.as_millis(), w[0].1.as_millis() + MIN, "contiguous");
        }
        assert!(
            p.iter()
                .all(|(a, b)| (b.as_millis() - a.as_millis()) / MIN < 300)
        );
        // From a start: forward for `limit` candles, never past now.
        let p = kline_pages(
            &query(Interval::M1, Some(900 * MIN), None, 500),
            Interval::M1,
            300,
            now,
        );
        assert_eq!(
            p,
            vec![(
                Timestamp::from_millis(900 * MIN),
                Timestamp::from_millis(1_000 * MIN)
            )]
        );
        // Aggregated: 3-minute candles from minutes start on a 3-minute boundary.
        let p = kline_pages(&query(Interval::M3, None, None, 10), Interval::M1, 300, now);
        assert_eq!(p[0].0.as_millis() % (3 * MIN), 0);
        assert_eq!(
            (p[0].0.as_millis(), p[0].1.as_millis()),
            (972 * MIN, 1_000 * MIN),
            "ten, the last in progress"
        );
        // Bounded in requests.
        let p = kline_pages(
            &query(Interval::M1, None, None, 100_000),
            Interval::M1,
            300,
            now,
        );
        assert_eq!(p.len(), MAX_KLINE_PAGES);
        assert_eq!(
            p[MAX_KLINE_PAGES - 1].1.as_millis(),
            1_000 * MIN,
            "the newest kept"
        );
    }

    #[test]
    fn shaping_sorts_dedups_aggregates_and_limits() {
        let rows: Vec<Kline> = [5, 4, 3, 2, 1, 4, 0]
            .iter()
            .map(|i| candle(i * MIN, MIN, 100 + i))
            .collect();
        let k = shape_klines(rows.clone(), &query(Interval::M1, None, None, 3), false);
        let starts: Vec<i64> = k.iter().map(|k| k.open_time.as_millis() / MIN).collect();
        assert_eq!(starts, vec![3, 4, 5]);
        let k = shape_klines(
            rows.clone(),
            &query(Interval::M1, Some(MIN), None, 2),
            false,
        );
        assert_eq!(k[0].open_time.as_millis(), MIN);
        assert_eq!(k.len(), 2);
        let k = shape_klines(rows, &query(Interval::M3, None, None, 10), true);
        assert_eq!(k.len(), 2);
        assert_eq!(k[1].volume.get(), Decimal::from(3), "three minutes in one");
        assert_eq!(k[1].high.get(), Decimal::from(106));
    }
}
