//! Auth and the order endpoints through the real server on the simulated exchange.

use std::time::Duration;

use e2e::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    req: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let _ = app;
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn order(token_id: &str, qty: &str, duration: u64, interval: u64) -> Value {
    json!({"token_id": token_id, "exchange": "sim", "symbol": "BTC-USDT", "side": "buy",
           "quantity": qty, "duration_secs": duration, "interval_secs": interval})
}

async fn submit(
    app: &TestApp,
    token: &str,
    body: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    send(
        app,
        app.http
            .post(app.url("/orders/twap"))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

async fn get_order(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    let (s, _, b) = send(
        app,
        app.http
            .get(app.url(&format!("/orders/{id}")))
            .bearer_auth(token),
    )
    .await;
    (s, b)
}

async fn wait_final(app: &TestApp, token: &str, id: &str) -> Value {
    let last = std::cell::RefCell::new(Value::Null);
    testkit::eventually_async("the order final", Duration::from_secs(30), || async {
        let (s, b) = get_order(app, token, id).await;
        assert_eq!(s, 200, "{b}");
        let done = !["pending", "working"].contains(&b["status"].as_str().unwrap_or(""));
        *last.borrow_mut() = b;
        done
    })
    .await;
    last.into_inner()
}

fn assert_problem(
    s: StatusCode,
    h: &reqwest::header::HeaderMap,
    b: &Value,
    status: u16,
    code: &str,
) {
    assert_eq!(s.as_u16(), status, "{b}");
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["status"], status);
}

#[tokio::test]
async fn tokens_are_issued_and_checked() {
    let app = spawn_app().await.unwrap();
    // JSON as well as the OAuth2 form.
    let (s, h, b) = send(
        &app,
        app.http
            .post(app.url("/token"))
            .json(&json!({"username": "premium", "password": "CryptoTWAPpremium"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(b["expires_in"], 1800);
    assert_eq!(h["cache-control"], "no-store");
    let form = app.login_demo().await.unwrap();
    assert!(form.split('.').count() == 3);
    for (user, pw) in [("premium", "wrong"), ("nobody", "CryptoTWAPpremium")] {
        let (s, h, b) = send(
            &app,
            app.http
                .post(app.url("/token"))
                .form(&[("username", user), ("password", pw)]),
        )
        .await;
        assert_problem(s, &h, &b, 401, "invalid_credentials");
        assert_eq!(h["www-authenticate"], "Bearer");
    }
    let (s, h, b) = send(
        &app,
        app.http
            .post(app.url("/token"))
            .form(&[("username", "premium"), ("password", &"x".repeat(73))]),
    )
    .await;
    assert_problem(s, &h, &b, 401, "invalid_credentials");
    let (s, h, b) = send(&app, app.http.get(app.url("/orders"))).await;
    assert_problem(s, &h, &b, 401, "missing_token");
    assert!(
        h["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let mut parts: Vec<String> = form.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let (s, h, b) = send(
        &app,
        app.http
            .get(app.url("/orders"))
            .bearer_auth(parts.join(".")),
    )
    .await;
    assert_problem(s, &h, &b, 401, "invalid_token");
    // alg: none, an unsigned token claiming to be the demo user.
    let b64 = |v: &str| {
        use std::fmt::Write;
        // base64url without padding, enough for this test's ASCII JSON.
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = v.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..(chunk.len() + 1) {
                let _ = write!(out, "{}", T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(r#"{"sub":"premium","uid":1,"tier":"premium","iat":1,"exp":99999999999}"#)
    );
    let (s, h, b) = send(&app, app.http.get(app.url("/orders")).bearer_auth(&none)).await;
    assert_problem(s, &h, &b, 401, "invalid_token");
    let (s, _, _) = send(&app, app.http.get(app.url("/orders")).bearer_auth(&form)).await;
    assert_eq!(s, 200);
    let (s, h, b) = send(&app, app.http.get(app.url("/token"))).await;
    assert_problem(s, &h, &b, 405, "method_not_allowed");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_twap_executes_to_completion_with_its_slices_and_analytics() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let (s, h, b) = submit(&app, &token, &order("run-1", "0.3", 3, 1)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(h["location"], "/orders/run-1");
    assert_eq!(b["status"], "working");
    assert_eq!(b["slices_total"], 3);
    assert!(b["analytics"]["arrival_mid"].is_string());
    let done = wait_final(&app, &token, "run-1").await;
    assert_eq!(done["status"], "filled", "{done}");
    assert_eq!(done["filled_quantity"], "0.3");
    assert_eq!(done["fill_ratio"], "1");
    let slices = done["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 3);
    let mut total = rust_decimal::Decimal::ZERO;
    for (i, sl) in slices.iter().enumerate() {
        assert_eq!(sl["index"], i);
        assert!(sl["skipped"].is_null());
        assert_eq!(sl["target_quantity"], "0.1");
        let fills = sl["fills"].as_array().unwrap();
        assert!(!fills.is_empty());
        let ask: rust_decimal::Decimal = sl["best_ask"].as_str().unwrap().parse().unwrap();
        let first: rust_decimal::Decimal = fills[0][0].as_str().unwrap().parse().unwrap();
        assert!(first >= ask, "a buy walks the asks from the best");
        for f in fills {
            total += f[1]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap();
        }
        let sched =
            chrono::DateTime::parse_from_rfc3339(sl["scheduled_at"].as_str().unwrap()).unwrap();
        let exec =
            chrono::DateTime::parse_from_rfc3339(sl["executed_at"].as_str().unwrap()).unwrap();
        let late = (exec - sched).num_milliseconds();
        assert!((0..1_000).contains(&late), "slice {i} ran {late} ms late");
    }
    assert_eq!(total.normalize().to_string(), "0.3");
    let a = &done["analytics"];
    for k in [
        "arrival_mid",
        "slippage_vs_arrival_bps",
        "market_twap",
        "slippage_vs_market_twap_bps",
        "spread_cost",
    ] {
        assert!(a[k].is_string(), "{k}: {a}");
    }
    assert!(done["fees"].as_str().unwrap() != "0");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn replays_conflicts_validation_and_spellings() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let body = order("dup-1", "0.5", 600, 60);
    let (s, _, first) = submit(&app, &token, &body).await;
    assert_eq!(s, 201, "{first}");
    let (s, h, again) = submit(&app, &token, &body).await;
    assert_eq!(s, 200, "a replay answers the original order");
    assert_eq!(h["location"], "/orders/dup-1");
    assert_eq!(again["created_at"], first["created_at"]);
    let (s, h, b) = submit(&app, &token, &order("dup-1", "0.6", 600, 60)).await;
    assert_problem(s, &h, &b, 409, "token_id_conflict");

    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"token_id": "v1", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "0.5", "duration_secs": 60, "interval_secs": 10, "colour": "red"}),
            400,
            "invalid_body",
        ),
        (order("v2", "0.0000001", 60, 10), 400, "invalid_quantity"),
        (order("v3", "0.01", 600, 1), 400, "slice_too_small"),
        (order("v4", "1", 5, 10), 400, "invalid_schedule"),
        (order("bad id", "1", 60, 10), 400, "invalid_token_id"),
        (
            json!({"token_id": "v5", "exchange": "sim", "symbol": "DOGE-EUR", "side": "buy", "quantity": "1", "duration_secs": 60, "interval_secs": 10}),
            404,
            "unknown_symbol",
        ),
        (
            json!({"token_id": "v6", "exchange": "nope", "symbol": "BTC-USDT", "side": "buy", "quantity": "1", "duration_secs": 60, "interval_secs": 10}),
            404,
            "unknown_exchange",
        ),
        (
            json!({"token_id": "v7", "exchange": "sim", "symbol": "BTC-USDT", "side": "hold", "quantity": "1", "duration_secs": 60, "interval_secs": 10}),
            400,
            "invalid_side",
        ),
        (
            json!({"token_id": "v8", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "1", "interval_secs": 10}),
            400,
            "invalid_schedule",
        ),
        (json!("just a string"), 400, "invalid_body"),
    ];
    for (b, status, code) in cases {
        let (s, h, body) = submit(&app, &token, &b).await;
        assert_problem(s, &h, &body, status, code);
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    let (s, h, b) = send(
        &app,
        app.http
            .post(app.url("/orders/twap"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_problem(s, &h, &b, 415, "unsupported_media_type");
    let (s, h, b) = send(
        &app,
        app.http
            .post(app.url("/orders/twap"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_problem(s, &h, &b, 400, "invalid_body");

    // The original design's spellings: order_type, price, and query execution_time/interval.
    let legacy = json!({"token_id": "legacy-1", "exchange": "sim", "symbol": "btcusdt", "order_type": "sell", "quantity": "0.5", "price": "1000"});
    let (s, _, b) = send(
        &app,
        app.http
            .post(app.url("/orders/twap?execution_time=600&interval=60"))
            .bearer_auth(&token)
            .json(&legacy),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (
            b["side"].as_str(),
            b["limit_price"].as_str(),
            b["slices_total"].as_u64()
        ),
        (Some("sell"), Some("1000"), Some(10))
    );
    // start_time/end_time with interval.
    let start = chrono::Utc::now() + chrono::Duration::seconds(120);
    let end = start + chrono::Duration::seconds(300);
    let windowed = json!({"token_id": "window-1", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "0.5", "start_time": start.to_rfc3339(), "end_time": end.to_rfc3339(), "interval": 60});
    let (s, _, b) = submit(&app, &token, &windowed).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["slices_total"], 5);
    // Times without an offset, as the original design's clients send them: UTC.
    let naive = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let local_less = json!({"token_id": "window-2", "exchange": "sim", "symbol": "BTC-USDT", "side": "buy", "quantity": "0.5", "start_time": naive(start), "end_time": naive(end), "interval": 60});
    let (s, _, b) = submit(&app, &token, &local_less).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["start_time"], format!("{}Z", naive(start)), "read as UTC");
    assert_eq!(b["slices_total"], 5);
    // A time in neither form names its field and the form expected.
    for (field, value) in [("start_time", "2025-01-01"), ("end_time", "tomorrow")] {
        let mut bad = local_less.clone();
        bad["token_id"] = json!("window-3");
        bad[field] = json!(value);
        let (s, h, b) = submit(&app, &token, &bad).await;
        assert_problem(s, &h, &b, 400, "invalid_body");
        let detail = b["detail"].as_str().unwrap();
        assert!(
            detail.contains(field) && detail.contains("2025-01-01T00:00:00Z"),
            "{detail}"
        );
    }
    // A batch.
    let (s, _, b) = submit(
        &app,
        &token,
        &json!([
            order("batch-1", "0.5", 600, 60),
            order("batch-2", "0.5", 600, 60)
        ]),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b.as_array().unwrap().len(), 2);
    let (s, h, b) = submit(
        &app,
        &token,
        &json!([
            order("batch-3", "0.5", 600, 60),
            order("batch-3", "0.5", 600, 60)
        ]),
    )
    .await;
    assert_problem(s, &h, &b, 400, "duplicate_token_id");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_duplicates_create_exactly_one_order() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let body = order("race-1", "0.5", 600, 60);
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let (http, url, token, body) = (
            app.http.clone(),
            app.url("/orders/twap"),
            token.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 200), "{codes:?}");
    let (_, h, list) = send(
        &app,
        app.http
            .get(app.url("/orders?token_id=race-1"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(h["x-total-count"], "1");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn listing_cancelling_and_privacy() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    for i in 0..3 {
        let (s, _, b) = submit(&app, &token, &order(&format!("long-{i}"), "0.5", 600, 60)).await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, _, b) = submit(&app, &token, &order("short-1", "0.2", 2, 1)).await;
    assert_eq!(s, 201, "{b}");
    wait_final(&app, &token, "short-1").await;
    let (_, h, all) = send(&app, app.http.get(app.url("/orders")).bearer_auth(&token)).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(h["x-total-count"], "4");
    assert!(all[0].get("slices").is_none(), "listings carry no slices");
    assert_eq!(all[0]["token_id"], "short-1", "newest first");
    let (_, _, open) = send(
        &app,
        app.http
            .get(app.url("/orders?status=open&limit=2"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(open.as_array().unwrap().len(), 2);
    let (_, h, closed) = send(
        &app,
        app.http
            .get(app.url("/orders?status=closed"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert_eq!(h["x-total-count"], "1");
    let (_, _, by_symbol) = send(
        &app,
        app.http
            .get(app.url("/orders?exchange=sim&symbol=btcusdt"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(by_symbol.as_array().unwrap().len(), 4);
    let (s, h, b) = send(
        &app,
        app.http
            .get(app.url("/orders?status=weird"))
            .bearer_auth(&token),
    )
    .await;
    assert_problem(s, &h, &b, 400, "invalid_query");
    let (s, h, b) = send(
        &app,
        app.http.get(app.url("/orders?limit=0")).bearer_auth(&token),
    )
    .await;
    assert_problem(s, &h, &b, 400, "invalid_query");

    // Cancel, twice; a filled order cannot be cancelled.
    let (s, _, b) = send(
        &app,
        app.http
            .delete(app.url("/orders/long-0"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "cancelled");
    assert!(b["closed_at"].is_string());
    let (s, _, b) = send(
        &app,
        app.http
            .delete(app.url("/orders/long-0"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!((s.as_u16(), b["status"].as_str()), (200, Some("cancelled")));
    let (s, h, b) = send(
        &app,
        app.http
            .delete(app.url("/orders/short-1"))
            .bearer_auth(&token),
    )
    .await;
    assert_problem(s, &h, &b, 409, "order_not_cancellable");
    let (s, h, b) = send(
        &app,
        app.http.put(app.url("/orders/long-1")).bearer_auth(&token),
    )
    .await;
    assert_problem(s, &h, &b, 405, "method_not_allowed");

    // Another user sees none of it: 404 exactly like a missing order.
    app.add_user("alice", "alice-password", "basic")
        .await
        .unwrap();
    let alice = app.login("alice", "alice-password").await.unwrap();
    let (s, h, b) = send(
        &app,
        app.http.get(app.url("/orders/long-1")).bearer_auth(&alice),
    )
    .await;
    assert_problem(s, &h, &b, 404, "order_not_found");
    let (s, h2, b2) = send(
        &app,
        app.http
            .get(app.url("/orders/never-existed"))
            .bearer_auth(&alice),
    )
    .await;
    assert_problem(s, &h2, &b2, 404, "order_not_found");
    let (s, _, _) = send(
        &app,
        app.http
            .delete(app.url("/orders/long-1"))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!(s, 404);
    let (_, _, list) = send(&app, app.http.get(app.url("/orders")).bearer_auth(&alice)).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    // Alice may reuse a token_id that belongs to someone else.
    let (s, _, b) = submit(&app, &alice, &order("long-1", "0.5", 600, 60)).await;
    assert_eq!(s, 201, "{b}");
    let (_, b) = get_order(&app, &token, "long-1").await;
    assert_eq!(b["status"], "working", "the demo user's order is untouched");
    app.stop().await.unwrap();
}

/// A token is only as good as its user: `users passwd` revokes the tokens issued before it
/// and `users remove` every token of the user, both made from another process (here: the
/// same store opened beside the server) while the server runs.
#[tokio::test]
async fn removed_users_and_changed_passwords_revoke_tokens() {
    let app = spawn_app().await.unwrap();
    app.add_user("alice", "alice-password-1", "basic")
        .await
        .unwrap();
    app.add_user("bob", "bob-password-1", "basic")
        .await
        .unwrap();
    let alice = app.login("alice", "alice-password-1").await.unwrap();
    let bob = app.login("bob", "bob-password-1").await.unwrap();
    let (s, _, _) = submit(&app, &bob, &order("bob-1", "1", 600, 60)).await;
    assert_eq!(s, StatusCode::CREATED);
    let status_of = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/orders"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status_of(alice.clone()).await, StatusCode::OK);

    let store = store::Store::connect(&app.store_url).await.unwrap();
    papertwap_server::users::passwd(&store, "alice", "alice-password-2")
        .await
        .unwrap();
    testkit::eventually_async("the old token refused", Duration::from_secs(10), || async {
        status_of(alice.clone()).await == StatusCode::UNAUTHORIZED
    })
    .await;
    let res = app
        .http
        .get(app.url("/orders"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_token");
    assert!(body["detail"].as_str().unwrap().contains("password change"));
    let fresh = app.login("alice", "alice-password-2").await.unwrap();
    assert_eq!(status_of(fresh).await, StatusCode::OK);

    assert!(store.remove_user("bob").await.unwrap());
    testkit::eventually_async(
        "the removed user's token refused",
        Duration::from_secs(10),
        || async { status_of(bob.clone()).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    let (s, _, body) = submit(&app, &bob, &order("bob-2", "1", 600, 60)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
    store.close().await;
    app.stop().await.unwrap();
}
