use std::fmt;
use std::str::FromStr;

use crate::num::{Price, Qty};
use crate::time::Timestamp;

/// A candle interval. Every interval the API accepts; each exchange offers a subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// 1 minute.
    M1,
    /// 3 minutes.
    M3,
    /// 5 minutes.
    M5,
    /// 15 minutes.
    M15,
    /// 30 minutes.
    M30,
    /// 1 hour.
    H1,
    /// 2 hours.
    H2,
    /// 4 hours.
    H4,
    /// 6 hours.
    H6,
    /// 12 hours.
    H12,
    /// 1 day.
    D1,
    /// 3 days.
    D3,
    /// 1 week, starting Monday 00:00 UTC.
    W1,
    /// 1 calendar month, starting on the 1st 00:00 UTC.
    Mo1,
}

const MIN: i64 = 60_000;

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 14] = [
        Interval::M1,
        Interval::M3,
        Interval::M5,
        Interval::M15,
        Interval::M30,
        Interval::H1,
        Interval::H2,
        Interval::H4,
        Interval::H6,
        Interval::H12,
        Interval::D1,
        Interval::D3,
        Interval::W1,
        Interval::Mo1,
    ];

    /// The API spelling (`1m`, `1h`, `1M`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M3 => "3m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M30 => "30m",
            Interval::H1 => "1h",
            Interval::H2 => "2h",
            Interval::H4 => "4h",
            Interval::H6 => "6h",
            Interval::H12 => "12h",
            Interval::D1 => "1d",
            Interval::D3 => "3d",
            Interval::W1 => "1w",
            Interval::Mo1 => "1M",
        }
    }

    /// Fixed length in milliseconds; `None` for the calendar month.
    pub fn fixed_millis(self) -> Option<i64> {
        Some(match self {
            Interval::M1 => MIN,
            Interval::M3 => 3 * MIN,
            Interval::M5 => 5 * MIN,
            Interval::M15 => 15 * MIN,
            Interval::M30 => 30 * MIN,
            Interval::H1 => 60 * MIN,
            Interval::H2 => 120 * MIN,
            Interval::H4 => 240 * MIN,
            Interval::H6 => 360 * MIN,
            Interval::H12 => 720 * MIN,
            Interval::D1 => 1_440 * MIN,
            Interval::D3 => 3 * 1_440 * MIN,
            Interval::W1 => 7 * 1_440 * MIN,
            Interval::Mo1 => return None,
        })
    }

    /// Start of the bucket containing `t` (UTC, aligned as Binance aligns them: days and
    /// multiples from the epoch, weeks from Monday, months from the 1st).
    pub fn bucket_start(self, t: Timestamp) -> Timestamp {
        let ms = t.as_millis();
        match self {
            Interval::W1 => {
                // 1970-01-01 was a Thursday; Monday 1969-12-29 is 3 days earlier.
                let week = 7 * 1_440 * MIN;
                let off = 3 * 1_440 * MIN;
                Timestamp::from_millis((ms + off).div_euclid(week) * week - off)
            }
            Interval::Mo1 => {
                let days = ms.div_euclid(1_440 * MIN);
                let (y, m, _) = civil_from_days(days);
                Timestamp::from_millis(days_from_civil(y, m, 1) * 1_440 * MIN)
            }
            other => {
                let len = other.fixed_millis().unwrap_or(MIN);
                Timestamp::from_millis(ms.div_euclid(len) * len)
            }
        }
    }

    /// Start of the bucket after the one starting at `start`.
    pub fn next_start(self, start: Timestamp) -> Timestamp {
        match self.fixed_millis() {
            Some(len) => start.plus_millis(len),
            None => {
                let days = start.as_millis().div_euclid(1_440 * MIN);
                let (y, m, _) = civil_from_days(days);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Timestamp::from_millis(days_from_civil(ny, nm, 1) * 1_440 * MIN)
            }
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the supported intervals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported interval `{0}` (supported: 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w 1M)")]
pub struct UnknownInterval(pub String);

impl FromStr for Interval {
    type Err = UnknownInterval;

    /// Case-sensitive like the exchanges: `1m` is a minute, `1M` a month.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| UnknownInterval(s.to_owned()))
    }
}

/// One candle, normalized: times in UTC, `close_time` exclusive (= next bucket's start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kline {
    /// Bucket start.
    pub open_time: Timestamp,
    /// Bucket end (exclusive).
    pub close_time: Timestamp,
    /// First price.
    pub open: Price,
    /// Highest price.
    pub high: Price,
    /// Lowest price.
    pub low: Price,
    /// Last price.
    pub close: Price,
    /// Base volume.
    pub volume: Qty,
    /// False for the bucket still in progress.
    pub closed: bool,
}

