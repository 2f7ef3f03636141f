//! VWAP, POV, jitter, latency and the preview through the real server on the simulated
//! exchange, driven by the SDK: what users reach over `POST /orders` and
//! `POST /orders/preview`.

use std::str::FromStr;
use std::time::Duration;

use e2e::spawn_app;
use papertwap_client::wire::{self, Strategy};
use papertwap_client::{Client, Decimal, order};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn client(app: &e2e::TestApp) -> Client {
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    c
}

async fn wait_final(c: &Client, id: &str) -> wire::Order {
    tokio::time::timeout(
        Duration::from_secs(60),
        c.wait_for_final(id, Duration::from_millis(200)),
    )
    .await
    .expect("final within a minute")
    .unwrap()
}

#[tokio::test]
async fn a_pov_order_tracks_its_participation() {
    let app = spawn_app().await.unwrap();
    let c = client(&app).await;
    // Let the sim's takers print for a moment, so that the book is followed and live.
    c.order_book("sim", "BTC-USDT", 5).await.unwrap();
    let mut req = order(Strategy::Pov, "pov-1", "sim", "BTC-USDT", "buy", "5", 12, 1).unwrap();
    req.participation = Some(d("0.2"));
    let o = c.submit_order(&req).await.unwrap();
    assert_eq!(o.strategy, Strategy::Pov);
    assert_eq!(o.participation, Some(d("0.2")));
    assert_eq!(o.slices_total, 12);
    let o = wait_final(&c, "pov-1").await;
    assert_eq!(
        o.status,
        wire::OrderStatus::Expired,
        "5 BTC is far above 20 % of 12 s"
    );
    let slices = o.slices.clone().unwrap();
    let mut tracked = 0;
    let mut measured = 0;
    for s in &slices {
        let v = s.market_volume.expect("the sim's tape is followed");
        if v.is_zero() || s.skipped.is_some() {
            continue;
        }
        measured += 1;
        let rate = s.filled_quantity / v;
        if (rate - d("0.2")).abs() <= d("0.04") {
            tracked += 1;
        }
    }
    assert!(
        measured >= 6,
        "the sim printed in {measured} of 12 intervals"
    );
    assert!(
        tracked * 10 >= measured * 8,
        "{tracked} of {measured} intervals within ±20 %: {slices:?}"
    );
    let a = &o.analytics;
    let rate = a.participation_rate.unwrap();
    assert!((rate - d("0.2")).abs() <= d("0.04"), "{rate}");
    assert!(a.market_vwap.is_some());
    let is = a.implementation_shortfall.unwrap();
    assert_eq!(
        is.total,
        is.delay_cost
            + is.spread_cost
            + is.impact_cost
            + is.timing_cost
            + is.opportunity_cost
            + is.fees
    );
    assert!(
        is.opportunity_cost != Decimal::ZERO,
        "most of it is unfilled"
    );
}

#[tokio::test]
async fn a_vwap_order_runs_its_profile_and_the_preview_shows_it() {
    let app = spawn_app().await.unwrap();
    let c = client(&app).await;
    // A day of hourly slices: the sim's intraday profile (quiet Asian morning, busy US
    // open) shows in the shares.
    let mut day = order(
        Strategy::Vwap,
        "v-day",
        "sim",
        "BTC-USDT",
        "buy",
        "2.4",
        86_400,
        3_600,
    )
    .unwrap();
    day.token_id = None;
    let p = c.preview(&day).await.unwrap();
    assert_eq!(p.strategy, Strategy::Vwap);
    let shares = p.volume_profile.clone().unwrap();
    assert_eq!(shares.len(), 24);
    assert_eq!(shares.iter().copied().sum::<Decimal>(), Decimal::ONE);
    let (lo, hi) = (
        shares.iter().min().copied().unwrap(),
        shares.iter().max().copied().unwrap(),
    );
    assert!(hi > lo * d("1.5"), "a real intraday profile: {shares:?}");
    assert_eq!(p.schedule.len(), 24);
    let mut cum = Decimal::ZERO;
    let mut before = Decimal::ZERO;
    for (s, share) in p.schedule.iter().zip(&shares) {
        cum += *share;
        let target = if s.index == 23 {
            d("2.4")
        } else {
            (d("2.4") * cum / d("0.00001")).floor() * d("0.00001")
        };
        assert_eq!(s.target_quantity, target - before, "slice {}", s.index);
        before = target;
    }
    let methods: Vec<_> = p.estimates.iter().map(|e| e.method).collect();
    assert_eq!(
        methods,
        vec![
            wire::EstimateMethod::BookWalk,
            wire::EstimateMethod::SquareRootLaw
        ]
    );
    assert!(p.estimates[0].cost_bps.is_some(), "{:?}", p.estimates);
    assert!(p.estimates[1].sigma_daily.is_some(), "{:?}", p.estimates);
    assert_eq!(p.totals.quantity, d("2.4"));
    assert!(c.order("v-day").await.is_err(), "a preview stores nothing");
    // A short one runs to the end and keeps its profile.
    let short = order(
        Strategy::Vwap,
        "v-1",
        "sim",
        "BTC-USDT",
        "sell",
        "0.04",
        4,
        1,
    )
    .unwrap();
    let o = c.submit_order(&short).await.unwrap();
    assert_eq!(o.profile_days, Some(7));
    let profile = o.volume_profile.clone().unwrap();
    assert_eq!(profile.len(), 4);
    let o = wait_final(&c, "v-1").await;
    assert_eq!(o.status, wire::OrderStatus::Filled);
    assert_eq!(o.volume_profile, Some(profile));
    // A repeat answers the same order without asking the venue again.
    let again = c.submit_order(&short).await.unwrap();
    assert_eq!(again.token_id, "v-1");
    assert_eq!(again.status, wire::OrderStatus::Filled);
}

