//! Bitstamp's book rule, as a small state machine: diffs carry no sequence number, only a
//! `microtimestamp` that never goes back; a book state taken at time `T` (a REST snapshot,
//! or the book an older connection keeps) is placed on a buffered stream when the stream
//! was already flowing at `T`: diffs at or before `T` are covered, the rest follow.

use std::collections::VecDeque;

use model::BookEvent;

/// What became of a diff.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Apply it (the chain is live).
    Apply(BookEvent),
    /// Held until the book is placed.
    Buffered,
    /// Already in the book it was placed on (its time is at or before that book's): skip.
    Covered,
    /// Its time went back on this stream: the chain is broken and buffers afresh.
    Broken {
        /// The last time this stream carried.
        last: i64,
        /// The time that came.
        got: i64,
    },
}

/// The diff stream of one book on one connection.
#[derive(Debug, Clone)]
pub struct DiffChain {
    live: bool,
    /// The last time this stream carried.
    last: Option<i64>,
    /// The time of the book state the chain was placed on: diffs up to it are in the book.
    covered: Option<i64>,
    buffer: VecDeque<(i64, BookEvent)>,
    /// The time from which the buffer holds every diff of the stream: the first one
    /// buffered, the last one dropped for room, or the last one seen before a resync.
    floor: Option<i64>,
    cap: usize,
}

impl DiffChain {
    /// A chain for a new subscription that buffers at most `cap` diffs before it is placed
    /// (the oldest go first).
    pub fn new(cap: usize) -> Self {
        DiffChain {
            live: false,
            last: None,
            covered: None,
            buffer: VecDeque::new(),
            floor: None,
            cap: cap.max(1),
        }
    }

    /// Take a diff.
    pub fn diff(&mut self, micros: i64, event: BookEvent) -> Step {
        if let Some(last) = self.last
            && micros < last
        {
            self.resync();
            return Step::Broken { last, got: micros };
        }
        self.last = Some(micros);
        if self.live {
            return if self.covered.is_some_and(|c| micros <= c) {
                Step::Covered
            } else {
                Step::Apply(event)
            };
        }
        if self.floor.is_none() {
            self.floor = Some(micros);
        }
        if self.buffer.len() >= self.cap
            && let Some((dropped, _)) = self.buffer.pop_front()
        {
            self.floor = Some(dropped);
        }
        self.buffer.push_back((micros, event));
        Step::Buffered
    }

    /// Place a book state taken at `at`: `None` when the buffered stream does not reach
    /// back to `at` (a later state is needed); else the buffered diffs after `at`, in
    /// order, and the chain is live (diffs at or before `at` that come later are covered).
    pub fn place(&mut self, at: i64) -> Option<Vec<BookEvent>> {
        if self.floor? > at {
            return None;
        }
        let kept: Vec<BookEvent> = std::mem::take(&mut self.buffer)
            .into_iter()
            .filter(|(m, _)| *m > at)
            .map(|(_, e)| e)
            .collect();
        self.live = true;
        self.floor = None;
        self.covered = Some(at);
        Some(kept)
    }

    /// True once placed.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Diffs held.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The last time this stream carried.
    pub fn last(&self) -> Option<i64> {
        self.last
    }

    /// The time before which nothing is known to be buffered (`None`: no diff came yet).
    pub fn floor(&self) -> Option<i64> {
        self.floor
    }

    /// Start buffering afresh on the same stream: every diff after the last one seen is
    /// kept, so a book state taken at or after it can be placed at once.
    pub fn resync(&mut self) {
        self.live = false;
        self.covered = None;
        self.buffer.clear();
        self.floor = self.last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> BookEvent {
        BookEvent::delta(Vec::new(), Vec::new())
    }

    #[test]
    fn a_snapshot_is_placed_on_a_stream_that_reaches_back_to_it() {
        let mut c = DiffChain::new(100);
        assert_eq!(
            c.place(5),
            None,
            "no diff yet: the stream's start is unknown"
        );
        for m in [10, 20, 30] {
            assert_eq!(c.diff(m, ev()), Step::Buffered);
        }
        assert_eq!(c.place(5), None, "the snapshot is older than the stream");
        let kept = c.place(20).unwrap();
        assert_eq!(kept.len(), 1, "10 and 20 are covered, 30 follows");
        assert!(c.is_live());
        assert_eq!(
            c.diff(30, ev()),
            Step::Apply(ev()),
            "an equal time is no step back"
        );
        assert_eq!(c.diff(29, ev()), Step::Broken { last: 30, got: 29 });
        assert!(!c.is_live());
        assert_eq!(
            c.floor(),
            Some(30),
            "every diff after 30 is buffered from now on"
        );
        assert_eq!(c.diff(31, ev()), Step::Buffered);
        assert_eq!(c.place(30).map(|k| k.len()), Some(1), "placed at once");
        assert_eq!(c.diff(32, ev()), Step::Apply(ev()));
    }

    #[test]
    fn a_lagging_stream_skips_what_the_book_already_holds() {
        // A book at 40 placed on a stream that has carried only up to 20: the stream's
        // diffs up to 40 arrive later and are already in the book.
        let mut c = DiffChain::new(10);
        c.diff(20, ev());
        assert_eq!(c.place(40).map(|k| k.len()), Some(0));
        assert_eq!(c.diff(30, ev()), Step::Covered);
        assert_eq!(c.diff(40, ev()), Step::Covered);
        assert_eq!(c.diff(41, ev()), Step::Apply(ev()));
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut c = DiffChain::new(2);
        for m in [1, 2, 3] {
            c.diff(m, ev());
        }
        assert_eq!(c.buffered(), 2);
        let mut d = c.clone();
        assert_eq!(
            d.place(0),
            None,
            "diff 1 was dropped: a state before it cannot be placed"
        );
        assert_eq!(d.place(1).map(|k| k.len()), Some(2), "diff 1 is covered");
        assert_eq!(c.place(2).map(|k| k.len()), Some(1));
    }
}
