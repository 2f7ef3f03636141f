use std::sync::Arc;
use std::time::Duration;

use bybit::{BybitConfig, BybitExchange};
use market::{BookWatch, Exchange, Hub, HubConfig, KlineQuery, MarketError};
use model::{BookState, ExchangeId, Interval, Side};
use rust_decimal::Decimal;
use testkit::bybit::MockBybit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use testkit::watch::{assert_top_equals, until};

struct Rig {
    mock: MockBybit,
    hub: Hub,
    ex: Arc<BybitExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(symbols: &[&str], tweak: impl FnOnce(&mut BybitConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockBybit::start(symbols).await.unwrap();
    let mut cfg = BybitConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        resubscribe_base: Duration::from_millis(50),
        ..BybitConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(BybitExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Bybit, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
}

/// Wait until the served book equals the venue's top `n` and is live.
async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, symbol: &str, n: usize, secs: u64) {
    assert_top_equals(w, r.mock.top(symbol, n), n, secs).await;
}

fn book_subscribes(r: &Rig, topic: &str) -> usize {
    r.mock
        .received()
        .iter()
        .filter_map(|(_, _, t)| serde_json::from_str::<serde_json::Value>(t).ok())
        .filter(|v| v["op"] == "subscribe")
        .filter(|v| {
            v["args"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == topic))
        })
        .count()
}

#[tokio::test]
async fn the_book_follows_the_venue_and_is_cut_at_the_depth() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTC-USDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    for _ in 0..300 {
        r.mock.random_update("BTCUSDT");
    }
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 10).await;
    let (nb, na) = w.current().book.len();
    assert!(nb <= 200 && na <= 200, "truncated to the depth: {nb}/{na}");
    assert_eq!(w.current().pair.exchange_symbol, "BTCUSDT");
}

#[tokio::test]
async fn a_gap_resubscribes_that_symbol_only() {
    let r = rig(&["BTCUSDT", "ETHUSDT"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Bybit, "ETHUSDT").unwrap();
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    until(&mut eth, 10, |s| s.health.state == BookState::Live).await;
    r.mock.drop_next(1);
    r.mock.random_update("BTCUSDT");
    r.mock.random_update("BTCUSDT");
    until(&mut btc, 10, |s| s.health.resyncs >= 1).await;
    for _ in 0..50 {
        r.mock.random_update("BTCUSDT");
        r.mock.random_update("ETHUSDT");
    }
    assert_equal_to_venue(&r, &mut btc, "BTCUSDT", 200, 10).await;
    assert_equal_to_venue(&r, &mut eth, "ETHUSDT", 200, 10).await;
    assert_eq!(book_subscribes(&r, "orderbook.200.BTCUSDT"), 2);
    assert_eq!(book_subscribes(&r, "orderbook.200.ETHUSDT"), 1, "untouched");
    assert_eq!(r.mock.connections_total(), 1, "no reconnect for a gap");
}

#[tokio::test]
async fn a_restart_snapshot_replaces_the_book_without_a_resubscribe() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.update("BTCUSDT", &[("66999.99", "0")], &[]);
    r.mock.restart("BTCUSDT");
    r.mock.random_update("BTCUSDT");
    until(&mut w, 10, |s| s.book.seq() == Some(2)).await;
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 10).await;
    assert_eq!(book_subscribes(&r, "orderbook.200.BTCUSDT"), 1);
}

#[tokio::test]
async fn malformed_frames_are_ignored_and_silence_reconnects() {
    let r = rig(&["BTCUSDT"], |c, _| {
        c.dead_after = Duration::from_millis(1_500)
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.send_raw(r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["oops","1"]],"a":[],"u":5}}"#);
    r.mock.send_raw("not json");
    r.mock.random_update("BTCUSDT");
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 10).await;
    assert_eq!(r.mock.connections_total(), 1);
    // Silence: no frame, no pong; the connection is replaced within the pong deadline.
    r.mock.set_silent(true);
    let t0 = Instant::now();
    testkit::eventually("a new connection", Duration::from_secs(15), || {
        r.mock.connections_total() >= 2
    })
    .await;
    r.mock.set_silent(false);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    r.mock.random_update("BTCUSDT");
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 10).await;
}

#[tokio::test]
async fn a_refused_topic_marks_the_book_down_without_a_retry_loop() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    r.mock.refuse_topic("orderbook.200.BTCUSDT");
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    let s = until(&mut w, 10, |s| s.health.state == BookState::Down).await;
    assert!(
        s.health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("refused"),
        "{:?}",
        s.health
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(book_subscribes(&r, "orderbook.200.BTCUSDT"), 1);
}

