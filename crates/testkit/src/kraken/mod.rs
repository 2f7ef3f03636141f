//! A Kraken spot mock: the WS v2 endpoint (`/v2`: `status` on connect, `book` subscribe/
//! unsubscribe per symbol at a depth, snapshots and updates with checksums, heartbeats,
//! `ping`/`pong`) and the REST routes the adapter uses (`/0/public/AssetPairs`,
//! `/0/public/OHLC`).
//!
//! The mock keeps the full venue book and derives each client's view (the top `depth`
//! levels) itself, sending exactly what Kraken sends: changed levels inside the view, deletes
//! for levels removed from it, the replacement levels that move up into it, and nothing for
//! levels pushed out (the client truncates). Its checksum is computed from the formatted
//! wire text, independently of the adapter's integer rendering.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::wsserver::{Client, Handler, Record, serve};

mod checksum;
mod rest;
mod trades;
mod v1;

pub use checksum::text_checksum;

use rest::{OhlcResponder, PairsResponder};
pub use v1::v1_to_v2;

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

#[derive(Debug, Clone)]
struct Book {
    bids: Side,
    asks: Side,
    price_dp: u32,
    qty_dp: u32,
    tick: Decimal,
}

impl Book {
    fn view(&self, depth: usize) -> (Levels, Levels) {
        (
            self.bids
                .iter()
                .rev()
                .take(depth)
                .map(|(p, q)| (*p, *q))
                .collect(),
            self.asks
                .iter()
                .take(depth)
                .map(|(p, q)| (*p, *q))
                .collect(),
        )
    }
}

#[derive(Debug, Default)]
struct Faults {
    drop_next: usize,
    corrupt_next: usize,
    silent: bool,
    refuse_subscribe: HashSet<String>,
    refuse_ws: Option<u16>,
}

#[derive(Debug, Default)]
struct Venue {
    books: HashMap<String, Book>,
    /// Every book state since `start_tape`, when recording.
    tape: Option<Vec<crate::TapeEntry>>,
    /// client id → (client, symbol → depth)
    clients: HashMap<u64, (Client, HashMap<String, usize>)>,
    /// The `trade` channel.
    trades: trades::TradeChannel,
    faults: Faults,
    rng: u64,
}

/// A running Kraken mock.
#[derive(Clone)]
pub struct MockKraken {
    /// WS v2 endpoint (`ws://127.0.0.1:P/v2`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockKraken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKraken")
            .field("ws_url", &self.ws_url)
            .field("rest_url", &self.rest_url)
            .finish()
    }
}

