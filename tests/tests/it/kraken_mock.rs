//! The whole server pointed at the Kraken mock through its configuration keys.

use std::time::Duration;

use e2e::spawn_app_with_env;
use rust_decimal::Decimal;
use serde_json::Value;
use testkit::kraken::MockKraken;

fn served(b: &Value, side: &str) -> Vec<(Decimal, Decimal)> {
    b[side]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let p: Decimal = l[0].as_str().unwrap().parse().unwrap();
            let q: Decimal = l[1].as_str().unwrap().parse().unwrap();
            (p.normalize(), q.normalize())
        })
        .collect()
}

#[tokio::test]
async fn server_serves_the_kraken_book_exactly_and_recovers_from_a_bad_checksum() {
    let mock = MockKraken::start(&["BTC/USD", "ETH/USD"]).await.unwrap();
    let app = spawn_app_with_env(&[
        ("PAPERTWAP_EXCHANGES__KRAKEN__WS_URL", &mock.ws_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__REST_URL", &mock.rest_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__SYMBOLS", "XBT/USD"),
        ("PAPERTWAP_EXCHANGES__KRAKEN__BOOK_DEPTH", "25"),
        ("PAPERTWAP_EXCHANGES__BINANCE__ENABLED", "false"),
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
    let until_equal = |depth: usize| {
        let mock = mock.clone();
        let get = &get;
        let url = app.url(&format!("/orderbook/kraken/XXBTZUSD?depth={depth}"));
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let (s, b) = get(url.clone()).await;
                let (vb, va) = mock.top("BTC/USD", depth);
                if s == 200 && served(&b, "bids") == vb && served(&b, "asks") == va {
                    assert_eq!(b["symbol"], "BTC-USD");
                    assert_eq!(b["health"]["state"], "live");
                    return b;
                }
                assert!(s == 200 || s == 503, "{s} {b}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never equal: {s} {b}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for _ in 0..500 {
        mock.random_update("BTC/USD");
    }
    let b = until_equal(25).await;
    assert_eq!(b["bids"].as_array().unwrap().len(), 25);
    assert_eq!(b["health"]["checksum_failures"], 0);

    mock.corrupt_next_checksums(1);
    mock.random_update("BTC/USD");
    for _ in 0..50 {
        mock.random_update("BTC/USD");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, b) = get(app.url("/orderbook/kraken/BTC-USD")).await;
        if b["health"]["resyncs"] == 1 && b["health"]["state"] == "live" {
            assert_eq!(b["health"]["checksum_failures"], 1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_equal(10).await;

    let (_, ex) = get(app.url("/exchanges")).await;
    let kraken = ex
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "kraken")
        .unwrap()
        .clone();
    assert_eq!(kraken["status"], "connected", "{kraken}");
    assert_eq!(kraken["symbols"], 2);
    let (s, k) = get(app.url("/klines/kraken/XBTUSD?interval=1h&limit=3")).await;
    assert_eq!(s, 200, "{k}");
    assert_eq!(k.as_array().unwrap().len(), 3);
    let (s, p) = get(app.url("/exchanges/kraken/pairs?quote=USD")).await;
    assert_eq!(s, 200);
    assert_eq!(p.as_array().unwrap().len(), 2);
    // Lazy subscription of a symbol nobody follows, on the same connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, b) = get(app.url("/orderbook/kraken/ETH-USD")).await;
        if s == 200 {
            break;
        }
        assert_eq!(b["code"], "book_not_live", "{b}");
        assert!(tokio::time::Instant::now() < deadline);
    }
    assert_eq!(mock.connections_total(), 1);
    app.stop().await.unwrap();
}
