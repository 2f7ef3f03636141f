//! Two instances on one PostgreSQL, as a user meets them behind a load balancer (DESIGN
//! §19): a token from one works on the other, a repeated `token_id` is the same order on
//! either, each instance's WebSocket clients hear of every order change whichever instance
//! executes it, open orders are listed whole on both, and a cancel sent to the instance not
//! executing the order cancels it.

use std::time::Duration;

use e2e::spawn_app_with;
use papertwap_client::wire::ServerMessage;
use papertwap_client::{Client, Stream, twap};

/// Order changes heard on `stream` for `token` until `want` slices were seen, or 20 s.
async fn slices_heard(stream: &mut Stream, token: &str, want: usize) -> usize {
    let mut slices = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while slices < want && tokio::time::Instant::now() < deadline {
        if let Ok(Some(Ok(ServerMessage::Order { order, slice, .. }))) =
            tokio::time::timeout(Duration::from_secs(5), stream.next()).await
            && order.token_id == token
            && slice.is_some()
        {
            slices += 1;
        }
    }
    slices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_orders_updates_and_cancels() {
    let Some(pg) = testkit::pg::server() else {
        return;
    };
    let db = pg.fresh_database();
    let start = |name: &'static str| {
        let db = db.clone();
        spawn_app_with(move |s| {
            s.store.url = db;
            s.store.tape_dir = Some(String::new());
            s.cluster.lease_ttl_ms = 1_000;
            s.cluster.instance = name.to_owned();
        })
    };
    let a = start("a").await.unwrap();
    let b = start("b").await.unwrap();
    let (ca, cb) = (Client::new(&a.base).unwrap(), Client::new(&b.base).unwrap());
    // A token from one instance works on the other (the signing secret is in the store).
    let token = a.login_demo().await.unwrap();
    ca.set_token(&token);
    cb.set_token(&token);
    let (mut sa, mut sb) = (ca.stream().await.unwrap(), cb.stream().await.unwrap());
    sa.subscribe_orders().await.unwrap();
    sb.subscribe_orders().await.unwrap();

    // One order, whichever instance is asked.
    let req = twap("cl-1", "sim", "ETH-USDT", "buy", "0.4", 4, 1).unwrap();
    let o = ca.submit(&req).await.unwrap();
    let again = cb.submit(&req).await.unwrap();
    assert_eq!(
        again.created_at, o.created_at,
        "the same order on the other instance"
    );
    let mut other = req.clone();
    other.quantity = "0.5".parse().unwrap();
    assert_eq!(
        cb.submit(&other).await.unwrap_err().code(),
        Some("token_id_conflict")
    );
    // Both instances' clients hear its slices, whichever executes it.
    let (ha, hb) = tokio::join!(
        slices_heard(&mut sa, "cl-1", 2),
        slices_heard(&mut sb, "cl-1", 2)
    );
    assert_eq!((ha, hb), (2, 2));
    let done = cb
        .wait_for_final("cl-1", Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(done.status, wire::OrderStatus::Filled);

    // A longer order, listed open on both, cancelled through the instance not executing it.
    let long = twap("cl-2", "sim", "SOL-USDT", "sell", "3", 60, 1).unwrap();
    ca.submit(&long).await.unwrap();
    let store = store::Store::connect(&db).await.unwrap();
    let holder = loop {
        let leases = store.leases().await.unwrap();
        if let Some(l) = leases.iter().find(|l| l.scope == "SOL-USDT") {
            break l.holder.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for c in [&ca, &cb] {
        let open = c
            .orders(&wire::OrdersQuery {
                status: Some("open".to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
    }
    // The holder says so in its metrics.
    let executing = if holder.starts_with("a/") { &a } else { &b };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = executing
            .http
            .get(format!("{}/metrics", executing.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.lines()
            .any(|l| l.starts_with("papertwap_leases_held ") && !l.ends_with(" 0"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elsewhere = if holder.starts_with("a/") { &cb } else { &ca };
    let cancelled = elsewhere.cancel("cl-2").await.unwrap();
    assert_eq!(cancelled.status, wire::OrderStatus::Cancelled);
    assert!(cancelled.slices.is_some_and(|s| s.len() < 60));
    store.close().await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