fn lock(v: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// A number as Kraken prints it: fixed decimals, as a JSON number.
fn num(d: Decimal, dp: u32) -> String {
    format!("{:.*}", dp as usize, d)
}

fn levels_json(levels: &[(Decimal, Decimal)], b: &Book) -> String {
    let items: Vec<String> = levels
        .iter()
        .map(|(p, q)| {
            format!(
                r#"{{"price":{},"qty":{}}}"#,
                num(*p, b.price_dp),
                num(*q, b.qty_dp)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

const TS: &str = "2026-07-01T12:00:00.101000Z";

fn snapshot_frame(symbol: &str, b: &Book, depth: usize) -> String {
    let (bids, asks) = b.view(depth);
    let sum = text_checksum(&bids, &asks, b.price_dp, b.qty_dp);
    format!(
        r#"{{"channel":"book","type":"snapshot","data":[{{"symbol":"{symbol}","bids":{},"asks":{},"checksum":{sum},"timestamp":"{TS}"}}]}}"#,
        levels_json(&bids, b),
        levels_json(&asks, b)
    )
}

/// The changes a client whose view was `old` must receive to reach `new` (one side).
fn view_diff(old: &[(Decimal, Decimal)], new: &[(Decimal, Decimal)], venue: &Side) -> Levels {
    let old_map: HashMap<Decimal, Decimal> = old.iter().copied().collect();
    let new_map: HashMap<Decimal, Decimal> = new.iter().copied().collect();
    let mut out = Vec::new();
    for (p, _) in old {
        if !new_map.contains_key(p) && !venue.contains_key(p) {
            out.push((*p, Decimal::ZERO));
        }
    }
    for (p, q) in new {
        if old_map.get(p) != Some(q) {
            out.push((*p, *q));
        }
    }
    out
}

struct WsHandler(Arc<Mutex<Venue>>);

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0)
            .clients
            .insert(client.id, (client.clone(), HashMap::new()));
        let _ = client.tx.send(Message::text(
            r#"{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":12393906104898154338}]}"#,
        ));
    }

    fn on_text(&self, client: &Client, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            let _ = client.tx.send(Message::text(
                r#"{"error":"Malformed request","success":false,"time_in":"x","time_out":"y"}"#,
            ));
            return;
        };
        let req_id = v.get("req_id").cloned().unwrap_or(serde_json::Value::Null);
        let method = v.get("method").and_then(|m| m.as_str()).unwrap_or("");
        let params = v.get("params").cloned().unwrap_or_default();
        let symbols: Vec<String> = params
            .get("symbol")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let depth = params.get("depth").and_then(|d| d.as_u64()).unwrap_or(10) as usize;
        let mut venue = lock(&self.0);
        let reply = |body: serde_json::Value| {
            let _ = client.tx.send(Message::text(body.to_string()));
        };
        match method {
            "ping" => reply(
                serde_json::json!({"method":"pong","req_id":req_id,"time_in":TS,"time_out":TS}),
            ),
            "subscribe" | "unsubscribe"
                if params.get("channel").and_then(|c| c.as_str()) == Some("trade") =>
            {
                let snapshot = params
                    .get("snapshot")
                    .and_then(|s| s.as_bool())
                    .unwrap_or(true);
                trades::TradeChannel::request(
                    &mut venue, client, method, symbols, snapshot, &req_id,
                );
            }
            "subscribe" | "unsubscribe" => {
                for s in symbols {
                    let known = venue.books.contains_key(&s);
                    let refused = venue.faults.refuse_subscribe.contains(&s);
                    let Some((_, subs)) = venue.clients.get_mut(&client.id) else {
                        return;
                    };
                    let error = if !known || refused {
                        Some(format!("Currency pair not supported {s}"))
                    } else if method == "subscribe" && subs.contains_key(&s) {
                        Some("Already subscribed".to_owned())
                    } else if method == "unsubscribe" && !subs.contains_key(&s) {
                        Some("Subscription Not Found".to_owned())
                    } else {
                        None
                    };
                    if let Some(e) = error {
                        reply(
                            serde_json::json!({"error": e, "method": method, "success": false, "symbol": s, "time_in": TS, "time_out": TS, "req_id": req_id}),
                        );
                        continue;
                    }
                    if method == "subscribe" {
                        subs.insert(s.clone(), depth);
                        reply(
                            serde_json::json!({"method":"subscribe","result":{"channel":"book","depth":depth,"snapshot":true,"symbol":s},"success":true,"time_in":TS,"time_out":TS,"req_id":req_id}),
                        );
                        if let Some(b) = venue.books.get(&s) {
                            let _ = client.tx.send(Message::text(snapshot_frame(&s, b, depth)));
                        }
                    } else {
                        subs.remove(&s);
                        reply(
                            serde_json::json!({"method":"unsubscribe","result":{"channel":"book","depth":depth,"symbol":s},"success":true,"time_in":TS,"time_out":TS,"req_id":req_id}),
                        );
                    }
                }
            }
            _ => reply(
                serde_json::json!({"error": format!("Unsupported method {method}"), "success": false, "req_id": req_id, "time_in": TS, "time_out": TS}),
            ),
        }
    }

    fn on_disconnect(&self, client_id: u64) {
        let mut v = lock(&self.0);
        v.clients.remove(&client_id);
        v.trades.disconnect(client_id);
    }

    fn periodic(&self, client: &Client) {
        let _ = client.tx.send(Message::text(r#"{"channel":"heartbeat"}"#));
    }

    fn silent(&self) -> bool {
        lock(&self.0).faults.silent
    }

    fn refuse_with(&self) -> Option<u16> {
        lock(&self.0).faults.refuse_ws
    }
}

impl MockKraken {
    /// Start a mock listing `symbols` (WS v2 names, e.g. `BTC/USD`), each with a 60-level
    /// book (BTC: price precision 1 around 67000; others: precision 2 around 100; quantity
    /// precision 8).
    pub async fn start(symbols: &[&str]) -> std::io::Result<MockKraken> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0x5EED_4B52_4B4E_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for s in symbols {
                let btc = s.starts_with("BTC/");
                let (mid, tick, price_dp) = if btc {
                    (dec("67000.0"), dec("0.1"), 1)
                } else {
                    (dec("100.00"), dec("0.01"), 2)
                };
                let mut bids = Side::new();
                let mut asks = Side::new();
                for i in 1..=60i64 {
                    let q = dec("0.5") + Decimal::new(i % 7, 1);
                    bids.insert(mid - tick * Decimal::from(i), q);
                    asks.insert(mid + tick * Decimal::from(i - 1), q);
                }
                v.books.insert(
                    (*s).to_owned(),
                    Book {
                        bids,
                        asks,
                        price_dp,
                        qty_dp: 8,
                        tick,
                    },
                );
            }
        }
        let record = Arc::new(Mutex::new(Record::default()));
        let (ws_base, _task) = serve(
            Arc::new(WsHandler(venue.clone())),
            record.clone(),
            Duration::from_secs(1),
        )
        .await?;
        let rest = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/0/public/AssetPairs"))
            .respond_with(PairsResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path("/0/public/OHLC"))
            .respond_with(OhlcResponder(venue.clone()))
            .mount(&rest)
            .await;
        Ok(MockKraken {
            ws_url: format!("{ws_base}/v2"),
            rest_url: rest.uri(),
            venue,
            record,
            _rest: Arc::new(rest),
        })
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        lock(&self.venue)
    }

    /// Apply changes to the venue book (absolute quantities as text, `"0"` deletes) and send
    /// each subscribed client the update its view needs, with the checksum of its new view.
    /// Clients whose view did not change get nothing (as on Kraken).
    pub fn update(&self, symbol: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        let mut v = self.venue();
        let Some(before) = v.books.get(symbol).cloned() else {
            return;
        };
        let after = {
            let Some(book) = v.books.get_mut(symbol) else {
                return;
            };
            for (side, changes) in [(&mut book.bids, bids), (&mut book.asks, asks)] {
                for (p, q) in changes {
                    let (p, q) = (dec(p), dec(q));
                    if q.is_zero() {
                        side.remove(&p);
                    } else {
                        side.insert(p, q);
                    }
                }
            }
            book.clone()
        };
        if let Some(tape) = v.tape.as_mut() {
            tape.push(crate::TapeEntry::now(
                symbol,
                None,
                &after.bids,
                &after.asks,
            ));
        }
        if v.faults.drop_next > 0 {
            v.faults.drop_next -= 1;
            return;
        }
        if v.faults.silent {
            return;
        }
        let corrupt = v.faults.corrupt_next > 0;
        if corrupt {
            v.faults.corrupt_next -= 1;
        }
        for (c, subs) in v.clients.values() {
            let Some(depth) = subs.get(symbol).copied() else {
                continue;
            };
            let (ob, oa) = before.view(depth);
            let (nb, na) = after.view(depth);
            let db = view_diff(&ob, &nb, &after.bids);
            let da = view_diff(&oa, &na, &after.asks);
            if db.is_empty() && da.is_empty() {
                continue;
            }
            let mut sum = text_checksum(&nb, &na, after.price_dp, after.qty_dp);
            if corrupt {
                sum ^= 0x5A5A_5A5A;
            }
            let frame = format!(
                r#"{{"channel":"book","type":"update","data":[{{"symbol":"{symbol}","bids":{},"asks":{},"checksum":{sum},"timestamp":"{TS}"}}]}}"#,
                levels_json(&db, &after),
                levels_json(&da, &after)
            );
            let _ = c.tx.send(Message::text(frame));
        }
    }

    fn next_rand(&self) -> u64 {
        crate::xorshift(&mut self.venue().rng)
    }

    /// One random, valid (never crossing) update near the top of `symbol`'s book, deleting
    /// levels inside the view now and then so that replacements move up.
    pub fn random_update(&self, symbol: &str) {
        let (mut best_bid, mut best_ask, tick) = {
            let v = self.venue();
            let Some(b) = v.books.get(symbol) else { return };
            (
                b.bids.keys().next_back().copied().unwrap_or_default(),
                b.asks.keys().next().copied().unwrap_or_default(),
                b.tick,
            )
        };
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for _ in 0..(1 + self.next_rand() % 4) {
            let r = self.next_rand();
            // From two ticks inside the spread (never crossing) to 13 ticks deep.
            let offset = Decimal::from(i64::try_from(r % 16).unwrap_or(0) - 2);
            let qty = match (r >> 8) % 6 {
                0 => Decimal::ZERO,
                k => Decimal::new(i64::try_from(k).unwrap_or(1) * 125, 3),
            };
            if (r >> 16).is_multiple_of(2) {
                let mut p = best_bid - tick * offset;
                if p >= best_ask {
                    p = best_ask - tick;
                }
                if p > Decimal::ZERO {
                    if !qty.is_zero() && p > best_bid {
                        best_bid = p;
                    }
                    bids.push((p.to_string(), qty.to_string()));
                }
            } else {
                let mut p = best_ask + tick * offset;
                if p <= best_bid {
                    p = best_bid + tick;
                }
                if !qty.is_zero() && p < best_ask {
                    best_ask = p;
                }
                asks.push((p.to_string(), qty.to_string()));
            }
        }
        let b: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        self.update(symbol, &b, &a);
    }

    /// Record every book state from now on (the current states first); see [`Self::tape`].
    pub fn start_tape(&self) {
        let mut v = self.venue();
        let tape = v
            .books
            .iter()
            .map(|(symbol, b)| crate::TapeEntry::now(symbol, None, &b.bids, &b.asks))
            .collect();
        v.tape = Some(tape);
    }

    /// Every book state since [`Self::start_tape`], oldest first.
    pub fn tape(&self) -> Vec<crate::TapeEntry> {
        self.venue().tape.clone().unwrap_or_default()
    }

    /// The venue's top `n` levels `(bids best first, asks best first)`, normalized.
    pub fn top(&self, symbol: &str, n: usize) -> (Levels, Levels) {
        let v = self.venue();
        let Some(b) = v.books.get(symbol) else {
            return (vec![], vec![]);
        };
        let (bids, asks) = b.view(n);
        let norm = |l: Levels| {
            l.into_iter()
                .map(|(p, q)| (p.normalize(), q.normalize()))
                .collect()
        };
        (norm(bids), norm(asks))
    }

    /// Change the venue book without telling anyone (the next update's checksum exposes it).
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next += n;
    }

    /// Send the next `n` updates with a wrong checksum.
    pub fn corrupt_next_checksums(&self, n: usize) {
        self.venue().faults.corrupt_next += n;
    }

    /// Refuse subscriptions to `symbol` ("Currency pair not supported").
    pub fn refuse_subscribe(&self, symbol: &str) {
        self.venue()
            .faults
            .refuse_subscribe
            .insert(symbol.to_owned());
    }

    /// Send a raw text frame to every client.
    pub fn send_raw(&self, text: &str) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::text(text.to_owned()));
        }
    }

    /// Stop sending anything (updates and heartbeats) while `on`.
    pub fn set_silent(&self, on: bool) {
        self.venue().faults.silent = on;
    }

    /// Close every client connection.
    pub fn disconnect_all(&self) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::Close(None));
        }
    }

    /// Refuse WebSocket upgrades with this HTTP status (451 = geo-blocked).
    pub fn refuse_ws(&self, status: Option<u16>) {
        self.venue().faults.refuse_ws = status;
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.venue().clients.len()
    }

    /// Symbols (and depths) each connected client is subscribed to.
    pub fn subscriptions(&self) -> Vec<HashMap<String, usize>> {
        self.venue()
            .clients
            .values()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Connections accepted so far.
    pub fn connections_total(&self) -> u64 {
        self.record.lock().map(|r| r.connections).unwrap_or(0)
    }

    /// Every text frame clients sent: `(client, when, text)`.
    pub fn received(&self) -> Vec<(u64, Instant, String)> {
        self.record
            .lock()
            .map(|r| r.sent.clone())
            .unwrap_or_default()
    }

    /// How many times `symbol` was named in a `book` request with `method` (`subscribe`,
    /// `unsubscribe`).
    pub fn requests_for(&self, method_name: &str, symbol: &str) -> usize {
        self.received()
            .iter()
            .filter_map(|(_, _, t)| serde_json::from_str::<serde_json::Value>(t).ok())
            .filter(|v| v.get("method").and_then(|m| m.as_str()) == Some(method_name))
            // `book` requests only (the `trade` channel is counted by `trade_subscriptions`).
            .filter(|v| v.pointer("/params/channel").and_then(|c| c.as_str()) != Some("trade"))
            .filter(|v| {
                v.pointer("/params/symbol")
                    .and_then(|s| s.as_array())
                    .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(symbol)))
            })
            .count()
    }
}
