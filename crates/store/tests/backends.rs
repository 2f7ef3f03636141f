//! Every typed method of the store, on each backend: an in-memory SQLite and a fresh
//! database on a throwaway PostgreSQL (`testkit::pg`). The same calls must give the same
//! answers on both, field for field.
#![allow(clippy::unwrap_used, missing_docs)]

use store::{Backend, FullOrder, Inserted, OrderFilter, OrderRow, RecordItem, SliceRow, Store};

async fn stores() -> Vec<Store> {
    let mut v = vec![Store::connect("sqlite::memory:").await.unwrap()];
    if let Some(pg) = testkit::pg::server() {
        let s = Store::connect(&pg.fresh_database()).await.unwrap();
        assert_eq!(s.backend(), Backend::Postgres);
        v.push(s);
    }
    v
}

fn order(user: i64, token: &str, exchange: &str, symbol: &str, status: &str) -> OrderRow {
    OrderRow {
        user_id: user,
        token_id: token.to_owned(),
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        side: "sell".to_owned(),
        quantity: "1.25".to_owned(),
        limit_price: Some("65000.5".to_owned()),
        catch_up: "next".to_owned(),
        start_ns: 1_765_000_000_123_456_789,
        interval_ms: 1_000,
        duration_ms: 10_000,
        slices_total: 10,
        qty_step: "0.00001".to_owned(),
        fee_bps: "7.5".to_owned(),
        status: status.to_owned(),
        created_ns: 1_765_000_000_000_000_001,
        filled: "0".to_owned(),
        notional: "0".to_owned(),
        fees: "0".to_owned(),
        mid_sum: "0".to_owned(),
        spread_cost: "0".to_owned(),
        skipped: "{}".to_owned(),
        strategy: r#"{"kind":"pov","participation":"0.1"}"#.to_owned(),
        route: Some(r#"[{"exchange":"sim","fee_bps":"10"}]"#.to_owned()),
        latency_ms: 150,
        tca: "{}".to_owned(),
        ..OrderRow::default()
    }
}

fn slice(order_id: i64, idx: i64) -> SliceRow {
    SliceRow {
        order_id,
        idx,
        scheduled_ns: i64::MAX - idx,
        executed_ns: -idx,
        target: "0.125".to_owned(),
        filled: format!("0.{idx}"),
        notional: "8125.0625".to_owned(),
        avg_price: (idx % 2 == 0).then(|| "65000.50000001".to_owned()),
        fee: "0.006".to_owned(),
        fills: r#"[["65000.5","0.1"]]"#.to_owned(),
        best_bid: Some("65000".to_owned()),
        best_ask: None,
        mid: Some("65000.25".to_owned()),
        book_seq: Some(i64::from(u32::MAX) * 7),
        book_age_ms: (idx % 3 == 0).then_some(12),
        skipped: (idx == 3).then(|| "stale_book".to_owned()),
        short_reason: Some("limit".to_owned()),
        market: Some(r#"["1.5","97500.75"]"#.to_owned()),
        markouts: None,
        fill_venues: Some(r#"["sim"]"#.to_owned()),
        book_ns: Some(1_765_000_000_999_999_999),
        fill_shown: Some(r#"["0.8"]"#.to_owned()),
    }
}

/// What one backend answers, in a form comparable with another's (ids relative to the
/// first order's).
type Answers = (Vec<FullOrder>, Vec<i64>, Vec<String>);

async fn scenario(s: &Store) -> Answers {
    // Users.
    let alice = s.add_user("alice", "h1", "premium").await.unwrap().unwrap();
    assert_eq!(s.add_user("alice", "h2", "basic").await.unwrap(), None);
    let bob = s.add_user("bob", "h3", "basic").await.unwrap().unwrap();
    let a = s.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(
        (a.id, a.tier.as_str(), a.token_version),
        (alice, "premium", 0)
    );
    assert!(
        a.created_at.ends_with('Z') && a.created_at.len() == 24,
        "{}",
        a.created_at
    );
    assert!(s.set_password("alice", "h9").await.unwrap());
    assert!(!s.set_password("nobody", "h").await.unwrap());
    let a = s.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((a.password_hash.as_str(), a.token_version), ("h9", 1));
    let names: Vec<String> = s
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // Orders: idempotent by (user, token), even when the same token races.
    let o1 = order(alice, "t-1", "sim", "BTC-USDT", "working");
    let Inserted::New(id1) = s.insert_order(&o1, r#"{"q":1}"#).await.unwrap() else {
        panic!("new")
    };
    let raced = racing_inserts(s, &order(alice, "t-2", "sim", "ETH-USDT", "pending")).await;
    let new = raced
        .iter()
        .filter(|i| matches!(i, Inserted::New(_)))
        .count();
    assert_eq!(new, 1, "one of the racing duplicates is new: {raced:?}");
    match s.insert_order(&o1, "other").await.unwrap() {
        Inserted::Existing(row, req) => {
            assert_eq!((row.id, req.as_str()), (id1, r#"{"q":1}"#));
            assert_eq!(
                *row,
                OrderRow {
                    id: id1,
                    ..o1.clone()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    // Bob's token of the same name is his own.
    let bobs = order(bob, "t-1", "binance", "BTC-USDT", "filled");
    assert!(matches!(
        s.insert_order(&bobs, "{}").await.unwrap(),
        Inserted::New(_)
    ));
    for (i, st) in ["filled", "cancelled", "expired"].iter().enumerate() {
        let o = order(alice, &format!("c-{i}"), "kraken", "ETH-USDT", st);
        s.insert_order(&o, "{}").await.unwrap();
    }

    // Slices, markouts and order rows in one batch.
    let mut items: Vec<RecordItem> = (0..5)
        .map(|i| RecordItem {
            order_id: id1,
            order: None,
            slice: Some(slice(id1, i)),
            markouts: None,
        })
        .collect();
    items.push(RecordItem {
        order_id: id1,
        order: Some(OrderRow {
            id: id1,
            next_index: 5,
            filled: "1.0".to_owned(),
            closed_ns: None,
            arrival_mid: Some("65000.25".to_owned()),
            mid_samples: 4,
            slices_done: 5,
            skipped: r#"{"stale_book":1}"#.to_owned(),
            tca: r#"{"decision_mid":"65000"}"#.to_owned(),
            ..o1.clone()
        }),
        slice: None,
        markouts: Some((2, r#"["0.5",null,null,null]"#.to_owned())),
    });
    s.record(&items).await.unwrap();
    let rows = s.slices(id1).await.unwrap();
    assert_eq!(rows.len(), 5);
    let mut want = slice(id1, 2);
    want.markouts = Some(r#"["0.5",null,null,null]"#.to_owned());
    assert_eq!(rows[2], want);
    assert_eq!(rows[4], slice(id1, 4));

    // One statement reads the order with its slices, equal to the rows.
    let (row, with, req) = s.order_with_slices(alice, "t-1").await.unwrap().unwrap();
    assert_eq!(
        (row.next_index, row.filled.as_str(), req.as_str()),
        (5, "1.0", r#"{"q":1}"#)
    );
    assert_eq!(with, rows);
    let (_, none, _) = s.order_with_slices(alice, "c-0").await.unwrap().unwrap();
    assert!(none.is_empty());
    assert!(s.order_with_slices(bob, "c-0").await.unwrap().is_none());

    // Listings: filters, totals and pages, newest first.
    let all = |open| OrderFilter {
        open,
        ..OrderFilter::default()
    };
    let (page, total) = s.list_orders(alice, &all(None), 2, 1).await.unwrap();
    assert_eq!(total, 5);
    let ids: Vec<i64> = page.iter().map(|o| o.id - id1).collect();
    let (open, open_total) = s.list_orders(alice, &all(Some(true)), 10, 0).await.unwrap();
    assert_eq!(open_total, 2);
    assert!(
        open.iter()
            .all(|o| o.status == "working" || o.status == "pending")
    );
    let (closed, _) = s
        .list_orders(alice, &all(Some(false)), 10, 0)
        .await
        .unwrap();
    assert_eq!(closed.len(), 3);
    let f = OrderFilter {
        open: Some(false),
        exchange: Some("kraken".to_owned()),
        symbol: Some("ETH-USDT".to_owned()),
        token_id: Some("c-1".to_owned()),
    };
    let (one, n) = s.list_orders(alice, &f, 10, 0).await.unwrap();
    assert_eq!((n, one[0].status.as_str()), (1, "cancelled"));

    // Open orders of every user, oldest first, with their slices.
    let mut full = s.open_orders_full().await.unwrap();
    assert_eq!(full.len(), 2);
    assert_eq!(full[0].1, rows);

    // Removing a user removes their orders and slices.
    assert!(s.remove_user("alice").await.unwrap());
    assert!(!s.remove_user("alice").await.unwrap());
    assert!(s.slices(id1).await.unwrap().is_empty());
    assert!(s.open_orders_full().await.unwrap().is_empty());
    assert_eq!(s.list_orders(bob, &all(None), 10, 0).await.unwrap().1, 1);
    // Ids differ between databases; the rest must not. Orders are compared by the rank of
    // their id: the raced order's id is whichever attempt won, and on PostgreSQL every
    // attempt takes a value of the sequence, so it is not always the first one.
    let mut ranked: Vec<i64> = full.iter().map(|(o, _, _)| o.id).collect();
    ranked.sort_unstable();
    for (o, sl, _) in &mut full {
        let rank = ranked.partition_point(|id| *id < o.id) as i64;
        assert!(
            sl.iter().all(|s| s.order_id == o.id),
            "slices of another order"
        );
        o.id = rank;
        o.user_id -= alice;
        for s in sl {
            s.order_id = rank;
        }
    }
    (full, ids, names)
}

/// Eight concurrent inserts of the same (user, token).
async fn racing_inserts(s: &Store, o: &OrderRow) -> Vec<Inserted> {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, o) = (s.clone(), o.clone());
            tokio::spawn(async move { s.insert_order(&o, "{}").await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_answers_the_same_on_every_backend() {
    let mut answers: Vec<(Backend, Answers)> = Vec::new();
    for s in stores().await {
        answers.push((s.backend(), scenario(&s).await));
        s.close().await;
    }
    let (first, rest) = answers.split_first().unwrap();
    for (b, a) in rest {
        assert_eq!(a, &first.1, "{b:?} differs from {:?}", first.0);
    }
}
