//! The deterministic core: planner, catch-up, fills with limit and consumption, gating,
//! lifecycle, cancel and recovery. No sleeping: time is a value.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Mutex;

use engine::{
    BookRef, Books, CancelError, CatchUp, Engine, Limits, Order, OrderParts, OrderRequest,
    OrderStatus, Plan, ShortReason, SkipReason, Strategy, Timing, Totals, validate,
};
use model::{
    BookEvent, BookHealth, BookState, ExchangeId, Level, OrderBook, Pair, PairStatus, Side, Symbol,
    Timestamp,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn pair() -> Pair {
    Pair {
        exchange: ExchangeId::Sim,
        symbol: Symbol::new("BTC", "USDT").unwrap(),
        exchange_symbol: "BTC-USDT".into(),
        ws_symbol: "BTC-USDT".into(),
        aliases: vec![],
        status: PairStatus::Trading,
        price_tick: d("0.01"),
        qty_step: d("0.001"),
        min_qty: d("0.001"),
        min_notional: Some(d("5")),
    }
}

#[derive(Default)]
struct TestBooks(Mutex<HashMap<Symbol, (OrderBook, BookHealth)>>);

impl TestBooks {
    fn set(&self, bids: &[(&str, &str)], asks: &[(&str, &str)], state: BookState) {
        let mut b = OrderBook::with_scales(2, 3);
        let lv = |v: &[(&str, &str)]| v.iter().map(|(p, q)| Level::parse(p, q).unwrap()).collect();
        b.apply(&BookEvent::snapshot(lv(bids), lv(asks))).unwrap();
        let h = BookHealth {
            state,
            last_update: Some(Timestamp::from_secs(1)),
            seq: Some(7),
            crossed: b.is_crossed(),
            ..BookHealth::syncing()
        };
        self.0.lock().unwrap().insert(pair().symbol, (b, h));
    }
    fn change(&self, side_bid: bool, p: &str, q: &str) {
        let mut g = self.0.lock().unwrap();
        let (b, _) = g.get_mut(&pair().symbol).unwrap();
        let l = vec![Level::parse(p, q).unwrap()];
        let ev = if side_bid {
            BookEvent::delta(l, vec![])
        } else {
            BookEvent::delta(vec![], l)
        };
        b.apply(&ev).unwrap();
    }
}

impl Books for TestBooks {
    fn with_book(&self, _e: ExchangeId, s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        let g = self.0.lock().unwrap();
        match g.get(s) {
            Some((b, h)) => f(Some((b, h))),
            None => f(None),
        }
    }
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_secs(1_800_000_000 + s)
}

fn request(q: &str, duration: u64, interval: u64) -> OrderRequest {
    OrderRequest {
        token_id: "t-1".parse().unwrap(),
        exchange: ExchangeId::Sim,
        side: Side::Buy,
        quantity: d(q),
        limit_price: None,
        timing: Timing::DurationInterval {
            duration_secs: duration,
            interval_secs: interval,
        },
        start_time: None,
        catch_up: CatchUp::Spread,
        strategy: Strategy::default(),
        latency_ms: 0,
        route: None,
    }
}

fn order(id: i64, side: Side, q: &str, n: u32, limit: Option<&str>, catch_up: CatchUp) -> Order {
    Order::from_parts(OrderParts {
        id,
        user_id: 1,
        token_id: format!("o{id}").parse().unwrap(),
        exchange: ExchangeId::Sim,
        symbol: pair().symbol,
        side,
        limit_price: limit.map(d),
        catch_up,
        strategy: Strategy::default(),
        latency_ms: 0,
        route: None,
        plan: Plan {
            start: t(0),
            interval_ms: 1_000,
            duration_ms: i64::from(n) * 1_000,
            slices: n,
            quantity: d(q),
            step: d("0.001"),
            lead_ms: 0,
            shape: Default::default(),
        },
        fee_bps: d("10"),
        created_at: t(0),
        status: OrderStatus::Working,
        closed_at: None,
        next_index: 0,
        totals: Totals::default(),
    })
}

#[test]
fn validation_gives_one_clear_reason() {
    let p = pair();
    let l = Limits::default();
    let ok = validate(&request("1", 60, 10), &p, t(0), &l, Some(d("100"))).unwrap();
    assert_eq!(ok.slices, 6);
    assert_eq!(
        validate(&request("1", 65, 10), &p, t(0), &l, None)
            .unwrap()
            .slices,
        7,
        "ceil"
    );
    let code = |r: OrderRequest| validate(&r, &p, t(0), &l, Some(d("100"))).unwrap_err().code;
    assert_eq!(code(request("0", 60, 10)), "invalid_quantity");
    assert_eq!(code(request("1.0005", 60, 10)), "invalid_quantity");
    // Found by the twap_request fuzz target: a 29-digit quantity overflowed a division.
    assert_eq!(
        code(request("24444444444444444444444444444", 3_600, 11)),
        "invalid_quantity"
    );
    assert_eq!(engine::MAX_AMOUNT, d("999999999999999"));
    assert_eq!(
        code(request("1000000000000000", 60, 10)),
        "invalid_quantity"
    );
    let mut r = request("1", 60, 10);
    r.limit_price = Some(d("1000000000000000"));
    assert_eq!(code(r), "invalid_limit_price");
    assert_eq!(code(request("1", 60, 0)), "invalid_schedule");
    assert_eq!(code(request("1", 5, 10)), "invalid_schedule");
    assert_eq!(code(request("1", 8 * 86_400, 60)), "invalid_schedule");
    assert_eq!(code(request("100", 20_001, 1)), "invalid_schedule");
    let mut r = request("1", 60, 10);
    r.start_time = Some(t(-60));
    assert_eq!(code(r), "invalid_start_time");
    let mut r = request("1", 60, 10);
    r.limit_price = Some(d("100.005"));
    assert_eq!(code(r), "invalid_limit_price");
    // 0.01 over 60 one-second slices: each below the minimum; the message names the fix.
    let e = validate(&request("0.01", 60, 1), &p, t(0), &l, None).unwrap_err();
    assert_eq!(e.code, "slice_too_small");
    assert!(e.detail.contains("at least 6 s"), "{}", e.detail);
    // Notional: 0.006 BTC slices at 100 USDT are 0.6 USDT < 5.
    let e = validate(&request("0.06", 60, 6), &p, t(0), &l, Some(d("100"))).unwrap_err();
    assert_eq!(e.code, "slice_too_small");
    let mut halted = pair();
    halted.status = PairStatus::Halted;
    assert_eq!(
        validate(&request("1", 60, 10), &halted, t(0), &l, None)
            .unwrap_err()
            .code,
        "pair_not_trading"
    );
    let mut r = request("1", 60, 10);
    r.timing = Timing::DurationSlices {
        duration_secs: 60,
        slices: 4,
    };
    let p4 = validate(&r, &p, t(0), &l, None).unwrap();
    assert_eq!((p4.slices, p4.interval_ms), (4, 15_000));
}

#[test]
fn schedule_targets_stay_on_the_grid_and_dust_goes_last() {
    let p = Plan {
        start: t(0),
        interval_ms: 1_000,
        duration_ms: 3_000,
        slices: 3,
        quantity: d("1"),
        step: d("0.001"),
        lead_ms: 0,
        shape: Default::default(),
    };
    assert_eq!(p.cumulative_target(0), d("0.333"));
    assert_eq!(p.cumulative_target(1), d("0.666"));
    assert_eq!(p.cumulative_target(2), d("1"));
    assert_eq!(p.share(2), d("0.334"));
    assert_eq!(p.ask(0, d("0"), CatchUp::Spread), d("0.333"));
    // Slice 0 filled 0.1: spread asks (1 - 0.1)/2 = 0.45; next asks 0.666 - 0.1; none 0.333.
    assert_eq!(p.ask(1, d("0.1"), CatchUp::Spread), d("0.45"));
    assert_eq!(p.ask(1, d("0.1"), CatchUp::Next), d("0.566"));
    assert_eq!(p.ask(1, d("0.1"), CatchUp::None), d("0.333"));
    assert_eq!(p.ask(2, d("0.2"), CatchUp::Spread), d("0.8"));
    assert_eq!(p.ask(2, d("0.2"), CatchUp::None), d("0.334"));
    assert_eq!(p.ask(2, d("1"), CatchUp::Next), d("0"));
}

fn policy() -> impl proptest::strategy::Strategy<Value = CatchUp> {
    prop_oneof![
        Just(CatchUp::Spread),
        Just(CatchUp::Next),
        Just(CatchUp::None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever each slice manages to fill, nothing is lost or double-counted: every ask is
    /// on the grid and within what remains, the total never exceeds the quantity, and when
    /// the final slice fills in full the order is complete (except `none`, which abandons
    /// shortfall by design and ends short by exactly what was abandoned).
    #[test]
    fn no_quantity_lost_or_double_counted(
        lots in 1u64..5_000_000,
        n in 1u32..200,
        fractions in proptest::collection::vec(0u32..=100, 200),
        policy in policy(),
    ) {
        let step = d("0.001");
        let q = Decimal::from(lots) * step;
        let p = Plan { start: t(0), interval_ms: 1_000, duration_ms: i64::from(n) * 1_000, slices: n, quantity: q, step, lead_ms: 0, shape: Default::default() };
        let mut filled = Decimal::ZERO;
        let mut abandoned = Decimal::ZERO;
        for i in 0..n {
            let ask = p.ask(i, filled, policy);
            prop_assert!(ask >= Decimal::ZERO && ask <= q - filled);
            prop_assert!((ask % step).is_zero() || i + 1 == n);
            let last = i + 1 == n;
            let got = if last { ask } else { engine::floor_to(ask * Decimal::from(fractions[i as usize]) / Decimal::from(100), step) };
            if policy == CatchUp::None { abandoned += ask - got; }
            filled += got;
            prop_assert!(filled <= q);
        }
        match policy {
            CatchUp::None => prop_assert_eq!(filled + abandoned, q),
            _ => prop_assert_eq!(filled, q),
        }
    }
}

#[test]
fn walk_respects_the_limit_and_consumes_liquidity_across_orders() {
    let books = TestBooks::default();
    books.set(
        &[("99.00", "5")],
        &[("100.00", "1"), ("100.50", "1"), ("101.00", "5")],
        BookState::Live,
    );
    let mut e = Engine::new();
    e.schedule(order(
        1,
        Side::Buy,
        "1.5",
        1,
        Some("100.50"),
        CatchUp::Spread,
    ));
    e.schedule(order(2, Side::Buy, "1", 1, Some("100.50"), CatchUp::Spread));
    let u = e.run_due(t(0), &books);
    assert_eq!(u.len(), 2);
    let s1 = u[0].slice.clone().unwrap();
    assert_eq!(
        s1.fills,
        vec![(d("100.00"), d("1")), (d("100.50"), d("0.5"))]
    );
    assert_eq!(s1.avg_price, Some(d("100.166666666667")));
    assert_eq!(s1.fee, d("0.15025"));
    assert_eq!(u[0].order.status(), OrderStatus::Filled);
    // The second order sees only what the first left, and stops at its limit.
    let s2 = u[1].slice.clone().unwrap();
    assert_eq!(s2.fills, vec![(d("100.50"), d("0.5"))]);
    assert_eq!(s2.short, Some(ShortReason::LimitPrice));
    assert_eq!(u[1].order.status(), OrderStatus::Expired);
    assert_eq!(u[1].order.totals().filled, d("0.5"));
}

#[test]
fn consumption_lasts_until_the_venue_changes_the_level() {
    let books = TestBooks::default();
    books.set(&[("99.00", "5")], &[("100.00", "1")], BookState::Live);
    let mut e = Engine::new();
    e.schedule(order(1, Side::Buy, "3", 3, None, CatchUp::None));
    let first = e.run_due(t(0), &books);
    assert_eq!(first[0].slice.as_ref().unwrap().filled, d("1"));
    // Unchanged level: nothing left for the next slice.
    let second = e.run_due(t(1), &books);
    let s = second[0].slice.clone().unwrap();
    assert_eq!(s.filled, d("0"));
    assert_eq!(s.short, Some(ShortReason::Depth));
    // The venue updates the level (new quantity): it is available again.
    books.change(false, "100.00", "2");
    let third = e.run_due(t(2), &books);
    assert_eq!(third[0].slice.as_ref().unwrap().filled, d("1"));
    assert_eq!(third[0].order.status(), OrderStatus::Expired);
}

#[test]
fn sells_walk_bids_downward() {
    let books = TestBooks::default();
    books.set(
        &[("99.00", "1"), ("98.00", "1"), ("97.00", "1")],
        &[("100.00", "1")],
        BookState::Live,
    );
    let mut e = Engine::new();
    e.schedule(order(
        1,
        Side::Sell,
        "2.5",
        1,
        Some("98.00"),
        CatchUp::Spread,
    ));
    let u = e.run_due(t(0), &books);
    let s = u[0].slice.clone().unwrap();
    assert_eq!(s.fills, vec![(d("99.00"), d("1")), (d("98.00"), d("1"))]);
    assert_eq!(s.short, Some(ShortReason::LimitPrice));
    assert_eq!(s.mid, Some(d("99.5")));
    // Sold at 98.5 average vs mid 99.5: cost 1 per unit.
    assert_eq!(u[0].order.totals().spread_cost, d("2"));
    let a = u[0].order.analytics();
    assert_eq!(a.arrival_mid, Some(d("99.5")));
    assert!(
        a.slippage_vs_arrival_bps.unwrap() > Decimal::ZERO,
        "selling below the mid is a cost"
    );
}

#[test]
fn no_fill_from_a_book_that_is_not_live_or_is_crossed() {
    let books = TestBooks::default();
    let mut e = Engine::new();
    e.schedule(order(1, Side::Buy, "4", 4, None, CatchUp::Spread));
    let u = e.run_due(t(0), &books);
    assert_eq!(
        u[0].slice.as_ref().unwrap().skipped,
        Some(SkipReason::NoBook)
    );
    books.set(&[("99.00", "5")], &[("100.00", "5")], BookState::Stale);
    let u = e.run_due(t(1), &books);
    assert_eq!(
        u[0].slice.as_ref().unwrap().skipped,
        Some(SkipReason::StaleBook)
    );
    books.set(&[("101.00", "5")], &[("100.00", "5")], BookState::Live);
    let u = e.run_due(t(2), &books);
    assert_eq!(
        u[0].slice.as_ref().unwrap().skipped,
        Some(SkipReason::CrossedBook)
    );
    assert_eq!(u[0].order.totals().filled, d("0"));
    // Spread catch-up: the last slice asks for everything.
    books.set(&[("99.00", "5")], &[("100.00", "5")], BookState::Live);
    let u = e.run_due(t(3), &books);
    let s = u[0].slice.clone().unwrap();
    assert_eq!((s.target, s.filled), (d("4"), d("4")));
    let o = &u[0].order;
    assert_eq!(o.status(), OrderStatus::Filled);
    assert_eq!(o.slices_skipped(), 3);
    let a = o.analytics();
    let expect: BTreeMap<SkipReason, u32> = [
        (SkipReason::NoBook, 1),
        (SkipReason::StaleBook, 1),
        (SkipReason::CrossedBook, 1),
    ]
    .into();
    assert_eq!(a.skipped_by_reason, expect);
    assert_eq!(a.fill_ratio, d("1"));
    assert_eq!(
        a.market_twap,
        Some(d("99.5")),
        "sampled only from live books"
    );
}

#[test]
fn every_order_ends_even_on_a_dead_book() {
    let books = TestBooks::default();
    let mut e = Engine::new();
    e.schedule(order(1, Side::Buy, "1", 5, None, CatchUp::Next));
    let mut last = None;
    for s in 0..5 {
        for u in e.run_due(t(s), &books) {
            last = Some(u.order.status());
        }
    }
    assert_eq!(last, Some(OrderStatus::Expired));
    assert!(e.is_empty());
    assert_eq!(e.next_due(), None);
}

#[test]
fn cancel_is_idempotent_in_effect_and_refused_after_the_end() {
    let books = TestBooks::default();
    books.set(&[("99.00", "50")], &[("100.00", "50")], BookState::Live);
    let mut e = Engine::new();
    e.schedule(order(1, Side::Buy, "3", 3, None, CatchUp::Spread));
    e.run_due(t(0), &books);
    // Cancel at the exact time slice 1 is due: it is recorded as skipped, never filled.
    let u = e.cancel(1, t(1)).unwrap();
    assert_eq!(u.order.status(), OrderStatus::Cancelled);
    assert_eq!(
        u.slice.as_ref().unwrap().skipped,
        Some(SkipReason::Cancelled)
    );
    assert_eq!(u.order.totals().filled, d("1"));
    assert!(
        e.run_due(t(5), &books).iter().all(|u| u.slice.is_none()),
        "no slice after a cancel (only the markouts of the slice that filled)"
    );
    assert_eq!(e.cancel(1, t(2)), Err(CancelError::NotFound));
    e.schedule(order(2, Side::Buy, "1", 1, None, CatchUp::Spread));
    e.run_due(t(0), &books);
    assert_eq!(
        e.cancel(2, t(1)),
        Err(CancelError::NotFound),
        "filled orders leave the engine"
    );
}

#[test]
fn restore_records_missed_slices_and_ends_orders_past_their_window() {
    let books = TestBooks::default();
    books.set(&[("99.00", "50")], &[("100.00", "50")], BookState::Live);
    let mut e = Engine::new();
    let mut p = order(1, Side::Buy, "4", 4, None, CatchUp::Spread).into_parts();
    p.next_index = 1;
    p.totals.filled = d("1");
    let o = Order::from_parts(p);
    // Down from t(1) to t(2.5): slices 1 and 2 missed, slice 3 runs.
    let missed = e.restore(o, Timestamp::from_millis(t(2).as_millis() + 1_500));
    assert_eq!(missed.len(), 2);
    assert!(
        missed
            .iter()
            .all(|u| u.slice.as_ref().unwrap().skipped == Some(SkipReason::ServerDown))
    );
    assert_eq!(missed[1].order.next_index(), 3);
    let u = e.run_due(t(4), &books);
    assert_eq!(u[0].slice.as_ref().unwrap().index, 3);
    assert_eq!(
        u[0].slice.as_ref().unwrap().target,
        d("3"),
        "spread catch-up takes the missed quantity"
    );
    assert_eq!(u[0].order.status(), OrderStatus::Filled);
    // Entirely past its window: every slice skipped, expired.
    let mut e = Engine::new();
    let missed = e.restore(order(2, Side::Buy, "4", 4, None, CatchUp::Spread), t(100));
    assert_eq!(missed.len(), 4);
    assert_eq!(missed[3].order.status(), OrderStatus::Expired);
    assert!(e.is_empty());
}

#[test]
fn timers_fire_in_due_order_across_many_orders() {
    let books = TestBooks::default();
    books.set(
        &[("99.00", "1000000")],
        &[("100.00", "1000000")],
        BookState::Live,
    );
    let mut e = Engine::new();
    for id in 0..1_000 {
        let mut p = order(id, Side::Buy, "10", 10, None, CatchUp::Spread).into_parts();
        p.plan.start = Timestamp::from_millis(t(0).as_millis() + (id * 7) % 1_000);
        e.schedule(Order::from_parts(p));
    }
    let mut ran = 0;
    let mut now = t(0);
    while let Some(next) = e.next_due() {
        assert!(next >= now);
        now = next;
        for u in e.run_due(now, &books) {
            // Markouts of earlier fills come due in between.
            let Some(s) = u.slice else {
                assert!(u.markouts.is_some());
                continue;
            };
            assert_eq!(s.scheduled_at, now, "executed exactly when due");
            ran += 1;
        }
    }
    assert_eq!(ran, 10_000);
}
