use std::sync::Arc;
use std::time::Duration;

use binance::{BinanceConfig, BinanceExchange};
use market::{BookSnapshot, BookWatch, ConnState, Exchange, Hub, HubConfig};
use model::{BookState, ExchangeId, Interval};
use rust_decimal::Decimal;
use testkit::binance::MockBinance;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

struct Rig {
    mock: MockBinance,
    hub: Hub,
    ex: Arc<BinanceExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(symbols: &[&str], tweak: impl FnOnce(&mut BinanceConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockBinance::start(symbols).await.unwrap();
    let mut cfg = BinanceConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        ..BinanceConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(BinanceExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Binance, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
}

/// Feed the mock until the book is live (a diff-depth stream must flow for the first
/// buffered event to trigger the snapshot), for at most 15 s.
async fn pump_until_live(r: &Rig, w: &BookWatch, symbol: &str) {
    testkit::eventually("the book live", Duration::from_secs(15), || {
        r.mock.random_update(symbol);
        w.current().health.state == BookState::Live
    })
    .await;
}

async fn until(
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

/// Wait until the served book has caught up with the venue and compare the top `n`.
async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, symbol: &str, n: usize) {
    let last = r.mock.last_id(symbol);
    let s = until(w, 10, |s| {
        s.book.seq() == Some(last) && s.health.state == BookState::Live
    })
    .await;
    let (vb, va) = r.mock.top(symbol, n);
    let top = s.book.top(n);
    let norm = |l: &[model::Level]| -> Vec<(Decimal, Decimal)> {
        l.iter()
            .map(|l| (l.price.get().normalize(), l.qty.get().normalize()))
            .collect()
    };
    assert_eq!(norm(top.bids()), vb, "bids differ from the venue");
    assert_eq!(norm(top.asks()), va, "asks differ from the venue");
}

#[tokio::test]
async fn long_contiguous_replay_is_exact_with_zero_false_resyncs() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTC-USDT").unwrap();
    // The stream must flow for the first buffered event to trigger the snapshot.
    pump_until_live(&r, &w, "BTCUSDT").await;
    let n: usize = std::env::var("PAPERTWAP_REPLAY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for i in 0..n {
        r.mock.random_update("BTCUSDT");
        if i % 2_000 == 0 {
            // Let the adapter keep up rather than queue everything in the socket.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
    let h = w.current().health.clone();
    assert_eq!(h.resyncs, 0, "false resyncs over {n} contiguous events");
    assert_eq!(h.checksum_failures, 0);
    assert!(!h.crossed);
    assert_eq!(r.mock.snapshot_requests(), 1);
}

#[tokio::test]
async fn gap_is_detected_on_the_first_bad_event_and_only_that_symbol_resyncs() {
    let r = rig(&["BTCUSDT", "ETHUSDT"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Binance, "ETHUSDT").unwrap();
    for _ in 0..200 {
        r.mock.random_update("BTCUSDT");
        r.mock.random_update("ETHUSDT");
        tokio::time::sleep(Duration::from_millis(5)).await;
        if btc.current().health.state == BookState::Live
            && eth.current().health.state == BookState::Live
        {
            break;
        }
    }
    assert_equal_to_venue(&r, &mut btc, "BTCUSDT", 10).await;
    assert_equal_to_venue(&r, &mut eth, "ETHUSDT", 10).await;

    let mut recovery = Vec::new();
    for round in 1..=5u64 {
        let before = r.mock.last_id("BTCUSDT");
        r.mock.drop_next(1);
        r.mock.random_update("BTCUSDT"); // lost
        let t0 = Instant::now();
        r.mock.random_update("BTCUSDT"); // the first event after the hole
        let s = until(&mut btc, 5, |s| s.health.state == BookState::Resyncing).await;
        assert_eq!(
            s.book.seq(),
            Some(before),
            "nothing after the hole was applied"
        );
        // Keep the stream flowing so the resync can buffer and splice.
        let s = loop {
            r.mock.random_update("BTCUSDT");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let cur = btc.current();
            if cur.health.state == BookState::Live {
                break cur;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "did not recover");
        };
        recovery.push(t0.elapsed());
        assert_eq!(s.health.resyncs, round);
        assert_equal_to_venue(&r, &mut btc, "BTCUSDT", 10).await;
    }
    recovery.sort();
    let worst = *recovery.last().unwrap();
    assert!(
        worst < Duration::from_secs(3),
        "recovery times {recovery:?}"
    );
    let e = eth.current().health.clone();
    assert_eq!(e.resyncs, 0, "the other symbol was not resynced");
    assert_eq!(e.state, BookState::Live);
}

#[tokio::test]
async fn lagging_snapshot_is_refetched_keeping_the_buffer() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    for _ in 0..10 {
        r.mock.random_update("BTCUSDT");
    }
    r.mock.set_snapshot_lag(5);
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    assert!(
        r.mock.snapshot_requests() >= 2,
        "the stale snapshot was refetched"
    );
    r.mock.set_snapshot_lag(0);
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
}

#[tokio::test]
async fn rate_limited_snapshots_wait_for_retry_after() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    r.mock.fail_snapshots(429, 2, 1);
    r.mock.fail_snapshots(418, 1, 1);
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    let times = r.mock.snapshot_times();
    assert!(times.len() >= 3);
    let gap1 = times[1] - times[0];
    let gap2 = times[2] - times[1];
    assert!(
        gap1 >= Duration::from_millis(1_900),
        "429 Retry-After 2 s honoured: {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(900),
        "418 Retry-After 1 s honoured: {gap2:?}"
    );
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
}

async fn planned_reconnect_has_no_visible_gap(trigger_shutdown_event: bool) {
    let r = rig(&["BTCUSDT"], |c, _| {
        if !trigger_shutdown_event {
            c.max_connection_age = Duration::from_secs(2);
        }
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    // Record every state readers see while the venue keeps trading.
    let mut w2 = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let seen = tokio::spawn(async move {
        let mut states = Vec::new();
        loop {
            tokio::select! {
                _ = stop2.cancelled() => break,
                s = w2.changed() => match s {
                    Ok(s) => states.push(s.health.state),
                    Err(_) => break,
                },
            }
        }
        states
    });
    if trigger_shutdown_event {
        r.mock.server_shutdown();
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        r.mock.random_update("BTCUSDT");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if trigger_shutdown_event {
        assert_eq!(r.mock.connections_total(), 2, "one replacement connection");
    } else {
        // Each replacement ages out in turn; at least one happened.
        assert!(r.mock.connections_total() >= 2);
    }
    // The old connection closes once its replacement is live; with a 2 s age the next
    // replacement may be overlapping at this very moment, so look within a bounded window.
    let t1 = Instant::now();
    while r.mock.clients() != 1 && t1.elapsed() < Duration::from_secs(3) {
        r.mock.random_update("BTCUSDT");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(r.mock.clients(), 1, "the old connection was closed");
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
    let h = w.current().health.clone();
    assert_eq!(
        h.resyncs, 0,
        "no resync: continuity was proven by update ids"
    );
    stop.cancel();
    let states = seen.await.unwrap();
    assert!(!states.is_empty());
    assert!(
        states.iter().all(|s| *s == BookState::Live),
        "readers saw {states:?}"
    );
}

#[tokio::test]
async fn server_shutdown_reconnects_make_before_break() {
    planned_reconnect_has_no_visible_gap(true).await;
}

#[tokio::test]
async fn aged_connection_is_replaced_make_before_break() {
    planned_reconnect_has_no_visible_gap(false).await;
}

#[tokio::test]
async fn orphan_deletes_and_garbage_do_not_resync() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    r.mock
        .update("BTCUSDT", &[("1.23", "0")], &[("99999", "0")], 1);
    r.mock.send_raw("this is not json");
    r.mock
        .send_raw(r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","b":"x"}}"#);
    r.mock
        .send_raw(r#"{"stream":"btcusdt@trade","data":{"e":"trade","p":"1"}}"#);
    for _ in 0..20 {
        r.mock.random_update("BTCUSDT");
    }
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
    let h = w.current().health.clone();
    assert!(h.orphan_deletes >= 2, "{h:?}");
    assert_eq!(h.resyncs, 0);
}

#[tokio::test]
async fn silent_venue_goes_stale_then_reconnects() {
    let r = rig(&["BTCUSDT"], |c, h| {
        c.dead_after = Duration::from_millis(2_500);
        h.stale_after = Duration::from_millis(800);
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    r.mock.set_silent(true);
    let t0 = Instant::now();
    until(&mut w, 5, |s| s.health.state == BookState::Stale).await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stale within stale_after + 1 s check"
    );
    until(&mut w, 10, |s| s.health.state == BookState::Down).await;
    r.mock.set_silent(false);
    pump_until_live(&r, &w, "BTCUSDT").await;
    assert!(r.mock.connections_total() >= 2);
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
    assert_eq!(w.current().health.resyncs, 1);
}

#[tokio::test]
async fn geo_blocked_websocket_fails_once_and_does_not_loop() {
    let mock = MockBinance::start(&["BTCUSDT"]).await.unwrap();
    mock.refuse_ws(Some(451));
    let ex = Arc::new(
        BinanceExchange::new(BinanceConfig {
            ws_url: mock.ws_url.clone(),
            rest_url: mock.rest_url.clone(),
            ..BinanceConfig::default()
        })
        .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        HubConfig::default(),
        vec![ex as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    let t0 = Instant::now();
    loop {
        let st = hub.exchanges();
        if st[0].connection == Some(ConnState::Failed) {
            assert!(
                st[0].last_error.as_deref().unwrap_or("").contains("451"),
                "{st:?}"
            );
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{st:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mock.refused_total(),
        1,
        "no reconnect loop on a deterministic refusal"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn lazy_subscriptions_ride_the_live_connection_within_the_control_rate() {
    let symbols: Vec<String> = (0..30).map(|i| format!("C{i}USDT")).collect();
    let mut names: Vec<&str> = symbols.iter().map(String::as_str).collect();
    names.push("BTCUSDT");
    let r = rig(&names, |_, h| h.release_after = Duration::from_millis(500)).await;
    let w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    let mut watches = Vec::new();
    for s in &symbols {
        watches.push(r.hub.watch(ExchangeId::Binance, s).unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = Instant::now();
    loop {
        let subs = r.mock.subscriptions();
        // Each book rides two streams: its diff depth and its trades.
        if subs.len() == 1 && subs[0].len() == 62 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{subs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(r.mock.connections_total(), 1, "no reconnect to add streams");
    drop(watches);
    let t0 = Instant::now();
    loop {
        let subs = r.mock.subscriptions();
        if subs[0].len() == 2 {
            assert!(subs[0].contains("btcusdt@depth@100ms"));
            assert!(subs[0].contains("btcusdt@trade"));
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "not released: {subs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At most 5 control messages in any second.
    let sent = r.mock.received();
    for (i, (_, t, _)) in sent.iter().enumerate() {
        let in_window = sent[i..]
            .iter()
            .take_while(|(_, u, _)| *u - *t < Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 5,
            "{in_window} control messages within a second"
        );
    }
    drop(w);
    assert!(r.ex.weight_used() <= 2_400);
}

#[tokio::test]
async fn pairs_and_klines_over_rest() {
    let r = rig(&["BTCUSDT", "ETHBTC"], |_, _| {}).await;
    let idx = r.hub.pairs(ExchangeId::Binance).unwrap();
    let p = idx.resolve("btcusdt").unwrap();
    assert_eq!(p.symbol.as_str(), "BTC-USDT");
    assert_eq!(p.price_tick.to_string(), "0.01");
    assert_eq!(idx.resolve("ETH-BTC").unwrap().exchange_symbol, "ETHBTC");
    let (_, k) = r
        .hub
        .klines(ExchangeId::Binance, "BTC-USDT", Interval::M1, None, None, 5)
        .await
        .unwrap();
    assert_eq!(k.len(), 5);
    assert!(k.windows(2).all(|w| w[0].close_time == w[1].open_time));
}

/// DESIGN §13: with the default pong deadline (`market.dead_after_ms` = 10 s), a connection
/// that shows no frame and answers no ping is replaced within 15 s.
#[tokio::test]
async fn a_silent_connection_is_replaced_within_15_s() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    let before = r.mock.connections_total();
    r.mock.set_silent(true);
    testkit::eventually("a replacement connection", Duration::from_secs(15), || {
        r.mock.connections_total() > before
    })
    .await;
    r.mock.set_silent(false);
    pump_until_live(&r, &w, "BTCUSDT").await;
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 10).await;
}

#[tokio::test]
async fn trades_reach_the_tape_with_the_aggressor_side() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let w = r.hub.watch(ExchangeId::Binance, "BTCUSDT").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Binance, "BTCUSDT").unwrap();
    pump_until_live(&r, &w, "BTCUSDT").await;
    testkit::eventually(
        "the trade stream subscribed",
        Duration::from_secs(10),
        || {
            r.mock
                .subscriptions()
                .iter()
                .any(|s| s.contains("btcusdt@trade"))
        },
    )
    .await;
    r.mock.trade("BTCUSDT", "67000.01", "0.50000", false);
    r.mock.trade("BTCUSDT", "66999.99", "0.25000", true);
    testkit::eventually("two trades on the tape", Duration::from_secs(10), || {
        trades.since(0, 10).trades.len() == 2
    })
    .await;
    let got = trades.since(0, 10).trades;
    assert_eq!(got[0].trade_id, model::TradeId::Num(1));
    assert_eq!(got[0].taker_side, model::Side::Buy);
    assert_eq!(got[0].price.get(), Decimal::new(6_700_001, 2));
    assert_eq!(
        got[1].taker_side,
        model::Side::Sell,
        "the buyer was the maker"
    );
    assert!(got[1].local_ts >= got[0].local_ts);
    // Through a reconnect, the tape keeps numbering and gains only new trades.
    r.mock.disconnect_all();
    pump_until_live(&r, &w, "BTCUSDT").await;
    testkit::eventually("the trade stream back", Duration::from_secs(10), || {
        let subs = r.mock.subscriptions();
        r.mock.connections_total() >= 2 && subs.len() == 1 && subs[0].contains("btcusdt@trade")
    })
    .await;
    r.mock.trade("BTCUSDT", "67000.02", "1", false);
    testkit::eventually("the third trade", Duration::from_secs(10), || {
        trades.since(2, 10).trades.len() == 1
    })
    .await;
    let (_, window) = r
        .hub
        .trades(ExchangeId::Binance, "btcusdt", None, None, 2)
        .unwrap();
    assert_eq!(
        window
            .iter()
            .map(|t| t.trade_id.to_string())
            .collect::<Vec<_>>(),
        ["2", "3"]
    );
}
