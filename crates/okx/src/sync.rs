//! OKX's book continuity: the `prevSeqId` → `seqId` chain, and the splice of a REST book
//! onto buffered updates when no in-band snapshot comes.

use model::BookEvent;

/// What to do with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Apply,
    /// Hold it: no baseline yet (buffered for a REST splice).
    Buffer,
    /// A message was lost: resubscribe this instrument for a fresh snapshot.
    Gap {
        /// The `seqId` the update should have followed.
        last: i64,
        /// Its `prevSeqId`.
        prev: i64,
    },
}

/// How a REST book and the buffered updates fit together.
#[derive(Debug, Clone, PartialEq)]
pub enum Splice {
    /// The book, then these buffered updates in order: live.
    Ready(BookEvent, Vec<BookEvent>),
    /// The REST book is older than the stream (its `seqId` is below the first buffered
    /// update's `prevSeqId`): fetch again.
    TooOld,
    /// The REST book carries no `seqId`: it cannot be placed in the chain.
    Unplaceable,
}

/// The chain of one book.
#[derive(Debug, Default)]
pub struct SeqChain {
    baseline: bool,
    last: Option<i64>,
    /// Updates received before any baseline: `(prevSeqId, seqId, event)`.
    buffer: Vec<(i64, i64, BookEvent)>,
}

/// At most this many updates are held while waiting for a REST book (10 s at 100 ms).
const BUFFER_CAP: usize = 100;

impl SeqChain {
    /// A snapshot (in band) restarts the chain at its `seqId` (if the venue sends one).
    pub fn snapshot(&mut self, seq: Option<i64>) {
        self.baseline = true;
        self.last = seq;
        self.buffer.clear();
    }

    /// True once a snapshot was applied.
    pub fn is_live(&self) -> bool {
        self.baseline
    }

    /// Decide an update. Without sequence ids (older feeds) a live book applies it and the
    /// checksum alone guards it. A sequence reset (`seqId < prevSeqId`) after maintenance is
    /// accepted as OKX documents, as long as `prevSeqId` continues the chain; an empty
    /// update with `prevSeqId == seqId` is the venue's heartbeat.
    pub fn update(&mut self, prev: Option<i64>, seq: Option<i64>, event: &BookEvent) -> Verdict {
        let (Some(prev), Some(seq)) = (prev, seq) else {
            return if self.baseline {
                Verdict::Apply
            } else {
                Verdict::Buffer
            };
        };
        if !self.baseline {
            if self.buffer.len() >= BUFFER_CAP {
                self.buffer.remove(0);
            }
            self.buffer.push((prev, seq, event.clone()));
            return Verdict::Buffer;
        }
        match self.last {
            Some(last) if prev != last => {
                self.reset();
                Verdict::Gap { last, prev }
            }
            _ => {
                self.last = Some(seq);
                Verdict::Apply
            }
        }
    }

    /// Splice a REST book: drop buffered updates it covers (`seqId <= book`), require the
    /// first kept one to straddle it (`prevSeqId <= book < seqId`) and the rest to chain.
    pub fn splice(&mut self, book_seq: Option<i64>, book: BookEvent) -> Splice {
        let Some(s) = book_seq else {
            return Splice::Unplaceable;
        };
        let kept: Vec<(i64, i64, BookEvent)> = self
            .buffer
            .iter()
            .filter(|(_, seq, _)| *seq > s)
            .cloned()
            .collect();
        if let Some((prev, _, _)) = kept.first()
            && *prev > s
        {
            return Splice::TooOld;
        }
        for w in kept.windows(2) {
            if w[1].0 != w[0].1 {
                return Splice::TooOld;
            }
        }
        self.baseline = true;
        self.last = Some(kept.last().map_or(s, |(_, seq, _)| *seq));
        self.buffer.clear();
        Splice::Ready(book, kept.into_iter().map(|(_, _, e)| e).collect())
    }

    /// Forget everything (connection lost, resubscribing).
    pub fn reset(&mut self) {
        self.baseline = false;
        self.last = None;
        self.buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> BookEvent {
        BookEvent::delta(Vec::new(), Vec::new())
    }

    #[test]
    fn the_reference_sequence() {
        let mut c = SeqChain::default();
        c.snapshot(Some(1_000));
        assert_eq!(c.update(Some(1_000), Some(1_007), &ev()), Verdict::Apply);
        assert_eq!(c.update(Some(1_007), Some(1_019), &ev()), Verdict::Apply);
        assert_eq!(
            c.update(Some(1_019), Some(1_019), &ev()),
            Verdict::Apply,
            "heartbeat"
        );
        assert_eq!(
            c.update(Some(1_019), Some(5), &ev()),
            Verdict::Apply,
            "a reset"
        );
        assert_eq!(
            c.update(Some(6), Some(9), &ev()),
            Verdict::Gap { last: 5, prev: 6 }
        );
        assert_eq!(
            c.update(Some(9), Some(12), &ev()),
            Verdict::Buffer,
            "no baseline"
        );
    }

    #[test]
    fn a_rest_book_is_spliced_onto_the_buffer() {
        let mut c = SeqChain::default();
        for (p, s) in [(10, 20), (20, 30), (30, 40)] {
            assert_eq!(c.update(Some(p), Some(s), &ev()), Verdict::Buffer);
        }
        // A book at 25 covers the first update; the second straddles it.
        let Splice::Ready(_, kept) = c.splice(Some(25), ev()) else {
            panic!()
        };
        assert_eq!(kept.len(), 2);
        assert_eq!(c.update(Some(40), Some(50), &ev()), Verdict::Apply);
        // A book older than the stream is refused; one without seqId cannot be placed.
        let mut c = SeqChain::default();
        c.update(Some(100), Some(110), &ev());
        assert_eq!(c.splice(Some(90), ev()), Splice::TooOld);
        assert_eq!(c.splice(None, ev()), Splice::Unplaceable);
        assert!(matches!(c.splice(Some(105), ev()), Splice::Ready(_, k) if k.len() == 1));
    }
}
