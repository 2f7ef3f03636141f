//! The lab's what-if (DESIGN §17): finished orders re-run alone on the recorded market.
//! With no overrides, every order must come back fill for fill — many random orders of
//! every strategy and catch-up policy, running at once on the same books so that each
//! re-run depends on the liquidity the others took — and still after a restart.

use std::str::FromStr;
use std::time::Duration;

use papertwap_client::{Client, order, wire};
use rust_decimal::Decimal;
use wire::{Strategy, WhatIfRequest};

use e2e::spawn_app_with;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

const ORDERS: usize = 120;

/// `n` random orders on the sim's two books: every strategy, catch-up policy and side,
/// limits near the touch (some bind), latencies, starts now or a little later.
fn random_orders(rng: &mut Rng, mids: &[(&str, Decimal)], n: usize) -> Vec<wire::OrderRequest> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let (symbol, mid) = mids[rng.below(mids.len() as u64) as usize];
            let strategy = [Strategy::Twap, Strategy::Vwap, Strategy::Pov][rng.below(3) as usize];
            let side = if rng.below(2) == 0 { "buy" } else { "sell" };
            let qty = Decimal::new(5 + rng.below(60) as i64, 2);
            let duration = 2 + rng.below(3);
            let mut r = order(
                strategy,
                &format!("wi-{i}"),
                "sim",
                symbol,
                side,
                &qty.to_string(),
                duration,
                1,
            )
            .unwrap();
            if rng.below(3) == 0 {
                (r.interval_secs, r.slices) = (None, Some(1 + rng.below(duration)));
            }
            if rng.below(8) == 0 {
                // Routed: every live venue listing the symbol (here the sim alone).
                r.exchange = "best".to_owned();
            }
            r.catch_up = Some(["spread", "next", "none"][rng.below(3) as usize].to_owned());
            if rng.below(3) == 0 {
                // Within ±5 bps of the mid: some slices stop at the limit.
                let bps = Decimal::from(rng.below(11) as i64 - 5);
                let off = mid * bps / Decimal::from(10_000);
                r.limit_price = Some((mid + off).round_dp(1));
            }
            if rng.below(4) == 0 {
                r.latency_ms = Some(50 + rng.below(200) as u32);
            }
            if rng.below(3) == 0 {
                r.start_time = Some(now + chrono::Duration::milliseconds(rng.below(2_500) as i64));
            }
            if strategy == Strategy::Pov {
                r.participation = Some(d(["0.05", "0.2", "0.5"][rng.below(3) as usize]));
            }
            r
        })
        .collect()
}

/// The first slice of `a` that `b` does not repeat, for a failure message.
fn first_difference(a: &wire::Order, b: &wire::Order) -> String {
    let (sa, sb) = (
        a.slices.clone().unwrap_or_default(),
        b.slices.clone().unwrap_or_default(),
    );
    for (x, y) in sa.iter().zip(&sb) {
        if x.fills != y.fills
            || x.skipped != y.skipped
            || x.target_quantity != y.target_quantity
            || x.scheduled_at != y.scheduled_at
            || x.short_reason != y.short_reason
            || (x.mid, x.best_bid, x.best_ask) != (y.mid, y.best_bid, y.best_ask)
        {
            return format!("slice {}: original {x:?}\nre-run {y:?}", x.index);
        }
    }
    format!(
        "{} slices vs {}; status {:?} vs {:?}",
        sa.len(),
        sb.len(),
        a.status,
        b.status
    )
}

