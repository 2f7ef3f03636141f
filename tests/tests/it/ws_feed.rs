//! `/ws` end to end: auth both ways, bad and expired tokens, subscribe/unsubscribe, interval
//! and depth honoured, order updates during a running TWAP, consolidated books, malformed
//! messages answered, limits, a client that stops reading cut off.

use std::time::Duration;

use e2e::{TestApp, spawn_app, spawn_app_with};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp) -> String {
    format!("ws://{}/ws", app.addr)
}

async fn connect(app: &TestApp, token: Option<&str>) -> Result<Ws, WsError> {
    let mut req = ws_url(app).into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Next JSON frame (skipping pings), within `secs`.
async fn next(ws: &mut Ws, secs: u64) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match m {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The next frame of type `ty`.
async fn next_of(ws: &mut Ws, ty: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        match next(ws, left).await {
            Some(v) if v["type"] == ty => return v,
            Some(_) => {}
            None => panic!("no `{ty}` frame"),
        }
        assert!(Instant::now() < deadline, "no `{ty}` frame in time");
    }
}

async fn closed_with_policy(ws: &mut Ws) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Ok(Message::Close(Some(f))) = m {
            return u16::from(f.code) == 1008;
        }
        if m.is_err() {
            return false;
        }
    }
    false
}

