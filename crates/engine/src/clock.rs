//! The engine's injected clock.

use std::time::Duration;

use model::Timestamp;
use tokio::time::Instant;

/// The engine's clock: a wall-clock origin advanced by tokio's monotonic clock, so a paused
/// tokio clock (tests) drives the engine deterministically and wall-clock jumps cannot
/// reorder slices.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Timestamp,
    base: Instant,
}

impl Clock {
    /// Starting at the system time now.
    pub fn system() -> Self {
        Clock::starting_at(Timestamp::now())
    }

    /// Starting at `origin` now.
    pub fn starting_at(origin: Timestamp) -> Self {
        Clock {
            origin,
            base: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        let ns = i64::try_from(self.base.elapsed().as_nanos()).unwrap_or(i64::MAX / 2);
        Timestamp::from_nanos(self.origin.as_nanos().saturating_add(ns))
    }

    /// The tokio instant at which the clock shows `t`.
    pub fn instant_at(&self, t: Timestamp) -> Instant {
        let ns = t.as_nanos().saturating_sub(self.origin.as_nanos()).max(0);
        self.base + Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
    }
}
