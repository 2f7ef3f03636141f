use std::sync::Arc;
use std::time::Duration;

use bitstamp::{BitstampConfig, BitstampExchange};
use market::{BookWatch, Exchange, Hub, HubConfig, KlineQuery, MarketError};
use model::{BookState, ExchangeId, Interval, Side};
use rust_decimal::Decimal;
use testkit::bitstamp::MockBitstamp;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use testkit::watch::{assert_top_equals, until};

struct Rig {
    mock: MockBitstamp,
    hub: Hub,
    ex: Arc<BitstampExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(pairs: &[&str], tweak: impl FnOnce(&mut BitstampConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockBitstamp::start(pairs).await.unwrap();
    let mut cfg = BitstampConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        resync_base: Duration::from_millis(50),
        // The mock's REST book is exact unless a test says otherwise (see the margin's own
        // test).
        splice_margin: Duration::from_millis(20),
        ..BitstampConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(BitstampExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Bitstamp, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
}

/// Keep the market moving (a diff every 2 ms, at most 5 000) until `cond` holds: a book is
/// placed on a flowing stream only.
async fn moving_until(r: &Rig, pair: &str, what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..5_000 {
        if cond() {
            return;
        }
        r.mock.random_update(pair);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{what}: not reached");
}

async fn live(r: &Rig, w: &BookWatch, pair: &str) {
    moving_until(r, pair, "live", || {
        w.current().health.state == BookState::Live
    })
    .await;
}

/// Wait until the served book equals the venue's whole book and is live.
async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, pair: &str, secs: u64) {
    let n = 10_000;
    assert_top_equals(w, r.mock.top(pair, n), n, secs).await;
}

#[tokio::test]
async fn a_lagging_rest_book_is_fetched_again_until_it_can_be_placed() {
    let r = rig(&["btcusd"], |_, _| {}).await;
    // The venue's REST book lags 300 changes behind: until the stream buffered since the
    // subscription reaches back that far, a book cannot be placed.
    r.mock.rest_lag(300);
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    live(&r, &w, "btcusd").await;
    assert!(
        r.mock.rest_books() >= 2,
        "the first book was older than the stream"
    );
    for _ in 0..300 {
        r.mock.random_update("btcusd");
    }
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
    assert_eq!(w.current().pair.exchange_symbol, "btcusd");
}

/// The venue's REST book can show content older than its stamp (levels the stream already
/// changed or deleted): placed 2 s before its stamp, the diffs of that window are applied
/// again and correct it.
#[tokio::test]
async fn a_rest_book_older_than_its_stamp_is_corrected_by_the_splice_margin() {
    let r = rig(&["btcusd"], |c, _| c.splice_margin = Duration::from_secs(2)).await;
    r.mock.rest_content_lag(30);
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    live(&r, &w, "btcusd").await;
    // Nothing moves now: the book must already be the venue's.
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
    r.mock.rest_content_lag(0);
}

#[tokio::test]
async fn a_time_step_back_splices_that_book_again_only() {
    let r = rig(&["btcusd", "ethusd"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Bitstamp, "ETH-USD").unwrap();
    live(&r, &btc, "btcusd").await;
    live(&r, &eth, "ethusd").await;
    let books = r.mock.rest_books();
    r.mock.step_back("btcusd", 5);
    until(&mut btc, 10, |s| s.health.resyncs >= 1).await;
    live(&r, &btc, "btcusd").await;
    for _ in 0..50 {
        r.mock.random_update("btcusd");
        r.mock.random_update("ethusd");
    }
    assert_equal_to_venue(&r, &mut btc, "btcusd", 10).await;
    assert_equal_to_venue(&r, &mut eth, "ethusd", 10).await;
    assert_eq!(
        r.mock.rest_books(),
        books + 1,
        "one more REST book, for BTC"
    );
    assert_eq!(eth.current().health.resyncs, 0, "untouched");
    assert_eq!(r.mock.connections_total(), 1, "no reconnect");
}

#[tokio::test]
async fn a_phantom_level_in_the_rest_book_crosses_and_is_spliced_away() {
    let r = rig(&["btcusd"], |_, _| {}).await;
    // A bid above the best ask that the stream never retracts.
    r.mock.phantom_bid("btcusd", "67005.00", "0.1");
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    // The first splice crosses (never tradeable), the hub asks for another, the next REST
    // book is clean.
    moving_until(&r, "btcusd", "a second, clean splice", || {
        r.mock.rest_books() >= 2 && w.current().health.state == BookState::Live
    })
    .await;
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
    assert!(!w.current().health.crossed);
}

#[tokio::test]
async fn a_reconnect_request_moves_the_books_to_a_new_connection_without_a_gap() {
    let r = rig(&["btcusd"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    live(&r, &w, "btcusd").await;
    let books = r.mock.rest_books();
    r.mock.request_reconnect();
    // Both connections follow the pair for a while: a trade printed then reaches the tape
    // once.
    moving_until(&r, "btcusd", "two connections", || {
        r.mock.subscriptions().len() == 2
            && r.mock
                .subscriptions()
                .iter()
                .all(|s| s.contains("live_trades_btcusd"))
    })
    .await;
    let id = r.mock.trade("btcusd", 0, "67000.00", "0.01");
    moving_until(&r, "btcusd", "the old connection closed", || {
        r.mock.subscriptions().len() == 1
    })
    .await;
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
    let s = w.current();
    assert_eq!(s.health.resyncs, 0, "no resync: {:?}", s.health);
    assert_eq!(
        r.mock.rest_books(),
        books,
        "no REST book: the streams overlapped"
    );
    assert_eq!(r.mock.connections_total(), 2);
    let t = trades.since(0, 10).trades;
    assert_eq!(
        t.len(),
        1,
        "the trade seen on both connections is kept once"
    );
    assert_eq!(t[0].trade_id.to_string(), id.to_string());
    assert_eq!(t[0].taker_side, Side::Buy);
}

#[tokio::test]
async fn a_malformed_diff_splices_again_and_silence_reconnects() {
    let r = rig(&["btcusd"], |c, _| {
        c.dead_after = Duration::from_millis(1_500)
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    live(&r, &w, "btcusd").await;
    r.mock.send_malformed("btcusd");
    r.mock.send_raw("not json");
    until(&mut w, 10, |s| s.health.resyncs >= 1).await;
    live(&r, &w, "btcusd").await;
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
    assert_eq!(r.mock.connections_total(), 1);
    r.mock.set_silent(true);
    let t0 = Instant::now();
    testkit::eventually("a new connection", Duration::from_secs(15), || {
        r.mock.connections_total() >= 2
    })
    .await;
    r.mock.set_silent(false);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    live(&r, &w, "btcusd").await;
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
}

#[tokio::test]
async fn a_refused_pair_is_down_without_a_retry_loop() {
    let r = rig(&["btcusd"], |_, _| {}).await;
    r.mock.refuse_pair("btcusd");
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
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
    let subscribes = r
        .mock
        .received()
        .iter()
        .filter(|(_, _, t)| t.contains("bts:subscribe") && t.contains("diff_order_book_btcusd"))
        .count();
    assert_eq!(subscribes, 1);
}

#[tokio::test]
async fn pairs_candles_in_pages_and_rest_rate_limits() {
    let r = rig(&["btcusd", "ethusd"], |_, _| {}).await;
    assert_eq!(r.hub.pairs(ExchangeId::Bitstamp).unwrap().len(), 2);
    let btc = r.hub.resolve(ExchangeId::Bitstamp, "btc/usd").unwrap();
    assert_eq!(btc.symbol.as_str(), "BTC-USD");
    assert_eq!(btc.min_notional, Some(Decimal::from(10)));
    let q = |interval, limit| KlineQuery {
        pair: btc.clone(),
        interval,
        start: None,
        end: None,
        limit,
    };
    let k = r.ex.klines(q(Interval::M1, 1_500)).await.unwrap();
    assert_eq!(k.len(), 1_500, "two pages of at most 1 000");
    assert!(
        k.windows(2)
            .all(|w| w[1].open_time.as_millis() - w[0].open_time.as_millis() == 60_000)
    );
    let d3 = r.ex.klines(q(Interval::D3, 4)).await.unwrap();
    assert_eq!(d3.len(), 4, "the venue's 3-day step");
    let w1 = r.ex.klines(q(Interval::W1, 3)).await.unwrap();
    assert_eq!(w1.len(), 3, "weeks built from days");
    assert!(
        w1.windows(2)
            .all(|w| w[1].open_time.as_millis() - w[0].open_time.as_millis() == 7 * 86_400_000)
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

/// 100 000 book events with a fault every few thousand (a diff whose time goes back, a
/// malformed diff, a reconnect request, a dropped connection) and a trade printed at every
/// catch-up: the served book ends exactly on the venue's, and the tape holds every trade
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_with_faults_end_on_the_venues_book() {
    let r = rig(&["btcusd"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    let tape = r.hub.watch_trades(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    let mut printed = Vec::new();
    live(&r, &w, "btcusd").await;
    let started = Instant::now();
    for i in 0..100_000u32 {
        match i % 20_000 {
            5_000 => r.mock.step_back("btcusd", 3),
            10_000 => r.mock.send_malformed("btcusd"),
            15_000 => r.mock.request_reconnect(),
            19_999 if i < 80_000 => {
                r.mock.disconnect_all();
                testkit::eventually("reconnected", Duration::from_secs(15), || {
                    r.mock.subscriptions().len() == 1
                })
                .await;
            }
            _ => {}
        }
        r.mock.random_update("btcusd");
        if i % 1_000 == 999 {
            // Paced: the served book catches up with the venue every 1 000 events (a book
            // being spliced, or moving to a new connection, needs the market to move).
            moving_until(&r, "btcusd", "one connection with trades", || {
                let subs = r.mock.subscriptions();
                subs.len() == 1 && subs[0].contains("live_trades_btcusd")
            })
            .await;
            live(&r, &w, "btcusd").await;
            assert_equal_to_venue(&r, &mut w, "btcusd", 30).await;
            let side = u8::from(i % 2_000 != 999);
            printed.push(
                r.mock
                    .trade("btcusd", side, "67000.01", "0.001")
                    .to_string(),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
    assert_equal_to_venue(&r, &mut w, "btcusd", 60).await;
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
    let r = rig(&["btcusd"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Bitstamp, "BTC-USD").unwrap();
    live(&r, &w, "btcusd").await;
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
    live(&r, &w, "btcusd").await;
    assert_equal_to_venue(&r, &mut w, "btcusd", 10).await;
}
