use std::time::Duration;

use e2e::{spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::Value;

/// Decimals travel as plain decimal strings, never JSON numbers.
fn assert_decimal_string(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a string"));
    assert!(
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.matches('.').count() <= 1,
        "{s} is not a plain decimal"
    );
}

async fn get(app: &e2e::TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn assert_problem(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    want: u16,
    code: &str,
) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "problem content type"
    );
    assert_eq!(body["status"], want);
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://papertwap.dev/problems/")
    );
    assert!(!body["title"].as_str().unwrap().is_empty());
    assert!(!body["detail"].as_str().unwrap().is_empty());
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn root_health_and_exchanges() {
    let app = spawn_app().await.unwrap();
    let (s, h, root) = get(&app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.contains_key("x-request-id"));
    assert_eq!(root["name"], "papertwap");
    assert_eq!(root["docs"], "/docs");
    assert_eq!(root["ui"], "/ui");

    let (s, _, health) = get(&app, "/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(health["store"], "ok");
    let sim = &health["exchanges"].as_array().unwrap()[0];
    assert_eq!(sim["id"], "sim");
    assert_eq!(sim["status"], "connected");

    let (s, _, ex) = get(&app, "/exchanges").await;
    assert_eq!(s, StatusCode::OK);
    let ex = ex.as_array().unwrap();
    let ids: Vec<&str> = ex.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "sim", "binance", "kraken", "okx", "bybit", "coinbase", "bitstamp", "replay"
        ]
    );
    assert_eq!(
        ex[7]["status"], "disabled",
        "the replay venue is off by default"
    );
    assert_eq!(ex[0]["status"], "connected");
    assert_eq!(ex[0]["symbols"], 4);
    assert_eq!(ex[1]["status"], "disabled");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn configured_live_exchanges_are_listed_but_not_pretended_connected() {
    // Every venue pointed at a closed loopback port: listed, honestly down, sim serving.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let started = std::time::Instant::now();
    let app = spawn_app_with(|s| {
        let ex = &mut s.exchanges;
        for v in [
            &mut ex.binance,
            &mut ex.kraken,
            &mut ex.okx,
            &mut ex.bybit,
            &mut ex.coinbase,
            &mut ex.bitstamp,
        ] {
            v.enabled = true;
            v.ws_url = Some(format!("ws://127.0.0.1:{port}/ws"));
            v.rest_url = Some(format!("http://127.0.0.1:{port}"));
        }
    })
    .await
    .unwrap();
    let (s, _, _) = get(&app, "/orderbook/sim/BTC-USDT").await;
    assert_eq!(s, StatusCode::OK, "sim serves at once");
    eprintln!("started and served sim in {:?}", started.elapsed());
    let venues = ["binance", "kraken", "okx", "bybit", "coinbase", "bitstamp"];
    for id in venues {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            let (_, _, ex) = get(&app, "/exchanges").await;
            let v = ex
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id)
                .unwrap()
                .clone();
            if v["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("connect"))
            {
                break v;
            }
            assert!(std::time::Instant::now() < deadline, "{v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            ["down", "connecting"].contains(&status["status"].as_str().unwrap()),
            "{status}"
        );
    }
    let (s, h, body) = get(&app, "/orderbook/kraken/BTC-USD").await;
    assert_problem(s, &h, &body, 503, "exchange_unavailable");
    let (s, h, body) = get(&app, "/orderbook/coinbase/BTC-USD").await;
    assert_problem(s, &h, &body, 503, "exchange_unavailable");
    let (_, _, health) = get(&app, "/health").await;
    assert_eq!(
        health["status"], "degraded",
        "degraded exchanges do not fail health"
    );
}