impl Kline {
    /// Grow the candle by a later part of its bucket (a finer candle, or one trade: its price
    /// as high, low and close): extremes widened, close replaced, volume added.
    pub fn grow(&mut self, high: Price, low: Price, close: Price, volume: Qty) {
        if high > self.high {
            self.high = high;
        }
        if low < self.low {
            self.low = low;
        }
        self.close = close;
        self.volume = Qty::from_trusted(self.volume.get() + volume.get());
    }

    /// Merge consecutive candles (oldest first) into candles of `interval`. Buckets are
    /// aligned by [`Interval::bucket_start`]; a bucket is closed only when its last
    /// constituent is closed and it reaches the bucket's end.
    pub fn aggregate(src: &[Kline], interval: Interval) -> Vec<Kline> {
        let mut out: Vec<Kline> = Vec::new();
        for k in src {
            let start = interval.bucket_start(k.open_time);
            match out.last_mut() {
                Some(cur) if cur.open_time == start => {
                    cur.grow(k.high, k.low, k.close, k.volume);
                    cur.closed = k.closed && k.close_time >= cur.close_time;
                }
                _ => {
                    let end = interval.next_start(start);
                    out.push(Kline {
                        open_time: start,
                        close_time: end,
                        open: k.open,
                        high: k.high,
                        low: k.low,
                        close: k.close,
                        volume: k.volume,
                        closed: k.closed && k.close_time >= end,
                    });
                }
            }
        }
        out
    }
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian
/// (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_sensitively() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>(), Ok(i));
        }
        assert_eq!("1M".parse::<Interval>(), Ok(Interval::Mo1));
        assert_eq!("1m".parse::<Interval>(), Ok(Interval::M1));
        assert!("2m".parse::<Interval>().is_err());
        assert!("1H".parse::<Interval>().is_err());
    }

    #[test]
    fn calendar_alignment() {
        // 2026-11-21T10:17:00Z is a Saturday; its week starts Monday 2026-11-16.
        let t = Timestamp::from_millis(1_795_256_220_000);
        assert_eq!(
            Interval::H1.bucket_start(t),
            Timestamp::from_millis(1_795_255_200_000)
        );
        // Monday 2026-11-16T00:00Z.
        assert_eq!(
            Interval::W1.bucket_start(t),
            Timestamp::from_millis(1_794_787_200_000)
        );
        // 2026-11-01T00:00Z and 2026-12-01T00:00Z.
        let m = Interval::Mo1.bucket_start(t);
        assert_eq!(m, Timestamp::from_millis(1_793_491_200_000));
        assert_eq!(
            Interval::Mo1.next_start(m),
            Timestamp::from_millis(1_796_083_200_000)
        );
        for days in [-1000, 0, 59, 365, 20_000, 100_000] {
            let (y, mo, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, mo, d), days);
        }
    }

    fn k(min: i64, o: &str, h: &str, l: &str, c: &str, v: &str, closed: bool) -> Kline {
        Kline {
            open_time: Timestamp::from_millis(min * MIN),
            close_time: Timestamp::from_millis((min + 1) * MIN),
            open: o.parse().unwrap(),
            high: h.parse().unwrap(),
            low: l.parse().unwrap(),
            close: c.parse().unwrap(),
            volume: v.parse().unwrap(),
            closed,
        }
    }

    #[test]
    fn aggregation_keeps_ohlc_and_volume() {
        let src = vec![
            k(0, "10", "12", "9", "11", "1", true),
            k(1, "11", "15", "10", "14", "2", true),
            k(2, "14", "14", "8", "9", "0.5", true),
            k(3, "9", "10", "9", "10", "1", false),
        ];
        let out = Kline::aggregate(&src, Interval::M3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].open.to_string(), "10");
        assert_eq!(out[0].high.to_string(), "15");
        assert_eq!(out[0].low.to_string(), "8");
        assert_eq!(out[0].close.to_string(), "9");
        assert_eq!(out[0].volume.to_string(), "3.5");
        assert!(out[0].closed);
        assert!(!out[1].closed);
        assert_eq!(out[1].close_time, Timestamp::from_millis(6 * MIN));
    }
}
