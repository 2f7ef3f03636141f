use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff with full jitter: attempt `n` waits a uniformly random time in
/// `[0, min(cap, base·2ⁿ)]`, so many clients reconnecting at once spread out instead of
/// stampeding the venue.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff from `base` doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// The delay before the next attempt; advances the attempt counter.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: jitter needs spread, not cryptographic strength.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
        exp.mul_f64(frac)
    }

    /// The ceiling of the next delay, without jitter (for logs).
    pub fn current_ceiling(&self) -> Duration {
        self.base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap)
    }

    /// Forget past failures (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// Per-symbol resync pacing shared by the venue feeds: the first resync within five minutes
/// is immediate, each further one waits twice as long as the one before (from `base`, capped
/// at `cap`), so a symbol that keeps breaking backs off instead of hammering the venue.
#[derive(Debug, Clone, Default)]
pub struct ResyncBackoff {
    recent: VecDeque<Instant>,
}

impl ResyncBackoff {
    /// The window over which resyncs make the delay grow.
    pub const WINDOW: Duration = Duration::from_secs(300);

    /// Record a resync at `now` and return how long to wait before subscribing again.
    pub fn next_delay(&mut self, now: Instant, base: Duration, cap: Duration) -> Duration {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Self::WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let n = self.recent.len() as u32;
        if n <= 1 {
            Duration::ZERO
        } else {
            base.saturating_mul(1 << (n - 2).min(16)).min(cap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_jittered_below_a_growing_capped_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..12 {
            let ceiling = b.current_ceiling();
            let d = b.next_delay();
            assert!(d <= ceiling);
            ceilings.push(ceiling);
        }
        assert_eq!(ceilings[0], Duration::from_millis(500));
        assert_eq!(ceilings[1], Duration::from_secs(1));
        assert_eq!(*ceilings.last().unwrap(), Duration::from_secs(30));
        b.reset();
        assert_eq!(b.current_ceiling(), Duration::from_millis(500));
    }

    #[test]
    fn resyncs_back_off_within_the_window_and_reset_after_it() {
        let t0 = Instant::now();
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(60));
        let mut r = ResyncBackoff::default();
        let delays: Vec<Duration> = (0..10)
            .map(|i| r.next_delay(t0 + Duration::from_secs(i), base, cap))
            .collect();
        assert_eq!(delays[0], Duration::ZERO, "the first is immediate");
        assert_eq!(delays[1], base);
        assert_eq!(delays[2], base * 2);
        assert_eq!(delays[9], cap, "capped");
        // Five quiet minutes later the count starts again.
        let later = t0 + ResyncBackoff::WINDOW + Duration::from_secs(20);
        assert_eq!(r.next_delay(later, base, cap), Duration::ZERO);
    }
}
