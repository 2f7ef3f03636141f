//! Bybit's book continuity rule, as a small state machine: a snapshot (re)starts the chain,
//! each delta must carry the next update id.

/// What to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Apply,
    /// Drop it: no baseline yet (a delta before the snapshot), or an id already applied.
    Ignore,
    /// A message was lost: resubscribe this symbol for a fresh snapshot.
    Gap {
        /// The id that should have come.
        expected: u64,
        /// The id that came.
        got: u64,
    },
}

/// The update-id chain of one book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateChain {
    last: Option<u64>,
}

impl UpdateChain {
    /// A snapshot always replaces the book and restarts the chain at its `u` (`u == 1`
    /// after a venue restart is no gap).
    pub fn snapshot(&mut self, u: u64) -> Verdict {
        self.last = Some(u);
        Verdict::Apply
    }

    /// A delta continues the chain only with `u == last + 1`.
    pub fn delta(&mut self, u: u64) -> Verdict {
        match self.last {
            None => Verdict::Ignore,
            Some(last) if u <= last => Verdict::Ignore,
            Some(last) if u == last + 1 => {
                self.last = Some(u);
                Verdict::Apply
            }
            Some(last) => {
                self.last = None;
                Verdict::Gap {
                    expected: last + 1,
                    got: u,
                }
            }
        }
    }

    /// Forget the baseline (connection lost, resubscribing).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The last applied update id.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_sequence() {
        let mut c = UpdateChain::default();
        assert_eq!(c.delta(999), Verdict::Ignore, "no baseline yet");
        assert_eq!(c.snapshot(1000), Verdict::Apply);
        assert_eq!(c.delta(1001), Verdict::Apply);
        assert_eq!(c.delta(1002), Verdict::Apply);
        assert_eq!(c.delta(1002), Verdict::Ignore, "a repeat");
        assert_eq!(c.snapshot(1), Verdict::Apply, "a restart is no gap");
        assert_eq!(c.delta(2), Verdict::Apply);
        assert_eq!(
            c.delta(4),
            Verdict::Gap {
                expected: 3,
                got: 4
            }
        );
        assert_eq!(
            c.delta(5),
            Verdict::Ignore,
            "nothing applies until a snapshot"
        );
    }
}
