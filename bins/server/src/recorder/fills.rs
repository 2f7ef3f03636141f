//! The engine's side of the tapes: the liquidity every filled slice takes, and the release
//! of a book's paper ledger when its last open order ends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use model::{ExchangeId, Symbol, Timestamp};
use tape::TapeEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::Item;

/// Follow the engine's published updates until `shutdown`.
pub(super) fn follow(
    tx: mpsc::Sender<Item>,
    mut updates: tokio::sync::broadcast::Receiver<Arc<engine::Update>>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut open: HashMap<(ExchangeId, Symbol), HashSet<i64>> = HashMap::new();
        loop {
            let u = tokio::select! {
                _ = shutdown.cancelled() => return,
                u = updates.recv() => u,
            };
            let u = match u {
                Ok(u) => u,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    warn!(
                        updates = n,
                        "the recorder missed order updates; their fills are not on tape"
                    );
                    continue;
                }
                Err(_) => return,
            };
            for item in fills_of(&u).chain(releases(&mut open, &u)) {
                if tx.try_send(item).is_err() {
                    warn!("the recorder is behind; a paper fill is not on tape");
                }
            }
        }
    });
}

/// The liquidity an update's slice took, as tape events.
fn fills_of(u: &engine::Update) -> impl Iterator<Item = Item> + '_ {
    let o = &u.order;
    u.slice.iter().flat_map(move |s| {
        s.fills
            .iter()
            .enumerate()
            .filter_map(move |(i, (price, qty))| {
                let shown = s.fill_shown.get(i).copied().unwrap_or(*qty);
                let (Ok(price), Ok(qty), Ok(shown)) = (
                    model::Price::try_from(*price),
                    model::Qty::try_from(*qty),
                    model::Qty::try_from(shown),
                ) else {
                    return None;
                };
                Some(Item::Event {
                    exchange: s.fill_venues.get(i).copied().unwrap_or(o.exchange()),
                    symbol: o.symbol().to_string(),
                    event: TapeEvent::Consumed {
                        local: s.executed_at,
                        order: o.id(),
                        side: o.side().takes(),
                        price,
                        qty,
                        shown,
                    },
                })
            })
    })
}

/// Follow which orders are open on which books; when an update ends a book's last open
/// order, that book's release.
fn releases(
    open: &mut HashMap<(ExchangeId, Symbol), HashSet<i64>>,
    u: &engine::Update,
) -> Vec<Item> {
    let o = &u.order;
    let mut out = Vec::new();
    for key in o.books() {
        if o.status().is_open() {
            open.entry(key).or_default().insert(o.id());
        } else if let Some(ids) = open.get_mut(&key)
            && ids.remove(&o.id())
            && ids.is_empty()
        {
            open.remove(&key);
            out.push(Item::Event {
                exchange: key.0,
                symbol: key.1.to_string(),
                event: TapeEvent::Released {
                    local: o.closed_at().unwrap_or_else(Timestamp::now),
                },
            });
        }
    }
    out
}
