//! The actor: paused tokio time drives the injected clock (no sleeping), a memory store
//! records what was written, and every published update must already be stored.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::{
    BookAccess, BookRef, Books, CatchUp, Clock, EngineError, InsertOutcome, Order, OrderStatus,
    OrderStore, Plan, StoreFailure, SubmitOutcome, Totals, Update,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use model::{
    BookEvent, BookHealth, BookState, ExchangeId, Level, OrderBook, Side, Symbol, Timestamp,
};
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct MemStore {
    orders: Mutex<HashMap<i64, (Order, String)>>,
    slices: Mutex<Vec<(i64, u32)>>,
    fail_next: Mutex<usize>,
}

impl OrderStore for MemStore {
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>> {
        async move {
            let mut g = self.orders.lock().unwrap();
            if let Some((o, r)) = g
                .values()
                .find(|(o, _)| o.user_id == order.user_id && o.token_id == order.token_id)
            {
                return Ok(InsertOutcome::Existing(Box::new(o.clone()), r.clone()));
            }
            let id = g.len() as i64 + 1;
            let mut o = order.clone();
            o.id = id;
            g.insert(id, (o, request.to_owned()));
            Ok(InsertOutcome::Inserted(id))
        }
        .boxed()
    }

    fn record<'a>(&'a self, updates: &'a [Update]) -> BoxFuture<'a, Result<(), StoreFailure>> {
        async move {
            {
                let mut f = self.fail_next.lock().unwrap();
                if *f > 0 {
                    *f -= 1;
                    return Err(StoreFailure("disk full".into()));
                }
            }
            let mut s = self.slices.lock().unwrap();
            let mut o = self.orders.lock().unwrap();
            for u in updates {
                if let Some(sl) = &u.slice {
                    assert!(!s.contains(&(u.order.id, sl.index)), "slice stored twice");
                    s.push((u.order.id, sl.index));
                }
                if let Some(e) = o.get_mut(&u.order.id) {
                    e.0 = u.order.clone();
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn load_open(&self) -> BoxFuture<'_, Result<Vec<Order>, StoreFailure>> {
        async move {
            Ok(self
                .orders
                .lock()
                .unwrap()
                .values()
                .filter(|(o, _)| o.status.is_open())
                .map(|(o, _)| o.clone())
                .collect())
        }
        .boxed()
    }
}

struct LiveBook(OrderBook, BookHealth);

impl Books for LiveBook {
    fn with_book(&self, _e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        f(Some((&self.0, &self.1)))
    }
}

impl BookAccess for LiveBook {
    fn hold(&self, _e: ExchangeId, _s: &Symbol) -> Option<Box<dyn Send>> {
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
    Order {
        id: 0,
        user_id: 1,
        token_id: token.into(),
        exchange: ExchangeId::Sim,
        symbol: Symbol::new("BTC", "USDT").unwrap(),
        side: Side::Buy,
        limit_price: None,
        catch_up: CatchUp::Spread,
        plan: Plan {
            start,
            interval_ms: 1_000,
            duration_ms: i64::from(slices) * 1_000,
            slices,
            quantity: d("3"),
            step: d("0.001"),
        },
        fee_bps: d("10"),
        created_at: start,
        status: OrderStatus::Pending,
        closed_at: None,
        next_index: 0,
        totals: Totals::default(),
    }
}

const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

#[tokio::test(start_paused = true)]
async fn slices_run_on_time_and_are_stored_before_they_are_published() {
    let store = Arc::new(MemStore::default());
    let clock = Clock::starting_at(T0);
    let stop = CancellationToken::new();
    let (h, task) = engine::runner::start(store.clone(), book(), clock, stop.clone())
        .await
        .unwrap();
    let mut rx = h.subscribe();
    let created = match h
        .submit(order("a", T0.plus_millis(500), 3), "req-a".into())
        .await
        .unwrap()
    {
        SubmitOutcome::Created(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(created.status, OrderStatus::Pending);
    assert!(
        store.orders.lock().unwrap().contains_key(&created.id),
        "stored before acknowledged"
    );
    assert!(matches!(
        h.submit(order("a", T0.plus_millis(500), 3), "req-a".into())
            .await,
        Ok(SubmitOutcome::Replayed(_))
    ));
    assert!(matches!(
        h.submit(order("a", T0.plus_millis(500), 3), "req-b".into())
            .await,
        Ok(SubmitOutcome::Conflict(_))
    ));
    let mut seen = 0;
    while seen < 3 {
        let u = rx.recv().await.unwrap();
        let Some(s) = &u.slice else { continue };
        assert!(
            store
                .slices
                .lock()
                .unwrap()
                .contains(&(u.order.id, s.index)),
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
    let final_state = store.orders.lock().unwrap()[&created.id].0.status;
    assert_eq!(final_state, OrderStatus::Filled);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancel_between_slices_stops_the_order_and_is_refused_after() {
    let store = Arc::new(MemStore::default());
    let stop = CancellationToken::new();
    let (h, _task) =
        engine::runner::start(store.clone(), book(), Clock::starting_at(T0), stop.clone())
            .await
            .unwrap();
    let mut rx = h.subscribe();
    let SubmitOutcome::Created(o) = h.submit(order("c", T0, 10), "r".into()).await.unwrap() else {
        panic!()
    };
    // Let two slices run.
    let mut slices = 0;
    while slices < 2 {
        if rx.recv().await.unwrap().slice.is_some() {
            slices += 1;
        }
    }
    let u = h.cancel(o.id).await.unwrap();
    assert_eq!(u.order.status, OrderStatus::Cancelled);
    assert_eq!(u.order.totals.filled, d("0.6"));
    assert!(matches!(h.cancel(o.id).await, Err(EngineError::Cancel(_))));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        store.slices.lock().unwrap().len(),
        2,
        "no slice after the cancel"
    );
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_holds_updates_back_until_it_recovers() {
    let store = Arc::new(MemStore::default());
    let stop = CancellationToken::new();
    let (h, _task) =
        engine::runner::start(store.clone(), book(), Clock::starting_at(T0), stop.clone())
            .await
            .unwrap();
    let mut rx = h.subscribe();
    *store.fail_next.lock().unwrap() = 3;
    let SubmitOutcome::Created(o) = h
        .submit(order("f", T0.plus_millis(100), 1), "r".into())
        .await
        .unwrap()
    else {
        panic!()
    };
    loop {
        let u = rx.recv().await.unwrap();
        if u.slice.is_some() {
            assert!(store.slices.lock().unwrap().contains(&(o.id, 0)));
            assert_eq!(
                *store.fail_next.lock().unwrap(),
                0,
                "published only after the store accepted it"
            );
            break;
        }
    }
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_restart_records_missed_slices_and_resumes() {
    let store = Arc::new(MemStore::default());
    // An order accepted before a crash: slices due at T0, T0+1s, … T0+9s, none run.
    let mut o = order("r", T0, 10);
    o.status = OrderStatus::Working;
    let InsertOutcome::Inserted(id) = store.insert(&o, "r").await.unwrap() else {
        panic!()
    };
    // Back up at T0 + 4.5 s: slices 0–3 missed (skipped: server_down), 4 onwards run.
    let stop = CancellationToken::new();
    let (h, _task) = engine::runner::start(
        store.clone(),
        book(),
        Clock::starting_at(T0.plus_millis(4_500)),
        stop.clone(),
    )
    .await
    .unwrap();
    assert_eq!(store.slices.lock().unwrap().len(), 4);
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
    assert_eq!(u.order.id, id);
    assert_eq!(u.order.slices_skipped(), 4);
    stop.cancel();
}
