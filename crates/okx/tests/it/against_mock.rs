use std::sync::Arc;
use std::time::Duration;

use market::{BookWatch, Exchange, Hub, HubConfig, KlineQuery, MarketError};
use model::{BookState, ExchangeId, Interval, Side};
use okx::{OkxConfig, OkxExchange};
use testkit::okx::MockOkx;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use testkit::watch::{assert_top_equals, until};

struct Rig {
    mock: MockOkx,
    hub: Hub,
    ex: Arc<OkxExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(insts: &[&str], tweak: impl FnOnce(&mut OkxConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockOkx::start(insts).await.unwrap();
    let mut cfg = OkxConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        resubscribe_base: Duration::from_millis(50),
        connections_per_second: 20,
        rest_per_second: 50,
        ..OkxConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(OkxExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Okx, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
}

async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, inst: &str, n: usize, secs: u64) {
    assert_top_equals(w, r.mock.top(inst, n), n, secs).await;
}

fn book_subscribes(r: &Rig, inst: &str) -> usize {
    r.mock
        .received()
        .iter()
        .filter_map(|(_, _, t)| serde_json::from_str::<serde_json::Value>(t).ok())
        .filter(|v| v["op"] == "subscribe")
        .filter(|v| {
            v["args"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["channel"] == "books" && x["instId"] == inst)
            })
        })
        .count()
}

#[tokio::test]
async fn the_book_follows_the_venue_with_checksums_verified() {
    let r = rig(&["BTC-USDT"], |_, _| {}).await;
    r.mock.set_checksums(true);
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    for _ in 0..300 {
        r.mock.random_update("BTC-USDT");
    }
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 10).await;
    assert_eq!(w.current().health.checksum_failures, 0, "no false failure");
    assert_eq!(
        w.current().book.seq(),
        r.mock.seq("BTC-USDT").map(|s| s as u64)
    );
}

#[tokio::test]
async fn a_bad_checksum_or_a_lost_update_resubscribes_that_instrument_only() {
    let r = rig(&["BTC-USDT", "ETH-USDT"], |_, _| {}).await;
    r.mock.set_checksums(true);
    let mut btc = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Okx, "ETH-USDT").unwrap();
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    until(&mut eth, 10, |s| s.health.state == BookState::Live).await;
    r.mock.corrupt_next_checksums(1);
    r.mock.random_update("BTC-USDT");
    until(&mut btc, 10, |s| s.health.resyncs >= 1).await;
    assert!(btc.current().health.checksum_failures >= 1);
    r.mock.drop_next(1);
    r.mock.random_update("BTC-USDT");
    r.mock.random_update("BTC-USDT");
    until(&mut btc, 10, |s| s.health.resyncs >= 2).await;
    for _ in 0..50 {
        r.mock.random_update("BTC-USDT");
        r.mock.random_update("ETH-USDT");
    }
    assert_equal_to_venue(&r, &mut btc, "BTC-USDT", 400, 10).await;
    assert_equal_to_venue(&r, &mut eth, "ETH-USDT", 400, 10).await;
    assert_eq!(book_subscribes(&r, "BTC-USDT"), 3);
    assert_eq!(book_subscribes(&r, "ETH-USDT"), 1, "untouched");
    assert_eq!(r.mock.connections_total(), 1);
}

#[tokio::test]
async fn without_an_inband_snapshot_the_rest_book_is_spliced() {
    let r = rig(&["BTC-USDT"], |_, _| {}).await;
    r.mock.set_no_inband_snapshot(true);
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    // Updates flow while the adapter waits for a snapshot that never comes.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1_500) {
        r.mock.random_update("BTC-USDT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    for _ in 0..100 {
        r.mock.random_update("BTC-USDT");
    }
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 10).await;
}

#[tokio::test]
async fn notice_silence_and_garbage() {
    let r = rig(&["BTC-USDT"], |c, _| {
        c.dead_after = Duration::from_millis(1_500)
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.send_raw("not json");
    r.mock.send_raw(r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["x"]]}]}"#);
    r.mock.random_update("BTC-USDT");
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 10).await;
    assert_eq!(
        r.mock.connections_total(),
        1,
        "garbage is no reason to reconnect"
    );
    // The upgrade notice: reconnect ahead of the close.
    r.mock.notice();
    testkit::eventually(
        "a new connection after the notice",
        Duration::from_secs(10),
        || r.mock.connections_total() >= 2,
    )
    .await;
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    // Silence: replaced within the pong deadline.
    r.mock.set_silent(true);
    testkit::eventually(
        "a new connection after silence",
        Duration::from_secs(15),
        || r.mock.connections_total() >= 3,
    )
    .await;
    r.mock.set_silent(false);
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    r.mock.random_update("BTC-USDT");
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 10).await;
}