/// Every order re-run with no overrides reproduces the original, fill for fill.
async fn all_reproduce(c: &Client, originals: &[wire::Order]) {
    let mut failures = Vec::new();
    for o in originals {
        let w = c
            .whatif(&o.token_id, &WhatIfRequest::default())
            .await
            .unwrap();
        assert!(w.simulated);
        assert_eq!(w.order.token_id, o.token_id);
        let same_fills = w.order.slices.as_ref().map(|s| {
            s.iter()
                .map(|s| (s.index, s.fills.clone(), s.skipped))
                .collect::<Vec<_>>()
        }) == o.slices.as_ref().map(|s| {
            s.iter()
                .map(|s| (s.index, s.fills.clone(), s.skipped))
                .collect::<Vec<_>>()
        });
        // The server's verdict and ours agree.
        assert!(
            !w.reproduces_original || (same_fills && w.order.status == o.status),
            "{}: said to reproduce, but {}",
            o.token_id,
            first_difference(o, &w.order)
        );
        if !w.reproduces_original {
            failures.push(format!("{}: {}", o.token_id, first_difference(o, &w.order)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} orders not reproduced:\n{}",
        failures.len(),
        originals.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn whatif_reproduces_random_orders_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lab.db").display());
    let u = url.clone();
    let app = spawn_app_with(move |s| s.store.url = u).await.unwrap();
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    let mut mids = Vec::new();
    for symbol in ["BTC-USDT", "ETH-USDT"] {
        let b = c.order_book("sim", symbol, 5).await.unwrap();
        let mid = (b.bids[0].0 + b.asks[0].0) / Decimal::TWO;
        mids.push((symbol, mid));
    }
    let mut rng = Rng(0x1ab_2026);
    let reqs = random_orders(&mut rng, &mids, ORDERS);
    for r in &reqs {
        if let Err(e) = c.submit_order(r).await {
            eprintln!("FAILED {e} {r:?}");
        }
    }
    let mut originals = Vec::new();
    for r in &reqs {
        let token = r.token_id.clone().unwrap();
        let o = tokio::time::timeout(
            Duration::from_secs(60),
            c.wait_for_final(&token, Duration::from_millis(100)),
        )
        .await
        .expect("every order ends within a minute")
        .unwrap();
        originals.push(o);
    }
    // The orders did trade, and met each other on the books.
    let filled: usize = originals
        .iter()
        .filter(|o| o.filled_quantity > Decimal::ZERO)
        .count();
    assert!(filled > ORDERS / 2, "{filled} orders filled anything");
    all_reproduce(&c, &originals).await;

    // Changing the schedule changes the run, on the same market.
    let o = &originals[0];
    let w = c
        .whatif(
            &o.token_id,
            &WhatIfRequest {
                slices: Some(1),
                ..WhatIfRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(w.order.slices.as_ref().map(Vec::len), Some(1));
    assert_eq!(w.overrides.slices, Some(1));
    assert_eq!(w.order.quantity, o.quantity);

    // A window beyond the recording, an open order, bad bodies.
    let later = WhatIfRequest {
        duration_secs: Some(3_600),
        ..WhatIfRequest::default()
    };
    let e = c.whatif(&o.token_id, &later).await.unwrap_err();
    assert_eq!(e.code(), Some("not_recorded"), "{e}");
    let mut open = order(
        Strategy::Twap,
        "wi-open",
        "sim",
        "BTC-USDT",
        "buy",
        "0.01",
        600,
        60,
    )
    .unwrap();
    open.start_time = Some(chrono::Utc::now() + chrono::Duration::seconds(300));
    c.submit_order(&open).await.unwrap();
    let e = c
        .whatif("wi-open", &WhatIfRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("order_open"), "{e}");
    let e = c
        .whatif("wi-none", &WhatIfRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("order_not_found"), "{e}");
    let token = c.token().await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/orders/{}/whatif", app.base, o.token_id))
        .bearer_auth(&token)
        .json(&serde_json::json!({"interval": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap_or("").contains("interval"),
        "{body}"
    );
    let res = reqwest::Client::new()
        .post(format!("{}/orders/{}/whatif", app.base, o.token_id))
        .bearer_auth(&token)
        .json(&serde_json::json!({"interval_secs": 1, "slices": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    c.cancel("wi-open").await.unwrap();
    app.stop().await.unwrap();

    // After a restart, on the same database and tapes.
    let app = spawn_app_with(move |s| s.store.url = url).await.unwrap();
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    all_reproduce(&c, &originals).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn backtests_run_variants_side_by_side_on_a_recorded_window_and_are_kept() {
    let app = e2e::spawn_app().await.unwrap();
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    // A real order records a few seconds of market, and ends: its window is on tape.
    let src = order(
        Strategy::Twap,
        "bt-src",
        "sim",
        "BTC-USDT",
        "buy",
        "0.1",
        4,
        1,
    )
    .unwrap();
    c.submit_order(&src).await.unwrap();
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        c.wait_for_final("bt-src", Duration::from_millis(100)),
    )
    .await
    .unwrap()
    .unwrap();
    let mut base = order(
        Strategy::Twap,
        "ignored",
        "sim",
        "BTC-USDT",
        "sell",
        "0.3",
        3,
        1,
    )
    .unwrap();
    base.start_time = Some(o.start_time);
    let req = wire::BacktestRequest {
        order: base.clone(),
        variants: vec![
            WhatIfRequest {
                interval_secs: Some(3),
                ..WhatIfRequest::default()
            },
            WhatIfRequest {
                strategy: Some(Strategy::Pov),
                participation: Some(d("0.2")),
                ..WhatIfRequest::default()
            },
        ],
    };
    let bt = c.backtest(&req).await.unwrap();
    assert!(bt.id.starts_with("bt-"), "{}", bt.id);
    assert_eq!(bt.results.len(), 3);
    assert_eq!(bt.window.start, o.start_time);
    assert_eq!(bt.request, req);
    let slices: Vec<usize> = bt
        .results
        .iter()
        .map(|r| r.order.slices.as_ref().map_or(0, Vec::len))
        .collect();
    // The TWAPs run their schedules; the POV ends early when the market prints enough.
    assert_eq!(slices[..2], [3, 1]);
    assert!((1..=3).contains(&slices[2]), "{slices:?}");
    for r in &bt.results {
        assert!(!r.order.status.is_open(), "{:?}", r.order.status);
        assert_eq!(r.order.side, wire::Side::Sell);
    }
    assert_eq!(bt.results[0].order.filled_quantity, d("0.3"));
    assert_eq!(bt.results[2].order.strategy, Strategy::Pov);
    // Kept: listed newest first and read back as it was answered.
    let second = c
        .backtest(&wire::BacktestRequest {
            order: base.clone(),
            variants: Vec::new(),
        })
        .await
        .unwrap();
    let list = c.backtests(&wire::BacktestsQuery::default()).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, [second.id.as_str(), bt.id.as_str()]);
    assert_eq!(c.backtest_by_id(&bt.id).await.unwrap(), bt);
    // Another user sees none of it.
    app.add_user("other", "other-password-1", "basic")
        .await
        .unwrap();
    let other = Client::new(&app.base).unwrap();
    other.login("other", "other-password-1").await.unwrap();
    let e = other.backtest_by_id(&bt.id).await.unwrap_err();
    assert_eq!(e.code(), Some("backtest_not_found"), "{e}");
    assert!(
        other
            .backtests(&wire::BacktestsQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    // Windows it cannot run: in the future, before the recording; bad variants.
    let mut future = base.clone();
    future.start_time = Some(chrono::Utc::now() + chrono::Duration::seconds(60));
    let e = c
        .backtest(&wire::BacktestRequest {
            order: future,
            variants: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("invalid_window"), "{e}");
    let mut early = base.clone();
    early.start_time = Some(o.start_time - chrono::Duration::hours(2));
    let e = c
        .backtest(&wire::BacktestRequest {
            order: early,
            variants: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("not_recorded"), "{e}");
    let e = c
        .backtest(&wire::BacktestRequest {
            order: base.clone(),
            variants: vec![WhatIfRequest {
                interval_secs: Some(1),
                slices: Some(2),
                ..WhatIfRequest::default()
            }],
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("variant #0"), "{e}");
    let token = c.token().await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/backtests", app.base))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({"exchange": "sim", "symbol": "BTC-USDT", "side": "buy",
            "quantity": "1", "duration_secs": 3, "interval_secs": 1, "token": "x"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    app.stop().await.unwrap();
}

/// Orders the server was down in the middle of: their slices due meanwhile are `server_down`,
/// and a what-if reproduces that too (the re-run resumes the order at the restart, as the
/// server did), fill for fill.
#[tokio::test]
async fn whatif_reproduces_orders_that_spanned_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("down.db").display());
    let u = url.clone();
    let app = spawn_app_with(move |s| s.store.url = u).await.unwrap();
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    let policies = ["spread", "next", "none"];
    let mut tokens = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let token = format!("down-{i}");
        let mut r = order(
            Strategy::Twap,
            &token,
            "sim",
            "BTC-USDT",
            "buy",
            "0.6",
            8,
            1,
        )
        .unwrap();
        r.catch_up = Some((*policy).to_owned());
        c.submit_order(&r).await.unwrap();
        tokens.push(token);
    }
    testkit::eventually_async("two slices ran", Duration::from_secs(20), || {
        let c = c.clone();
        async move {
            c.order("down-2")
                .await
                .is_ok_and(|o| o.slices_done + o.slices_skipped >= 2)
        }
    })
    .await;
    app.stop().await.unwrap();
    // Down long enough for slices to pass beyond the restart grace (1 s).
    let back = std::time::Instant::now() + Duration::from_millis(2_500);
    testkit::eventually("the server was down 2.5 s", Duration::from_secs(10), || {
        std::time::Instant::now() >= back
    })
    .await;
    let app = spawn_app_with(move |s| s.store.url = url).await.unwrap();
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    let mut originals = Vec::new();
    for t in &tokens {
        let o = tokio::time::timeout(
            Duration::from_secs(60),
            c.wait_for_final(t, Duration::from_millis(100)),
        )
        .await
        .unwrap()
        .unwrap();
        originals.push(o);
    }
    let down = originals
        .iter()
        .flat_map(|o| o.slices.iter().flatten())
        .filter(|s| s.skipped == Some(wire::SkipReason::ServerDown))
        .count();
    assert!(down >= tokens.len(), "{down} slices skipped server_down");
    all_reproduce(&c, &originals).await;
    app.stop().await.unwrap();
}