#[tokio::test]
async fn live_book_with_health_changes_between_calls_and_aliases_resolve() {
    let app = spawn_app().await.unwrap();
    let (s, _, first) = get(&app, "/orderbook/sim/BTC-USDT").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["exchange"], "sim");
    assert_eq!(first["symbol"], "BTC-USDT");
    assert_eq!(first["bids"].as_array().unwrap().len(), 10);
    assert_eq!(first["asks"].as_array().unwrap().len(), 10);
    assert_eq!(first["health"]["state"], "live");
    assert_eq!(first["health"]["crossed"], false);
    for l in first["bids"].as_array().unwrap() {
        assert_decimal_string(&l[0]);
        assert_decimal_string(&l[1]);
    }
    let best_bid: f64 = first["bids"][0][0].as_str().unwrap().parse().unwrap();
    let best_ask: f64 = first["asks"][0][0].as_str().unwrap().parse().unwrap();
    assert!(best_bid < best_ask);
    chrono::DateTime::parse_from_rfc3339(first["ts"].as_str().unwrap()).unwrap();

    // The book moves: a later call shows a later sequence number.
    let seq0 = first["seq"].as_u64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, _, b) = get(&app, "/orderbook/sim/BTC-USDT?depth=3").await;
        assert_eq!(b["bids"].as_array().unwrap().len(), 3);
        if b["seq"].as_u64().unwrap() > seq0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "book did not change"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }

    for alias in ["BTCUSDT", "btcusdt", "BTC%2FUSDT", "btc-usdt", "BTC_USDT"] {
        let (s, _, b) = get(&app, &format!("/orderbook/sim/{alias}")).await;
        assert_eq!(s, StatusCode::OK, "{alias}: {b}");
        assert_eq!(b["symbol"], "BTC-USDT", "{alias}");
    }
    let (s, _, b) = get(&app, "/orderbook/SIM/ethbtc?depth=100").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["symbol"], "ETH-BTC");
    assert!(
        b["bids"].as_array().unwrap().len() >= 50,
        "≥ 50 levels a side"
    );
}

#[tokio::test]
async fn pairs_and_quote_filter() {
    let app = spawn_app().await.unwrap();
    let (s, _, pairs) = get(&app, "/exchanges/sim/pairs").await;
    assert_eq!(s, StatusCode::OK);
    let pairs = pairs.as_array().unwrap();
    assert_eq!(pairs.len(), 4);
    let btc = pairs.iter().find(|p| p["symbol"] == "BTC-USDT").unwrap();
    assert_eq!(btc["base"], "BTC");
    assert_eq!(btc["quote"], "USDT");
    assert_eq!(btc["exchange_symbol"], "BTCUSDT");
    assert_eq!(btc["ws_symbol"], "btcusdt");
    assert_eq!(btc["status"], "trading");
    assert_eq!(btc["price_tick"], "0.01");
    assert_eq!(btc["qty_step"], "0.00001");
    assert_eq!(btc["min_notional"], "5");
    let (_, _, usdt) = get(&app, "/exchanges/sim/pairs?quote=usdt").await;
    assert_eq!(usdt.as_array().unwrap().len(), 3);
    let (_, _, btcq) = get(&app, "/exchanges/sim/pairs?quote=XBT").await;
    assert_eq!(btcq.as_array().unwrap().len(), 1, "XBT is BTC");
}

