//! Binance's diff-depth synchronisation (reference §2.2, the procedure as corrected by
//! Binance in November 2025), as a deterministic state machine per symbol.
//!
//! 1. Buffer stream events from subscription on; ask for a REST snapshot once one is held.
//! 2. A snapshot older than the first buffered event (`lastUpdateId < U₀`) is fetched again,
//!    **keeping the buffer** (discarding it guarantees the next attempt fails the same way).
//! 3. Buffered events with `u ≤ lastUpdateId` are dropped; the first remaining one must
//!    satisfy `U ≤ lastUpdateId + 1 ≤ u`.
//! 4. Live: an event with `u ≤ book_id` is old (ignored); `U > book_id + 1` is a gap (the
//!    book is discarded and step 1 starts again, keeping the socket); otherwise it applies
//!    and `book_id := u`. Overlapping ranges are valid because quantities are absolute,
//!    which is also what lets two connections feed one book during a planned reconnect.

use std::collections::VecDeque;

use model::{BookEvent, Level, Timestamp};

/// One diff-depth event.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthUpdate {
    /// First update id (`U`).
    pub first: u64,
    /// Final update id (`u`).
    pub last: u64,
    /// Event time.
    pub event_ts: Option<Timestamp>,
    /// Bid changes.
    pub bids: Vec<Level>,
    /// Ask changes.
    pub asks: Vec<Level>,
}

/// A REST depth snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthSnapshot {
    /// The last update id it includes.
    pub last_update_id: u64,
    /// Bids.
    pub bids: Vec<Level>,
    /// Asks.
    pub asks: Vec<Level>,
}

/// What the feed should do after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing (buffered, or an old event ignored).
    Nothing,
    /// The first event is buffered: fetch a snapshot now.
    NeedSnapshot,
    /// Apply this delta to the book.
    Apply(BookEvent),
    /// The chain broke: the book is invalid; a snapshot is needed (buffering restarted
    /// with this event).
    Gap {
        /// The id the next event had to cover.
        expected: u64,
        /// The `U` that arrived.
        got: u64,
    },
}

/// The result of offering a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOutcome {
    /// Synced: apply these events in order (the snapshot, then buffered deltas).
    Synced(Vec<BookEvent>),
    /// The snapshot is older than the buffer (or does not bridge it): fetch another; the
    /// buffer is kept.
    TooOld {
        /// The snapshot's `lastUpdateId`.
        snapshot: u64,
        /// The first buffered `U`.
        first_buffered: u64,
    },
    /// Not waiting for a snapshot (already live, or nothing buffered yet).
    Unexpected,
}

#[derive(Debug, Clone)]
enum State {
    Buffering(VecDeque<DepthUpdate>),
    Live { book_id: u64 },
}

/// Sync state of one symbol.
#[derive(Debug, Clone)]
pub struct DepthSync {
    state: State,
    max_buffer: usize,
}

impl Default for DepthSync {
    fn default() -> Self {
        DepthSync::new(20_000)
    }
}

fn delta(u: DepthUpdate) -> BookEvent {
    let mut e = BookEvent::delta(u.bids, u.asks);
    e.seq = Some(u.last);
    e.exchange_ts = u.event_ts;
    e
}

impl DepthSync {
    /// A fresh sync that buffers at most `max_buffer` events while waiting for a snapshot
    /// (older ones are dropped; a snapshot then has to be newer than the oldest kept).
    pub fn new(max_buffer: usize) -> Self {
        DepthSync {
            state: State::Buffering(VecDeque::new()),
            max_buffer: max_buffer.max(1),
        }
    }

    /// Forget everything and buffer again (resubscribe, reconnect, hub-requested resync).
    pub fn reset(&mut self) {
        self.state = State::Buffering(VecDeque::new());
    }

    /// True once a snapshot has bridged the stream.
    pub fn is_live(&self) -> bool {
        matches!(self.state, State::Live { .. })
    }

    /// The last applied update id, when live.
    pub fn book_id(&self) -> Option<u64> {
        match self.state {
            State::Live { book_id } => Some(book_id),
            State::Buffering(_) => None,
        }
    }

    /// Would this event continue the live chain (`U ≤ book_id + 1 ≤ u`)? Used to decide
    /// whether a second connection has caught up during a planned reconnect.
    pub fn continues(&self, first: u64, last: u64) -> bool {
        match self.state {
            State::Live { book_id } => first <= book_id.saturating_add(1) && book_id < last,
            State::Buffering(_) => false,
        }
    }

    /// Offer a stream event.
    pub fn on_update(&mut self, u: DepthUpdate) -> Step {
        match &mut self.state {
            State::Buffering(buf) => {
                // A hole inside the buffer makes everything before it useless.
                if buf
                    .back()
                    .is_some_and(|b| u.first > b.last.saturating_add(1))
                {
                    buf.clear();
                }
                if buf.back().is_some_and(|b| u.last <= b.last) {
                    return Step::Nothing;
                }
                let first = buf.is_empty();
                buf.push_back(u);
                while buf.len() > self.max_buffer {
                    buf.pop_front();
                }
                if first {
                    Step::NeedSnapshot
                } else {
                    Step::Nothing
                }
            }
            State::Live { book_id } => {
                let id = *book_id;
                if u.last <= id {
                    Step::Nothing
                } else if u.first > id.saturating_add(1) {
                    let got = u.first;
                    self.state = State::Buffering(VecDeque::from([u]));
                    Step::Gap {
                        expected: id.saturating_add(1),
                        got,
                    }
                } else {
                    *book_id = u.last;
                    Step::Apply(delta(u))
                }
            }
        }
    }

