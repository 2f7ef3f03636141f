//! Resource abuse (issue 8/8): each abuse gets the right answer — slow request heads 408 and
//! close, slow bodies 408 problem and close, oversized bodies 413 before they are read,
//! oversized request lines and header sets refused by the HTTP codec, oversized query values
//! 400, a subscription flood on one socket answered and then cut off with close 1008, a login
//! flood held at the per-IP limit — and a well-behaved client beside each keeps being served.
//! (How much the abuse costs other clients' latency is measured by the load tool,
//! `scripts/abuse-load.sh`, not here: timing assertions do not belong in tests on a shared
//! machine.)

use std::time::Duration;

use e2e::{TestApp, spawn_app, spawn_app_with};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Send `head` raw, then read until the server closes (or `secs` pass): (response, elapsed).
async fn raw(app: &TestApp, head: &[u8], secs: u64) -> (String, Duration) {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let t0 = Instant::now();
    // The server may close before everything is written (an oversized head): fine.
    let _ = s.write_all(head).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = t0 + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {secs} s: {}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
}

/// The health endpoint still answers quickly for a normal client.
async fn others_served(app: &TestApp) {
    let t0 = Instant::now();
    let r = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let app = spawn_app().await.unwrap();
    // Slowloris on the head: 20 connections that never finish their request head.
    let heads: Vec<_> = (0..20)
        .map(|_| {
            let app_addr = app.addr;
            tokio::spawn(async move {
                let mut s = TcpStream::connect(app_addr).await.unwrap();
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .await
                    .unwrap();
                let t0 = Instant::now();
                let mut out = Vec::new();
                let mut buf = [0u8; 1024];
                // One more header byte a second until the server gives up on us.
                loop {
                    tokio::select! {
                        r = s.read(&mut buf) => match r {
                            Ok(0) | Err(_) => break,
                            Ok(n) => out.extend_from_slice(&buf[..n]),
                        },
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {
                            if s.write_all(b"a").await.is_err() { break; }
                        }
                    }
                    assert!(t0.elapsed() < Duration::from_secs(15), "never cut off");
                }
                (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
            })
        })
        .collect();
    // Slow bodies: the head arrives, part of the body, then nothing — with a length, and
    // chunked (where the HTTP layer alone would wait for the body's end forever).
    let slow_body = |request: &'static [u8]| {
        let app_addr = app.addr;
        tokio::spawn(async move {
            let mut s = TcpStream::connect(app_addr).await.unwrap();
            s.write_all(request).await.unwrap();
            let t0 = Instant::now();
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                    Err(_) => panic!("slow body never cut off: {}", String::from_utf8_lossy(&out)),
                }
            }
            (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
        })
    };
    let bodies = [
        slow_body(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a",
        ),
        slow_body(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nusern\r\n",
        ),
    ];
    for _ in 0..5 {
        others_served(&app).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for h in heads {
        let (out, took) = h.await.unwrap();
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
        assert!(took < Duration::from_secs(8), "cut off after {took:?}");
    }
    for b in bodies {
        let (out, took) = b.await.unwrap();
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
        assert!(out.contains("\"code\":\"request_timeout\""), "{out}");
        assert!(
            out.to_ascii_lowercase().contains("connection: close"),
            "{out}"
        );
        assert!(
            took >= api::BODY_TIMEOUT && took < api::BODY_TIMEOUT + Duration::from_secs(5),
            "closed after {took:?}"
        );
    }
    others_served(&app).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_heads_and_query_values_are_refused() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    let auth = format!("Authorization: Bearer {token}\r\n");

    // A body announced larger than any endpoint takes: 413 before a byte of it is read.
    let head = format!(
        "POST /orders/twap HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{"
    );
    let (out, _) = raw(&app, head.as_bytes(), 10).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("\"code\":\"payload_too_large\""), "{out}");

    // The same sent chunked, without a length: cut at the limit.
    let mut chunked = format!(
        "POST /orders/twap HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(b"4000\r\n");
        chunked.extend_from_slice(&[b' '; 0x4000]);
        chunked.extend_from_slice(b"\r\n");
    }
    let (out, _) = raw(&app, &chunked, 10).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");

    // A login form over 4 KiB: 413.
    let r = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=premium&password={}",
            "x".repeat(8 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // A 100 KB request line or 200 headers never reach the application.
    let line = format!(
        "GET /orders?token_id={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    let (out, _) = raw(&app, line.as_bytes(), 10).await;
    assert!(
        out.starts_with("HTTP/1.1 400")
            || out.starts_with("HTTP/1.1 414")
            || out.starts_with("HTTP/1.1 431"),
        "{out}"
    );
    let mut many = String::from("GET /health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (out, _) = raw(&app, many.as_bytes(), 10).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");

    // Query values that fit the head but not the contract: 400 problems.
    for path in [
        format!("/orders?token_id={}", "a".repeat(8_000)),
        format!("/orders?symbol={}", "B".repeat(5_000)),
        "/orders?limit=100000".to_owned(),
    ] {
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], "invalid_query");
    }
    let r = app
        .http
        .get(app.url(&format!("/klines/sim/{}", "X".repeat(5_000))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    others_served(&app).await;
    app.stop().await.unwrap();
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(app: &TestApp, token: &str) -> Ws {
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

#[tokio::test]
async fn ten_thousand_subscriptions_on_one_socket_are_answered_then_cut_off() {
    let app = spawn_app().await.unwrap();
    let token = app.login_demo().await.unwrap();
    // A well-behaved client of the same user, subscribed to a book.
    let mut calm = ws(&app, &token).await;
    calm.send(Message::text(
        json!({"op":"subscribe","channel":"book","exchange":"sim","symbol":"BTC-USDT","depth":5,"interval_ms":200}).to_string(),
    ))
    .await
    .unwrap();

    let flood = ws(&app, &token).await;
    let (mut tx, mut rx) = flood.split();
    let writer = tokio::spawn(async move {
        let symbols = ["BTC-USDT", "ETH-USDT", "SOL-USDT"];
        let mut sent = 0;
        for i in 0..10_000u32 {
            let depth = 1 + i % 100;
            let m = json!({"op":"subscribe","channel":"book","exchange":"sim",
                "symbol": symbols[(i % 3) as usize], "depth": depth, "interval_ms": 1000 + i});
            if tx.send(Message::text(m.to_string())).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let mut counts = std::collections::HashMap::<String, usize>::new();
    let mut closed_with = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, rx.next()).await {
        match m {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                let key = match v["type"].as_str() {
                    Some("error") => v["code"].as_str().unwrap_or("").to_owned(),
                    Some(t) => t.to_owned(),
                    None => "?".into(),
                };
                *counts.entry(key).or_default() += 1;
            }
            Ok(Message::Close(c)) => {
                closed_with = c.map(|c| u16::from(c.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let sent = writer.await.unwrap();
    assert!(sent >= 200, "the flood got {sent} messages out");
    assert_eq!(closed_with, Some(1008), "{counts:?}");
    assert_eq!(counts.get("too_many_messages"), Some(&1), "{counts:?}");
    assert!(
        counts.get("subscribed").copied().unwrap_or(0) <= 50,
        "{counts:?}"
    );
    assert!(
        counts.get("too_many_subscriptions").copied().unwrap_or(0) >= 1,
        "{counts:?}"
    );

    // The calm client never noticed.
    let t0 = Instant::now();
    let mut books = 0;
    while books < 3 {
        match tokio::time::timeout(Duration::from_secs(5), calm.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if serde_json::from_str::<Value>(&t).unwrap()["type"] == "book" {
                    books += 1;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("calm client lost its feed: {other:?}"),
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_login_flood_is_held_at_the_limit_and_others_still_log_in() {
    let app = spawn_app_with(|s| {
        s.limits.token_per_ip_per_minute = 10;
        s.limits.token_per_username_per_minute = 5;
    })
    .await
    .unwrap();
    let flood: Vec<_> = (0..100)
        .map(|i| {
            let http = app.http.clone();
            let url = app.url("/token");
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .form(&[
                        ("username", format!("victim{}", i % 7)),
                        ("password", "guess".into()),
                    ])
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.headers().contains_key("retry-after"))
            })
        })
        .collect();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for f in flood {
        let (s, retry_after) = f.await.unwrap();
        if s == 429 {
            assert!(retry_after);
        }
        *by_status.entry(s).or_default() += 1;
    }
    assert_eq!(by_status.get(&401), Some(&10), "{by_status:?}");
    assert_eq!(by_status.get(&429), Some(&90), "{by_status:?}");
    // Another address logs in fine meanwhile.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = other
        .post(app.url("/token"))
        .form(&[("username", "premium"), ("password", "CryptoTWAPpremium")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    others_served(&app).await;
    app.stop().await.unwrap();
}
