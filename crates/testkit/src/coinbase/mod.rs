//! A Coinbase Advanced Trade mock: the market-data WebSocket (`subscribe`/`unsubscribe` of
//! `level2`, `market_trades` and `heartbeats`, one channel per message; `l2_data` snapshot of
//! the whole book then updates; a `subscriptions` message after every change; a heartbeat a
//! second; every message numbered by the connection's own `sequence_num`) and the public
//! REST routes the adapter uses (`/api/v3/brokerage/market/products`,
//! `/market/products/{id}/candles` with its per-request cap), with faults: lost messages
//! (gaps in `sequence_num`), a malformed frame, orphan deletes, an unsolicited snapshot,
//! silence, a refused product, a refused connection, quiet subscriptions closed when no
//! heartbeats are followed, and REST 429s with `Retry-After`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer};

use crate::wsserver::{Client, Handler, Record, serve};

mod rest;

use rest::{CandlesResponder, ProductsResponder};

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

/// The time every mock frame carries.
const TS: &str = "2026-07-01T12:00:00.000000000Z";

#[derive(Debug, Clone, Default)]
struct Book {
    bids: Side,
    asks: Side,
}

impl Book {
    fn top(&self, depth: usize) -> (Levels, Levels) {
        (
            self.bids
                .iter()
                .rev()
                .take(depth)
                .map(|(p, q)| (p.normalize(), q.normalize()))
                .collect(),
            self.asks
                .iter()
                .take(depth)
                .map(|(p, q)| (p.normalize(), q.normalize()))
                .collect(),
        )
    }
}

#[derive(Debug, Default)]
struct Faults {
    drop_next: usize,
    silent: bool,
    refuse_products: HashSet<String>,
    refuse_ws: Option<u16>,
    /// `(status, retry_after_secs, remaining)` for REST answers.
    rest_failures: Option<(u16, u64, usize)>,
}

#[derive(Debug)]
struct Conn {
    client: Client,
    /// The next `sequence_num` of this connection.
    seq: u64,
    /// `channel:product` (and `heartbeats`).
    subs: HashSet<String>,
    /// When this connection last received anything but a heartbeat.
    last_data: Instant,
}

impl Conn {
    /// Send one numbered message (or lose it: its number is spent either way).
    fn send(&mut self, channel: &str, events: serde_json::Value, lose: bool) {
        let seq = self.seq;
        self.seq += 1;
        if channel != "heartbeats" {
            self.last_data = Instant::now();
        }
        if lose {
            return;
        }
        let frame = serde_json::json!({
            "channel": channel, "client_id": "", "timestamp": TS, "sequence_num": seq, "events": events
        });
        let _ = self.client.tx.send(Message::text(frame.to_string()));
    }

    fn subscriptions(&mut self) {
        let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in &self.subs {
            match s.split_once(':') {
                Some((c, p)) => map.entry(c).or_default().push(p),
                None => map.entry(s.as_str()).or_default().push(s.as_str()),
            }
        }
        for v in map.values_mut() {
            v.sort();
        }
        let events = serde_json::json!([{"subscriptions": map}]);
        self.send("subscriptions", events, false);
    }
}

#[derive(Debug, Default)]
struct Venue {
    books: BTreeMap<String, Book>,
    conns: HashMap<u64, Conn>,
    faults: Faults,
    trade_id: u64,
    /// The last trades per product (newest last), for the subscribe snapshot.
    recent: HashMap<String, Vec<serde_json::Value>>,
    rng: u64,
    heartbeat: u64,
    /// Close connections quiet for this long unless they follow `heartbeats`.
    close_quiet_after: Option<Duration>,
    tape: Option<Vec<crate::TapeEntry>>,
}