#[tokio::test]
async fn klines_default_intervals_and_ranges() {
    let app = spawn_app().await.unwrap();
    let (s, _, k) = get(&app, "/klines/sim/BTC-USDT").await;
    assert_eq!(s, StatusCode::OK);
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 100, "default limit");
    assert_eq!(
        k.last().unwrap()["closed"],
        false,
        "in-progress candle flagged"
    );
    for w in k.windows(2) {
        assert_eq!(
            w[0]["close_time"], w[1]["open_time"],
            "oldest first, contiguous"
        );
    }
    for c in k {
        for f in ["open", "high", "low", "close", "volume"] {
            assert_decimal_string(&c[f]);
        }
    }
    for iv in [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "3d", "1w", "1M",
    ] {
        let (s, _, k) = get(&app, &format!("/klines/sim/ETHUSDT?interval={iv}&limit=3")).await;
        assert_eq!(s, StatusCode::OK, "{iv}: {k}");
        assert!(!k.as_array().unwrap().is_empty(), "{iv}");
    }
    let (_, _, k) = get(&app, "/klines/sim/BTC-USDT?interval=1h&limit=1000").await;
    assert!(k.as_array().unwrap().len() >= 24, "a day of history");
    // A window by start/end (RFC 3339 and milliseconds).
    let (_, _, all) = get(&app, "/klines/sim/BTC-USDT?limit=10").await;
    let start = all[2]["open_time"].as_str().unwrap().to_owned();
    let end_ms = chrono::DateTime::parse_from_rfc3339(all[4]["open_time"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let (s, _, w) = get(
        &app,
        &format!("/klines/sim/BTC-USDT?start={start}&end={end_ms}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w.as_array().unwrap().len(), 3);
    assert_eq!(w[0]["open_time"], all[2]["open_time"]);
}

#[tokio::test]
async fn bad_input_gets_problem_json_with_the_right_status() {
    let app = spawn_app().await.unwrap();
    let cases: &[(&str, u16, &str)] = &[
        ("/orderbook/nasdaq/BTC-USDT", 404, "unknown_exchange"),
        ("/orderbook/sim/DOGE-USDT", 404, "unknown_symbol"),
        ("/orderbook/binance/BTC-USDT", 404, "exchange_disabled"),
        ("/orderbook/sim/BTC-USDT?depth=0", 400, "invalid_depth"),
        ("/orderbook/sim/BTC-USDT?depth=101", 400, "invalid_depth"),
        ("/orderbook/sim/BTC-USDT?depth=-1", 400, "invalid_query"),
        ("/orderbook/sim/BTC-USDT?dpeth=5", 400, "invalid_query"),
        ("/klines/sim/BTC-USDT?interval=2m", 400, "invalid_interval"),
        ("/klines/sim/BTC-USDT?interval=1H", 400, "invalid_interval"),
        ("/klines/sim/BTC-USDT?limit=0", 400, "invalid_limit"),
        ("/klines/sim/BTC-USDT?limit=1001", 400, "invalid_limit"),
        (
            "/klines/sim/BTC-USDT?limit=99999999999999999999",
            400,
            "invalid_query",
        ),
        ("/klines/sim/BTC-USDT?start=yesterday", 400, "invalid_time"),
        (
            "/klines/sim/BTC-USDT?start=2000&end=1000",
            400,
            "invalid_time_range",
        ),
        ("/klines/sim/NOPE-USDT", 404, "unknown_symbol"),
        ("/exchanges/nasdaq/pairs", 404, "unknown_exchange"),
        ("/no/such/route", 404, "not_found"),
    ];
    for (path, status, code) in cases {
        let (s, h, body) = get(&app, path).await;
        assert_problem(s, &h, &body, *status, code);
    }
    // Wrong method: 405 with Allow.
    let r = app
        .http
        .post(app.url("/orderbook/sim/BTC-USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET");
    let h = r.headers().clone();
    let body: Value = r.json().await.unwrap();
    assert_problem(
        StatusCode::METHOD_NOT_ALLOWED,
        &h,
        &body,
        405,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await.unwrap();
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    let bad = "x".repeat(200);
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", bad.as_str())
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, bad, "insane ids are replaced");
    assert!(!id.is_empty());
}

#[tokio::test]
async fn stops_cleanly_when_asked() {
    let app = spawn_app().await.unwrap();
    let addr = app.addr;
    tokio::time::timeout(Duration::from_secs(15), app.stop())
        .await
        .expect("stopped in time")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn consolidated_book_over_rest_merges_live_venues() {
    let app = spawn_app().await.unwrap();
    let (s, _, b) = get(&app, "/orderbook/consolidated/BTC-USDT?depth=5").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["symbol"], "BTC-USDT");
    let bids = b["bids"].as_array().unwrap();
    let asks = b["asks"].as_array().unwrap();
    assert!(!bids.is_empty() && bids.len() <= 5 && !asks.is_empty() && asks.len() <= 5);
    // Best first on each side; each level's total is the sum of its venues' quantities.
    for side in [bids, asks] {
        for l in side {
            assert_decimal_string(&l[0]);
            let per: rust_decimal::Decimal = l[2]
                .as_object()
                .unwrap()
                .values()
                .map(|q| {
                    q.as_str()
                        .unwrap()
                        .parse::<rust_decimal::Decimal>()
                        .unwrap()
                })
                .sum();
            assert_eq!(per, l[1].as_str().unwrap().parse().unwrap());
        }
    }
    let p = |l: &Value| {
        l[0].as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    assert!(bids.windows(2).all(|w| p(&w[0]) > p(&w[1])));
    assert!(asks.windows(2).all(|w| p(&w[0]) < p(&w[1])));
    assert!(p(&bids[0]) < p(&asks[0]), "not crossed");
    assert_eq!(b["exchanges"]["sim"]["state"], "live");
    for (path, status, code) in [
        ("/orderbook/consolidated/NOPE-USDT", 404, "unknown_symbol"),
        (
            "/orderbook/consolidated/BTC-USDT?depth=101",
            400,
            "invalid_depth",
        ),
    ] {
        let (s, _, b) = get(&app, path).await;
        assert_eq!(
            (s.as_u16(), b["code"].as_str()),
            (status, Some(code)),
            "{path}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn trades_newest_within_a_window_oldest_first() {
    let app = spawn_app().await.unwrap();
    // The sim's default books print trades from the start.
    let t0 = tokio::time::Instant::now();
    let trades = loop {
        let (status, _, body) = get(&app, "/trades/sim/BTC-USDT?limit=5").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body.as_array().unwrap().len() == 5 {
            break body;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "no trades: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let list = trades.as_array().unwrap();
    for t in list {
        assert_decimal_string(&t["price"]);
        assert_decimal_string(&t["qty"]);
        assert!(t["taker_side"] == "buy" || t["taker_side"] == "sell");
        assert!(t["exchange_ts"].as_str().unwrap().ends_with('Z'));
    }
    let ids: Vec<u64> = list
        .iter()
        .map(|t| t["trade_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    // A window ending at the third trade's time holds it and not the later ones.
    let end = list[2]["exchange_ts"].as_str().unwrap();
    let (status, _, windowed) =
        get(&app, &format!("/trades/sim/btcusdt?end={end}&limit=1000")).await;
    assert_eq!(status, StatusCode::OK);
    let w = windowed.as_array().unwrap();
    assert!(w.iter().all(|t| t["exchange_ts"].as_str().unwrap() <= end));
    assert!(w.iter().any(|t| t["trade_id"] == list[2]["trade_id"]));
    // Errors.
    let (s, h, b) = get(&app, "/trades/sim/BTC-USDT?limit=0").await;
    assert_problem(s, &h, &b, 400, "invalid_limit");
    let (s, h, b) = get(&app, "/trades/nowhere/BTC-USDT").await;
    assert_problem(s, &h, &b, 404, "unknown_exchange");
    let (s, h, b) = get(&app, "/trades/sim/NOPE-USDT").await;
    assert_problem(s, &h, &b, 404, "unknown_symbol");
    let (s, h, b) = get(
        &app,
        "/trades/sim/BTC-USDT?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z",
    )
    .await;
    assert_problem(s, &h, &b, 400, "invalid_time_range");
    let (s, h, b) = get(&app, "/trades/sim/BTC-USDT?start=yesterday").await;
    assert_eq!(s.as_u16(), 400, "{b} {h:?}");
    app.stop().await.unwrap();
}
