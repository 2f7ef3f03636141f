//! One recorded book played back: its tape events in order, each due when its recorded time
//! comes round again at the chosen speed, re-stamped onto today's clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use market::FeedEvent;
use model::{BookEvent, BookEventKind, BookSide, BookState, OrderBook, Timestamp, Trade, TradeId};
use tape::{TapeEvent, TapeReader};
use tokio::time::Instant;
use tracing::warn;

use super::tracks::Track;

/// A pause longer than this in a tape (the recorder was off, the server down) plays as
/// [`GAP_PLAYED`], so a replay never sits silent for hours.
const MAX_GAP_NS: i64 = 300_000_000_000;
/// What a pause longer than [`MAX_GAP_NS`] becomes.
const GAP_PLAYED_NS: i64 = 1_000_000_000;
/// The pause between the end of a pass and the next (as a venue reconnecting would).
const LOOP_PAUSE: Duration = Duration::from_secs(1);
/// Events handed over at once, at most (a fast replay catching up sends several batches).
const MAX_BATCH: usize = 4_096;

/// Where a pass over the tape started, on the tape's clock and on ours.
#[derive(Debug, Clone, Copy)]
struct Origin {
    /// The tape time (gaps cut) of the pass's first event.
    tape_ns: i64,
    /// When it was played.
    instant: Instant,
    /// The wall-clock time it was stamped with.
    wall: Timestamp,
}

/// The replay's clock: wall time advances with the runtime's monotonic clock from a fixed
/// start, so that stamps follow the playback (and a paused test clock) exactly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    instant: Instant,
    wall: Timestamp,
}

impl Clock {
    /// The clock from now.
    pub(crate) fn start() -> Self {
        Clock {
            instant: Instant::now(),
            wall: Timestamp::now(),
        }
    }

    /// The wall time at `at`.
    fn wall(&self, at: Instant) -> Timestamp {
        Timestamp::from_nanos(
            self.wall
                .as_nanos()
                .saturating_add(nanos(at.saturating_duration_since(self.instant))),
        )
    }
}

/// A book being played.
pub(crate) struct Playback {
    track: Arc<Track>,
    clock: Clock,
    /// When the pass's first event is due (creation, or after the pause between passes).
    resume_at: Instant,
    speed: f64,
    looped: bool,
    /// The book as played so far (a resync is answered from it).
    book: OrderBook,
    has_baseline: bool,
    /// The file in hand, the next block to decode in it, and the events decoded.
    file: usize,
    reader: Option<TapeReader>,
    block: usize,
    pending: VecDeque<TapeEvent>,
    /// Passes completed (a looping replay starts over at the end).
    pass: u64,
    origin: Option<Origin>,
    /// The last event's tape time, and the tape time cut from long pauses so far.
    last_ns: Option<i64>,
    cut_ns: i64,
    /// Numeric trade ids seen in the first pass, so that later passes can shift theirs
    /// past them (the hub drops a trade id it has seen).
    ids: Option<(u64, u64)>,
    played_in_pass: u64,
    finished: bool,
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("symbol", &self.track.pair.symbol)
            .field("pass", &self.pass)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Playback {
    /// Start playing `track` from its beginning.
    pub(crate) fn new(
        track: Arc<Track>,
        clock: Clock,
        book: OrderBook,
        speed: f64,
        looped: bool,
    ) -> Self {
        Playback {
            track,
            clock,
            resume_at: Instant::now(),
            speed,
            looped,
            book,
            has_baseline: false,
            file: 0,
            reader: None,
            block: 0,
            pending: VecDeque::new(),
            pass: 0,
            origin: None,
            last_ns: None,
            cut_ns: 0,
            ids: None,
            played_in_pass: 0,
            finished: false,
        }
    }

    /// When the next event is due; `None` once a replay that does not loop has ended.
    pub(crate) fn next_due(&mut self) -> Option<Instant> {
        let local = self.peek()?.local().as_nanos();
        let Some(o) = self.origin else {
            return Some(self.resume_at);
        };
        let tape = self.tape_ns(local);
        Some(o.instant + self.played(tape - o.tape_ns))
    }

    /// Every event due at `now` (at most a batch), as the feed reports them.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<FeedEvent> {
        let mut out: Vec<FeedEvent> = Vec::new();
        for _ in 0..MAX_BATCH {
            match self.next_due() {
                Some(due) if due <= now => {}
                _ => break,
            }
            let Some(ev) = self.pending.pop_front() else {
                break;
            };
            let local = ev.local().as_nanos();
            let tape = self.tape_ns(local);
            self.last_ns = Some(local);
            let wall = self.clock.wall(now);
            let o = *self.origin.get_or_insert(Origin {
                tape_ns: tape,
                instant: now,
                wall,
            });
            let stamp = o
                .wall
                .as_nanos()
                .saturating_add(nanos(self.played(tape - o.tape_ns)));
            self.played_in_pass += 1;
            self.convert(ev, local, stamp, &mut out);
        }
        out
    }

