use std::sync::Arc;
use std::time::Duration;

use coinbase::{CoinbaseConfig, CoinbaseExchange};
use market::{BookWatch, Exchange, Hub, HubConfig, KlineQuery, MarketError};
use model::{BookState, ExchangeId, Interval, Side};
use testkit::coinbase::MockCoinbase;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use testkit::watch::{assert_top_equals, until};

struct Rig {
    mock: MockCoinbase,
    hub: Hub,
    ex: Arc<CoinbaseExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(products: &[&str], tweak: impl FnOnce(&mut CoinbaseConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockCoinbase::start(products).await.unwrap();
    let mut cfg = CoinbaseConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        resubscribe_base: Duration::from_millis(50),
        ..CoinbaseConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(CoinbaseExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Coinbase, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
}

/// Wait until the served book equals the venue's whole book and is live.
async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, product: &str, secs: u64) {
    let n = 10_000;
    assert_top_equals(w, r.mock.top(product, n), n, secs).await;
}

fn subscribes(r: &Rig, channel: &str, product: &str) -> usize {
    r.mock
        .received()
        .iter()
        .filter_map(|(_, _, t)| serde_json::from_str::<serde_json::Value>(t).ok())
        .filter(|v| v["type"] == "subscribe" && v["channel"] == channel)
        .filter(|v| {
            v["product_ids"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == product))
        })
        .count()
}

#[tokio::test]
async fn the_whole_book_follows_the_venue_and_orphan_deletes_are_ignored() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    for i in 0..300 {
        r.mock.random_update("BTC-USD");
        if i % 50 == 0 {
            // A delete of a price never published: routine on this venue.
            r.mock.update("BTC-USD", &[], &[("99999.99", "0")]);
        }
    }
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 10).await;
    let s = w.current();
    assert_eq!(s.health.resyncs, 0, "orphan deletes are no resync");
    assert!(s.book.orphan_deletes() >= 6);
    assert_eq!(s.pair.exchange_symbol, "BTC-USD");
    let subs = r.mock.subscriptions();
    assert!(subs[0].contains("heartbeats"), "{subs:?}");
}

#[tokio::test]
async fn a_sequence_gap_resubscribes_every_book_of_the_connection() {
    let r = rig(&["BTC-USD", "ETH-USD"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Coinbase, "ETH-USD").unwrap();
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    until(&mut eth, 10, |s| s.health.state == BookState::Live).await;
    r.mock.drop_next(1);
    r.mock.random_update("BTC-USD");
    r.mock.random_update("BTC-USD");
    until(&mut btc, 10, |s| s.health.resyncs >= 1).await;
    until(&mut eth, 10, |s| s.health.resyncs >= 1).await;
    for _ in 0..50 {
        r.mock.random_update("BTC-USD");
        r.mock.random_update("ETH-USD");
    }
    assert_equal_to_venue(&r, &mut btc, "BTC-USD", 10).await;
    assert_equal_to_venue(&r, &mut eth, "ETH-USD", 10).await;
    assert_eq!(subscribes(&r, "level2", "BTC-USD"), 2);
    assert_eq!(
        subscribes(&r, "level2", "ETH-USD"),
        2,
        "the whole connection"
    );
    assert_eq!(r.mock.connections_total(), 1, "no reconnect for a gap");
}

#[tokio::test]
async fn a_malformed_update_is_a_gap_and_silence_reconnects() {
    let r = rig(&["BTC-USD"], |c, _| {
        c.dead_after = Duration::from_millis(1_500)
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    // A numbered frame that cannot be read: the next number shows it was lost.
    r.mock.send_malformed("BTC-USD");
    r.mock.send_raw("not json");
    r.mock.random_update("BTC-USD");
    until(&mut w, 10, |s| s.health.resyncs >= 1).await;
    r.mock.random_update("BTC-USD");
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 10).await;
    assert_eq!(r.mock.connections_total(), 1);
    r.mock.set_silent(true);
    let t0 = Instant::now();
    testkit::eventually("a new connection", Duration::from_secs(15), || {
        r.mock.connections_total() >= 2
    })
    .await;
    r.mock.set_silent(false);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    r.mock.random_update("BTC-USD");
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 10).await;
}

#[tokio::test]
async fn an_unasked_snapshot_replaces_the_book() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.update("BTC-USD", &[("66999.99", "0")], &[]);
    r.mock.resnapshot("BTC-USD");
    r.mock.random_update("BTC-USD");
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 10).await;
    // Replaced in band (the hub counts the replacement), never resubscribed.
    assert_eq!(subscribes(&r, "level2", "BTC-USD"), 1);
    assert_eq!(r.mock.connections_total(), 1);
}

#[tokio::test]
async fn a_refused_product_is_down_without_a_retry_loop() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    r.mock.refuse_product("BTC-USD");
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
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
    assert_eq!(subscribes(&r, "level2", "BTC-USD"), 1);
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_connection_open() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    r.mock.close_quiet_after(Some(Duration::from_millis(1_500)));
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    // No book changes for a while: only heartbeats keep the venue from closing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(r.mock.connections_total(), 1);
    assert!(r.mock.subscriptions()[0].contains("heartbeats"));
    assert_eq!(w.current().health.state, BookState::Live);
}

