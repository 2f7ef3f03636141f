//! The strategies through the deterministic core: VWAP slices follow their profile, POV
//! tracks its participation, jitter is seeded; for every strategy, catch-up policy and
//! partial-fill pattern no quantity is lost or double-counted, the same inputs give the same
//! slices, and the shortfall's parts add up to its total.

use std::cell::RefCell;
use std::str::FromStr;
use std::sync::Arc;

use engine::strategy::volume_profile;
use engine::{
    BookRef, Books, CatchUp, Engine, Jitter, Limits, Order, OrderParts, OrderRequest, OrderStatus,
    SliceRecord, Strategy, Timing, Totals, validate,
};
use model::{
    BookEvent, BookHealth, BookState, ExchangeId, Kline, Level, OrderBook, Pair, PairStatus, Price,
    Qty, Side, Symbol, Timestamp,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + ms)
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
        min_notional: None,
    }
}

/// A market whose book, depth and trade flow change per call: `depth[k]` is the ask
/// quantity shown at the k-th slice, at a price that drifts; trades print `volume[k]` per
/// second.
struct Market {
    depth: Vec<Decimal>,
    volume_per_sec: Vec<Decimal>,
    calls: RefCell<usize>,
}

impl Market {
    fn book(&self, k: usize) -> (OrderBook, BookHealth) {
        let mut b = OrderBook::with_scales(2, 3);
        let px = 100 + (k as i64 % 7);
        let q = self.depth[k % self.depth.len()];
        let lv = |p: i64, q: Decimal| {
            Level::new(
                Price::try_from(Decimal::from(p)).unwrap(),
                Qty::try_from(q).unwrap(),
            )
        };
        let half = engine::floor_to(q / Decimal::TWO, d("0.001"));
        b.apply(&BookEvent::snapshot(
            vec![lv(px - 1, d("5"))],
            vec![lv(px, half), lv(px + 1, q - half)],
        ))
        .unwrap();
        let h = BookHealth {
            state: BookState::Live,
            last_update: Some(t(0)),
            seq: Some(k as u64),
            ..BookHealth::syncing()
        };
        (b, h)
    }
}

impl Books for Market {
    fn with_book(&self, _e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        let k = {
            let mut c = self.calls.borrow_mut();
            *c += 1;
            *c
        };
        let (b, h) = self.book(k);
        f(Some((&b, &h)));
    }

    fn market_volume(
        &self,
        _e: ExchangeId,
        _s: &Symbol,
        after: Timestamp,
        upto: Timestamp,
    ) -> Option<(Decimal, Decimal)> {
        // Volume rate by the second the window ends in; a window's volume is rate × length.
        let ms = upto.millis_since(after).max(0);
        let sec = (upto.millis_since(t(0)) / 1_000).max(0) as usize;
        let rate = self.volume_per_sec[sec % self.volume_per_sec.len()];
        let v = rate * Decimal::from(ms) / Decimal::from(1_000);
        Some((v, v * Decimal::from(100)))
    }
}

fn request(q: Decimal, n: u64, strategy: Strategy, catch_up: CatchUp) -> OrderRequest {
    OrderRequest {
        token_id: "s-1".parse().unwrap(),
        exchange: ExchangeId::Sim,
        side: Side::Buy,
        quantity: q,
        limit_price: None,
        timing: Timing::DurationInterval {
            duration_secs: n * 10,
            interval_secs: 10,
        },
        start_time: Some(t(0)),
        catch_up,
        strategy,
        latency_ms: 0,
        route: None,
    }
}

/// The working order `req` makes, accepted at t(0) with `totals`.
fn order_of(req: &OrderRequest, totals: Totals) -> Order {
    let plan = validate(req, &pair(), t(0), &Limits::default(), None).unwrap();
    Order::from_parts(OrderParts {
        id: 1,
        user_id: 1,
        token_id: req.token_id.clone(),
        exchange: req
            .route
            .as_ref()
            .map_or(ExchangeId::Sim, |r| r[0].exchange),
        symbol: pair().symbol,
        side: req.side,
        limit_price: req.limit_price,
        catch_up: req.catch_up,
        strategy: req.strategy.clone(),
        latency_ms: req.latency_ms,
        route: req.route.clone(),
        plan,
        fee_bps: d("10"),
        created_at: t(0),
        status: OrderStatus::Working,
        closed_at: None,
        next_index: 0,
        totals,
    })
}

