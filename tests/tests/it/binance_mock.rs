//! The whole server pointed at the Binance mock through its configuration keys.

use std::time::Duration;

use e2e::spawn_app_with_env;
use serde_json::Value;
use testkit::binance::MockBinance;

#[tokio::test]
async fn server_serves_the_venue_book_exactly_and_subscribes_lazily() {
    let mock = MockBinance::start(&["BTCUSDT", "ETHUSDT"]).await.unwrap();
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
    let get = |path: String| {
        let http = app.http.clone();
        async move {
            let r = http.get(path).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // The default symbol syncs once the venue trades.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        mock.random_update("BTCUSDT");
        let (s, b) = get(app.url("/orderbook/binance/BTCUSDT?depth=5")).await;
        if s == 200 && b["seq"].as_u64() == Some(mock.last_id("BTCUSDT")) {
            let (vb, va) = mock.top("BTCUSDT", 5);
            let served = |side: &str| -> Vec<(String, String)> {
                b[side]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| {
                        let p: rust_decimal::Decimal = l[0].as_str().unwrap().parse().unwrap();
                        let q: rust_decimal::Decimal = l[1].as_str().unwrap().parse().unwrap();
                        (p.normalize().to_string(), q.normalize().to_string())
                    })
                    .collect()
            };
            let venue =
                |v: &[(rust_decimal::Decimal, rust_decimal::Decimal)]| -> Vec<(String, String)> {
                    v.iter()
                        .map(|(p, q)| (p.to_string(), q.to_string()))
                        .collect()
                };
            assert_eq!(served("bids"), venue(&vb));
            assert_eq!(served("asks"), venue(&va));
            assert_eq!(b["health"]["state"], "live");
            break;
        }
        assert!(s == 200 || s == 503, "{s} {b}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never served: {s} {b}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, ex) = get(app.url("/exchanges")).await;
    let binance = ex
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "binance")
        .unwrap()
        .clone();
    assert_eq!(binance["status"], "connected");
    assert_eq!(binance["symbols"], 2);

    // A symbol nobody follows is subscribed on the live connection by the first request.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        mock.random_update("ETHUSDT");
        let (s, b) = get(app.url("/orderbook/binance/ETH-USDT")).await;
        if s == 200 {
            assert_eq!(b["symbol"], "ETH-USDT");
            break;
        }
        assert_eq!(s, 503, "not live yet answers 503: {b}");
        assert_eq!(b["code"], "book_not_live");
        assert!(tokio::time::Instant::now() < deadline);
    }
    assert_eq!(mock.connections_total(), 1, "no reconnect for a new symbol");
    let (s, k) = get(app.url("/klines/binance/BTC-USDT?limit=3")).await;
    assert_eq!(s, 200, "{k}");
    assert_eq!(k.as_array().unwrap().len(), 3);
    let (s, p) = get(app.url("/exchanges/binance/pairs?quote=USDT")).await;
    assert_eq!(s, 200);
    assert_eq!(p.as_array().unwrap().len(), 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unreachable_venue_answers_503_and_sim_still_works() {
    // A port nothing listens on: the adapter backs off, the server keeps serving.
    let app = spawn_app_with_env(&[
        (
            "PAPERTWAP_EXCHANGES__BINANCE__WS_URL",
            "ws://127.0.0.1:9/stream",
        ),
        (
            "PAPERTWAP_EXCHANGES__BINANCE__REST_URL",
            "http://127.0.0.1:9",
        ),
        ("PAPERTWAP_EXCHANGES__KRAKEN__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__BYBIT__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__OKX__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__COINBASE__ENABLED", "false"),
        ("PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED", "false"),
    ])
    .await
    .unwrap();
    let r = app
        .http
        .get(app.url("/exchanges/binance/pairs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "exchange_unavailable");
    assert!(b["detail"].as_str().unwrap().contains("binance"));
    let r = app
        .http
        .get(app.url("/klines/binance/BTC-USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let ex: Value = app
        .http
        .get(app.url("/exchanges"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b = ex
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "binance")
        .unwrap()
        .clone();
    assert!(
        ["connecting", "down"].contains(&b["status"].as_str().unwrap()),
        "{b}"
    );
    assert!(b["last_error"].is_string(), "{b}");
    let r = app
        .http
        .get(app.url("/orderbook/sim/BTC-USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn pairs_seen_once_are_listed_on_a_later_offline_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("shared.db").display());
    let mock = MockBinance::start(&["BTCUSDT", "ETHUSDT"]).await.unwrap();
    let online = e2e::spawn_app_with(|s| {
        s.store.url = db.clone();
        s.exchanges.binance.enabled = true;
        s.exchanges.binance.ws_url = Some(mock.ws_url.clone());
        s.exchanges.binance.rest_url = Some(mock.rest_url.clone());
    })
    .await
    .unwrap();
    let r = online
        .http
        .get(online.url("/exchanges/binance/pairs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    online.stop().await.unwrap();

    let offline = e2e::spawn_app_with(|s| {
        s.store.url = db.clone();
        s.exchanges.binance.enabled = true;
        s.exchanges.binance.ws_url = Some("ws://127.0.0.1:9/stream".into());
        s.exchanges.binance.rest_url = Some("http://127.0.0.1:9".into());
    })
    .await
    .unwrap();
    let r = offline
        .http
        .get(offline.url("/exchanges/binance/pairs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let pairs: Value = r.json().await.unwrap();
    assert_eq!(
        pairs.as_array().unwrap().len(),
        2,
        "served from the store's cache"
    );
    offline.stop().await.unwrap();
}
