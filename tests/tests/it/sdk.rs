//! The whole flow through the SDK: sim, and a Kraken-mock book behind the real server.

use std::time::Duration;

use e2e::{spawn_app, spawn_app_with_env};
use papertwap_client::wire::ServerMessage;
use papertwap_client::{BookChannel, Client, Error, twap};
use testkit::kraken::MockKraken;

#[tokio::test]
async fn sdk_flow_on_sim_rest_and_stream() {
    let app = spawn_app().await.unwrap();
    let client = Client::new(&app.base).unwrap();
    assert_eq!(
        client.orders(&Default::default()).await.unwrap_err(),
        Error::NotLoggedIn
    );
    let e = client.login("premium", "nope").await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"));
    client.login("premium", "CryptoTWAPpremium").await.unwrap();
    assert_eq!(client.health().await.unwrap().store, wire::HealthStatus::Ok);
    assert_eq!(client.exchanges().await.unwrap()[0].id, "sim");
    assert!(!client.pairs("sim", Some("USDT")).await.unwrap().is_empty());
    let book = client.order_book("sim", "BTCUSDT", 5).await.unwrap();
    assert_eq!(book.symbol, "BTC-USDT");
    let mut stream = client.stream().await.unwrap();
    stream.subscribe_orders().await.unwrap();
    let sub = stream
        .subscribe_book(BookChannel {
            exchange: "sim".into(),
            symbol: "eth-usdt".into(),
            depth: 2,
            interval_ms: 200,
        })
        .await
        .unwrap();
    assert_eq!(sub.symbol.as_deref(), Some("ETH-USDT"));
    let bad = stream
        .subscribe_book(BookChannel {
            exchange: "sim".into(),
            symbol: "NOPE".into(),
            depth: 2,
            interval_ms: 200,
        })
        .await;
    assert_eq!(bad.unwrap_err().code(), Some("unknown_symbol"));
    let o = client
        .submit(&twap("sdk-1", "sim", "BTC-USDT", "buy", "0.2", 2, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(o.status, wire::OrderStatus::Working);
    let again = client
        .submit(&twap("sdk-1", "sim", "BTC-USDT", "buy", "0.2", 2, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(again.created_at, o.created_at, "replay");
    let (mut books, mut updates) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline && (books < 3 || updates < 2) {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(ServerMessage::Book(b)))) => {
                assert_eq!(b.bids.len(), 2);
                books += 1;
            }
            Ok(Some(Ok(ServerMessage::Order { order, .. }))) => {
                assert_eq!(order.token_id, "sdk-1");
                updates += 1;
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(books >= 3 && updates >= 2, "{books} {updates}");
    let done = client
        .wait_for_final("sdk-1", Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(done.status, wire::OrderStatus::Filled);
    assert_eq!(done.slices.as_ref().unwrap().len(), 2);
    assert_eq!(
        client.cancel("sdk-1").await.unwrap_err().code(),
        Some("order_not_cancellable")
    );
    let batch = client
        .submit_batch(&[
            twap("sdk-2", "sim", "ETH-USDT", "sell", "1", 600, 60).unwrap(),
            twap("sdk-3", "sim", "SOL-USDT", "buy", "5", 600, 60).unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(
        client.cancel("sdk-2").await.unwrap().status,
        wire::OrderStatus::Cancelled
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sdk_flow_on_a_kraken_mock_book() {
    let mock = MockKraken::start(&["BTC/USD"]).await.unwrap();
    let app = spawn_app_with_env(&[
        ("PAPERTWAP_EXCHANGES__KRAKEN__WS_URL", &mock.ws_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__REST_URL", &mock.rest_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__SYMBOLS", "BTC-USD"),
        ("PAPERTWAP_EXCHANGES__BINANCE__ENABLED", "false"),
    ])
    .await
    .unwrap();
    let client = Client::new(&app.base).unwrap();
    client.login("premium", "CryptoTWAPpremium").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        mock.random_update("BTC/USD");
        match client.order_book("kraken", "XBT/USD", 5).await {
            Ok(b) if b.health.state == wire::BookState::Live => break,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kraken book never live"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let o = client
        .submit(&twap("kr-1", "kraken", "XBTUSD", "buy", "0.3", 2, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(o.symbol, "BTC-USD");
    let done = client
        .wait_for_final("kr-1", Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(done.status, wire::OrderStatus::Filled, "{done:?}");
    // Kraken's 40 bps fee.
    let expected_fee = done.notional * papertwap_client::Decimal::new(40, 4);
    assert_eq!(done.fees.round_dp(8), expected_fee.round_dp(8));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sdk_flow_on_a_binance_mock_book() {
    let mock = testkit::binance::MockBinance::start(&["BTCUSDT"])
        .await
        .unwrap();
    let app = spawn_app_with_env(&[
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
    let client = Client::new(&app.base).unwrap();
    client.login("premium", "CryptoTWAPpremium").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        mock.random_update("BTCUSDT");
        match client.order_book("binance", "btcusdt", 5).await {
            Ok(b) if b.health.state == wire::BookState::Live => break,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "binance book never live"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Keep the venue moving while the order runs.
    let feeder = {
        let mock = mock.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                mock.random_update("BTCUSDT");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut req = twap("bn-1", "binance", "BTCUSDT", "sell", "0.3", 2, 1).unwrap();
    req.limit_price = Some("60000".parse().unwrap());
    client.submit(&req).await.unwrap();
    let done = client
        .wait_for_final("bn-1", Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(done.status, wire::OrderStatus::Filled, "{done:?}");
    for s in done.slices.as_ref().unwrap() {
        assert!(s.skipped.is_none());
        let bid = s.best_bid.unwrap();
        assert!(
            s.fills.iter().all(|(p, _)| *p <= bid),
            "a sell walks the bids down from the best"
        );
    }
    feeder.abort();
    app.stop().await.unwrap();
}

#[test]
fn a_bad_quantity_is_a_clear_error_before_any_request() {
    let e = twap("x", "sim", "BTC-USDT", "buy", "zero point five", 60, 10).unwrap_err();
    assert!(matches!(e, Error::Invalid(m) if m.contains("zero point five")));
}
