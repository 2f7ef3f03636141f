use std::fmt;

use crate::time::Timestamp;

/// Where a book is in its life cycle. Only a `Live` book that is not crossed may be traded
/// against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookState {
    /// Waiting for the first valid baseline (snapshot, or snapshot spliced with deltas).
    Syncing,
    /// In sync with the venue, as far as its rules can tell.
    Live,
    /// The venue went quiet while its connection showed no sign of life.
    Stale,
    /// Known to be wrong (gap, checksum mismatch, crossed); a new baseline is on its way.
    Resyncing,
    /// No connection, or the venue refused the subscription.
    Down,
}

impl BookState {
    /// `syncing`, `live`, `stale`, `resyncing` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            BookState::Syncing => "syncing",
            BookState::Live => "live",
            BookState::Stale => "stale",
            BookState::Resyncing => "resyncing",
            BookState::Down => "down",
        }
    }
}

impl fmt::Display for BookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text named no book state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown book state `{0}` (expected syncing, live, stale, resyncing or down)")]
pub struct UnknownBookState(pub String);

impl std::str::FromStr for BookState {
    type Err = UnknownBookState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            BookState::Syncing,
            BookState::Live,
            BookState::Stale,
            BookState::Resyncing,
            BookState::Down,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
        .ok_or_else(|| UnknownBookState(s.to_owned()))
    }
}

/// What is known about how far a local book can be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookHealth {
    /// Life-cycle state.
    pub state: BookState,
    /// Local time of the last applied event.
    pub last_update: Option<Timestamp>,
    /// Venue time of the last applied event, where the venue sends one.
    pub exchange_ts: Option<Timestamp>,
    /// Venue sequence number of the last applied event, where the venue has one.
    pub seq: Option<u64>,
    /// Re-synchronisations after the first sync.
    pub resyncs: u64,
    /// Checksum mismatches detected.
    pub checksum_failures: u64,
    /// Deletes for prices the book did not hold.
    pub orphan_deletes: u64,
    /// Best bid at or above best ask after the last event.
    pub crossed: bool,
    /// Checksums kept failing for this symbol; validation is off and other checks remain.
    pub checksum_unreliable: bool,
    /// The last reason the book left `live`, for operators.
    pub last_error: Option<String>,
}

impl BookHealth {
    /// A book that has not received anything yet.
    pub fn syncing() -> Self {
        BookHealth {
            state: BookState::Syncing,
            last_update: None,
            exchange_ts: None,
            seq: None,
            resyncs: 0,
            checksum_failures: 0,
            orphan_deletes: 0,
            crossed: false,
            checksum_unreliable: false,
            last_error: None,
        }
    }

    /// Milliseconds since the last applied event, if any.
    pub fn age_ms(&self, now: Timestamp) -> Option<i64> {
        self.last_update.map(|t| now.millis_since(t).max(0))
    }

    /// True when fills may be taken from this book: live and not crossed.
    pub fn is_tradeable(&self) -> bool {
        self.state == BookState::Live && !self.crossed
    }
}
