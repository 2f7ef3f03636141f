//! Scale-out chaos (DESIGN §19): three server processes on one PostgreSQL, ~100 TWAPs on
//! four symbols submitted to all of them, while one instance at a time is SIGKILLed (and
//! started again, as a new holder) or SIGSTOPped (and continued after its leases have moved
//! on) every few seconds. Then: every accepted order is final, its slices are 0..n without a
//! hole or a repeat and add up to its totals, no instance ever failed a write (a fenced
//! instance's late slices are refused by the fence, never by a duplicate key), and every
//! lease of a disrupted instance was taken over within 2 × TTL.
//!
//! Length: `PAPERTWAP_CHAOS_SECS` (default 24, as in CI); the lease TTL is 1 s.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Rng, server, token};

const TTL_MS: u64 = 1_000;
const SYMBOLS: [&str; 4] = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC"];

/// One server process and what it logged at `WARN` or above.
struct Instance {
    name: String,
    child: Child,
    addr: String,
    logged: Arc<Mutex<Vec<String>>>,
    stopped: bool,
}

fn start(db: &str, dir: &std::path::Path, name: &str) -> Instance {
    let mut cmd = server();
    cmd.current_dir(dir)
        .env("PAPERTWAP_STORE__URL", db)
        .env("PAPERTWAP_STORE__TAPE_DIR", "")
        .env("PAPERTWAP_CLUSTER__LEASE_TTL_MS", TTL_MS.to_string())
        .env("PAPERTWAP_CLUSTER__INSTANCE", name)
        .env("PAPERTWAP_SERVER__BIND", "127.0.0.1:0")
        .env("PAPERTWAP_LOG__FORMAT", "json");
    for venue in ["BINANCE", "KRAKEN", "BYBIT", "OKX", "COINBASE", "BITSTAMP"] {
        cmd.env(format!("PAPERTWAP_EXCHANGES__{venue}__ENABLED"), "false");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let logged = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = logged.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["fields"]["address"].as_str() {
                let _ = tx.send(a.to_owned());
            }
            if matches!(v["level"].as_str(), Some("WARN" | "ERROR")) {
                keep.lock().unwrap().push(line);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the instance logged its address in time");
    Instance {
        name: name.to_owned(),
        child,
        addr,
        logged,
        stopped: false,
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Lease rows seen over time: (when, scope, holder, epoch).
type Seen = Arc<Mutex<Vec<(Instant, String, String, i64)>>>;

/// Sample the leases every 20 ms until `stop`.
fn watch_leases(rt: &tokio::runtime::Runtime, db: String, stop: Arc<Mutex<bool>>) -> Seen {
    let seen: Seen = Arc::default();
    let out = seen.clone();
    rt.spawn(async move {
        let store = store::Store::connect(&db).await.unwrap();
        let mut last: BTreeMap<String, (String, i64)> = BTreeMap::new();
        while !*stop.lock().unwrap() {
            if let Ok(rows) = store.leases().await {
                for r in rows {
                    let now = (r.holder.clone(), r.epoch);
                    if last.get(&r.scope) != Some(&now) {
                        out.lock().unwrap().push((
                            Instant::now(),
                            r.scope.clone(),
                            r.holder,
                            r.epoch,
                        ));
                        last.insert(r.scope, now);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    seen
}

/// The scopes `name` held just before `at`, each with the time another holder took it.
fn take_overs(seen: &Seen, name: &str, at: Instant) -> Vec<(String, Option<Duration>)> {
    let seen = seen.lock().unwrap();
    let mut holder: BTreeMap<&str, &str> = BTreeMap::new();
    for (t, scope, h, _) in seen.iter().filter(|s| s.0 <= at) {
        let _ = t;
        holder.insert(scope, h);
    }
    holder
        .iter()
        .filter(|(_, h)| h.starts_with(&format!("{name}/")))
        .map(|(scope, h)| {
            let after = seen
                .iter()
                .find(|s| s.0 > at && s.1 == *scope && s.2 != *h)
                .map(|s| s.0 - at);
            ((*scope).to_owned(), after)
        })
        .collect()
}

async fn submit(http: &reqwest::Client, addr: &str, token: &str, body: &Value) -> Option<u16> {
    let r = http
        .post(format!("http://{addr}/orders"))
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

#[test]
fn three_instances_on_postgres_survive_kills_and_pauses() {
    let Some(pg) = testkit::pg::server() else {
        return;
    };
    let _alone = super::HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let secs: u64 = std::env::var("PAPERTWAP_CHAOS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let db = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut generation = 0usize;
    let mut next_name = |slot: usize| {
        generation += 1;
        format!("i{slot}-{generation}")
    };
    let mut instances: Vec<Instance> = (0..3)
        .map(|slot| start(&db, dir.path(), &next_name(slot)))
        .collect();
    let stop_watch = Arc::new(Mutex::new(false));
    let seen = watch_leases(&rt, db.clone(), stop_watch.clone());
    let token = rt.block_on(token(&http, &instances[0].addr));
    let mut rng = Rng(0x5CA1_E0C7_2026_1207);
    let mut accepted: HashSet<String> = HashSet::new();
    let order = |i: usize, rng: &mut Rng| {
        let symbol = SYMBOLS[i % SYMBOLS.len()];
        // About 100 USDT a slice at most: every slice above the pairs' minimum notional.
        let qty = match symbol {
            "BTC-USDT" => "0.02",
            "SOL-USDT" => "8",
            _ => "0.5",
        };
        let side = if rng.next().is_multiple_of(2) {
            "buy"
        } else {
            "sell"
        };
        let duration = 8 + rng.next() % 18;
        let catch_up = ["spread", "next", "none"][(rng.next() % 3) as usize];
        json!({"token_id": format!("ch-{i}"), "exchange": "sim", "symbol": symbol,
            "side": side, "quantity": qty, "duration_secs": duration, "interval_secs": 1,
            "catch_up": catch_up, "strategy": "twap"})
    };
    // 80 orders up front, across the instances.
    rt.block_on(async {
        for i in 0..80 {
            let body = order(i, &mut rng);
            let addr = &instances[i % 3].addr;
            assert_eq!(
                submit(&http, addr, &token, &body).await,
                Some(201),
                "{body}"
            );
            accepted.insert(format!("ch-{i}"));
        }
    });
    // Disruptions every 2–4 s; 20 more orders to running instances meanwhile.
    let mut disruptions: Vec<(String, &str, Instant)> = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut next_order = 80;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(2_000 + rng.next() % 2_000));
        // Continue a paused instance once its leases have had time to move on.
        for inst in instances.iter_mut().filter(|i| i.stopped) {
            signal(&inst.child, "-CONT");
            inst.stopped = false;
        }
        let slot = (rng.next() % 3) as usize;
        let at = Instant::now();
        if rng.next().is_multiple_of(2) {
            let name = instances[slot].name.clone();
            instances[slot].child.kill().unwrap();
            instances[slot].child.wait().unwrap();
            disruptions.push((name, "SIGKILL", at));
            instances[slot] = start(&db, dir.path(), &next_name(slot));
        } else {
            signal(&instances[slot].child, "-STOP");
            instances[slot].stopped = true;
            disruptions.push((instances[slot].name.clone(), "SIGSTOP", at));
        }
        rt.block_on(async {
            for _ in 0..4 {
                let Some(inst) = instances.iter().find(|i| !i.stopped) else {
                    break;
                };
                let body = order(next_order, &mut rng);
                if submit(&http, &inst.addr, &token, &body).await == Some(201) {
                    accepted.insert(format!("ch-{next_order}"));
                }
                next_order += 1;
            }
        });
    }
    for inst in instances.iter_mut().filter(|i| i.stopped) {
        signal(&inst.child, "-CONT");
        inst.stopped = false;
    }

    // Every order ends.
    let store = rt.block_on(store::Store::connect(&db)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs + 60);
    while !rt.block_on(store.open_orders_full()).unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "orders still open long after their end"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    *stop_watch.lock().unwrap() = true;

    // Nothing lost, nothing twice.
    let user = rt
        .block_on(store.user_by_name("premium"))
        .unwrap()
        .unwrap()
        .id;
    assert!(accepted.len() >= 90, "{} accepted", accepted.len());
    let mut slices_total = 0usize;
    let mut server_down = 0usize;
    for t in &accepted {
        let (o, slices, _) = rt
            .block_on(store.order_with_slices(user, t))
            .unwrap()
            .unwrap_or_else(|| panic!("accepted order {t} is missing"));
        assert!(
            ["filled", "expired"].contains(&o.status.as_str()),
            "{t}: {}",
            o.status
        );
        let idx: Vec<i64> = slices.iter().map(|s| s.idx).collect();
        let expected: Vec<i64> = (0..idx.len() as i64).collect();
        assert_eq!(idx, expected, "{t}: slices 0..n without holes or repeats");
        let skipped: BTreeMap<String, i64> = serde_json::from_str(&o.skipped).unwrap();
        assert_eq!(
            o.slices_done + skipped.values().sum::<i64>(),
            idx.len() as i64,
            "{t}: counters match the slices"
        );
        if o.status == "expired" {
            assert_eq!(
                o.slices_total,
                idx.len() as i64,
                "{t}: every slice recorded"
            );
        }
        let sum: Decimal = slices
            .iter()
            .map(|s| s.filled.parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(
            sum,
            o.filled.parse::<Decimal>().unwrap(),
            "{t}: totals add up"
        );
        assert!(
            sum <= o.quantity.parse::<Decimal>().unwrap(),
            "{t}: overfilled"
        );
        slices_total += idx.len();
        server_down += slices
            .iter()
            .filter(|s| s.skipped.as_deref() == Some("server_down"))
            .count();
    }

    // No instance ever failed a write; fenced ones were refused by the fence.
    let mut fenced = 0usize;
    for inst in &instances {
        let logged = inst.logged.lock().unwrap();
        for line in logged.iter() {
            assert!(
                !line.contains("could not store slices"),
                "{}: a write failed: {line}",
                inst.name
            );
        }
        fenced += logged
            .iter()
            .filter(|l| l.contains("not written (fenced)"))
            .count();
    }

    // Every disrupted instance's leases moved on within 2 × TTL.
    let mut times: Vec<Duration> = Vec::new();
    for (name, how, at) in &disruptions {
        for (scope, after) in take_overs(&seen, name, *at) {
            let after = after.unwrap_or_else(|| panic!("{how} {name}: {scope} never taken over"));
            assert!(
                after <= Duration::from_millis(2 * TTL_MS),
                "{how} {name}: {scope} taken over after {after:?}"
            );
            times.push(after);
        }
    }
    assert!(
        !times.is_empty(),
        "the disruptions hit instances holding leases"
    );
    times.sort();
    let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
    // The figures, for docs/PERFORMANCE.md.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "chaos: {} orders, {slices_total} slices ({server_down} server_down), {} disruptions, {} take-overs in {median:?} median, {worst:?} worst (TTL {TTL_MS} ms), {fenced} fenced batches",
            accepted.len(),
            disruptions.len(),
            times.len()
        );
    }
    for mut inst in instances {
        let _ = inst.child.kill();
        let _ = inst.child.wait();
    }
}