    /// Offer a REST snapshot.
    pub fn on_snapshot(&mut self, s: DepthSnapshot) -> SnapshotOutcome {
        let State::Buffering(buf) = &mut self.state else {
            return SnapshotOutcome::Unexpected;
        };
        let Some(first) = buf.front().map(|b| b.first) else {
            return SnapshotOutcome::Unexpected;
        };
        let last_id = s.last_update_id;
        if last_id.saturating_add(1) < first {
            // Events between the snapshot and the buffer are missing: the snapshot is
            // older than the stream. Keep the buffer; fetch again.
            return SnapshotOutcome::TooOld {
                snapshot: last_id,
                first_buffered: first,
            };
        }
        while buf.front().is_some_and(|b| b.last <= last_id) {
            buf.pop_front();
        }
        if let Some(b) = buf.front()
            && !(b.first <= last_id.saturating_add(1) && last_id < b.last)
        {
            return SnapshotOutcome::TooOld {
                snapshot: last_id,
                first_buffered: b.first,
            };
        }
        let mut out = Vec::with_capacity(buf.len() + 1);
        let mut snap = BookEvent::snapshot(s.bids, s.asks);
        snap.seq = Some(last_id);
        out.push(snap);
        let mut book_id = last_id;
        for u in buf.drain(..) {
            // The buffer is contiguous by construction (holes cleared it).
            book_id = u.last;
            out.push(delta(u));
        }
        self.state = State::Live { book_id };
        SnapshotOutcome::Synced(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(first: u64, last: u64) -> DepthUpdate {
        DepthUpdate {
            first,
            last,
            event_ts: None,
            bids: vec![],
            asks: vec![],
        }
    }

    fn snap(id: u64) -> DepthSnapshot {
        DepthSnapshot {
            last_update_id: id,
            bids: vec![],
            asks: vec![],
        }
    }

    #[test]
    fn reference_sequence_syncs_then_detects_the_gap() {
        // reference §2.5: 990..998, 999..1003, snapshot 1000, 1004..1006, 1007..1010, 1012.
        let mut s = DepthSync::default();
        assert_eq!(s.on_update(up(990, 998)), Step::NeedSnapshot);
        assert_eq!(s.on_update(up(999, 1003)), Step::Nothing);
        let SnapshotOutcome::Synced(evs) = s.on_snapshot(snap(1000)) else {
            panic!("should sync")
        };
        assert_eq!(
            evs.len(),
            2,
            "snapshot + the bridging event; 990..998 dropped"
        );
        assert_eq!(evs[1].seq, Some(1003));
        assert!(matches!(s.on_update(up(1004, 1006)), Step::Apply(_)));
        assert!(matches!(s.on_update(up(1007, 1010)), Step::Apply(_)));
        assert_eq!(
            s.on_update(up(1005, 1009)),
            Step::Nothing,
            "old event ignored"
        );
        assert_eq!(
            s.on_update(up(1012, 1015)),
            Step::Gap {
                expected: 1011,
                got: 1012
            }
        );
        assert!(!s.is_live());
        // The gap event starts the new buffer; a fresh snapshot resyncs.
        assert!(matches!(
            s.on_snapshot(snap(1013)),
            SnapshotOutcome::Synced(_)
        ));
        assert_eq!(s.book_id(), Some(1015));
    }

    #[test]
    fn old_snapshot_is_refetched_and_the_buffer_kept() {
        let mut s = DepthSync::default();
        s.on_update(up(500, 510));
        s.on_update(up(511, 520));
        assert_eq!(
            s.on_snapshot(snap(400)),
            SnapshotOutcome::TooOld {
                snapshot: 400,
                first_buffered: 500
            }
        );
        // The buffer survived: a newer snapshot now syncs against it.
        let SnapshotOutcome::Synced(evs) = s.on_snapshot(snap(515)) else {
            panic!()
        };
        assert_eq!(evs.len(), 2);
        assert_eq!(s.book_id(), Some(520));
    }

    #[test]
    fn event_starting_exactly_after_the_snapshot_is_contiguous() {
        let mut s = DepthSync::default();
        s.on_update(up(1001, 1005));
        assert!(matches!(
            s.on_snapshot(snap(1000)),
            SnapshotOutcome::Synced(_)
        ));
        assert_eq!(s.book_id(), Some(1005));
    }

    #[test]
    fn snapshot_newer_than_the_whole_buffer_goes_live_at_its_id() {
        let mut s = DepthSync::default();
        s.on_update(up(10, 20));
        let SnapshotOutcome::Synced(evs) = s.on_snapshot(snap(25)) else {
            panic!()
        };
        assert_eq!(evs.len(), 1);
        assert_eq!(s.book_id(), Some(25));
        assert!(matches!(s.on_update(up(26, 30)), Step::Apply(_)));
    }

    #[test]
    fn hole_inside_the_buffer_restarts_it() {
        let mut s = DepthSync::default();
        s.on_update(up(10, 20));
        s.on_update(up(30, 40)); // 21..29 lost while buffering
        assert!(matches!(
            s.on_snapshot(snap(22)),
            SnapshotOutcome::TooOld { .. }
        ));
        assert!(matches!(
            s.on_snapshot(snap(35)),
            SnapshotOutcome::Synced(_)
        ));
    }

    #[test]
    fn overlapping_ranges_from_a_second_connection_apply() {
        let mut s = DepthSync::default();
        s.on_update(up(100, 105));
        s.on_snapshot(snap(104));
        assert!(s.continues(104, 108));
        assert!(matches!(s.on_update(up(104, 108)), Step::Apply(_)));
        assert!(!s.continues(120, 130));
    }
}