    /// True while the tapes have events still to play (always, for a looping replay).
    pub(crate) fn is_playing(&mut self) -> bool {
        self.peek().is_some()
    }

    /// The book as played, as a snapshot stamped now (the hub asked for a resync); `None`
    /// before the tape gave a baseline (the next snapshot on the tape will).
    pub(crate) fn resync(&self) -> Option<FeedEvent> {
        if !self.has_baseline {
            return None;
        }
        let now = self.clock.wall(Instant::now());
        let event = BookEvent::snapshot(
            self.book.levels(BookSide::Bid).collect(),
            self.book.levels(BookSide::Ask).collect(),
        );
        Some(FeedEvent::Book {
            symbol: self.track.pair.symbol.clone(),
            event,
            received: now,
        })
    }

    /// The tape time of an event recorded at `local`, long pauses cut.
    fn tape_ns(&mut self, local: i64) -> i64 {
        if let Some(last) = self.last_ns {
            let gap = local - last;
            if gap > MAX_GAP_NS {
                self.cut_ns += gap - GAP_PLAYED_NS;
                self.last_ns = Some(local);
            }
        }
        local - self.cut_ns
    }

    /// How long `tape` ns of tape take to play at the replay's speed.
    fn played(&self, tape: i64) -> Duration {
        Duration::from_nanos((tape.max(0) as f64 / self.speed) as u64)
    }

    fn convert(&mut self, ev: TapeEvent, local: i64, stamp: i64, out: &mut Vec<FeedEvent>) {
        let track = self.track.clone();
        let symbol = &track.pair.symbol;
        let at = Timestamp::from_nanos(stamp);
        let shift = |t: Timestamp| Timestamp::from_nanos(stamp + (t.as_nanos() - local));
        match ev {
            TapeEvent::Book { mut event, .. } => {
                let snapshot = event.kind == BookEventKind::Snapshot;
                if !snapshot && !self.has_baseline {
                    return;
                }
                if self.book.apply(&event).is_err() {
                    // The tape's own book failed here: wait for its next baseline.
                    self.has_baseline = false;
                    return;
                }
                self.has_baseline = true;
                event.exchange_ts = event.exchange_ts.map(shift);
                // The source venue's checksums were verified when recorded.
                event.checksum = None;
                out.push(FeedEvent::Book {
                    symbol: symbol.clone(),
                    event,
                    received: at,
                });
            }
            TapeEvent::Checkpoint { bids, asks, .. } => {
                if self.has_baseline {
                    return; // the book played so far is this picture already
                }
                let event = BookEvent::snapshot(bids, asks);
                if self.book.apply(&event).is_err() {
                    return;
                }
                self.has_baseline = true;
                out.push(FeedEvent::Book {
                    symbol: symbol.clone(),
                    event,
                    received: at,
                });
            }
            TapeEvent::Trade(mut t) => {
                t.trade_id = self.trade_id(t.trade_id);
                t.exchange_ts = shift(t.exchange_ts);
                t.local_ts = at;
                match out.last_mut() {
                    Some(FeedEvent::Trades { trades, .. }) => trades.push(t),
                    _ => out.push(FeedEvent::Trades {
                        symbol: symbol.clone(),
                        trades: vec![t],
                    }),
                }
            }
            TapeEvent::State { state, .. } => match state {
                BookState::Syncing | BookState::Resyncing | BookState::Down => {
                    self.has_baseline = false;
                    out.push(FeedEvent::State {
                        symbol: symbol.clone(),
                        state,
                        reason: Some(format!(
                            "recorded: the {} book was {} here",
                            track.source,
                            state.as_str()
                        )),
                    });
                }
                // Live follows from the next event; staleness from a quiet replay.
                BookState::Live | BookState::Stale => {}
            },
            // Paper consumption of the recording server: this server has its own.
            TapeEvent::Consumed { .. } | TapeEvent::Released { .. } => {}
        }
    }