#[tokio::test]
async fn auth_by_header_or_first_message_and_refusals() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    // Header.
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    let hello = next(&mut ws, 5).await.unwrap();
    assert_eq!(hello["type"], "authenticated");
    assert!(hello["expires_at"].is_string());
    send(&mut ws, json!({"op": "ping"})).await;
    assert_eq!(next_of(&mut ws, "pong", 5).await["type"], "pong");
    // First message.
    let mut ws = connect(&app, None).await.unwrap();
    send(&mut ws, json!({"op": "auth", "token": token})).await;
    assert_eq!(next(&mut ws, 5).await.unwrap()["type"], "authenticated");
    // A bad header fails the upgrade with 401.
    match connect(&app, Some("not.a.token")).await {
        Err(WsError::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("{other:?}"),
    }
    // A first message other than auth: error frame, close 1008.
    let mut ws = connect(&app, None).await.unwrap();
    send(&mut ws, json!({"op": "ping"})).await;
    let e = next(&mut ws, 5).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("unauthenticated"))
    );
    assert!(closed_with_policy(&mut ws).await);
    // A bad token in the auth message: close 1008.
    let mut ws = connect(&app, None).await.unwrap();
    send(&mut ws, json!({"op": "auth", "token": "x.y.z"})).await;
    assert_eq!(next(&mut ws, 5).await.unwrap()["code"], "invalid_token");
    assert!(closed_with_policy(&mut ws).await);
    // Silence: closed within 5 s.
    let mut ws = connect(&app, None).await.unwrap();
    let t0 = Instant::now();
    assert_eq!(next(&mut ws, 10).await.unwrap()["code"], "unauthenticated");
    assert!(closed_with_policy(&mut ws).await);
    assert!(t0.elapsed() < Duration::from_secs(7));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_connection_closes_at_token_expiry() {
    let app = spawn_app_with(|s| s.auth.token_ttl_secs = 60)
        .await
        .unwrap();
    // A token that expires in 2 s (issued 58 s ago), signed by the server's own secret.
    let store = store::Store::connect(&app.store_url).await.unwrap();
    let secret = store.jwt_secret().await.unwrap();
    store.close().await;
    let jwt = api::auth::Jwt::new(secret.as_bytes(), 60).unwrap();
    let now = chrono::Utc::now().timestamp();
    let short = jwt.issue("premium", 1, "premium", 0, now - 58).unwrap();
    let mut ws = connect(&app, Some(&short)).await.unwrap();
    assert_eq!(next(&mut ws, 5).await.unwrap()["type"], "authenticated");
    let t0 = Instant::now();
    assert_eq!(next_of(&mut ws, "error", 15).await["code"], "token_expired");
    assert!(closed_with_policy(&mut ws).await);
    assert!(t0.elapsed() < Duration::from_secs(10));
    // An expired token is refused outright.
    let expired = jwt.issue("premium", 1, "premium", 0, now - 3_600).unwrap();
    assert!(
        matches!(connect(&app, Some(&expired)).await, Err(WsError::Http(r)) if r.status().as_u16() == 401)
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn book_frames_honour_depth_and_interval() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    send(&mut ws, json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": "btcusdt", "depth": 3, "interval_ms": 200})).await;
    let sub = next_of(&mut ws, "subscribed", 5).await;
    assert_eq!(
        (
            sub["symbol"].as_str(),
            sub["depth"].as_u64(),
            sub["interval_ms"].as_u64()
        ),
        (Some("BTC-USDT"), Some(3), Some(200))
    );
    let mut times = Vec::new();
    let mut seqs = Vec::new();
    for _ in 0..11 {
        let f = next_of(&mut ws, "book", 5).await;
        assert_eq!(f["exchange"], "sim");
        assert_eq!(f["bids"].as_array().unwrap().len(), 3);
        assert_eq!(f["asks"].as_array().unwrap().len(), 3);
        assert_eq!(f["health"]["state"], "live");
        assert!(f["bids"][0][0].is_string(), "decimals are strings");
        times.push(Instant::now());
        let ts = chrono::DateTime::parse_from_rfc3339(f["ts"].as_str().unwrap()).unwrap();
        assert_eq!(
            ts.timestamp_subsec_millis() % 200,
            0,
            "frames are produced on the interval grid"
        );
        seqs.push(f["seq"].as_u64().unwrap());
    }
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(
        (180.0..=220.0).contains(&mean),
        "mean gap {mean} ms for a 200 ms interval: {gaps:?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] >= w[0]) && seqs.last() > seqs.first(),
        "the book moves"
    );
    send(
        &mut ws,
        json!({"op": "unsubscribe", "channel": "book", "exchange": "sim", "symbol": "BTC-USDT"}),
    )
    .await;
    next_of(&mut ws, "unsubscribed", 5).await;
    // Nothing more arrives.
    let deadline = Instant::now() + Duration::from_millis(700);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_ne!(v["type"], "book", "a frame after unsubscribe");
        }
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_messages_get_error_frames_and_limits_are_named() {
    let app = spawn_app_with(|s| s.feed.max_subscriptions = 2)
        .await
        .unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    let cases = [
        (json!("{not json"), "invalid_message"),
        (json!({"op": "dance"}), "invalid_message"),
        (
            json!({"op": "subscribe", "channel": "weather"}),
            "invalid_channel",
        ),
        (
            json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": "BTC-USDT", "depth": 0}),
            "invalid_depth",
        ),
        (
            json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": "BTC-USDT", "interval_ms": 50}),
            "invalid_interval",
        ),
        (
            json!({"op": "subscribe", "channel": "book", "exchange": "nope", "symbol": "BTC-USDT"}),
            "unknown_exchange",
        ),
        (
            json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": "NOPE-USD"}),
            "unknown_symbol",
        ),
        (
            json!({"op": "subscribe", "channel": "book", "exchange": "sim"}),
            "invalid_subscription",
        ),
        (
            json!({"op": "unsubscribe", "channel": "book", "exchange": "sim", "symbol": "ETH-USDT"}),
            "not_subscribed",
        ),
    ];
    for (msg, code) in cases {
        let text = match &msg {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        ws.send(Message::text(text)).await.unwrap();
        let e = next_of(&mut ws, "error", 5).await;
        assert_eq!(e["code"], code, "{msg}");
    }
    for s in ["BTC-USDT", "ETH-USDT"] {
        send(
            &mut ws,
            json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": s}),
        )
        .await;
        next_of(&mut ws, "subscribed", 5).await;
    }
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "book", "exchange": "sim", "symbol": "SOL-USDT"}),
    )
    .await;
    let e = next_of(&mut ws, "error", 5).await;
    assert_eq!(e["code"], "too_many_subscriptions");
    assert!(e["detail"].as_str().unwrap().contains('2'));
    // Still open and serving.
    send(&mut ws, json!({"op": "ping"})).await;
    next_of(&mut ws, "pong", 5).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn order_updates_arrive_while_a_twap_runs() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    send(&mut ws, json!({"op": "subscribe", "channel": "orders"})).await;
    next_of(&mut ws, "subscribed", 5).await;
    // Another user's orders are not shown.
    app.add_user("bob", "bob-password", "basic").await.unwrap();
    let bob = app.login("bob", "bob-password").await.unwrap();
    let body = |id: &str| json!({"token_id": id, "exchange": "sim", "symbol": "BTC-USDT", "side": "sell", "quantity": "0.3", "duration_secs": 3, "interval_secs": 1});
    let r = app
        .http
        .post(app.url("/orders/twap"))
        .bearer_auth(&bob)
        .json(&body("bobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .http
        .post(app.url("/orders/twap"))
        .bearer_auth(&token)
        .json(&body("ws-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut slices = Vec::new();
    let mut last_status = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while last_status != "filled" && last_status != "expired" {
        let f = next_of(&mut ws, "order", 10).await;
        assert_eq!(f["order"]["token_id"], "ws-1", "only the user's own orders");
        assert!(f["order"].get("slices").is_none());
        if !f["slice"].is_null() {
            slices.push(f["slice"]["index"].as_u64().unwrap());
        }
        last_status = f["order"]["status"].as_str().unwrap().to_owned();
        assert!(Instant::now() < deadline);
    }
    assert_eq!(slices, [0, 1, 2]);
    // Each pushed state is already stored.
    let r: Value = app
        .http
        .get(app.url("/orders/ws-1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], last_status.as_str());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn consolidated_books_merge_levels_by_price_per_exchange() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    send(&mut ws, json!({"op": "subscribe", "channel": "consolidated", "symbol": "BTC-USDT", "depth": 5, "interval_ms": 200})).await;
    next_of(&mut ws, "subscribed", 5).await;
    let f = next_of(&mut ws, "consolidated", 5).await;
    assert_eq!(f["symbol"], "BTC-USDT");
    assert_eq!(f["exchanges"]["sim"]["state"], "live");
    let bids = f["bids"].as_array().unwrap();
    assert_eq!(bids.len(), 5);
    let mut prev: Option<rust_decimal::Decimal> = None;
    for l in bids {
        let p: rust_decimal::Decimal = l[0].as_str().unwrap().parse().unwrap();
        let total: rust_decimal::Decimal = l[1].as_str().unwrap().parse().unwrap();
        let per: rust_decimal::Decimal = l[2]["sim"].as_str().unwrap().parse().unwrap();
        assert_eq!(total, per, "one exchange: the total is its quantity");
        assert!(prev.is_none_or(|q| p < q), "bids best first");
        prev = Some(p);
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    // Two clients with tiny receive buffers, so the server's buffers fill quickly: one on
    // books (served by their fan-out group), one on consolidated books (ticked by its own
    // connection). Both must be cut off.
    let mut clients = Vec::new();
    for channel in ["book", "consolidated"] {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4 * 1024).unwrap();
        let tcp = sock.connect(app.addr).await.unwrap();
        let mut req = ws_url(&app).into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) =
            tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
                .await
                .unwrap();
        next(&mut ws, 5).await.unwrap();
        for s in ["BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC"] {
            send(&mut ws, json!({"op": "subscribe", "channel": channel, "exchange": "sim", "symbol": s, "depth": 100, "interval_ms": 100})).await;
        }
        clients.push(ws);
    }
    // Stop reading; the server's buffers fill and it must give up on us within ~10 s.
    let t0 = Instant::now();
    let deadline = Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text: String = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open = text
            .lines()
            .find(|l| l.starts_with("papertwap_ws_clients "))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok());
        if open == Some(0) {
            break;
        }
        assert!(
            t0.elapsed() < deadline,
            "a non-reading client was not closed: {open:?}"
        );
    }
    drop(clients);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_client_messages_close_with_1009() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    let big = format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(64 * 1024));
    ws.send(Message::text(big)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut code = None;
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, ws.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => {
                code = Some(u16::from(f.code));
                break;
            }
            Err(_) => break,
            _ => {}
        }
    }
    assert_eq!(code, Some(1009));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn trades_are_batched_from_subscription_on() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let mut ws = connect(&app, Some(&token)).await.unwrap();
    next(&mut ws, 5).await.unwrap();
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "trades", "exchange": "sim"}),
    )
    .await;
    let e = next_of(&mut ws, "error", 5).await;
    assert_eq!(e["code"], "invalid_subscription");
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "trades", "exchange": "sim", "symbol": "btcusdt"}),
    )
    .await;
    let s = next_of(&mut ws, "subscribed", 5).await;
    assert_eq!(
        (s["symbol"].as_str(), s["interval_ms"].as_u64()),
        (Some("BTC-USDT"), Some(100))
    );
    assert!(s.get("depth").is_none());
    // The sim's takers print several trades a second: frames arrive, each a batch of new
    // trades in order, never one twice.
    let mut ids = Vec::new();
    let mut frames = 0;
    while ids.len() < 20 {
        let f = next_of(&mut ws, "trades", 10).await;
        frames += 1;
        assert_eq!(
            (f["exchange"].as_str(), f["symbol"].as_str()),
            (Some("sim"), Some("BTC-USDT"))
        );
        let trades = f["trades"].as_array().unwrap();
        assert!(!trades.is_empty(), "no empty frames");
        for t in trades {
            assert!(t["taker_side"] == "buy" || t["taker_side"] == "sell", "{t}");
            assert!(t["price"].is_string() && t["qty"].is_string(), "{t}");
            ids.push(t["trade_id"].as_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    assert!(
        frames < ids.len(),
        "batched: {frames} frames for {} trades",
        ids.len()
    );
    send(
        &mut ws,
        json!({"op": "unsubscribe", "channel": "trades", "exchange": "sim", "symbol": "BTC-USDT"}),
    )
    .await;
    next_of(&mut ws, "unsubscribed", 5).await;
    app.stop().await.unwrap();
}
