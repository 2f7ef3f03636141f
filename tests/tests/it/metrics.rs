//! `GET /metrics`: Prometheus text with books, feed messages, orders, slices and latency.

use std::time::Duration;

use e2e::spawn_app;
use serde_json::json;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_expose_books_orders_and_latency() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let r = app
        .http
        .post(app.url("/orders/twap"))
        .bearer_auth(&token)
        .json(&json!({"token_id": "m-1", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "0.2", "duration_secs": 2, "interval_secs": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let _ = app
        .http
        .get(app.url("/orders/m-1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let text = loop {
        let r = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text; version=1.0.0")
        );
        let t = r.text().await.unwrap();
        if value(&t, "papertwap_orders_closed_total{status=\"filled\"}") == Some(1.0) {
            break t;
        }
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(value(&text, "papertwap_orders_accepted_total"), Some(1.0));
    assert_eq!(value(&text, "papertwap_orders_open"), Some(0.0));
    // Alone on SQLite: no lease, nothing fenced.
    assert_eq!(value(&text, "papertwap_leases_held"), Some(0.0));
    assert_eq!(value(&text, "papertwap_fenced_batches_total"), Some(0.0));
    assert_eq!(
        value(&text, "papertwap_slices_total{result=\"executed\"}"),
        Some(2.0)
    );
    assert!(value(&text, "papertwap_feed_messages_total{exchange=\"sim\"}").unwrap() > 0.0);
    assert_eq!(
        value(
            &text,
            "papertwap_book_live{exchange=\"sim\",symbol=\"BTC-USDT\",state=\"live\"}"
        ),
        Some(1.0)
    );
    assert!(text.contains("papertwap_http_request_duration_seconds_count{method=\"GET\",route=\"/orders/{token_id}\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("route=\"/orders/twap\",status=\"201\""));
    // OpenMetrics through the client library: counters' series end in _total, histograms
    // have their buckets, the exposition ends with # EOF.
    assert!(
        text.contains("# TYPE papertwap_orders_accepted counter"),
        "{text}"
    );
    assert!(
        text.contains("papertwap_http_request_duration_seconds_bucket{le=\"0.001\",method=\"GET\"")
            || text.contains("papertwap_http_request_duration_seconds_bucket{method=\"GET\""),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    assert!(value(&text, "papertwap_up") == Some(1.0));
    app.stop().await.unwrap();
}