/// Run an order to its end against `market`; returns the order and its slices.
fn run(req: &OrderRequest, market: &Market) -> (Order, Vec<SliceRecord>) {
    let order = order_of(
        req,
        Totals {
            decision_mid: Some(d("100.5")),
            ..Totals::default()
        },
    );
    let mut e = Engine::new();
    e.schedule(order.clone());
    let mut slices = Vec::new();
    let mut last = order;
    let mut guard = 0;
    while let Some(due) = e.next_due() {
        guard += 1;
        assert!(guard < 20_000, "bounded");
        for u in e.run_due(due, market) {
            slices.extend(u.slice);
            last = Arc::unwrap_or_clone(u.order);
        }
    }
    (last, slices)
}

fn strategy_of(kind: u8, seed: u64, n: usize, weights: &[u32], p: u32) -> Strategy {
    match kind {
        0 => Strategy::Twap { jitter: None },
        1 => Strategy::Twap {
            jitter: Some(Jitter {
                seed,
                time_pct: (seed % 51) as u32,
                size_pct: ((seed / 51) % 51) as u32,
            }),
        },
        2 => {
            let w: Vec<Decimal> = (0..n)
                .map(|i| Decimal::from(weights[i % weights.len()]))
                .collect();
            let total: Decimal = w.iter().copied().sum::<Decimal>().max(Decimal::ONE);
            let mut shares: Vec<Decimal> = w.iter().map(|x| (*x / total).round_dp(12)).collect();
            let sum: Decimal = shares.iter().copied().sum();
            shares[0] += Decimal::ONE - sum;
            if shares.iter().any(|s| *s < Decimal::ZERO) || sum.is_zero() {
                shares = vec![Decimal::ONE / Decimal::from(n); n];
            }
            Strategy::Vwap {
                profile_days: 7,
                profile: shares.into(),
            }
        }
        _ => Strategy::Pov {
            participation: Decimal::from(p.clamp(1, 50)) / Decimal::from(100),
            max_slice_qty: seed.is_multiple_of(2).then(|| d("0.5")),
        },
    }
}