#[tokio::test]
async fn trades_reach_the_tape_with_the_takers_side_once_across_reconnects() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Coinbase, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let trade_topic = |r: &Rig| {
        r.mock
            .subscriptions()
            .iter()
            .any(|t| t.contains("market_trades:BTC-USD"))
    };
    testkit::eventually("the trades channel", Duration::from_secs(10), || {
        trade_topic(&r)
    })
    .await;
    let id = r.mock.trade("BTC-USD", "SELL", "67000.01", "0.005");
    r.mock.trade("BTC-USD", "BUY", "66999.99", "0.5");
    testkit::eventually("two trades", Duration::from_secs(10), || {
        trades.since(0, 10).trades.len() == 2
    })
    .await;
    let got = trades.since(0, 10).trades;
    assert_eq!(got[0].trade_id.to_string(), id.to_string());
    assert_eq!(got[0].taker_side, Side::Buy, "a SELL maker was lifted");
    assert_eq!(got[1].taker_side, Side::Sell);
    // A reconnect: the venue re-sends its recent trades; the tape keeps each once.
    r.mock.disconnect_all();
    testkit::eventually("resubscribed", Duration::from_secs(15), || {
        r.mock.connections_total() >= 2 && trade_topic(&r)
    })
    .await;
    r.mock.trade("BTC-USD", "BUY", "66999.98", "0.1");
    testkit::eventually("the third trade", Duration::from_secs(10), || {
        trades.since(0, 10).trades.len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(trades.since(0, 10).trades.len(), 3);
}

#[tokio::test]
async fn products_candles_in_pages_and_rest_rate_limits() {
    let r = rig(&["BTC-USD", "ETH-USD"], |_, _| {}).await;
    let pairs = r.hub.pairs(ExchangeId::Coinbase).unwrap();
    assert_eq!(pairs.len(), 2, "USDC aliases are not listed: {pairs:?}");
    let btc = r.hub.resolve(ExchangeId::Coinbase, "btc/usd").unwrap();
    assert_eq!(btc.symbol.as_str(), "BTC-USD");
    let q = |interval, limit| KlineQuery {
        pair: btc.clone(),
        interval,
        start: None,
        end: None,
        limit,
    };
    let k = r.ex.klines(q(Interval::M1, 700)).await.unwrap();
    assert_eq!(k.len(), 700, "three pages of at most 300");
    assert!(
        k.windows(2)
            .all(|w| w[1].open_time.as_millis() - w[0].open_time.as_millis() == 60_000)
    );
    let h4 = r.ex.klines(q(Interval::H4, 5)).await.unwrap();
    assert_eq!(h4.len(), 5, "4 hours built from 2");
    assert!(
        h4.windows(2)
            .all(|w| w[1].open_time.as_millis() - w[0].open_time.as_millis() == 4 * 3_600_000)
    );
    let w1 = r.ex.klines(q(Interval::W1, 3)).await.unwrap();
    assert_eq!(w1.len(), 3, "weeks built from days");
    r.mock.fail_rest(429, 7, 1);
    match r.ex.klines(q(Interval::M1, 5)).await {
        Err(MarketError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(7))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.ex.klines(q(Interval::M1, 5)).await.unwrap().len(), 5);
}

/// 100 000 book events with a fault every few thousand (a lost message, a malformed one, an
/// unasked snapshot, a dropped connection) and a trade printed at every catch-up: the served
/// book ends exactly on the venue's, and the tape holds every trade once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_with_faults_end_on_the_venues_book() {
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
    let tape = r.hub.watch_trades(ExchangeId::Coinbase, "BTC-USD").unwrap();
    let mut printed = Vec::new();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let started = Instant::now();
    for i in 0..100_000u32 {
        match i % 20_000 {
            5_000 => r.mock.drop_next(1),
            10_000 => r.mock.send_malformed("BTC-USD"),
            15_000 => r.mock.resnapshot("BTC-USD"),
            19_999 if i < 80_000 => {
                r.mock.disconnect_all();
                until(&mut w, 15, |s| s.health.state == BookState::Live).await;
            }
            _ => {}
        }
        r.mock.random_update("BTC-USD");
        if i % 1_000 == 999 {
            // Paced: the served book catches up with the venue every 1 000 events.
            assert_equal_to_venue(&r, &mut w, "BTC-USD", 30).await;
            testkit::eventually("the trades channel", Duration::from_secs(10), || {
                let subs = r.mock.subscriptions();
                subs.len() == 1 && subs[0].contains("market_trades:BTC-USD")
            })
            .await;
            let side = if i % 2_000 == 999 { "BUY" } else { "SELL" };
            printed.push(
                r.mock
                    .trade("BTC-USD", side, "67000.01", "0.001")
                    .to_string(),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 60).await;
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
    let r = rig(&["BTC-USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Coinbase, "BTC-USD").unwrap();
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
    r.mock.random_update("BTC-USD");
    assert_equal_to_venue(&r, &mut w, "BTC-USD", 10).await;
}