fn lock(v: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn level(side: &str, p: &Decimal, q: &Decimal) -> serde_json::Value {
    serde_json::json!({"side": side, "event_time": TS, "price_level": format!("{p:.2}"), "new_quantity": format!("{q:.8}")})
}

fn snapshot_event(product: &str, b: &Book) -> serde_json::Value {
    let mut updates: Vec<serde_json::Value> = b
        .bids
        .iter()
        .rev()
        .map(|(p, q)| level("bid", p, q))
        .collect();
    updates.extend(b.asks.iter().map(|(p, q)| level("offer", p, q)));
    serde_json::json!([{"type": "snapshot", "product_id": product, "updates": updates}])
}

struct WsHandler(Arc<Mutex<Venue>>);

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0).conns.insert(
            client.id,
            Conn {
                client: client.clone(),
                seq: 0,
                subs: HashSet::new(),
                last_data: Instant::now(),
            },
        );
    }

    fn on_text(&self, client: &Client, text: &str) {
        let mut guard = lock(&self.0);
        let venue = &mut *guard;
        let Some(conn) = venue.conns.get_mut(&client.id) else {
            return;
        };
        let error = |conn: &Conn, msg: String| {
            let body = serde_json::json!({"type": "error", "message": msg});
            let _ = conn.client.tx.send(Message::text(body.to_string()));
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            error(conn, "malformed message".to_owned());
            return;
        };
        let op = v["type"].as_str().unwrap_or("").to_owned();
        let channel = v["channel"].as_str().unwrap_or("").to_owned();
        let products: Vec<String> = v["product_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !matches!(op.as_str(), "subscribe" | "unsubscribe") {
            error(conn, format!("unknown message type {op}"));
            return;
        }
        match channel.as_str() {
            "heartbeats" => {
                if op == "subscribe" {
                    conn.subs.insert("heartbeats".to_owned());
                } else {
                    conn.subs.remove("heartbeats");
                }
                conn.subscriptions();
            }
            "level2" | "market_trades" => {
                let (good, bad): (Vec<String>, Vec<String>) = products.into_iter().partition(|p| {
                    venue.books.contains_key(p) && !venue.faults.refuse_products.contains(p)
                });
                if op == "subscribe" && !bad.is_empty() {
                    error(
                        conn,
                        format!("Failed to subscribe to {channel}: {}", bad.join(",")),
                    );
                }
                for p in &good {
                    let key = format!("{channel}:{p}");
                    if op == "subscribe" {
                        conn.subs.insert(key);
                    } else {
                        conn.subs.remove(&key);
                    }
                }
                if op == "unsubscribe" || !good.is_empty() {
                    conn.subscriptions();
                }
                if op == "subscribe" {
                    for p in &good {
                        if channel == "level2" {
                            if let Some(b) = venue.books.get(p) {
                                conn.send("l2_data", snapshot_event(p, b), false);
                            }
                        } else {
                            let mut trades = venue.recent.get(p).cloned().unwrap_or_default();
                            trades.reverse();
                            conn.send(
                                "market_trades",
                                serde_json::json!([{"type": "snapshot", "trades": trades}]),
                                false,
                            );
                        }
                    }
                }
            }
            other => error(conn, format!("unknown channel {other}")),
        }
    }

    fn on_disconnect(&self, client_id: u64) {
        lock(&self.0).conns.remove(&client_id);
    }

    fn periodic(&self, client: &Client) {
        let mut v = lock(&self.0);
        v.heartbeat += 1;
        let counter = v.heartbeat;
        let quiet = v.close_quiet_after;
        let Some(conn) = v.conns.get_mut(&client.id) else {
            return;
        };
        if conn.subs.contains("heartbeats") {
            let events = serde_json::json!([{"current_time": "2026-07-01 12:00:01.999456 +0000 UTC m=+1.0", "heartbeat_counter": counter}]);
            conn.send("heartbeats", events, false);
        } else if quiet.is_some_and(|q| conn.last_data.elapsed() >= q) {
            // The venue closes subscriptions that stay quiet without heartbeats.
            let _ = conn.client.tx.send(Message::Close(None));
        }
    }

    fn silent(&self) -> bool {
        lock(&self.0).faults.silent
    }

    fn refuse_with(&self) -> Option<u16> {
        lock(&self.0).faults.refuse_ws
    }
}

/// A running Coinbase mock.
#[derive(Clone)]
pub struct MockCoinbase {
    /// Market-data endpoint (`ws://127.0.0.1:P`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockCoinbase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCoinbase")
            .field("ws_url", &self.ws_url)
            .finish()
    }
}

