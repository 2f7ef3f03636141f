//! Crash loop (DESIGN §11): SIGKILL the server at random moments while orders of every
//! strategy run (TWAP, jittered TWAP, VWAP, POV, a latency-delayed route), restart it
//! on the same database, and check after every cycle that nothing accepted was lost, no
//! filled quantity went backwards, no slice index was recorded twice and the database is
//! intact; at the end every order reaches a final state.
//!
//! Cycles: `PAPERTWAP_CRASH_CYCLES` (default 30, as in CI; 100 locally for the full bar).

use std::collections::{BTreeMap, HashSet};
use std::process::Child;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Rng, server, spawn_logged, token};

struct Running {
    child: Child,
    addr: String,
}

fn start(db: &str) -> Running {
    let mut cmd = server();
    cmd.env("PAPERTWAP_STORE__URL", db)
        .env("PAPERTWAP_EXCHANGES__BINANCE__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__KRAKEN__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__BYBIT__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__OKX__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__COINBASE__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED", "false");
    let (child, addr) = spawn_logged(cmd);
    Running { child, addr }
}

async fn all_orders(http: &reqwest::Client, addr: &str, token: &str) -> Vec<Value> {
    let v: Value = http
        .get(format!("http://{addr}/orders?limit=500"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

/// Every invariant that must hold after a restart.
async fn check(
    http: &reqwest::Client,
    addr: &str,
    token: &str,
    accepted: &HashSet<String>,
    filled: &mut BTreeMap<String, Decimal>,
) {
    let orders = all_orders(http, addr, token).await;
    let present: HashSet<String> = orders
        .iter()
        .map(|o| o["token_id"].as_str().unwrap().to_owned())
        .collect();
    for t in accepted {
        assert!(
            present.contains(t),
            "accepted order {t} is missing after a crash"
        );
    }
    for o in &orders {
        let t = o["token_id"].as_str().unwrap().to_owned();
        let f: Decimal = o["filled_quantity"].as_str().unwrap().parse().unwrap();
        let q: Decimal = o["quantity"].as_str().unwrap().parse().unwrap();
        assert!(f <= q, "{t} overfilled: {f} > {q}");
        if let Some(prev) = filled.get(&t) {
            assert!(f >= *prev, "{t}: filled went from {prev} to {f}");
        }
        filled.insert(t.clone(), f);
        let full: Value = http
            .get(format!("http://{addr}/orders/{t}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let slices = full["slices"].as_array().unwrap();
        let idx: Vec<u64> = slices
            .iter()
            .map(|s| s["index"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (0..idx.len() as u64).collect();
        assert_eq!(
            idx, expected,
            "{t}: slice indices must be 0..n without repeats or holes"
        );
        let sum: Decimal = slices
            .iter()
            .map(|s| {
                s["filled_quantity"]
                    .as_str()
                    .unwrap()
                    .parse::<Decimal>()
                    .unwrap()
            })
            .sum();
        // The detail is one consistent snapshot (the listing above may be older).
        let detail_filled: Decimal = full["filled_quantity"].as_str().unwrap().parse().unwrap();
        assert!(
            detail_filled >= f,
            "{t}: filled went backwards between two reads"
        );
        assert_eq!(
            sum, detail_filled,
            "{t}: the order total is the sum of its slices"
        );
        let counted =
            full["slices_done"].as_u64().unwrap() + full["slices_skipped"].as_u64().unwrap();
        assert_eq!(counted, idx.len() as u64, "{t}: counters match the slices");
    }
}

#[test]
fn sigkill_during_running_twaps_loses_nothing() {
    let _alone = super::HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cycles: usize = std::env::var("PAPERTWAP_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut rng = Rng(0x00C0_FFEE_1234_5678);
    let mut accepted: HashSet<String> = HashSet::new();
    let mut filled: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut shapes: BTreeMap<String, Value> = BTreeMap::new();
    let mut killed_with_open = 0usize;
    for cycle in 0..cycles {
        let mut run = start(&db);
        let addr = run.addr.clone();
        rt.block_on(async {
            let token = token(&http, &addr).await;
            check(&http, &addr, &token, &accepted, &mut filled).await;
            check_shapes(&http, &addr, &token, &shapes).await;
            for k in 0..(1 + rng.next() % 3) {
                let t = format!("c{cycle}-{k}");
                let policy = ["spread", "next", "none"][(rng.next() % 3) as usize];
                let side = if rng.next().is_multiple_of(2) {
                    "buy"
                } else {
                    "sell"
                };
                let duration = 2 + rng.next() % 6;
                let mut body = json!({"token_id": t, "exchange": "sim", "symbol": "BTC-USDT",
                    "side": side, "quantity": "0.3", "duration_secs": duration, "interval_secs": 1,
                    "catch_up": policy});
                // Every strategy (and a route) through `POST /orders`; a plain TWAP through
                // the original path.
                let (path, strategy) = match rng.next() % 5 {
                    0 => ("/orders/twap", "twap"),
                    1 => {
                        body["jitter"] =
                            json!({"seed": rng.next() % 1000, "time_pct": 40, "size_pct": 40});
                        ("/orders", "twap")
                    }
                    2 => ("/orders", "vwap"),
                    3 => {
                        body["participation"] = json!("0.3");
                        ("/orders", "pov")
                    }
                    _ => {
                        body["exchange"] = json!("best");
                        body["latency_ms"] = json!(200);
                        ("/orders", "twap")
                    }
                };
                if path == "/orders" {
                    body["strategy"] = json!(strategy);
                }
                let r = http
                    .post(format!("http://{addr}{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if r.status().as_u16() == 201 {
                    let o: Value = r.json().await.unwrap();
                    assert_eq!(o["strategy"], strategy, "{o}");
                    shapes.insert(t.clone(), shape(&o));
                    accepted.insert(t);
                }
            }
            tokio::time::sleep(Duration::from_millis(100 + rng.next() % 2_400)).await;
            if all_orders(&http, &addr, &token)
                .await
                .iter()
                .any(|o| o["status"] == "working" || o["status"] == "pending")
            {
                killed_with_open += 1;
            }
        });
        run.child.kill().unwrap(); // SIGKILL
        run.child.wait().unwrap();
        rt.block_on(async {
            let store = store::Store::connect(&db).await.unwrap();
            assert!(
                store.integrity_ok().await.unwrap(),
                "integrity_check failed after cycle {cycle}"
            );
            store.close().await;
        });
    }
    assert!(
        killed_with_open * 2 >= cycles,
        "most kills hit running orders ({killed_with_open}/{cycles})"
    );
    // A last run: every order reaches a final state.
    let mut run = start(&db);
    let addr = run.addr.clone();
    rt.block_on(async {
        let token = token(&http, &addr).await;
        check(&http, &addr, &token, &accepted, &mut filled).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let orders = all_orders(&http, &addr, &token).await;
            if orders
                .iter()
                .all(|o| !["pending", "working"].contains(&o["status"].as_str().unwrap()))
            {
                assert_eq!(orders.len(), accepted.len());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "orders never reached a final state"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        check(&http, &addr, &token, &accepted, &mut filled).await;
        check_shapes(&http, &addr, &token, &shapes).await;
    });
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    // The tapes recorded across every SIGKILL: each still opens and decodes to its end (a
    // block cut by a kill is a torn tail, cut off when the next run appended).
    let files = tape::dir::list(dir.path().join("papertwap-tapes")).unwrap();
    assert!(!files.is_empty(), "the books were recorded");
    for f in &files {
        let r = tape::TapeReader::open(&f.path).unwrap();
        assert!(
            r.events().all(|e| e.is_ok()),
            "{} decodes",
            f.path.display()
        );
    }
}

/// What of an order must never change across restarts: its strategy, parameters, route,
/// latency and (for a VWAP) the volume profile fixed at acceptance.
fn shape(o: &Value) -> Value {
    json!([
        o["strategy"],
        o["jitter"],
        o["participation"],
        o["profile_days"],
        o["volume_profile"],
        o["exchange"],
        o["venues"],
        o["latency_ms"],
        o["slices_total"],
        o["start_time"]
    ])
}

async fn check_shapes(
    http: &reqwest::Client,
    addr: &str,
    token: &str,
    shapes: &BTreeMap<String, Value>,
) {
    for (t, want) in shapes {
        let o: Value = http
            .get(format!("http://{addr}/orders/{t}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(&shape(&o), want, "{t} changed across a restart");
    }
}
