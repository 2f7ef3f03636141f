//! Opt-in smoke test against the real venues (`PAPERTWAP_LIVE=1`; never in CI, which has no
//! internet): the server's Binance and Kraken books go live, stay consistent, and match
//! each venue's own checks for 30 s.

use std::time::Duration;

use e2e::spawn_app_with;
use serde_json::Value;

#[tokio::test]
async fn real_venues_books_go_live_and_stay_honest() {
    if std::env::var("PAPERTWAP_LIVE").as_deref() != Ok("1") {
        eprintln!("skipped: set PAPERTWAP_LIVE=1 to run against the real exchanges");
        return;
    }
    let app = spawn_app_with(|s| {
        s.exchanges.binance.enabled = true;
        s.exchanges.kraken.enabled = true;
        s.exchanges.binance.ws_url = None;
        s.exchanges.binance.rest_url = None;
        s.exchanges.kraken.ws_url = None;
        s.exchanges.kraken.rest_url = None;
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen_live = [false, false];
    while tokio::time::Instant::now() < deadline {
        for (i, path) in ["/orderbook/binance/BTC-USDT", "/orderbook/kraken/BTC-USD"]
            .iter()
            .enumerate()
        {
            let r = app.http.get(app.url(path)).send().await.unwrap();
            let status = r.status().as_u16();
            let b: Value = r.json().await.unwrap_or(Value::Null);
            if status == 200 {
                seen_live[i] = true;
                assert_eq!(b["health"]["crossed"], false, "{path}: {b}");
                assert_eq!(b["health"]["checksum_failures"], 0, "{path}: {b}");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(seen_live, [true, true], "both venues served a live book");
    app.stop().await.unwrap();
}
