use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant as nanoseconds since the Unix epoch.
///
/// `i64` nanoseconds cover the years 1678–2262, which is every date an exchange or a TWAP can
/// name. Conversions to calendar types live in the crates that format them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From nanoseconds since the epoch.
    pub const fn from_nanos(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// From milliseconds since the epoch (saturating).
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    /// From whole seconds since the epoch (saturating).
    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s.saturating_mul(1_000_000_000))
    }

    /// Milliseconds before 2200-01-01T00:00:00Z: venue times at or past it are garbage.
    pub const VENUE_LIMIT_MS: i64 = 7_258_118_400_000;

    /// A time a venue sent in milliseconds, if it lies between the epoch and 2200 (anything
    /// else is a corrupt value, not a date to saturate).
    pub const fn venue_millis(ms: i64) -> Option<Self> {
        if ms >= 0 && ms < Self::VENUE_LIMIT_MS {
            Some(Timestamp(ms * 1_000_000))
        } else {
            None
        }
    }

    /// [`Timestamp::venue_millis`] for whole seconds.
    pub const fn venue_secs(s: i64) -> Option<Self> {
        if s >= 0 && s < Self::VENUE_LIMIT_MS / 1_000 {
            Some(Timestamp(s * 1_000_000_000))
        } else {
            None
        }
    }

    /// [`Timestamp::venue_millis`] for microseconds.
    pub const fn venue_micros(us: i64) -> Option<Self> {
        if us >= 0 && us < Self::VENUE_LIMIT_MS * 1_000 {
            Some(Timestamp(us * 1_000))
        } else {
            None
        }
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch, rounded toward negative infinity.
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Whole seconds since the epoch, rounded toward negative infinity.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// The current wall-clock time. Reading the clock is the one impurity allowed here: code
    /// that must be deterministic takes time from an injected clock instead.
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// This instant plus `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0) / 1_000_000
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ns", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_times_outside_the_epoch_to_2200_are_refused_not_saturated() {
        assert_eq!(
            Timestamp::venue_millis(1_782_907_200_000),
            Some(Timestamp::from_secs(1_782_907_200))
        );
        assert_eq!(
            Timestamp::venue_secs(1_782_907_200),
            Timestamp::venue_micros(1_782_907_200_000_000)
        );
        // Found by the `venue_rest` fuzz target: an 18-digit millisecond time saturated.
        assert_eq!(Timestamp::venue_millis(159_702_638_026_383_021), None);
        assert_eq!(Timestamp::venue_millis(-1), None);
        assert_eq!(Timestamp::venue_secs(i64::MAX), None);
        assert_eq!(
            Timestamp::venue_micros(Timestamp::VENUE_LIMIT_MS * 1_000),
            None
        );
        assert!(Timestamp::venue_millis(Timestamp::VENUE_LIMIT_MS - 1).is_some());
    }
}