#[tokio::test]
async fn trades_reach_the_tape_with_the_takers_side() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Bybit, "BTCUSDT").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    testkit::eventually("the trade topic", Duration::from_secs(10), || {
        r.mock
            .subscriptions()
            .iter()
            .any(|t| t.contains("publicTrade.BTCUSDT"))
    })
    .await;
    let id = r.mock.trade("BTCUSDT", "Buy", "67000.01", "0.005");
    r.mock.trade("BTCUSDT", "Sell", "66999.99", "0.5");
    testkit::eventually("two trades", Duration::from_secs(10), || {
        trades.since(0, 10).trades.len() == 2
    })
    .await;
    let got = trades.since(0, 10).trades;
    assert_eq!(got[0].trade_id.to_string(), id.to_string());
    assert_eq!(got[0].taker_side, Side::Buy);
    assert_eq!(got[1].taker_side, Side::Sell);
    assert_eq!(got[1].qty.get(), Decimal::new(5, 1));
}

#[tokio::test]
async fn pairs_klines_and_rest_rate_limits() {
    let r = rig(&["BTCUSDT", "ETHUSDT"], |_, _| {}).await;
    let pairs = r.hub.pairs(ExchangeId::Bybit).unwrap();
    let btc = r.hub.resolve(ExchangeId::Bybit, "btc/usdt").unwrap();
    assert_eq!(btc.symbol.as_str(), "BTC-USDT");
    assert_eq!(btc.min_notional, Some(Decimal::new(5, 0)));
    assert_eq!(pairs.len(), 2);
    let q = |interval, limit| KlineQuery {
        pair: btc.clone(),
        interval,
        start: None,
        end: None,
        limit,
    };
    let k = r.ex.klines(q(Interval::M1, 5)).await.unwrap();
    assert_eq!(k.len(), 5);
    assert!(k.windows(2).all(|w| w[0].open_time < w[1].open_time));
    assert!(k[..4].iter().all(|c| c.closed));
    let d3 = r.ex.klines(q(Interval::D3, 4)).await.unwrap();
    assert_eq!(d3.len(), 4, "3-day candles built from days");
    assert!(
        d3.windows(2)
            .all(|w| { w[1].open_time.as_millis() - w[0].open_time.as_millis() == 3 * 86_400_000 })
    );
    r.mock.fail_rest(429, 7, 1);
    match r.ex.klines(q(Interval::M1, 5)).await {
        Err(MarketError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(7))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.ex.klines(q(Interval::M1, 5)).await.unwrap().len(), 5);
}

/// 100 000 book events with a fault every few thousand (a lost delta, a malformed frame, a
/// dropped connection, a venue restart) and a trade printed at every catch-up: the served
/// book ends exactly on the venue's, and the tape holds every trade once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_with_faults_end_on_the_venues_book() {
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
    let tape = r.hub.watch_trades(ExchangeId::Bybit, "BTCUSDT").unwrap();
    let mut printed = Vec::new();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let started = Instant::now();
    for i in 0..100_000u32 {
        match i % 20_000 {
            5_000 => r.mock.drop_next(1),
            10_000 => r.mock.send_raw(
                r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT"}}"#,
            ),
            15_000 => r.mock.restart("BTCUSDT"),
            19_999 if i < 80_000 => {
                r.mock.disconnect_all();
                until(&mut w, 15, |s| s.health.state == BookState::Live).await;
            }
            _ => {}
        }
        r.mock.random_update("BTCUSDT");
        if i % 1_000 == 999 {
            // Paced: the served book catches up with the venue every 1 000 events (bounded
            // queues, and a check that nothing drifted in between).
            let u = r.mock.update_id("BTCUSDT");
            until(&mut w, 30, |s| {
                s.health.state == BookState::Live && s.book.seq() == u
            })
            .await;
            // A trade once the trade topic rides the current connection.
            testkit::eventually("the trade topic", Duration::from_secs(10), || {
                let subs = r.mock.subscriptions();
                subs.len() == 1 && subs[0].contains("publicTrade.BTCUSDT")
            })
            .await;
            let side = if i % 2_000 == 999 { "Buy" } else { "Sell" };
            printed.push(
                r.mock
                    .trade("BTCUSDT", side, "67000.01", "0.001")
                    .to_string(),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 60).await;
    assert!(w.current().health.resyncs >= 1);
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
    let r = rig(&["BTCUSDT"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bybit, "BTCUSDT").unwrap();
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
    r.mock.random_update("BTCUSDT");
    assert_equal_to_venue(&r, &mut w, "BTCUSDT", 200, 10).await;
}