#[tokio::test]
async fn jitter_and_latency_shape_a_twap() {
    let app = spawn_app().await.unwrap();
    let c = client(&app).await;
    let mut req = order(
        Strategy::Twap,
        "j-1",
        "sim",
        "BTC-USDT",
        "buy",
        "0.05",
        5,
        1,
    )
    .unwrap();
    req.jitter = Some(wire::Jitter {
        seed: 11,
        time_pct: 50,
        size_pct: 50,
    });
    req.latency_ms = Some(150);
    let mut preview = req.clone();
    preview.token_id = None;
    let p = c.preview(&preview).await.unwrap();
    c.submit_order(&req).await.unwrap();
    let o = wait_final(&c, "j-1").await;
    assert_eq!(o.latency_ms, 150);
    assert_eq!(o.jitter.map(|j| j.seed), Some(11));
    let slices = o.slices.unwrap();
    let targets: Vec<Decimal> = slices.iter().map(|s| s.target_quantity).collect();
    assert!(
        targets.iter().any(|t| *t != d("0.01")),
        "sizes jittered: {targets:?}"
    );
    assert_eq!(
        slices.iter().map(|s| s.filled_quantity).sum::<Decimal>(),
        d("0.05")
    );
    for s in &slices {
        let late = (s.executed_at - s.scheduled_at).num_milliseconds();
        assert!(
            late >= 150,
            "slice {} ran {late} ms after its decision",
            s.index
        );
    }
    // The preview showed the same sizes (the same code, the same seed).
    let previewed: Vec<Decimal> = p.schedule.iter().map(|s| s.target_quantity).collect();
    assert_eq!(previewed, targets);
}

