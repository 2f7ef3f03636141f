//! Waiting on a hub's book from an adapter's tests: a condition within a bound, and the
//! served book equal to the venue's top levels.

use std::sync::Arc;
use std::time::Duration;

use market::{BookSnapshot, BookWatch};
use model::BookState;
use rust_decimal::Decimal;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

/// Levels as normalized `(price, qty)` pairs, best first.
pub fn norm(l: &[model::Level]) -> Levels {
    l.iter()
        .map(|l| (l.price.get().normalize(), l.qty.get().normalize()))
        .collect()
}

/// Wait until the published book satisfies `f`, for at most `secs`; panics with the last
/// health otherwise.
pub async fn until(
    w: &mut BookWatch,
    secs: u64,
    f: impl Fn(&BookSnapshot) -> bool,
) -> Arc<BookSnapshot> {
    match w.wait_for(Duration::from_secs(secs), f).await {
        Ok(s) => s,
        Err(last) => panic!(
            "condition not reached within {secs}s; last: {:?}",
            last.health
        ),
    }
}

/// Wait until the book is live and its top `n` levels are `venue` (the mock's), for at most
/// `secs`; panics naming the side that differs otherwise.
pub async fn assert_top_equals(w: &mut BookWatch, venue: (Levels, Levels), n: usize, secs: u64) {
    let (vb, va) = venue;
    let s = w
        .wait_for(Duration::from_secs(secs), |s| {
            let t = s.book.top(n);
            s.health.state == BookState::Live && norm(t.bids()) == vb && norm(t.asks()) == va
        })
        .await;
    if let Err(last) = s {
        let t = last.book.top(n);
        assert_eq!(norm(t.bids()), vb, "bids differ: {:?}", last.health);
        assert_eq!(norm(t.asks()), va, "asks differ: {:?}", last.health);
        panic!("not live: {:?}", last.health);
    }
}
