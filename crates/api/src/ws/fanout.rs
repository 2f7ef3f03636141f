//! Book frames fanned out from one timer per (exchange, symbol, depth, interval) and worker
//! thread.
//!
//! Every book subscription on a worker with the same key joins one [`Group`]. The group's
//! task wakes at each tick, takes the frame (serialized once per tick for every worker, by
//! the frame cache) and puts it straight into each member's send queue: one timer and one
//! task wake per tick instead of one per connection, which was about a fifth of the server's
//! time at 5 000 subscribers (perf, docs/PERFORMANCE.md).
//!
//! A member whose queue is full at a tick misses that frame (it gets the newest at a later
//! tick, never a backlog); one whose queue stays full for the send timeout is evicted: its
//! connection is told to close. Membership ends when the [`Membership`] is dropped
//! (unsubscribe or connection end); a group with no member stops at its next tick.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_ws::{Message, Session};
use bytestring::ByteString;
use futures_util::Sink;
use market::BookWatch;
use model::{ExchangeId, Symbol, Timestamp};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::frames::{book_frame, instant_at, next_tick};
use crate::state::AppState;

/// What a group serves: exchange, symbol, depth, interval (ms).
pub(super) type GroupKey = (ExchangeId, Symbol, usize, u64);

/// A group's place in [`GROUPS`]: its server's state (tests run several servers in one
/// process) and its key.
type Slot = (usize, GroupKey);

thread_local! {
    /// This worker's live groups.
    static GROUPS: RefCell<HashMap<Slot, Weak<Group>>> = RefCell::new(HashMap::new());
}

struct Member {
    id: u64,
    session: Session,
    /// Since when every tick found this member's queue full.
    full_since: Option<Instant>,
    /// Tells the member's connection to close.
    evict: Rc<Notify>,
}

/// The subscribers of one key on this worker.
pub(super) struct Group {
    slot: Slot,
    watch: BookWatch,
    members: Members,
}

/// A group's members and their send queues.
#[derive(Default)]
struct Members {
    list: RefCell<Vec<Member>>,
    next_id: std::cell::Cell<u64>,
}

impl Drop for Group {
    fn drop(&mut self) {
        // `try_*`: the thread-local may be going away with the thread.
        let _ = GROUPS.try_with(|g| {
            if let Ok(mut g) = g.try_borrow_mut()
                && g.get(&self.slot).is_some_and(|w| w.strong_count() == 0)
            {
                g.remove(&self.slot);
            }
        });
    }
}

/// A connection's place in a group; leaves it when dropped.
pub(super) struct Membership {
    group: Rc<Group>,
    id: u64,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.group.members.leave(self.id);
    }
}

/// Join the group of `key` on this worker (starting it if there is none). Frames go to
/// `session`; `evict` is notified when the member stopped reading for the send timeout.
pub(super) fn join(
    state: &Arc<AppState>,
    key: GroupKey,
    watch: BookWatch,
    session: Session,
    evict: Rc<Notify>,
) -> Membership {
    let slot = (Arc::as_ptr(state) as usize, key);
    let existing = GROUPS.with(|g| g.borrow().get(&slot).and_then(Weak::upgrade));
    let group = existing.unwrap_or_else(|| {
        let group = Rc::new(Group {
            slot: slot.clone(),
            watch,
            members: Members::default(),
        });
        GROUPS.with(|g| g.borrow_mut().insert(slot, Rc::downgrade(&group)));
        actix_web::rt::spawn(run(Rc::downgrade(&group), state.clone()));
        group
    });
    let id = group.members.join(session, evict);
    Membership { group, id }
}

/// The group's ticks, until it has no member.
async fn run(group: Weak<Group>, state: Arc<AppState>) {
    let Some((_, (exchange, symbol, depth, interval))) = group.upgrade().map(|g| g.slot.clone())
    else {
        return;
    };
    let send_timeout = state.ws.config.send_timeout;
    loop {
        let tick = next_tick(Timestamp::now().as_millis(), interval);
        tokio::time::sleep_until(instant_at(tick)).await;
        let Some(g) = group.upgrade() else {
            return;
        };
        let frame = book_frame(&state, exchange, &symbol, &g.watch, depth, interval, tick);
        g.members.tick(&frame, send_timeout).await;
    }
}