#[tokio::test]
async fn bad_strategy_input_is_refused_precisely_and_stores_nothing() {
    let app = spawn_app().await.unwrap();
    let c = client(&app).await;
    let token = app.login_demo().await.unwrap();
    let post = |body: serde_json::Value| {
        app.http
            .post(app.url("/orders"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let base = serde_json::json!({"token_id": "bad-1", "exchange": "sim", "symbol": "BTC-USDT",
        "side": "buy", "quantity": "1", "duration_secs": 60, "interval_secs": 10});
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, code) in [
        (
            serde_json::json!({"strategy": "iceberg"}),
            "unknown_strategy",
        ),
        (
            serde_json::json!({"strategy": "pov"}),
            "invalid_participation",
        ),
        (
            serde_json::json!({"strategy": "pov", "participation": "0.6"}),
            "invalid_participation",
        ),
        (
            serde_json::json!({"strategy": "pov", "participation": "0"}),
            "invalid_participation",
        ),
        (
            serde_json::json!({"strategy": "twap", "jitter": {"seed": 1, "time_pct": 60}}),
            "invalid_jitter",
        ),
        (
            serde_json::json!({"strategy": "twap", "jitter": {"seed": 1, "size_pct": 51}}),
            "invalid_jitter",
        ),
        (
            serde_json::json!({"strategy": "twap", "participation": "0.1"}),
            "invalid_strategy_parameter",
        ),
        (
            serde_json::json!({"strategy": "vwap", "jitter": {"seed": 1}}),
            "invalid_strategy_parameter",
        ),
        (
            serde_json::json!({"strategy": "vwap", "profile_days": 0}),
            "invalid_profile_days",
        ),
        (serde_json::json!({"latency_ms": 5001}), "invalid_latency"),
        (serde_json::json!({"latency_ms": 10000}), "invalid_latency"),
        (
            serde_json::json!({"strategy": "pov", "participation": "0.1", "max_slice_qty": "0.000001"}),
            "invalid_max_slice_qty",
        ),
        (serde_json::json!({"colour": "red"}), "invalid_body"),
    ] {
        let r = post(with(extra.clone())).await.unwrap();
        assert_eq!(r.status(), 400, "{extra}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["code"], code, "{extra}: {b}");
    }
    let r = post(with(serde_json::json!({"token_id": null})))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(c.order("bad-1").await.is_err(), "nothing stored");
    assert!(c.orders(&Default::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_best_order_walks_every_live_venue_by_net_price() {
    use testkit::binance::MockBinance;
    let mock = MockBinance::start(&["BTCUSDT"]).await.unwrap();
    let app = e2e::spawn_app_with_env(&[
        ("PAPERTWAP_EXCHANGES__BINANCE__WS_URL", &mock.ws_url),
        ("PAPERTWAP_EXCHANGES__BINANCE__REST_URL", &mock.rest_url),
        ("PAPERTWAP_EXCHANGES__BINANCE__SYMBOLS", "BTC-USDT"),
        ("PAPERTWAP_EXCHANGES__KRAKEN__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__BYBIT__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__OKX__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__COINBASE__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED", "false"),
    ])
    .await
    .unwrap();
    let c = client(&app).await;
    // The Binance mock's book moves to a market far below the sim's: its 0.3 at 60 000 is
    // the cheapest liquidity anywhere, net of either venue's 10 bps.
    let clear: Vec<(String, String)> = (1..=50)
        .map(|i| {
            (
                format!("{}", d("67000") - d("0.01") * Decimal::from(i)),
                "0".to_owned(),
            )
        })
        .collect();
    let mut bids: Vec<(&str, &str)> = clear
        .iter()
        .map(|(p, q)| (p.as_str(), q.as_str()))
        .collect();
    bids.push(("59999.00", "1"));
    mock.update("BTCUSDT", &bids, &[("60000.00", "0.3")], 1);
    testkit::eventually_async(
        "the binance book live at 60 000",
        Duration::from_secs(20),
        || async {
            mock.random_update("BTCUSDT");
            c.order_book("binance", "BTC-USDT", 1)
                .await
                .is_ok_and(|b| b.asks.first().map(|l| l.0) == Some(d("60000")))
        },
    )
    .await;
    c.order_book("sim", "BTC-USDT", 1).await.unwrap();
    let req = order(
        Strategy::Twap,
        "best-1",
        "best",
        "BTC-USDT",
        "buy",
        "0.5",
        1,
        1,
    )
    .unwrap();
    let p = {
        let mut q = req.clone();
        q.token_id = None;
        c.preview(&q).await.unwrap()
    };
    assert_eq!(p.exchange, "best");
    assert!(
        p.totals.expected_vwap.unwrap() < d("67000"),
        "the preview walks both venues"
    );
    let o = c.submit_order(&req).await.unwrap();
    assert_eq!(o.exchange, "best");
    let venues = o.venues.clone().unwrap();
    assert!(venues.contains(&"sim".to_owned()) && venues.contains(&"binance".to_owned()));
    let o = wait_final(&c, "best-1").await;
    assert_eq!(o.status, wire::OrderStatus::Filled);
    let s = &o.slices.as_ref().unwrap()[0];
    let fv = s.fill_venues.clone().unwrap();
    assert_eq!(fv.len(), s.fills.len());
    assert_eq!(
        (fv[0].as_str(), s.fills[0]),
        ("binance", (d("60000"), d("0.3")))
    );
    assert!(fv[1..].iter().all(|v| v == "sim" || v == "binance"));
    let by = o.analytics.by_venue.clone().unwrap();
    let total: Decimal = by.values().map(|v| v.filled_quantity).sum();
    assert_eq!(total, d("0.5"));
    assert_eq!(by.values().map(|v| v.fees).sum::<Decimal>(), o.fees);
    // Listed under `best`, never under one of its venues.
    let q = |e: &str| wire::OrdersQuery {
        exchange: Some(e.to_owned()),
        ..Default::default()
    };
    let best: Vec<_> = c.orders(&q("best")).await.unwrap();
    assert_eq!(
        best.iter().map(|o| o.token_id.as_str()).collect::<Vec<_>>(),
        ["best-1"]
    );
    assert!(c.orders(&q("sim")).await.unwrap().is_empty());
    // A symbol no live venue lists is refused, and nothing is stored.
    let nowhere = order(
        Strategy::Twap,
        "best-2",
        "best",
        "DOGE-EUR",
        "buy",
        "1",
        60,
        10,
    )
    .unwrap();
    let e = c.submit_order(&nowhere).await.unwrap_err();
    assert_eq!(e.code(), Some("no_live_venue"), "{e}");
    assert!(c.order("best-2").await.is_err());
}
