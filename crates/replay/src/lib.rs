//! The lab's replays (DESIGN §17): the tapes the recorder wrote, played back as the books an
//! order executes against.
//!
//! # Invariants
//! - **Exact reproduction.** A what-if with no overrides runs the same engine core on the
//!   same books (each slice on the book its original saw, by the recorded receive time of the
//!   book's last event) with the same liquidity taken by other orders before it (recorded
//!   consumption), so it fills as the original did, fill for fill; whether it did is
//!   computed, never assumed ([`WhatIf::reproduces_original`]).
//! - **Read-only.** Tapes are only read; a torn tail is skipped as the reader skips it.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod market;
pub mod venue;

use std::path::Path;

use engine::lab::{Rerun, reproduces, rerun};
use engine::{Order, SliceRecord};
use model::{ExchangeId, OrderBook, Symbol, Timestamp};

pub use market::{Span, TapeMarket};
pub use venue::{ReplayConfig, ReplayError, ReplayExchange};

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The window is not (wholly) on tape.
    #[error("{0}")]
    NotRecorded(String),
    /// A tape could not be read.
    #[error("tape: {0}")]
    Tape(#[from] tape::TapeError),
}

/// A what-if's result.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIf {
    /// The simulated order and its slices.
    pub run: Rerun,
    /// It equals the original, fill for fill.
    pub reproduces_original: bool,
}

/// The longest markout horizon: a re-run reads this far past its last slice.
const MARKOUT_TAIL_NS: i64 = 60_000_000_000;
/// A book may be quiet this long at the end of a window and still count as recorded.
const QUIET_NS: i64 = 60_000_000_000;

/// Re-run `sim` (a what-if draft of `original`) against the tapes under `root`.
/// `new_book` builds the empty book of a venue's feed (its scales and depth cap).
pub fn whatif(
    root: &Path,
    original: &Order,
    original_slices: &[SliceRecord],
    sim: Order,
    new_book: &dyn Fn(ExchangeId, &Symbol) -> OrderBook,
) -> Result<WhatIf, LabError> {
    let run = on_tape(root, sim, Some((original, original_slices)), new_book)?;
    let reproduces_original = reproduces(original, original_slices, &run);
    Ok(WhatIf {
        run,
        reproduces_original,
    })
}

/// Run `order` (a draft accepted at its start, with an id no recorded order has) on the
/// tapes under `root`: a backtest.
pub fn backtest(
    root: &Path,
    order: Order,
    new_book: &dyn Fn(ExchangeId, &Symbol) -> OrderBook,
) -> Result<Rerun, LabError> {
    on_tape(root, order, None, new_book)
}

fn on_tape(
    root: &Path,
    sim: Order,
    original: Option<(&Order, &[SliceRecord])>,
    new_book: &dyn Fn(ExchangeId, &Symbol) -> OrderBook,
) -> Result<Rerun, LabError> {
    let plan = sim.plan();
    let created = original.map_or(sim.created_at(), |(o, _)| o.created_at());
    let from = created.min(plan.start);
    let last = sim.due(plan.slices.saturating_sub(1));
    let to = Timestamp::from_nanos(last.as_nanos().saturating_add(MARKOUT_TAIL_NS));
    let mut market = TapeMarket::new();
    let mut end = to;
    for (exchange, symbol) in sim.books() {
        let span = market.add(
            root,
            (exchange, &symbol),
            new_book(exchange, &symbol),
            sim.id(),
            (from, to),
        )?;
        let missing = |what: String| {
            LabError::NotRecorded(format!(
                "{exchange} {symbol} is not on tape for the whole window {} – {}: {what}",
                show(from),
                show(last)
            ))
        };
        match span {
            Span { start: None, .. } | Span { end: None, .. } => {
                return Err(missing("nothing recorded".to_owned()));
            }
            Span {
                start: Some(s),
                end: Some(e),
            } => {
                if s > from {
                    return Err(missing(format!("the recording starts at {}", show(s))));
                }
                if e.as_nanos().saturating_add(QUIET_NS) < last.as_nanos() {
                    return Err(missing(format!("the recording ends at {}", show(e))));
                }
                end = end.min(Timestamp::from_nanos(e.as_nanos().max(last.as_nanos())));
            }
        }
    }
    Ok(rerun(sim, original, &mut market, end))
}

/// `t` as RFC 3339 UTC, to the millisecond.
fn show(t: Timestamp) -> String {
    let ms = t.as_nanos().div_euclid(1_000_000);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = model::civil_from_days(days);
    let s = ms_of_day / 1_000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3_600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1_000
    )
}
