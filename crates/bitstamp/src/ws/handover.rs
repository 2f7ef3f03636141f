//! Make-before-break on `bts:request_reconnect`: a second connection is opened and
//! subscribed while the first still feeds the books; each book moves to the new stream where
//! the two overlap, and the old connection is closed once none follows it (or after
//! `handover_within`, the books left behind spliced from REST on the new one).

use market::net::{WsConn, WsStream, ws_connect};
use model::{BookEvent, ExchangeId};
use tokio::time::Instant;
use tracing::{debug, info};

use super::{Event, Feed, Sub, SubState, book_channel, trades_channel};
use crate::sync::DiffChain;

/// The connection being left, and until when it may feed books.
pub(super) struct Handover {
    pub(super) old: WsConn,
    pub(super) until: Instant,
}

/// Move `sub` to the new connection's stream when that stream reaches back to what the old
/// one applied: the new stream's diffs after that point, to apply now.
pub(super) fn take_over(sub: &mut Sub, new_conn: u64, pair: &str) -> Vec<BookEvent> {
    if sub.state != SubState::Live {
        return Vec::new();
    }
    let (Some(last), Some(next)) = (sub.chain.last(), sub.next.as_mut()) else {
        return Vec::new();
    };
    let Some(kept) = next.place(last) else {
        return Vec::new();
    };
    if let Some(next) = sub.next.take() {
        sub.chain = next;
    }
    sub.feed_conn = new_conn;
    debug!(%pair, follow = kept.len(), "the book moved to the new connection");
    kept
}

impl Feed {
    /// The venue will drop connection `conn`: open the next one first (once).
    pub(super) fn request_replacement(&mut self, conn: u64) {
        if Some(conn) != self.current() || self.handover.is_some() || self.connecting {
            return;
        }
        info!(
            conn,
            "the venue asks for a reconnect; opening the next connection first"
        );
        self.connecting = true;
        let ex = self.ex.clone();
        let tx = self.side_tx.clone();
        tokio::spawn(async move {
            ex.connections.acquire().await;
            let cfg = &ex.config;
            let r = ws_connect(ExchangeId::Bitstamp, &cfg.ws_url, cfg.connect_timeout).await;
            let _ = tx.send(Event::Connected(Box::new(r)));
        });
    }

    /// The replacement connection is open: subscribe everything on it; live books keep
    /// following the old one until the new stream overlaps it.
    pub(super) async fn begin_handover(&mut self, ws: WsStream) {
        let Some(old) = self.conn.take() else {
            // The old connection is already gone and the session loop reconnects (and
            // reports it); this one is not needed.
            drop(ws);
            return;
        };
        self.adopt(ws);
        let current = self.current().unwrap_or(0);
        let cap = self.ex.config.buffer_cap;
        let mut keys = Vec::new();
        for (key, sub) in self.subs.iter_mut() {
            match sub.state {
                SubState::Live => sub.next = Some(DiffChain::new(cap)),
                SubState::Syncing => {
                    // Not spliced yet: start over on the new stream.
                    sub.chain = DiffChain::new(cap);
                    sub.feed_conn = current;
                    sub.generation += 1;
                    sub.fetching = false;
                    sub.fetch_at = None;
                }
                _ => continue,
            }
            keys.push(key.clone());
        }
        keys.sort();
        for key in &keys {
            self.send("bts:subscribe", &book_channel(key));
            self.send("bts:subscribe", &trades_channel(key));
        }
        self.handover = Some(Handover {
            old,
            until: Instant::now() + self.ex.config.handover_within,
        });
        info!(books = keys.len(), "handover to the new connection begun");
        self.maybe_finish_handover();
    }

    /// Close the old connection once no book follows it any more.
    pub(super) fn maybe_finish_handover(&mut self) {
        let Some(h) = self.handover.as_ref() else {
            return;
        };
        let old = h.old.id();
        let still = self
            .subs
            .values()
            .any(|s| s.state == SubState::Live && s.feed_conn == old);
        if !still && let Some(h) = self.handover.take() {
            info!(conn = old, "every book moved; closing the old connection");
            h.old.close();
        }
    }

    /// Books that did not move in time are spliced from REST on the new stream.
    pub(super) async fn end_handover(&mut self, why: &str) {
        let Some(h) = self.handover.take() else {
            return;
        };
        let old = h.old.id();
        h.old.close();
        let stuck: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, s)| s.feed_conn == old && s.state == SubState::Live)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stuck {
            self.resync(&key, format!("handover to a new connection: {why}"))
                .await;
        }
    }
}