#[tokio::test]
async fn a_refused_instrument_is_down_without_a_retry_loop() {
    let r = rig(&["BTC-USDT"], |_, _| {}).await;
    r.mock.refuse("BTC-USDT");
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    let s = until(&mut w, 10, |s| s.health.state == BookState::Down).await;
    assert!(
        s.health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("60018"),
        "{:?}",
        s.health
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(book_subscribes(&r, "BTC-USDT"), 1);
}

#[tokio::test]
async fn trades_pairs_candles_and_rate_limits() {
    let r = rig(&["BTC-USDT", "ETH-USDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Okx, "btc-usdt").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let id = r.mock.trade("BTC-USDT", "sell", "66999.9", "0.25");
    testkit::eventually("the trade", Duration::from_secs(10), || {
        trades.since(0, 10).trades.len() == 1
    })
    .await;
    let t = &trades.since(0, 10).trades[0];
    assert_eq!(
        (t.trade_id.to_string(), t.taker_side),
        (id.to_string(), Side::Sell)
    );
    let pair = r.hub.resolve(ExchangeId::Okx, "BTCUSDT").unwrap();
    assert_eq!(pair.exchange_symbol, "BTC-USDT");
    let q = KlineQuery {
        pair: pair.clone(),
        interval: Interval::M1,
        start: None,
        end: None,
        limit: 5,
    };
    let k = r.ex.klines(q.clone()).await.unwrap();
    assert_eq!(k.len(), 5);
    assert!(k[..4].iter().all(|c| c.closed) && !k[4].closed);
    r.mock.fail_rest(429, 3, 1);
    match r.ex.klines(q.clone()).await {
        Err(MarketError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(3))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.ex.klines(q).await.unwrap().len(), 5);
}

/// 100 000 book events with faults (lost updates, bad checksums, malformed frames, a notice,
/// dropped connections), caught up every 1 000: the book ends exactly on the venue's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_with_faults_end_on_the_venues_book() {
    let r = rig(&["BTC-USDT"], |_, _| {}).await;
    r.mock.set_checksums(true);
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    let tape = r.hub.watch_trades(ExchangeId::Okx, "BTC-USDT").unwrap();
    let mut printed = Vec::new();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let started = Instant::now();
    for i in 0..100_000u32 {
        match i % 20_000 {
            3_000 => r.mock.drop_next(1),
            7_000 => r.mock.corrupt_next_checksums(1),
            11_000 => r.mock.send_raw(
                r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{}]}"#,
            ),
            15_000 if i < 40_000 => r.mock.notice(),
            19_999 if i < 80_000 => r.mock.disconnect_all(),
            _ => {}
        }
        r.mock.random_update("BTC-USDT");
        if i % 1_000 == 999 {
            let seq = r.mock.seq("BTC-USDT").map(|s| s as u64);
            until(&mut w, 30, |s| {
                s.health.state == BookState::Live && s.book.seq() == seq
            })
            .await;
            // A trade once the trades channel rides the current connection.
            testkit::eventually("the trades channel", Duration::from_secs(10), || {
                let subs = r.mock.subscriptions();
                subs.len() == 1 && subs[0].contains(&("trades".to_owned(), "BTC-USDT".to_owned()))
            })
            .await;
            let side = if i % 2_000 == 999 { "buy" } else { "sell" };
            printed.push(
                r.mock
                    .trade("BTC-USDT", side, "67000.1", "0.001")
                    .to_string(),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 60).await;
    assert!(w.current().health.resyncs >= 2);
    testkit::eventually("every trade on the tape", Duration::from_secs(10), || {
        tape.since(0, 1_000).trades.len() >= printed.len()
    })
    .await;
    let ids: Vec<String> = tape
        .since(0, 1_000)
        .trades
        .iter()
        .map(|t| t.trade_id.to_string())
        .collect();
    assert_eq!(ids, printed, "each trade once, in order, across reconnects");
}

#[tokio::test]
async fn a_429_on_the_upgrade_is_waited_out_by_its_retry_after() {
    let r = rig(&["BTC-USDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.refuse_ws(Some(429));
    r.mock.disconnect_all();
    testkit::eventually("down with the 429", Duration::from_secs(10), || {
        let st = r.hub.exchanges();
        st[0].connection == Some(market::ConnState::Down)
            && st[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("rate-limited this server; retry after 1s")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let refused = r.mock.refused_total();
    assert!(
        (1..=4).contains(&refused),
        "Retry-After: 1 s honoured, {refused} attempts"
    );
    r.mock.refuse_ws(None);
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    r.mock.random_update("BTC-USDT");
    assert_equal_to_venue(&r, &mut w, "BTC-USDT", 400, 10).await;
}

#[tokio::test]
async fn subscriptions_wait_while_the_hourly_request_budget_is_spent() {
    // A budget of 4 requests: the subscribe (1), a resync (2 more), a second resync's
    // unsubscribe (the 4th); its subscribe must wait.
    let r = rig(&["BTC-USDT"], |c, _| c.requests_per_hour = 4).await;
    let mut w = r.hub.watch(ExchangeId::Okx, "BTC-USDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.drop_next(1);
    r.mock.random_update("BTC-USDT");
    r.mock.random_update("BTC-USDT");
    until(&mut w, 10, |s| s.health.resyncs >= 1).await;
    r.mock.drop_next(1);
    r.mock.random_update("BTC-USDT");
    r.mock.random_update("BTC-USDT");
    until(&mut w, 10, |s| s.health.state == BookState::Resyncing).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        book_subscribes(&r, "BTC-USDT"),
        2,
        "the third subscribe waits for budget"
    );
    assert_eq!(w.current().health.state, BookState::Resyncing);
}
