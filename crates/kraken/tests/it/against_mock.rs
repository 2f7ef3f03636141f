use std::sync::Arc;
use std::time::Duration;

use kraken::{KrakenConfig, KrakenExchange};
use market::{
    BookSnapshot, BookWatch, ConnState, Exchange, Hub, HubConfig, KlineQuery, MarketError,
};
use model::{BookState, ExchangeId, Interval};
use rust_decimal::Decimal;
use testkit::kraken::MockKraken;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

struct Rig {
    mock: MockKraken,
    hub: Hub,
    ex: Arc<KrakenExchange>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(symbols: &[&str], tweak: impl FnOnce(&mut KrakenConfig, &mut HubConfig)) -> Rig {
    testkit::init_tracing();
    let mock = MockKraken::start(symbols).await.unwrap();
    let mut cfg = KrakenConfig {
        ws_url: mock.ws_url.clone(),
        rest_url: mock.rest_url.clone(),
        rest_per_second: 20,
        ..KrakenConfig::default()
    };
    let mut hub_cfg = HubConfig::default();
    tweak(&mut cfg, &mut hub_cfg);
    let ex = Arc::new(KrakenExchange::new(cfg).unwrap());
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        hub_cfg,
        vec![ex.clone() as Arc<dyn Exchange>],
        shutdown.clone(),
    );
    hub.pairs_within(ExchangeId::Kraken, Duration::from_secs(10))
        .await
        .unwrap();
    Rig {
        mock,
        hub,
        ex,
        shutdown,
    }
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

fn norm(l: &[model::Level]) -> Vec<(Decimal, Decimal)> {
    l.iter()
        .map(|l| (l.price.get().normalize(), l.qty.get().normalize()))
        .collect()
}

/// Wait until the served book equals the venue's top `n` and is live.
async fn assert_equal_to_venue(r: &Rig, w: &mut BookWatch, symbol: &str, n: usize) {
    let (vb, va) = r.mock.top(symbol, n);
    let s = w
        .wait_for(Duration::from_secs(10), |s| {
            let t = s.book.top(n);
            s.health.state == BookState::Live && norm(t.bids()) == vb && norm(t.asks()) == va
        })
        .await;
    if let Err(last) = s {
        let t = last.book.top(n);
        assert_eq!(
            norm(t.bids()),
            vb,
            "bids differ from the venue: {:?}",
            last.health
        );
        assert_eq!(
            norm(t.asks()),
            va,
            "asks differ from the venue: {:?}",
            last.health
        );
        panic!("not live: {:?}", last.health);
    }
}

#[tokio::test]
async fn long_replay_is_exact_with_zero_checksum_failures() {
    let r = rig(&["BTC/USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let n: usize = std::env::var("PAPERTWAP_REPLAY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for i in 0..n {
        r.mock.random_update("BTC/USD");
        if i % 1_000 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
    let s = w.current();
    assert_eq!(s.book.len(), (10, 10), "truncated to the subscribed depth");
    assert_eq!(s.health.resyncs, 0);
    assert_eq!(s.health.checksum_failures, 0);
    assert!(!s.health.crossed && !s.health.checksum_unreliable);
    assert!(s.health.exchange_ts.is_some());
    assert_eq!(r.mock.requests_for("subscribe", "BTC/USD"), 1);
}

#[tokio::test]
async fn bad_checksum_resubscribes_only_that_symbol() {
    let r = rig(&["BTC/USD", "ETH/USD"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    let mut eth = r
        .hub
        .watch(ExchangeId::Kraken, "XETHZUSD")
        .unwrap_or_else(|_| r.hub.watch(ExchangeId::Kraken, "ETH/USD").unwrap());
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    until(&mut eth, 10, |s| s.health.state == BookState::Live).await;
    r.mock.corrupt_next_checksums(1);
    r.mock.update("BTC/USD", &[("66999.9", "3.25")], &[]);
    // Detected on the bad message itself: the book is never served live in between.
    let bad = until(&mut btc, 10, |s| s.health.checksum_failures == 1).await;
    assert_ne!(bad.health.state, BookState::Live);
    let t0 = Instant::now();
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "healthy again within 3 s"
    );
    for _ in 0..20 {
        r.mock.random_update("BTC/USD");
        r.mock.random_update("ETH/USD");
    }
    assert_equal_to_venue(&r, &mut btc, "BTC/USD", 10).await;
    assert_equal_to_venue(&r, &mut eth, "ETH/USD", 10).await;
    let h = btc.current().health.clone();
    assert_eq!((h.resyncs, h.checksum_failures), (1, 1), "{h:?}");
    assert_eq!(r.mock.requests_for("unsubscribe", "BTC/USD"), 1);
    assert_eq!(r.mock.requests_for("subscribe", "BTC/USD"), 2);
    assert_eq!(
        r.mock.requests_for("subscribe", "ETH/USD"),
        1,
        "the other symbol is untouched"
    );
    assert_eq!(eth.current().health.resyncs, 0);
    assert_eq!(
        r.mock.connections_total(),
        1,
        "the connection is never torn down for one symbol"
    );
}

#[tokio::test]
async fn a_lost_update_is_caught_by_the_next_checksum() {
    let r = rig(&["BTC/USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.drop_next(1);
    r.mock.update("BTC/USD", &[("66999.9", "7.5")], &[]);
    r.mock.update("BTC/USD", &[], &[("67000.1", "1.125")]);
    until(&mut w, 10, |s| s.health.checksum_failures == 1).await;
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
    assert_eq!(w.current().health.resyncs, 1);
}

#[tokio::test]
async fn persistent_mismatches_trip_the_breaker_instead_of_flapping() {
    let r = rig(&["BTC/USD"], |c, _| {
        c.resubscribe_base = Duration::from_millis(50);
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.corrupt_next_checksums(1_000);
    let t0 = Instant::now();
    while !w.current().health.checksum_unreliable {
        r.mock.random_update("BTC/USD");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{:?}",
            w.current().health
        );
    }
    let subs_at_trip = r.mock.requests_for("subscribe", "BTC/USD");
    for _ in 0..50 {
        r.mock.random_update("BTC/USD");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let h = w.current().health.clone();
    assert_eq!(h.checksum_failures, 4, "{h:?}");
    assert_eq!(h.state, BookState::Live, "keeps streaming, flagged");
    assert_eq!(subs_at_trip, 4, "one subscribe and three resubscribes");
    assert_eq!(
        r.mock.requests_for("subscribe", "BTC/USD"),
        subs_at_trip,
        "no more resubscribes"
    );
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
}

#[tokio::test]
async fn refused_subscription_marks_the_book_down_and_is_not_retried() {
    let r = rig(&["BTC/USD", "ETH/USD"], |_, _| {}).await;
    r.mock.refuse_subscribe("ETH/USD");
    let mut btc = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Kraken, "ETH-USD").unwrap();
    let s = until(&mut eth, 10, |s| s.health.state == BookState::Down).await;
    assert!(
        s.health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("not supported"),
        "{:?}",
        s.health
    );
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        r.mock.requests_for("subscribe", "ETH/USD"),
        1,
        "no retry loop"
    );
    assert_eq!(eth.current().health.state, BookState::Down);
}

#[tokio::test]
async fn garbage_and_unknown_messages_do_not_resync() {
    let r = rig(&["BTC/USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.send_raw("this is not json");
    r.mock
        .send_raw(r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":"x"}]}"#);
    r.mock
        .send_raw(r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD"}]}"#);
    r.mock
        .send_raw(r#"{"channel":"status","type":"update","data":[{"system":"maintenance"}]}"#);
    r.mock.send_raw(r#"{"Error":"Exceeded msg rate"}"#);
    for _ in 0..50 {
        r.mock.random_update("BTC/USD");
    }
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
    assert_eq!(w.current().health.resyncs, 0);
}

#[tokio::test]
async fn silent_venue_goes_stale_then_reconnects() {
    let r = rig(&["BTC/USD"], |c, h| {
        c.dead_after = Duration::from_millis(3_000);
        // Heartbeats come every second.
        h.stale_after = Duration::from_millis(1_500);
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    // Heartbeats alone keep a quiet book live.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.current().health.state, BookState::Live);
    r.mock.set_silent(true);
    let t0 = Instant::now();
    until(&mut w, 5, |s| s.health.state == BookState::Stale).await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stale within stale_after + 1 s check"
    );
    until(&mut w, 10, |s| s.health.state == BookState::Down).await;
    r.mock.set_silent(false);
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    assert!(r.mock.connections_total() >= 2);
    r.mock.random_update("BTC/USD");
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
    assert_eq!(w.current().health.resyncs, 1);
}

#[tokio::test]
async fn dropped_connection_resubscribes_everything_once() {
    let r = rig(&["BTC/USD", "ETH/USD"], |_, _| {}).await;
    let mut btc = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    let mut eth = r.hub.watch(ExchangeId::Kraken, "ETH-USD").unwrap();
    until(&mut btc, 10, |s| s.health.state == BookState::Live).await;
    until(&mut eth, 10, |s| s.health.state == BookState::Live).await;
    r.mock.disconnect_all();
    until(&mut btc, 10, |s| {
        s.health.resyncs == 1 && s.health.state == BookState::Live
    })
    .await;
    until(&mut eth, 10, |s| {
        s.health.resyncs == 1 && s.health.state == BookState::Live
    })
    .await;
    assert_eq!(r.mock.connections_total(), 2);
    assert_eq!(r.mock.requests_for("subscribe", "BTC/USD"), 2);
    assert_eq!(r.mock.requests_for("subscribe", "ETH/USD"), 2);
    let subs = r.mock.subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].len(), 2);
}

#[tokio::test]
async fn deeper_books_are_subscribed_and_truncated_at_the_configured_depth() {
    let r = rig(&["BTC/USD"], |c, _| c.depth = 25).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    assert_eq!(r.mock.subscriptions()[0].get("BTC/USD"), Some(&25));
    for _ in 0..2_000 {
        r.mock.random_update("BTC/USD");
    }
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 25).await;
    let (vb, va) = r.mock.top("BTC/USD", 1_000);
    assert!(
        vb.len() > 25 && va.len() > 25,
        "the venue is deeper than the view"
    );
    assert_eq!(w.current().book.len(), (25, 25));
    assert_eq!(w.current().health.checksum_failures, 0);
}

#[tokio::test]
async fn unsupported_depth_is_a_configuration_error() {
    let e = KrakenExchange::new(KrakenConfig {
        depth: 50,
        ..KrakenConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("depth"), "{e}");
}

#[tokio::test]
async fn checksum_can_be_switched_off_per_symbol() {
    let r = rig(&["BTC/USD"], |c, _| {
        c.checksum_skip = vec!["BTC-USD".into()]
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    r.mock.corrupt_next_checksums(5);
    for _ in 0..20 {
        r.mock.random_update("BTC/USD");
    }
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
    assert_eq!(w.current().health.checksum_failures, 0);
    let pair = r.hub.resolve(ExchangeId::Kraken, "BTC-USD").unwrap();
    assert_eq!(r.ex.book_checksum(&pair, &w.current().book), None);
}

#[tokio::test]
async fn geo_blocked_websocket_fails_once_and_does_not_loop() {
    let mock = MockKraken::start(&["BTC/USD"]).await.unwrap();
    mock.refuse_ws(Some(451));
    let ex = Arc::new(
        KrakenExchange::new(KrakenConfig {
            ws_url: mock.ws_url.clone(),
            rest_url: mock.rest_url.clone(),
            ..KrakenConfig::default()
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
    assert_eq!(mock.connections_total(), 0);
    shutdown.cancel();
}

#[tokio::test]
async fn pairs_and_klines_over_rest() {
    let r = rig(&["BTC/USD", "DOGE/USD", "ETH/BTC"], |_, _| {}).await;
    let idx = r.hub.pairs(ExchangeId::Kraken).unwrap();
    assert_eq!(idx.len(), 3, "dark-pool and equity pairs skipped");
    for spelling in [
        "BTC-USD", "XBT/USD", "XBTUSD", "XXBTZUSD", "BTC/USD", "btcusd",
    ] {
        let p = idx
            .resolve(spelling)
            .unwrap_or_else(|| panic!("{spelling}"));
        assert_eq!(p.symbol.as_str(), "BTC-USD");
    }
    assert_eq!(idx.resolve("XDG/USD").unwrap().symbol.as_str(), "DOGE-USD");
    let (_, k) = r
        .hub
        .klines(ExchangeId::Kraken, "BTC-USD", Interval::M1, None, None, 5)
        .await
        .unwrap();
    assert_eq!(k.len(), 5);
    assert!(k.windows(2).all(|w| w[0].close_time == w[1].open_time));
    assert!(k[..4].iter().all(|k| k.closed) && !k[4].closed);
    // Intervals Kraken lacks are built from finer candles, whole buckets only.
    let (_, k3) = r
        .hub
        .klines(
            ExchangeId::Kraken,
            "BTC-USD",
            Interval::M3,
            None,
            None,
            1_000,
        )
        .await
        .unwrap();
    assert!(k3.len() >= 238 && k3.len() <= 240, "{}", k3.len());
    assert!(
        k3.iter()
            .all(|k| k.close_time.millis_since(k.open_time) == 180_000)
    );
    assert!(!k3.last().unwrap().closed);
    let (_, kw) = r
        .hub
        .klines(ExchangeId::Kraken, "BTC-USD", Interval::W1, None, None, 10)
        .await
        .unwrap();
    assert_eq!(kw.len(), 10);
    // Range filter.
    let start = k3[10].open_time;
    let (_, kr) = r
        .hub
        .klines(
            ExchangeId::Kraken,
            "BTC-USD",
            Interval::M3,
            Some(start),
            None,
            4,
        )
        .await
        .unwrap();
    assert_eq!(kr.len(), 4);
    assert_eq!(kr[0].open_time, start);
    // An unknown pair (the venue's error array) is a clear error.
    let mut ghost = r.hub.resolve(ExchangeId::Kraken, "ETH-BTC").unwrap();
    ghost.exchange_symbol = "NOPEUSD".into();
    let e =
        r.ex.klines(KlineQuery {
            pair: ghost,
            interval: Interval::M1,
            start: None,
            end: None,
            limit: 5,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, MarketError::UnknownSymbol { .. }), "{e:?}");
}

/// DESIGN §13: with the default pong deadline (`market.dead_after_ms` = 10 s), a connection
/// that shows no frame and answers no ping is replaced within 15 s.
#[tokio::test]
async fn a_silent_connection_is_replaced_within_15_s() {
    let r = rig(&["BTC/USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC-USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    let before = r.mock.connections_total();
    r.mock.set_silent(true);
    testkit::eventually("a replacement connection", Duration::from_secs(15), || {
        r.mock.connections_total() > before
    })
    .await;
    r.mock.set_silent(false);
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    r.mock.random_update("BTC/USD");
    assert_equal_to_venue(&r, &mut w, "BTC/USD", 10).await;
}

#[tokio::test]
async fn trades_arrive_once_though_each_subscription_replays_the_last_fifty() {
    let r = rig(&["BTC/USD"], |_, _| {}).await;
    let mut w = r.hub.watch(ExchangeId::Kraken, "BTC/USD").unwrap();
    let trades = r.hub.watch_trades(ExchangeId::Kraken, "BTC/USD").unwrap();
    until(&mut w, 10, |s| s.health.state == BookState::Live).await;
    testkit::eventually(
        "the trade channel subscribed",
        Duration::from_secs(10),
        || {
            r.mock
                .trade_subscriptions()
                .iter()
                .any(|s| s.contains("BTC/USD"))
        },
    )
    .await;
    for i in 0..5 {
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        r.mock.trade("BTC/USD", side, "67000.1", "0.01000000");
    }
    testkit::eventually("five trades", Duration::from_secs(10), || {
        trades.since(0, 100).trades.len() == 5
    })
    .await;
    // A new connection subscribes again and gets the last trades as a snapshot: the tape
    // gains none of them twice.
    r.mock.disconnect_all();
    until(&mut w, 15, |s| s.health.state == BookState::Live).await;
    testkit::eventually("the trade channel back", Duration::from_secs(10), || {
        let subs = r.mock.trade_subscriptions();
        r.mock.connections_total() >= 2 && subs.len() == 1 && subs[0].contains("BTC/USD")
    })
    .await;
    r.mock.trade("BTC/USD", "buy", "67000.2", "0.02000000");
    testkit::eventually("the sixth trade", Duration::from_secs(10), || {
        trades.since(0, 100).trades.len() == 6
    })
    .await;
    let got = trades.since(0, 100).trades;
    let ids: Vec<String> = got.iter().map(|t| t.trade_id.to_string()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(got[1].taker_side, model::Side::Sell);
    assert_eq!(got[5].qty.get(), Decimal::new(2, 2));
    // The book was never disturbed by the trade channel's answers.
    assert_eq!(
        r.mock.requests_for("subscribe", "BTC/USD"),
        2,
        "one per connection"
    );
}