fn policy() -> impl proptest::strategy::Strategy<Value = CatchUp> {
    prop_oneof![
        Just(CatchUp::Spread),
        Just(CatchUp::Next),
        Just(CatchUp::None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every strategy × catch-up × partial-fill pattern: asks on the grid and within what
    /// remains, Σ slice fills = the order's filled quantity ≤ its quantity, the same inputs
    /// give the same slices, and the shortfall's parts sum exactly to its total.
    #[test]
    fn no_quantity_lost_and_same_inputs_same_slices(
        kind in 0u8..4,
        seed in any::<u64>(),
        lots in 1u64..20_000,
        n in 1u64..40,
        weights in proptest::collection::vec(1u32..100, 1..10),
        depth in proptest::collection::vec(0u64..3_000, 1..12),
        volume in proptest::collection::vec(0u64..2_000, 1..12),
        p in 1u32..=50,
        catch_up in policy(),
    ) {
        let q = Decimal::from(lots) * d("0.001");
        let strategy = strategy_of(kind, seed, n as usize, &weights, p);
        let req = request(q, n, strategy, catch_up);
        prop_assume!(validate(&req, &pair(), t(0), &Limits::default(), None).is_ok());
        let market = || Market {
            depth: depth.iter().map(|l| Decimal::from(*l) * d("0.001")).collect(),
            volume_per_sec: volume.iter().map(|l| Decimal::from(*l) * d("0.001")).collect(),
            calls: RefCell::new(0),
        };
        let (order, slices) = run(&req, &market());
        let (again, slices_again) = run(&req, &market());
        prop_assert_eq!(&slices, &slices_again);
        prop_assert_eq!(&order, &again);
        let mut filled = Decimal::ZERO;
        for s in &slices {
            prop_assert!(s.target >= Decimal::ZERO);
            prop_assert!(s.target <= q - filled, "asks at most what remains");
            prop_assert!((s.target % d("0.001")).is_zero());
            prop_assert!(s.filled <= s.target);
            let fills: Decimal = s.fills.iter().map(|(_, q)| *q).sum();
            prop_assert_eq!(fills, s.filled);
            filled += s.filled;
        }
        prop_assert_eq!(filled, order.totals().filled);
        prop_assert!(filled <= q);
        prop_assert!(!order.status().is_open());
        prop_assert_eq!(slices.len() as u32, order.plan().slices.min(order.next_index()));
        let a = order.analytics();
        let is = a.shortfall.unwrap();
        let parts: Decimal = is.parts().iter().map(|(_, v)| *v).sum();
        prop_assert_eq!(parts, is.total);
        prop_assert_eq!(is.execution_cost, is.spread_cost + is.impact_cost);
        let bps = a.shortfall_bps.unwrap();
        let parts_bps: Decimal = bps.parts().iter().map(|(_, v)| *v).sum();
        prop_assert_eq!(parts_bps, bps.total);
        // The total also equals its direct definition, to the rounding of six parts.
        let t = order.totals();
        let direct = (t.notional - d("100.5") * t.filled)
            + t.last_mid.unwrap_or(d("100.5")) * (q - t.filled) - d("100.5") * (q - t.filled)
            + t.fees;
        prop_assert!((direct - is.total).abs() <= d("0.00000006"), "{direct} vs {}", is.total);
    }
}

#[test]
fn a_vwap_orders_slices_follow_its_profile() {
    let shares: Vec<Decimal> = ["0.1", "0.4", "0.05", "0.25", "0.2"]
        .iter()
        .map(|s| d(s))
        .collect();
    let req = request(
        d("10"),
        5,
        Strategy::Vwap {
            profile_days: 7,
            profile: shares.clone().into(),
        },
        CatchUp::Spread,
    );
    let deep = Market {
        depth: vec![d("100")],
        volume_per_sec: vec![d("1")],
        calls: RefCell::new(0),
    };
    let (order, slices) = run(&req, &deep);
    assert_eq!(order.status(), OrderStatus::Filled);
    let got: Vec<Decimal> = slices.iter().map(|s| s.filled).collect();
    let want: Vec<Decimal> = shares.iter().map(|s| *s * d("10")).collect();
    assert_eq!(got, want);
}

#[test]
fn a_pov_order_asks_its_share_of_each_windows_volume() {
    let req = request(
        d("1000"),
        6,
        Strategy::Pov {
            participation: d("0.1"),
            max_slice_qty: None,
        },
        CatchUp::None,
    );
    let m = Market {
        depth: vec![d("1000")],
        volume_per_sec: vec![d("1"), d("3"), d("0.5")],
        calls: RefCell::new(0),
    };
    let (order, slices) = run(&req, &m);
    assert_eq!(slices.len(), 6);
    for s in &slices {
        let v = s.market_volume.unwrap();
        assert_eq!(s.filled, engine::floor_to(v * d("0.1"), d("0.001")));
        assert_eq!(s.scheduled_at.millis_since(t(0)) % 10_000, 0);
    }
    assert_eq!(
        slices[0].scheduled_at,
        t(10_000),
        "POV trades at each interval's end"
    );
    assert_eq!(order.status(), OrderStatus::Expired);
    let rate = order.analytics().participation_rate.unwrap();
    assert!((rate - d("0.1")).abs() < d("0.001"), "{rate}");
}

#[test]
fn a_slice_with_latency_fills_later_against_that_book() {
    let mut req = request(d("1"), 3, Strategy::default(), CatchUp::Spread);
    req.latency_ms = 250;
    let m = Market {
        depth: vec![d("10")],
        volume_per_sec: vec![d("1")],
        calls: RefCell::new(0),
    };
    let (_, slices) = run(&req, &m);
    for s in &slices {
        assert_eq!(s.executed_at.millis_since(s.scheduled_at), 250);
    }
    let mut bad = req.clone();
    bad.latency_ms = 10_000;
    let e = validate(&bad, &pair(), t(0), &Limits::default(), None).unwrap_err();
    assert_eq!(e.code, "invalid_latency");
}

#[test]
fn bad_strategy_parameters_are_refused_with_precise_codes() {
    let code = |s: Strategy| {
        validate(
            &request(d("1"), 6, s, CatchUp::Spread),
            &pair(),
            t(0),
            &Limits::default(),
            None,
        )
        .unwrap_err()
        .code
    };
    let pov = |p: &str| Strategy::Pov {
        participation: d(p),
        max_slice_qty: None,
    };
    assert_eq!(code(pov("0")), "invalid_participation");
    assert_eq!(code(pov("0.51")), "invalid_participation");
    assert_eq!(
        code(Strategy::Pov {
            participation: d("0.1"),
            max_slice_qty: Some(d("0.0005")),
        }),
        "invalid_max_slice_qty"
    );
    let jit = |time_pct, size_pct| Strategy::Twap {
        jitter: Some(Jitter {
            seed: 1,
            time_pct,
            size_pct,
        }),
    };
    assert_eq!(code(jit(51, 0)), "invalid_jitter");
    assert_eq!(code(jit(0, 60)), "invalid_jitter");
    assert_eq!(
        code(Strategy::Vwap {
            profile_days: 7,
            profile: Arc::from(vec![Decimal::ONE]),
        }),
        "no_volume_profile",
        "one share for six slices"
    );
    assert_eq!(
        code(Strategy::Vwap {
            profile_days: 0,
            profile: Arc::from(vec![Decimal::ONE; 6]),
        }),
        "invalid_profile_days"
    );
}

#[test]
fn the_volume_profile_averages_the_same_time_of_day() {
    // Two days of 1-minute candles; slices of 30 s share their minute's volume evenly.
    let day = 86_400_000i64;
    let candle = |start: Timestamp, v: &str| Kline {
        open_time: start,
        close_time: start.plus_millis(60_000),
        open: Price::try_from(d("1")).unwrap(),
        high: Price::try_from(d("1")).unwrap(),
        low: Price::try_from(d("1")).unwrap(),
        close: Price::try_from(d("1")).unwrap(),
        volume: Qty::try_from(d(v)).unwrap(),
        closed: true,
    };
    let times: Vec<Timestamp> = (0..4).map(|i| t(i * 30_000)).collect();
    let day1 = vec![candle(t(-day), "3"), candle(t(-day + 60_000), "1")];
    let day2 = vec![candle(t(-2 * day), "1"), candle(t(-2 * day + 60_000), "3")];
    let (shares, used) = volume_profile(&times, 30_000, &[day1, day2]).unwrap();
    assert_eq!(used, 2);
    assert_eq!(shares, vec![d("0.25"); 4]);
    assert!(volume_profile(&times, 30_000, &[vec![]]).is_none());
}

/// A book whose mid is set by the test.
struct Mid(RefCell<i64>);

impl Books for Mid {
    fn with_book(&self, _e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        let px = *self.0.borrow();
        let mut b = OrderBook::with_scales(2, 3);
        let lv = |p: i64| {
            Level::new(
                Price::try_from(Decimal::from(p)).unwrap(),
                Qty::try_from(d("100")).unwrap(),
            )
        };
        b.apply(&BookEvent::snapshot(vec![lv(px - 1)], vec![lv(px + 1)]))
            .unwrap();
        let h = BookHealth {
            state: BookState::Live,
            last_update: Some(t(0)),
            ..BookHealth::syncing()
        };
        f(Some((&b, &h)));
    }
}

#[test]
fn markouts_follow_the_mid_after_each_fill_even_after_the_order_ended() {
    let req = request(d("2"), 2, Strategy::default(), CatchUp::Spread);
    let order = order_of(&req, Totals::default());
    let mut e = Engine::new();
    e.schedule(order);
    let mid = Mid(RefCell::new(100));
    // Slice 0 at t0 buys 1 at 101 (the ask); slice 1 at t10 s buys 1 at 121.
    let mut all = e.run_due(t(0), &mid);
    *mid.0.borrow_mut() = 102;
    all.extend(e.run_due(t(1_000), &mid)); // slice 0 + 1 s: mid 102 vs 101 → +99.0099 bps
    *mid.0.borrow_mut() = 100;
    all.extend(e.run_due(t(5_000), &mid)); // + 5 s: 100 vs 101 → −99.0099 bps
    *mid.0.borrow_mut() = 120;
    all.extend(e.run_due(t(10_000), &mid)); // slice 1 fills at 121; the order ends
    assert!(e.is_empty(), "the order has ended");
    assert!(e.next_due().is_some(), "its markouts are still to take");
    *mid.0.borrow_mut() = 121;
    while let Some(due) = e.next_due() {
        all.extend(e.run_due(due, &mid));
    }
    let last = all.last().unwrap();
    let order = &last.order;
    assert_eq!(order.status(), OrderStatus::Filled);
    assert_eq!(order.totals().markouts_taken, 8);
    let m = order.analytics().markouts_bps;
    // 1 s: slice 0 +99.0099, slice 1 (mid 121 vs 121) 0 → mean 49.50495.
    assert_eq!(m[0], Some(d("49.505")));
    // 5 s: slice 0 −99.0099, slice 1 0.
    assert_eq!(m[1], Some(d("-49.505")));
    let per_slice: Vec<_> = all.iter().filter_map(|u| u.markouts).collect();
    assert_eq!(
        per_slice.len(),
        4,
        "published twice a slice: at 5 s and at 60 s"
    );
    let final_0 = per_slice.iter().rev().find(|(i, _)| *i == 0).unwrap().1;
    assert_eq!(final_0[0], Some(d("99.0099")));
    assert_eq!(final_0[1], Some(d("-99.0099")));
    // 30 s and 60 s after slice 0 the mid was 121: (121 − 101)/101 = +1980.198 bps.
    assert_eq!(final_0[2], Some(d("1980.198")));
    assert!(
        all.iter()
            .filter(|u| u.markouts.is_some())
            .all(|u| u.slice.is_none())
    );
}

#[test]
fn the_shortfall_worked_example_of_the_docs() {
    // docs/ANALYTICS.md: a buy of 2, decision mid 100, two slices, 0.5 unfilled.
    let req = request(d("2"), 2, Strategy::default(), CatchUp::Spread);
    let totals = Totals {
        filled: d("1.5"),
        notional: d("151.95"),
        fees: d("0.15195"),
        decision_mid: Some(d("100")),
        start_mid: Some(d("100.50")),
        last_mid: Some(d("101")),
        mid_notional: d("100.50") + d("101") * d("0.5"),
        touch_notional: d("101") + d("101.5") * d("0.5"),
        ..Totals::default()
    };
    let order = order_of(&req, totals);
    let a = order.analytics();
    let q = a.shortfall.unwrap();
    assert_eq!(
        [
            q.delay_cost,
            q.timing_cost,
            q.spread_cost,
            q.impact_cost,
            q.opportunity_cost,
            q.fees,
            q.total
        ],
        [
            d("0.75"),
            d("0.25"),
            d("0.75"),
            d("0.2"),
            d("0.5"),
            d("0.15195"),
            d("2.60195")
        ]
    );
    let b = a.shortfall_bps.unwrap();
    assert_eq!(
        [
            b.delay_cost,
            b.timing_cost,
            b.spread_cost,
            b.impact_cost,
            b.opportunity_cost,
            b.fees,
            b.total
        ],
        [
            d("37.5"),
            d("12.5"),
            d("37.5"),
            d("10"),
            d("25"),
            d("7.5975"),
            d("130.0975")
        ]
    );
    assert_eq!(
        engine::markout::markout_bps(Side::Buy, d("101.20"), d("101.25")),
        Some(d("4.9407"))
    );
}

/// Books per venue, set by the test.
#[derive(Default)]
struct Venues(RefCell<std::collections::HashMap<ExchangeId, OrderBook>>);

impl Venues {
    fn asks(&self, e: ExchangeId, asks: &[(&str, &str)]) {
        let mut b = OrderBook::with_scales(2, 3);
        let lv = |v: &[(&str, &str)]| v.iter().map(|(p, q)| Level::parse(p, q).unwrap()).collect();
        b.apply(&BookEvent::snapshot(lv(&[("99.00", "10")]), lv(asks)))
            .unwrap();
        self.0.borrow_mut().insert(e, b);
    }
}

impl Books for Venues {
    fn with_book(&self, e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        let g = self.0.borrow();
        let h = BookHealth {
            state: BookState::Live,
            last_update: Some(t(0)),
            ..BookHealth::syncing()
        };
        match g.get(&e) {
            Some(b) => f(Some((b, &h))),
            None => f(None),
        }
    }
}

#[test]
fn a_routed_order_takes_the_best_price_net_of_fees_across_venues() {
    use engine::route::Venue;
    let (a, b) = (ExchangeId::Sim, ExchangeId::Binance);
    let route: Arc<[Venue]> = Arc::from(vec![
        Venue {
            exchange: a,
            fee_bps: d("10"),
        },
        Venue {
            exchange: b,
            fee_bps: d("60"),
        },
    ]);
    let mut req = request(d("6"), 2, Strategy::default(), CatchUp::Next);
    req.route = Some(route);
    req.limit_price = Some(d("100.10"));
    let order = order_of(&req, Totals::default());
    let books = Venues::default();
    // a: 100.00 and 100.05 all-in 100.10 and 100.15; b: 100.02 all-in 100.62; 100.20 is
    // beyond the limit at both.
    books.asks(a, &[("100.00", "1"), ("100.05", "1"), ("100.20", "9")]);
    books.asks(b, &[("100.02", "5"), ("100.20", "9")]);
    let mut e = Engine::new();
    e.schedule(order);
    let u = e.run_due(t(0), &books).pop().unwrap();
    let s = u.slice.unwrap();
    assert_eq!(s.target, d("3"));
    assert_eq!(
        s.fills,
        vec![
            (d("100.00"), d("1")),
            (d("100.05"), d("1")),
            (d("100.02"), d("1"))
        ]
    );
    assert_eq!(s.fill_venues, vec![a, a, b]);
    assert_eq!(s.fee, d("0.20005") + d("0.60012"));
    assert_eq!(
        (s.best_bid, s.best_ask),
        (Some(d("99.00")), Some(d("100.00")))
    );
    // Slice 1: a's levels within the limit are consumed (the venue did not change them):
    // everything comes from b, up to what b has left within the limit.
    let u = e
        .run_due(t(10_000), &books)
        .into_iter()
        .find(|u| u.slice.is_some())
        .unwrap();
    let s = u.slice.unwrap();
    assert_eq!(s.fills, vec![(d("100.02"), d("3"))]);
    assert_eq!(s.fill_venues, vec![b]);
    let o = u.order;
    assert_eq!(o.totals().filled, d("6"));
    let by = &o.totals().by_venue;
    assert_eq!(by[&a].filled, d("2"));
    assert_eq!(by[&b].filled, d("4"));
    assert_eq!(by[&a].fees + by[&b].fees, o.totals().fees);
    // No venue live: the slice is skipped as stale, like a single venue's.
    let none = Venues::default();
    let mut e = Engine::new();
    let mut p = (*o).clone().into_parts();
    p.status = OrderStatus::Working;
    p.next_index = 0;
    p.totals = Totals::default();
    e.schedule(Order::from_parts(p));
    let s = e.run_due(t(0), &none).pop().unwrap().slice.unwrap();
    assert_eq!(s.skipped, Some(engine::SkipReason::NoBook));
}