impl MockCoinbase {
    /// Start a mock listing `products` (`BTC-USD`…), each with a 300-level book around
    /// 67000 (price step 0.01, sizes with 8 decimals).
    pub async fn start(products: &[&str]) -> std::io::Result<MockCoinbase> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0xC0FF_EE00_0000_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for p in products {
                let mid = dec("67000.00");
                let tick = dec("0.01");
                let mut b = Book::default();
                for i in 1..=300i64 {
                    let q = dec("0.5") + Decimal::new(i % 7, 1);
                    b.bids.insert(mid - tick * Decimal::from(i), q);
                    b.asks.insert(mid + tick * Decimal::from(i - 1), q);
                }
                v.books.insert((*p).to_owned(), b);
            }
        }
        let record = Arc::new(Mutex::new(Record::default()));
        let (ws_url, _task) = serve(
            Arc::new(WsHandler(venue.clone())),
            record.clone(),
            Duration::from_secs(1),
        )
        .await?;
        let rest = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v3/brokerage/market/products"))
            .respond_with(ProductsResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                r"^/api/v3/brokerage/market/products/[A-Z0-9]+-[A-Z0-9]+/candles$",
            ))
            .respond_with(CandlesResponder(venue.clone()))
            .mount(&rest)
            .await;
        Ok(MockCoinbase {
            ws_url,
            rest_url: rest.uri(),
            venue,
            record,
            _rest: Arc::new(rest),
        })
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        lock(&self.venue)
    }

    /// Send `events` on `channel` to every connection following `key` (`level2:BTC-USD`),
    /// unless a drop fault loses the message (each connection's number is spent anyway).
    fn broadcast(v: &mut Venue, key: &str, channel: &str, events: &serde_json::Value) {
        let lose = v.faults.drop_next > 0 || v.faults.silent;
        let mut any = false;
        for conn in v.conns.values_mut() {
            if conn.subs.contains(key) {
                any = true;
                conn.send(channel, events.clone(), lose);
            }
        }
        if any && v.faults.drop_next > 0 {
            v.faults.drop_next -= 1;
        }
    }

    /// Apply changes to the venue book (absolute quantities, `"0"` deletes) as one
    /// `l2_data` update to every subscriber; deletes of absent prices are sent as the venue
    /// sends them (orphans).
    pub fn update(&self, product: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        let mut v = self.venue();
        let recording = v.tape.is_some();
        let Some(book) = v.books.get_mut(product) else {
            return;
        };
        let mut updates = Vec::new();
        for (side, name, changes) in [
            (&mut book.bids, "bid", bids),
            (&mut book.asks, "offer", asks),
        ] {
            for (p, q) in changes {
                let (p, q) = (dec(p), dec(q));
                if q.is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
                updates.push(level(name, &p, &q));
            }
        }
        let entry = recording.then(|| crate::TapeEntry::now(product, None, &book.bids, &book.asks));
        if let (Some(tape), Some(e)) = (v.tape.as_mut(), entry) {
            tape.push(e);
        }
        let events =
            serde_json::json!([{"type": "update", "product_id": product, "updates": updates}]);
        Self::broadcast(&mut v, &format!("level2:{product}"), "l2_data", &events);
    }

    /// One random, valid (never crossing) update near the top of `product`'s book: a size
    /// change or a new level within 8 ticks of the touch, or a deletion there while the side
    /// keeps over 100 levels.
    pub fn random_update(&self, product: &str) {
        let (bb, ba, nb, na, r) = {
            let mut v = self.venue();
            let r = crate::xorshift(&mut v.rng);
            let Some(b) = v.books.get(product) else {
                return;
            };
            let bb = b
                .bids
                .keys()
                .next_back()
                .copied()
                .unwrap_or(dec("66999.99"));
            let ba = b.asks.keys().next().copied().unwrap_or(dec("67000.00"));
            (bb, ba, b.bids.len(), b.asks.len(), r)
        };
        let c = crate::touch_change(r, (bb, ba), (nb, na), dec("0.01"), 4, 5_000);
        if c.bid {
            self.update(product, &[(&c.price, &c.qty)], &[]);
        } else {
            self.update(product, &[], &[(&c.price, &c.qty)]);
        }
    }

    /// Send every subscriber a fresh snapshot of `product` unasked (the venue may re-send
    /// its book after an internal restart).
    pub fn resnapshot(&self, product: &str) {
        let mut v = self.venue();
        let Some(b) = v.books.get(product).cloned() else {
            return;
        };
        Self::broadcast(
            &mut v,
            &format!("level2:{product}"),
            "l2_data",
            &snapshot_event(product, &b),
        );
    }

    /// Send an `l2_data` update for `product` that cannot be parsed (a numbered message).
    pub fn send_malformed(&self, product: &str) {
        let mut v = self.venue();
        let events = serde_json::json!([{"type": "update", "product_id": product, "updates": [{"side": "bid", "event_time": TS, "price_level": "oops", "new_quantity": "1"}]}]);
        Self::broadcast(&mut v, &format!("level2:{product}"), "l2_data", &events);
    }

    /// Print a trade (`maker_side` `BUY`/`SELL`: the venue reports the maker's side) to every
    /// `market_trades` subscriber; returns its id.
    pub fn trade(&self, product: &str, maker_side: &str, price: &str, qty: &str) -> u64 {
        let mut v = self.venue();
        v.trade_id += 1;
        let id = 600_000_000 + v.trade_id;
        let secs = 1_782_907_200 + v.trade_id / 1_000;
        let micros = (v.trade_id % 1_000) * 1_000;
        let t = serde_json::json!({
            "trade_id": id.to_string(), "product_id": product, "price": price, "size": qty,
            "side": maker_side, "time": format!("2026-07-01T12:{:02}:{:02}.{micros:06}Z", (secs / 60) % 60, secs % 60)
        });
        let recent = v.recent.entry(product.to_owned()).or_default();
        recent.push(t.clone());
        if recent.len() > 50 {
            recent.remove(0);
        }
        let events = serde_json::json!([{"type": "update", "trades": [t]}]);
        if !v.faults.silent {
            for conn in v.conns.values_mut() {
                if conn.subs.contains(&format!("market_trades:{product}")) {
                    conn.send("market_trades", events.clone(), false);
                }
            }
        }
        id
    }

    /// The venue's top `n` levels of `product`.
    pub fn top(&self, product: &str, n: usize) -> (Levels, Levels) {
        self.venue()
            .books
            .get(product)
            .map(|b| b.top(n))
            .unwrap_or_default()
    }

    /// Start recording every book state (for checking fills against the venue).
    pub fn start_tape(&self) {
        let mut v = self.venue();
        let tape = v
            .books
            .iter()
            .map(|(s, b)| crate::TapeEntry::now(s, None, &b.bids, &b.asks))
            .collect();
        v.tape = Some(tape);
    }

    /// Every book state since [`Self::start_tape`], oldest first.
    pub fn tape(&self) -> Vec<crate::TapeEntry> {
        self.venue().tape.clone().unwrap_or_default()
    }

    /// The next `n` book messages are lost (each a gap in `sequence_num`).
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next = n;
    }

    /// Send `text` (unnumbered) to every connection.
    pub fn send_raw(&self, text: &str) {
        for c in self.venue().conns.values() {
            let _ = c.client.tx.send(Message::text(text.to_owned()));
        }
    }

    /// Stop sending anything (and answering pings).
    pub fn set_silent(&self, on: bool) {
        self.venue().faults.silent = on;
    }

    /// Refuse subscriptions to this product.
    pub fn refuse_product(&self, product: &str) {
        self.venue()
            .faults
            .refuse_products
            .insert(product.to_owned());
    }

    /// Close connections that received nothing but heartbeats for `after` unless they
    /// follow `heartbeats` (`None`: never), as the venue does after 60–90 s.
    pub fn close_quiet_after(&self, after: Option<Duration>) {
        self.venue().close_quiet_after = after;
    }

    /// Answer WebSocket upgrades with this HTTP status (`None`: accept again).
    pub fn refuse_ws(&self, status: Option<u16>) {
        self.venue().faults.refuse_ws = status;
    }

    /// The next `times` REST answers are `status` with `Retry-After: secs`.
    pub fn fail_rest(&self, status: u16, retry_after_secs: u64, times: usize) {
        self.venue().faults.rest_failures = Some((status, retry_after_secs, times));
    }

    /// Drop every client connection.
    pub fn disconnect_all(&self) {
        let mut v = self.venue();
        for c in v.conns.values() {
            let _ = c.client.tx.send(Message::Close(None));
        }
        v.conns.clear();
    }

    /// What each connected client follows (`level2:BTC-USD`, `market_trades:BTC-USD`,
    /// `heartbeats`).
    pub fn subscriptions(&self) -> Vec<HashSet<String>> {
        self.venue()
            .conns
            .values()
            .map(|c| c.subs.clone())
            .collect()
    }

    /// Connections accepted so far.
    pub fn connections_total(&self) -> u64 {
        self.record.lock().map(|r| r.connections).unwrap_or(0)
    }

    /// WebSocket upgrades refused so far (by [`Self::refuse_ws`]).
    pub fn refused_total(&self) -> u64 {
        self.record.lock().map(|r| r.refused).unwrap_or(0)
    }

    /// Everything clients sent, with when.
    pub fn received(&self) -> Vec<(u64, Instant, String)> {
        self.record
            .lock()
            .map(|r| r.sent.clone())
            .unwrap_or_default()
    }
}