impl Members {
    fn join(&self, session: Session, evict: Rc<Notify>) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.list.borrow_mut().push(Member {
            id,
            session,
            full_since: None,
            evict,
        });
        id
    }

    fn leave(&self, id: u64) {
        self.list.borrow_mut().retain(|m| m.id != id);
    }

    /// One tick: [`Members::deliver`] outside tokio's cooperative budget. Each queue's
    /// `poll_ready` spends a unit of it, and past 128 in one task poll every further member
    /// would look full: on the server's workers, every subscriber after a worker's 127th
    /// starved.
    async fn tick(&self, frame: &ByteString, send_timeout: Duration) {
        tokio::task::unconstrained(async { self.deliver(frame, Instant::now(), send_timeout) })
            .await;
    }

    /// Put `frame` into every member's queue that has room; evict those full for too long.
    fn deliver(&self, frame: &ByteString, now: Instant, send_timeout: Duration) {
        // Frames are only ever queued here, never awaited: a full queue is polled again at
        // the next tick, so no waker is needed.
        let mut cx = Context::from_waker(Waker::noop());
        self.list.borrow_mut().retain_mut(|m| {
            let mut s = Pin::new(&mut m.session);
            match s.as_mut().poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => {
                    m.full_since = None;
                    s.start_send(Message::Text(frame.clone())).is_ok()
                }
                // The connection is gone; its task ends on its own.
                Poll::Ready(Err(_)) => false,
                Poll::Pending => {
                    let since = *m.full_since.get_or_insert(now);
                    if now.duration_since(since) >= send_timeout {
                        m.evict.notify_one();
                        return false;
                    }
                    true
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use actix_web::FromRequest;
    use actix_web::body::MessageBody;
    use actix_web::test::TestRequest;

    use super::*;

    /// A session as `GET /ws` makes one, and the body its frames are written to.
    async fn session() -> (actix_web::body::BoxBody, Session) {
        let (req, mut payload) = TestRequest::default()
            .insert_header(("upgrade", "websocket"))
            .insert_header(("connection", "upgrade"))
            .insert_header(("sec-websocket-version", "13"))
            .insert_header(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))
            .to_http_parts();
        let payload = actix_web::web::Payload::from_request(&req, &mut payload)
            .await
            .unwrap();
        let (resp, session, _) = actix_ws::handle(&req, payload).unwrap();
        (resp.into_body(), session)
    }

    /// Frames of `{}` waiting in a body (each 4 bytes on the wire: a 2-byte header and the
    /// text; the body hands several over in one chunk).
    fn queued(body: &mut actix_web::body::BoxBody) -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let mut bytes = 0;
        while let Poll::Ready(Some(Ok(b))) = Pin::new(&mut *body).poll_next(&mut cx) {
            bytes += b.len();
        }
        bytes / 4
    }

    #[actix_web::test]
    async fn a_tick_reaches_members_past_the_cooperative_budget() {
        let members = Members::default();
        let mut bodies = Vec::new();
        for _ in 0..300 {
            let (body, s) = session().await;
            members.join(s, Rc::new(Notify::new()));
            bodies.push(body);
        }
        let frame = ByteString::from_static("{}");
        members.tick(&frame, Duration::from_secs(10)).await;
        // Reading a body spends the budget too.
        let got: Vec<usize> =
            tokio::task::unconstrained(async { bodies.iter_mut().map(queued).collect() }).await;
        let missed = got.iter().filter(|n| **n != 1).count();
        assert_eq!(missed, 0, "members without the frame: {got:?}");
    }

    #[actix_web::test]
    async fn a_member_full_for_the_send_timeout_is_evicted() {
        let members = Members::default();
        let (mut body, s) = session().await;
        let evict = Rc::new(Notify::new());
        members.join(s, evict.clone());
        let frame = ByteString::from_static("{}");
        let t0 = Instant::now();
        let timeout = Duration::from_secs(10);
        // The queue holds 32 frames; nobody reads.
        for _ in 0..32 {
            members.deliver(&frame, t0, timeout);
        }
        members.deliver(&frame, t0, timeout);
        assert_eq!(members.list.borrow().len(), 1, "full, but not for long");
        members.deliver(&frame, t0 + Duration::from_secs(9), timeout);
        assert_eq!(members.list.borrow().len(), 1);
        members.deliver(&frame, t0 + timeout, timeout);
        assert!(members.list.borrow().is_empty(), "evicted");
        // The connection was told, and got the newest frames it had room for.
        tokio::time::timeout(Duration::from_secs(1), evict.notified())
            .await
            .unwrap();
        assert_eq!(queued(&mut body), 32);
    }

    #[actix_web::test]
    async fn a_member_that_reads_again_is_kept() {
        let members = Members::default();
        let (mut body, s) = session().await;
        members.join(s, Rc::new(Notify::new()));
        let frame = ByteString::from_static("{}");
        let t0 = Instant::now();
        let timeout = Duration::from_secs(10);
        for _ in 0..33 {
            members.deliver(&frame, t0, timeout);
        }
        // It reads; the next tick finds room and the clock of its full queue restarts.
        assert_eq!(queued(&mut body), 32);
        members.deliver(&frame, t0 + Duration::from_secs(9), timeout);
        members.deliver(&frame, t0 + Duration::from_secs(15), timeout);
        assert_eq!(members.list.borrow().len(), 1);
        assert_eq!(queued(&mut body), 2);
    }
}