    /// A trade's id in this pass: the first pass keeps the venue's; later ones shift numeric
    /// ids past the first pass's range and suffix others with the pass.
    fn trade_id(&mut self, id: TradeId) -> TradeId {
        if self.pass == 0 {
            if let TradeId::Num(n) = id {
                self.ids = Some(self.ids.map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))));
            }
            return id;
        }
        match id {
            TradeId::Num(n) => {
                let shifted = self.ids.and_then(|(lo, hi)| {
                    (hi - lo)
                        .checked_add(1)
                        .and_then(|stride| stride.checked_mul(self.pass))
                        .and_then(|d| n.checked_add(d))
                });
                match shifted {
                    Some(m) => TradeId::Num(m),
                    None => TradeId::Text(format!("{n}.{}", self.pass).into()),
                }
            }
            TradeId::Text(s) => TradeId::Text(format!("{s}.{}", self.pass).into()),
        }
    }

    /// The next event, reading the next block or file as needed; at the end of the tape a
    /// looping replay starts its next pass.
    fn peek(&mut self) -> Option<&TapeEvent> {
        while self.pending.is_empty() && !self.finished {
            if !self.fill() {
                self.end_of_pass();
            }
        }
        self.pending.front()
    }

    /// Decode the next block; false at the end of the tape.
    fn fill(&mut self) -> bool {
        loop {
            let Some(source) = self.track.files.get(self.file) else {
                return false;
            };
            if self.reader.is_none() {
                match source.open() {
                    Ok(r) => self.reader = Some(r),
                    Err(e) => {
                        warn!(symbol = %self.track.pair.symbol, error = %e, "replay: tape file skipped");
                        self.file += 1;
                        continue;
                    }
                }
                self.block = 0;
            }
            let next = self
                .reader
                .as_ref()
                .and_then(|r| r.block_events(self.block));
            self.block += 1;
            match next {
                Some(Ok(events)) => {
                    self.pending.extend(events);
                    if !self.pending.is_empty() {
                        return true;
                    }
                }
                Some(Err(e)) => {
                    warn!(symbol = %self.track.pair.symbol, error = %e, "replay: rest of a tape file skipped");
                    self.next_file();
                }
                None => self.next_file(),
            }
        }
    }

    fn next_file(&mut self) {
        self.reader = None;
        self.file += 1;
    }

    fn end_of_pass(&mut self) {
        if !self.looped || self.played_in_pass == 0 {
            self.finished = true;
            return;
        }
        self.pass += 1;
        self.played_in_pass = 0;
        self.file = 0;
        self.reader = None;
        self.origin = None;
        self.resume_at = Instant::now() + LOOP_PAUSE;
        self.last_ns = None;
        self.cut_ns = 0;
        // The next pass starts from the tape's first snapshot, as a reconnect would.
        self.has_baseline = false;
        self.book.clear();
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A trade as played (for the venue's candles).
pub(crate) fn trades_of(out: &[FeedEvent]) -> impl Iterator<Item = &Trade> {
    out.iter().flat_map(|e| match e {
        FeedEvent::Trades { trades, .. } => trades.as_slice(),
        _ => &[],
    })
}
