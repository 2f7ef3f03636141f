//! Leases, fencing, cancels asked across instances and notifications (DESIGN §19), on each
//! backend: the same answers on an in-memory SQLite and on a throwaway PostgreSQL, where
//! several instances share them.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use store::{Backend, Fence, Inserted, OrderRow, RecordItem, SliceRow, Store};

async fn stores() -> Vec<Store> {
    let mut v = vec![Store::connect("sqlite::memory:").await.unwrap()];
    if let Some(pg) = testkit::pg::server() {
        v.push(Store::connect(&pg.fresh_database()).await.unwrap());
    }
    v
}

async fn open_order(s: &Store, user: i64, token: &str, symbol: &str) -> i64 {
    let o = OrderRow {
        user_id: user,
        token_id: token.to_owned(),
        exchange: "sim".to_owned(),
        symbol: symbol.to_owned(),
        side: "buy".to_owned(),
        catch_up: "spread".to_owned(),
        interval_ms: 1_000,
        duration_ms: 10_000,
        slices_total: 10,
        status: "working".to_owned(),
        ..OrderRow::default()
    };
    match s.insert_order(&o, "{}").await.unwrap() {
        Inserted::New(id) => id,
        other => panic!("{other:?}"),
    }
}

fn slice_of(order_id: i64, idx: i64) -> RecordItem {
    RecordItem {
        order_id,
        order: None,
        slice: Some(SliceRow {
            order_id,
            idx,
            ..SliceRow::default()
        }),
        markouts: None,
    }
}

async fn leases_fence_and_take_over(s: &Store) {
    let user = s.add_user("u", "h", "basic").await.unwrap().unwrap();
    let btc = open_order(s, user, "a", "BTC-USDT").await;
    let eth = open_order(s, user, "b", "ETH-USDT").await;
    assert_eq!(s.orphan_scopes().await.unwrap(), ["BTC-USDT", "ETH-USDT"]);

    // One holder at a time; the first epoch is 1.
    assert_eq!(
        s.acquire_lease("BTC-USDT", "A", 60_000).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        s.acquire_lease("BTC-USDT", "B", 60_000).await.unwrap(),
        None
    );
    assert_eq!(
        s.acquire_lease("ETH-USDT", "A", 60_000).await.unwrap(),
        Some(1)
    );
    assert!(s.orphan_scopes().await.unwrap().is_empty());
    let held = vec![("BTC-USDT".to_owned(), 1), ("ETH-USDT".to_owned(), 1)];
    assert_eq!(
        s.renew_leases("A", &held, 60_000).await.unwrap().len(),
        2,
        "renewed"
    );
    assert!(s.renew_leases("B", &held, 60_000).await.unwrap().is_empty());

    // A's writes pass its fence.
    let fence = Fence {
        holder: "A",
        leases: &held,
    };
    let lost = s
        .record_fenced(
            &[slice_of(btc, 0), slice_of(eth, 0)],
            Some((fence, &["BTC-USDT", "ETH-USDT"])),
        )
        .await
        .unwrap();
    assert!(lost.is_empty());

    // ETH's lease expires (a short one) and B takes it over at the next epoch.
    assert_eq!(s.renew_leases("A", &held[1..], 1).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.orphan_scopes().await.unwrap(), ["ETH-USDT"]);
    assert_eq!(
        s.acquire_lease("ETH-USDT", "B", 60_000).await.unwrap(),
        Some(2)
    );
    // A wakes late: its renewal keeps BTC only, and its ETH write is fenced off, in the
    // same batch as a BTC write that goes through.
    assert_eq!(
        s.renew_leases("A", &held, 60_000).await.unwrap(),
        ["BTC-USDT"]
    );
    let lost = s
        .record_fenced(
            &[slice_of(btc, 1), slice_of(eth, 1)],
            Some((fence, &["BTC-USDT", "ETH-USDT"])),
        )
        .await
        .unwrap();
    assert_eq!(lost, ["ETH-USDT"]);
    assert_eq!(s.slices(btc).await.unwrap().len(), 2);
    assert_eq!(
        s.slices(eth).await.unwrap().len(),
        1,
        "no write after the fence"
    );
    // B writes ETH's next slice under its own lease.
    let b_held = vec![("ETH-USDT".to_owned(), 2)];
    let b = Fence {
        holder: "B",
        leases: &b_held,
    };
    let lost = s
        .record_fenced(&[slice_of(eth, 1)], Some((b, &["ETH-USDT"])))
        .await
        .unwrap();
    assert!(lost.is_empty());
    assert_eq!(s.slices(eth).await.unwrap().len(), 2);

    // Open orders per scope, cancels asked, and release.
    assert_eq!(
        s.open_order_ids(&["ETH-USDT".to_owned()]).await.unwrap(),
        [(eth, "ETH-USDT".to_owned())]
    );
    assert!(s.request_cancel(eth, 5).await.unwrap());
    assert_eq!(
        s.cancels_requested(&["ETH-USDT".to_owned(), "BTC-USDT".to_owned()])
            .await
            .unwrap(),
        [eth]
    );
    let (row, slices, _) = s.order_by_id(eth).await.unwrap().unwrap();
    assert_eq!((row.id, slices.len()), (eth, 2));
    assert!(!s.release_lease("ETH-USDT", "A", 1).await.unwrap());
    assert!(s.release_lease("ETH-USDT", "B", 2).await.unwrap());
    let leases = s.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].epoch), ("A", 1));
    let now = s.db_now_ms().await.unwrap();
    assert!(leases[0].expires_ms > now && leases[0].expires_ms <= now + 60_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_fence_writes_and_move_on_expiry_on_every_backend() {
    for s in stores().await {
        leases_fence_and_take_over(&s).await;
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_instances_hear_new_orders_changes_and_cancels() {
    let Some(pg) = testkit::pg::server() else {
        return;
    };
    let url = pg.fresh_database();
    let (a, b) = (
        Store::connect(&url).await.unwrap(),
        Store::connect(&url).await.unwrap(),
    );
    assert_eq!(b.backend(), Backend::Postgres);
    let mut heard = b.listen().await.unwrap().unwrap();
    let user = a.add_user("u", "h", "basic").await.unwrap().unwrap();
    let id = open_order(&a, user, "a", "SOL-USDT").await;
    a.notify("n:SOL-USDT").await.unwrap();
    a.record(&[slice_of(id, 0)]).await.unwrap();
    a.request_cancel(id, 1).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let p = tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("notified in time")
            .unwrap();
        got.extend(p);
    }
    assert_eq!(
        got,
        [
            "n:SOL-USDT",
            format!("u:{id}").as_str(),
            format!("c:{id}").as_str()
        ]
    );
    // SQLite has nobody to tell.
    let lite = Store::connect("sqlite::memory:").await.unwrap();
    assert!(lite.listen().await.unwrap().is_none());
}
