//! The actor: paused tokio time drives the injected clock (no sleeping), a memory store
//! records what was written, and every published update must already be stored.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use engine::{
    BookAccess, BookRef, Books, CancelError, CatchUp, Clock, EngineConfig, EngineError,
    EngineHandle, InsertOutcome, MemoryStore, Order, OrderParts, OrderQuery, OrderRequest,
    OrderStatus, OrderStore, Plan, StatusFilter, Strategy, Submission, SubmitOutcome, Timing,
    TokenId, Totals,
};
use model::{
    BookEvent, BookHealth, BookState, ExchangeId, Level, OrderBook, Pair, PairStatus, Side, Symbol,
    Timestamp,
};
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;

struct LiveBook(OrderBook, BookHealth);

impl Books for LiveBook {
    fn with_book(&self, _e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        f(Some((&self.0, &self.1)))
    }
}

impl BookAccess for LiveBook {
    fn hold(&self, _e: ExchangeId, _s: &Symbol) -> Option<Box<dyn Send + Sync>> {
        None
    }
}

fn book() -> Arc<LiveBook> {
    let mut b = OrderBook::with_scales(2, 3);
    b.apply(&BookEvent::snapshot(
        vec![Level::parse("99", "1000").unwrap()],
        vec![Level::parse("100", "1000").unwrap()],
    ))
    .unwrap();
    let h = BookHealth {
        state: BookState::Live,
        last_update: Some(Timestamp::from_secs(1)),
        ..BookHealth::syncing()
    };
    Arc::new(LiveBook(b, h))
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn order(token: &str, start: Timestamp, slices: u32) -> Order {
    Order::from_parts(OrderParts {
        id: 0,
        user_id: 1,
        token_id: token.parse().unwrap(),
        exchange: ExchangeId::Sim,
        symbol: Symbol::new("BTC", "USDT").unwrap(),
        side: Side::Buy,
        limit_price: None,
        catch_up: CatchUp::Spread,
        strategy: Strategy::default(),
        latency_ms: 0,
        route: None,
        plan: Plan {
            start,
            interval_ms: 1_000,
            duration_ms: i64::from(slices) * 1_000,
            slices,
            quantity: d("3"),
            step: d("0.001"),
            lead_ms: 0,
            shape: Default::default(),
        },
        fee_bps: d("10"),
        created_at: start,
        status: OrderStatus::Pending,
        closed_at: None,
        next_index: 0,
        totals: Totals::default(),
    })
}

fn pair() -> Pair {
    Pair {
        exchange: ExchangeId::Sim,
        symbol: Symbol::new("BTC", "USDT").unwrap(),
        exchange_symbol: "BTCUSDT".into(),
        ws_symbol: "btcusdt".into(),
        aliases: Vec::new(),
        status: PairStatus::Trading,
        price_tick: d("0.01"),
        qty_step: d("0.001"),
        min_qty: d("0.001"),
        min_notional: None,
    }
}

/// A submission of 3 units over `slices` one-second slices from `start`, by user 1.
fn submission(token: &str, start: Timestamp, slices: u64, request: &str) -> Submission {
    Submission {
        user_id: 1,
        request: OrderRequest {
            token_id: token.parse().unwrap(),
            exchange: ExchangeId::Sim,
            side: Side::Buy,
            quantity: d("3"),
            limit_price: None,
            timing: Timing::DurationSlices {
                duration_secs: slices,
                slices,
            },
            start_time: Some(start),
            catch_up: CatchUp::Spread,
            strategy: Strategy::default(),
            latency_ms: 0,
            route: None,
        },
        pair: pair(),
        fingerprint: request.to_owned(),
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        fees: [(ExchangeId::Sim, d("10"))].into(),
        ..EngineConfig::default()
    }
}

async fn start_at(
    store: &Arc<MemoryStore>,
    now: Timestamp,
) -> (EngineHandle, tokio::task::JoinHandle<()>, CancellationToken) {
    let stop = CancellationToken::new();
    let (h, task) = engine::runner::start(
        store.clone(),
        book(),
        config(),
        Clock::starting_at(now),
        stop.clone(),
    )
    .await
    .unwrap();
    (h, task, stop)
}

fn tid(s: &str) -> TokenId {
    s.parse().unwrap()
}

const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

#[tokio::test(start_paused = true)]
async fn slices_run_on_time_and_are_stored_before_they_are_published() {
    let store = Arc::new(MemoryStore::default());
    let (h, task, stop) = start_at(&store, T0).await;
    let mut rx = h.subscribe();
    let created = match h
        .submit(submission("a", T0.plus_millis(500), 3, "req-a"))
        .await
        .unwrap()
    {
        SubmitOutcome::Created(d) => d.order,
        other => panic!("{other:?}"),
    };
    assert_eq!(created.status(), OrderStatus::Pending);
    assert_eq!(
        created.fee_bps(),
        d("10"),
        "the exchange's fee from the config"
    );
    assert!(
        store.status(created.id()).is_some(),
        "stored before acknowledged"
    );
    assert!(matches!(
        h.submit(submission("a", T0.plus_millis(500), 3, "req-a"))
            .await,
        Ok(SubmitOutcome::Replayed(_))
    ));
    assert_eq!(
        h.submit(submission("a", T0.plus_millis(500), 3, "req-b"))
            .await,
        Err(EngineError::Conflict(tid("a")))
    );
    let mut seen = 0;
    while seen < 3 {
        let u = rx.recv().await.unwrap();
        let Some(s) = &u.slice else { continue };
        assert!(
            store.has_slice(u.order.id(), s.index),
            "published before stored"
        );
        assert_eq!(
            s.executed_at, s.scheduled_at,
            "paused clock: exactly on time"
        );
        assert_eq!(
            s.scheduled_at,
            T0.plus_millis(500 + 1_000 * i64::from(s.index))
        );
        seen += 1;
    }
    assert_eq!(store.status(created.id()), Some(OrderStatus::Filled));
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn open_orders_are_read_from_memory_and_closed_ones_from_the_store() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    let mut rx = h.subscribe();
    h.submit(submission("m", T0, 3, "r")).await.unwrap();
    // After the first slice is published, memory shows it with its slice.
    loop {
        if rx.recv().await.unwrap().slice.is_some() {
            break;
        }
    }
    // The store cannot be read: an open order must still be readable.
    store.fail_reads(true);
    let open = h
        .order(1, &tid("m"))
        .await
        .unwrap()
        .expect("open order from memory");
    assert_eq!(open.order.status(), OrderStatus::Working);
    assert_eq!(open.slices.len(), 1);
    let q = OrderQuery {
        status: StatusFilter::Open,
        ..OrderQuery::default()
    };
    let (list, total) = h.orders(1, &q).await.unwrap();
    assert_eq!((list.len(), total), (1, 1));
    assert_eq!(
        h.orders(2, &q).await.unwrap().1,
        0,
        "another user's order is not listed"
    );
    store.fail_reads(false);
    assert_eq!(h.order(2, &tid("m")).await.unwrap(), None, "nor readable");
    // Once it has ended, the store answers, with every slice.
    loop {
        let u = rx.recv().await.unwrap();
        if !u.order.status().is_open() {
            break;
        }
    }
    let done = h.order(1, &tid("m")).await.unwrap().unwrap();
    assert_eq!(done.order.status(), OrderStatus::Filled);
    assert_eq!(done.slices.len(), 3);
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_batch_creates_nothing_when_one_item_is_refused() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    h.submit(submission("taken", T0, 3, "first")).await.unwrap();
    let err = h
        .submit_batch(vec![
            submission("b1", T0, 3, "x"),
            submission("taken", T0, 3, "different"),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.error, EngineError::Conflict(tid("taken")));
    let mut bad = submission("b2", T0, 3, "y");
    bad.request.quantity = d("0.0005");
    let err = h
        .submit_batch(vec![submission("b1", T0, 3, "x"), bad])
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, EngineError::Rejected(ref r) if r.code == "invalid_quantity"),
        "{err:?}"
    );
    assert_eq!(store.order_count(), 1, "nothing of either batch");
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_repeat_of_an_ended_order_replays_even_when_it_would_no_longer_validate() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    let mut rx = h.subscribe();
    h.submit(submission("old", T0, 1, "r")).await.unwrap();
    loop {
        if !rx.recv().await.unwrap().order.status().is_open() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    // Its start is now far in the past: a new order would be refused.
    match h.submit(submission("old", T0, 1, "r")).await {
        Ok(SubmitOutcome::Replayed(d)) => assert_eq!(d.order.status(), OrderStatus::Filled),
        other => panic!("{other:?}"),
    }
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn cancel_between_slices_stops_the_order_and_is_idempotent() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    let mut rx = h.subscribe();
    h.submit(submission("c", T0, 10, "r")).await.unwrap();
    // Let two slices run.
    let mut slices = 0;
    while slices < 2 {
        if rx.recv().await.unwrap().slice.is_some() {
            slices += 1;
        }
    }
    let d1 = h.cancel(1, &tid("c")).await.unwrap();
    assert_eq!(d1.order.status(), OrderStatus::Cancelled);
    assert_eq!(d1.order.totals().filled, d("0.6"));
    assert_eq!(d1.slices.len(), 2);
    let again = h.cancel(1, &tid("c")).await.unwrap();
    assert_eq!(
        again.order, d1.order,
        "a repeated cancel answers the cancelled order"
    );
    assert_eq!(
        h.cancel(1, &tid("nope")).await,
        Err(EngineError::Cancel(CancelError::NotFound))
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(store.slice_count(), 2, "no slice after the cancel");
    h.submit(submission("f", T0.plus_millis(30_000), 1, "r"))
        .await
        .unwrap();
    loop {
        let u = rx.recv().await.unwrap();
        if u.order.token_id().as_str() == "f" && !u.order.status().is_open() {
            break;
        }
    }
    assert_eq!(
        h.cancel(1, &tid("f")).await,
        Err(EngineError::Cancel(CancelError::AlreadyFinal(
            OrderStatus::Filled
        )))
    );
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_holds_updates_back_until_it_recovers() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    let mut rx = h.subscribe();
    store.fail_next_writes(3);
    let SubmitOutcome::Created(o) = h
        .submit(submission("f", T0.plus_millis(100), 1, "r"))
        .await
        .unwrap()
    else {
        panic!()
    };
    loop {
        let u = rx.recv().await.unwrap();
        if u.slice.is_some() {
            assert_eq!(store.slice_count(), 1);
            assert_eq!(u.order.id(), o.order.id());
            assert_eq!(
                store.failing_writes(),
                0,
                "published only after the store accepted it"
            );
            break;
        }
    }
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_accepted_order_is_listed_at_once_even_while_the_writer_is_behind() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    h.submit(submission("busy", T0, 3, "r")).await.unwrap();
    // The first slice of `busy` cannot be stored: the writer keeps retrying it.
    store.fail_next_writes(1_000_000);
    while store.failing_writes() == 1_000_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    h.submit(submission("next", T0.plus_millis(60_000), 3, "r"))
        .await
        .unwrap();
    let q = OrderQuery {
        status: StatusFilter::Open,
        ..OrderQuery::default()
    };
    let (list, _) = h.orders(1, &q).await.unwrap();
    let tokens: Vec<String> = list.iter().map(|d| d.token_id().to_string()).collect();
    assert!(
        tokens.contains(&"next".to_owned()),
        "read your writes: {tokens:?}"
    );
    assert!(h.order(1, &tid("next")).await.unwrap().is_some());
    store.fail_next_writes(0);
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_removed_users_orders_leave_the_engine() {
    let store = Arc::new(MemoryStore::default());
    let (h, _task, stop) = start_at(&store, T0).await;
    h.submit(submission("u", T0.plus_millis(5_000), 10, "r"))
        .await
        .unwrap();
    let mut rx = h.subscribe();
    store.remove_user(1);
    h.forget_user(1).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The store would silently drop writes for the removed order; what shows the engine
    // forgot it is that no slice ran at all: nothing was published.
    assert!(
        matches!(
            rx.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
        ),
        "a slice ran for a removed user"
    );
    assert_eq!(h.stats().open.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(h.order(1, &tid("u")).await.unwrap(), None);
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_restart_records_missed_slices_and_resumes() {
    let store = Arc::new(MemoryStore::default());
    // An order accepted before a crash: slices due at T0, T0+1s, … T0+9s, none run.
    let mut p = order("r", T0, 10).into_parts();
    p.status = OrderStatus::Working;
    let o = Order::from_parts(p);
    let InsertOutcome::Inserted(id) = store.insert(&o, "r").await.unwrap() else {
        panic!()
    };
    // Back up at T0 + 4.5 s: slices 0–3 missed (skipped: server_down), 4 onwards run.
    let (h, _task, stop) = start_at(&store, T0.plus_millis(4_500)).await;
    assert_eq!(store.slice_count(), 4);
    let resumed = h.order(1, &tid("r")).await.unwrap().unwrap();
    assert_eq!(
        resumed.slices.len(),
        4,
        "memory holds the stored and the missed slices"
    );
    let mut rx = h.subscribe();
    let u = loop {
        let u = rx.recv().await.unwrap();
        if u.slice.is_some() {
            break u;
        }
    };
    let s = u.slice.clone().unwrap();
    assert_eq!(s.index, 4);
    assert_eq!(
        s.target,
        d("0.5"),
        "spread catch-up over the 6 remaining slices"
    );
    assert_eq!(u.order.id(), id);
    assert_eq!(u.order.slices_skipped(), 4);
    stop.cancel();
}
