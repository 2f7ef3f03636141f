//! Coinbase's continuity rule: `sequence_num` belongs to the connection and grows by exactly
//! one with every message on it, whatever its channel.

/// What a message's `sequence_num` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It continues the connection's count.
    InOrder,
    /// Messages were lost (or repeated): every book of the connection is suspect.
    Gap {
        /// The number that should have come.
        expected: u64,
        /// The number that came.
        got: u64,
    },
}

/// The message count of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnSeq {
    last: Option<u64>,
}

impl ConnSeq {
    /// Check a message's number. The first message of a connection sets the baseline; after
    /// a gap the count continues from the number that came (the gap is reported once).
    pub fn check(&mut self, seq: u64) -> Verdict {
        let verdict = match self.last {
            Some(last) if seq != last.wrapping_add(1) => Verdict::Gap {
                expected: last.wrapping_add(1),
                got: seq,
            },
            _ => Verdict::InOrder,
        };
        self.last = Some(seq);
        verdict
    }

    /// A new connection: its count starts afresh.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The last number seen.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's §4.5 rule: a skipped `sequence_num` is a gap even when the lost
    /// message was not a book message.
    #[test]
    fn every_message_counts() {
        let mut c = ConnSeq::default();
        for s in 0..3 {
            assert_eq!(c.check(s), Verdict::InOrder);
        }
        assert_eq!(
            c.check(4),
            Verdict::Gap {
                expected: 3,
                got: 4
            }
        );
        assert_eq!(c.check(5), Verdict::InOrder, "reported once");
        assert_eq!(
            c.check(5),
            Verdict::Gap {
                expected: 6,
                got: 5
            },
            "a repeat"
        );
        c.reset();
        assert_eq!(c.check(0), Verdict::InOrder, "a new connection");
    }
}
