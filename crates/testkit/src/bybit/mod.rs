//! A Bybit v5 spot mock: the public WebSocket (`/v5/public/spot`: `subscribe`/`unsubscribe`
//! of `orderbook.{depth}.{SYMBOL}` and `publicTrade.{SYMBOL}` topics with acks, a snapshot on
//! subscribe then deltas whose `u` grows by one, the JSON `ping` op, the venue's restart
//! snapshot with `u = 1`) and the REST routes the adapter uses
//! (`/v5/market/instruments-info`, `/v5/market/kline`), with faults: a lost delta (a gap), a
//! malformed frame, silence, a refused topic, a refused connection, a restart, and REST 429s
//! with `Retry-After`.
//!
//! The mock keeps the full venue book and sends each client its top `depth` levels as Bybit
//! does: a changed level inside the view, deletes of levels leaving it only when they were
//! deleted at the venue (the client truncates), levels moving up into the view.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::wsserver::{Client, Handler, Record, serve};

mod rest;

pub use rest::KLINE_LAST;
use rest::{InstrumentsResponder, KlineResponder};

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

/// The timestamp every mock frame carries (2026-07-01T12:00:00Z).
const TS: i64 = 1_782_907_200_000;

#[derive(Debug, Clone)]
struct Book {
    bids: Side,
    asks: Side,
    u: u64,
}

impl Book {
    fn top(&self, depth: usize) -> (Levels, Levels) {
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
    silent: bool,
    refuse_topics: HashSet<String>,
    refuse_ws: Option<u16>,
    /// `(status, retry_after_secs, remaining)` for REST answers.
    rest_failures: Option<(u16, u64, usize)>,
}

#[derive(Debug, Default)]
struct Venue {
    books: BTreeMap<String, Book>,
    /// client id → (client, topics)
    clients: HashMap<u64, (Client, HashSet<String>)>,
    faults: Faults,
    trade_id: u64,
    rng: u64,
    /// Every book state since `start_tape`, when recording.
    tape: Option<Vec<crate::TapeEntry>>,
}

fn lock(v: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn levels_json(levels: &[(Decimal, Decimal)]) -> serde_json::Value {
    serde_json::Value::Array(
        levels
            .iter()
            .map(|(p, q)| serde_json::json!([format!("{:.2}", p), format!("{:.6}", q)]))
            .collect(),
    )
}

/// A client's view of a book: its top `depth` bids and asks.
type View = (Side, Side);

fn view(b: &Book, depth: usize) -> View {
    (
        b.bids
            .iter()
            .rev()
            .take(depth)
            .map(|(p, q)| (*p, *q))
            .collect(),
        b.asks.iter().take(depth).map(|(p, q)| (*p, *q)).collect(),
    )
}

/// What a client must be sent to go from `old` to `new`: changed or new levels, and deletes
/// of levels the venue deleted (levels merely pushed out of the view are not sent: the
/// client truncates).
fn view_diff(old: &Side, new: &Side, venue: &Side) -> Levels {
    let mut out: Levels = new
        .iter()
        .filter(|(p, q)| old.get(p) != Some(q))
        .map(|(p, q)| (*p, *q))
        .collect();
    for p in old.keys() {
        if !new.contains_key(p) && !venue.contains_key(p) {
            out.push((*p, Decimal::ZERO));
        }
    }
    out
}

fn depth_of(topic: &str) -> Option<(usize, &str)> {
    let rest = topic.strip_prefix("orderbook.")?;
    let (d, sym) = rest.split_once('.')?;
    Some((d.parse().ok()?, sym))
}

struct WsHandler(Arc<Mutex<Venue>>);

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0)
            .clients
            .insert(client.id, (client.clone(), HashSet::new()));
    }

    fn on_text(&self, client: &Client, text: &str) {
        let reply = |body: serde_json::Value| {
            let _ = client.tx.send(Message::text(body.to_string()));
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            reply(
                serde_json::json!({"success": false, "ret_msg": "Invalid request", "conn_id": "mock", "op": ""}),
            );
            return;
        };
        let req_id = v.get("req_id").cloned().unwrap_or(serde_json::Value::Null);
        let op = v
            .get("op")
            .and_then(|o| o.as_str())
            .unwrap_or("")
            .to_owned();
        let args: Vec<String> = v
            .get("args")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut venue = lock(&self.0);
        match op.as_str() {
            "ping" => reply(
                serde_json::json!({"success": true, "ret_msg": "pong", "conn_id": "mock", "req_id": req_id, "op": "ping"}),
            ),
            "subscribe" | "unsubscribe" => {
                if args.len() > 10 {
                    reply(
                        serde_json::json!({"success": false, "ret_msg": "args size >10", "conn_id": "mock", "req_id": req_id, "op": op}),
                    );
                    return;
                }
                let bad: Vec<&String> = args
                    .iter()
                    .filter(|t| {
                        let sym = t.rsplit('.').next().unwrap_or("");
                        venue.faults.refuse_topics.contains(*t) || !venue.books.contains_key(sym)
                    })
                    .collect();
                if op == "subscribe" && !bad.is_empty() {
                    let list = bad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
                    reply(
                        serde_json::json!({"success": false, "ret_msg": format!("Invalid symbol :[{list}]"), "conn_id": "mock", "req_id": req_id, "op": op}),
                    );
                    return;
                }
                let Some((_, topics)) = venue.clients.get_mut(&client.id) else {
                    return;
                };
                for t in &args {
                    if op == "subscribe" {
                        topics.insert(t.clone());
                    } else {
                        topics.remove(t);
                    }
                }
                reply(
                    serde_json::json!({"success": true, "ret_msg": op, "conn_id": "mock", "req_id": req_id, "op": op}),
                );
                if op == "subscribe" {
                    for t in &args {
                        if let Some((depth, sym)) = depth_of(t)
                            && let Some(b) = venue.books.get(sym)
                        {
                            let _ = client.tx.send(Message::text(snapshot_frame(sym, b, depth)));
                        }
                    }
                }
            }
            _ => reply(
                serde_json::json!({"success": false, "ret_msg": format!("unknown op {op}"), "conn_id": "mock", "req_id": req_id, "op": op}),
            ),
        }
    }

    fn on_disconnect(&self, client_id: u64) {
        lock(&self.0).clients.remove(&client_id);
    }

    fn periodic(&self, _client: &Client) {}

    fn silent(&self) -> bool {
        lock(&self.0).faults.silent
    }

    fn refuse_with(&self) -> Option<u16> {
        lock(&self.0).faults.refuse_ws
    }
}

fn snapshot_frame(symbol: &str, b: &Book, depth: usize) -> String {
    let (bids, asks) = b.top(depth);
    serde_json::json!({
        "topic": format!("orderbook.{depth}.{symbol}"), "ts": TS + b.u as i64, "type": "snapshot",
        "data": {"s": symbol, "b": levels_json(&bids), "a": levels_json(&asks), "u": b.u, "seq": 88_000_000 + b.u},
        "cts": TS + b.u as i64 - 2
    })
    .to_string()
}

/// A running Bybit mock.
#[derive(Clone)]
pub struct MockBybit {
    /// Public spot endpoint (`ws://127.0.0.1:P/v5/public/spot`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockBybit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBybit")
            .field("ws_url", &self.ws_url)
            .finish()
    }
}

impl MockBybit {
    /// Start a mock listing `symbols` (`BTCUSDT`…), each with a 300-level book around 67000
    /// (price step 0.01, sizes with 6 decimals).
    pub async fn start(symbols: &[&str]) -> std::io::Result<MockBybit> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0x5EED_B7B1_0000_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for s in symbols {
                let mid = dec("67000.00");
                let tick = dec("0.01");
                let mut bids = Side::new();
                let mut asks = Side::new();
                for i in 1..=300i64 {
                    let q = dec("0.5") + Decimal::new(i % 7, 1);
                    bids.insert(mid - tick * Decimal::from(i), q);
                    asks.insert(mid + tick * Decimal::from(i - 1), q);
                }
                v.books.insert(
                    (*s).to_owned(),
                    Book {
                        bids,
                        asks,
                        u: 1_000,
                    },
                );
            }
        }
        let record = Arc::new(Mutex::new(Record::default()));
        let (ws_base, _task) = serve(
            Arc::new(WsHandler(venue.clone())),
            record.clone(),
            Duration::from_secs(3_600),
        )
        .await?;
        let rest = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v5/market/instruments-info"))
            .respond_with(InstrumentsResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path("/v5/market/kline"))
            .respond_with(KlineResponder(venue.clone()))
            .mount(&rest)
            .await;
        Ok(MockBybit {
            ws_url: format!("{ws_base}/v5/public/spot"),
            rest_url: rest.uri(),
            venue,
            record,
            _rest: Arc::new(rest),
        })
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        lock(&self.venue)
    }

    /// Apply changes to the venue book (absolute quantities, `"0"` deletes) as one message
    /// (`u` + 1) and send every client subscribed to the symbol's book topic the changes
    /// inside its view (unless a drop fault swallows the message: a gap).
    pub fn update(&self, symbol: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        let mut v = self.venue();
        let depths: BTreeSet<usize> = v
            .clients
            .values()
            .flat_map(|(_, topics)| topics.iter().filter_map(|t| depth_of(t)))
            .filter(|(_, sym)| *sym == symbol)
            .map(|(d, _)| d)
            .collect();
        let recording = v.tape.is_some();
        let Some(book) = v.books.get_mut(symbol) else {
            return;
        };
        let before: Vec<(usize, View)> = depths.iter().map(|d| (*d, view(book, *d))).collect();
        book.u += 1;
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
        let u = book.u;
        let entry =
            recording.then(|| crate::TapeEntry::now(symbol, Some(u), &book.bids, &book.asks));
        let frames: HashMap<usize, String> = before
            .into_iter()
            .map(|(depth, old)| {
                let new = view(book, depth);
                let frame = serde_json::json!({
                    "topic": format!("orderbook.{depth}.{symbol}"), "ts": TS + u as i64, "type": "delta",
                    "data": {"s": symbol, "b": levels_json(&view_diff(&old.0, &new.0, &book.bids)),
                             "a": levels_json(&view_diff(&old.1, &new.1, &book.asks)),
                             "u": u, "seq": 88_000_000 + u},
                    "cts": TS + u as i64 - 2
                });
                (depth, frame.to_string())
            })
            .collect();
        if let (Some(tape), Some(e)) = (v.tape.as_mut(), entry) {
            tape.push(e);
        }
        if v.faults.drop_next > 0 {
            v.faults.drop_next -= 1;
            return;
        }
        if v.faults.silent {
            return;
        }
        for (c, topics) in v.clients.values() {
            for t in topics {
                if let Some((depth, sym)) = depth_of(t)
                    && sym == symbol
                    && let Some(f) = frames.get(&depth)
                {
                    let _ = c.tx.send(Message::text(f.clone()));
                }
            }
        }
    }

    /// One random, valid (never crossing) update near the top of `symbol`'s book: a size
    /// change or a new level within 8 ticks of the touch, or a deletion there while the side
    /// keeps over 100 levels (so the book neither drains nor grows without bound).
    pub fn random_update(&self, symbol: &str) {
        let (bb, ba, nb, na, r) = {
            let mut v = self.venue();
            let r = crate::xorshift(&mut v.rng);
            let Some(b) = v.books.get(symbol) else { return };
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
            self.update(symbol, &[(&c.price, &c.qty)], &[]);
        } else {
            self.update(symbol, &[], &[(&c.price, &c.qty)]);
        }
    }

    /// Restart the venue's book service: every client gets a snapshot with `u = 1`.
    pub fn restart(&self, symbol: &str) {
        let mut v = self.venue();
        let Some(book) = v.books.get_mut(symbol) else {
            return;
        };
        book.u = 1;
        let b = book.clone();
        if let Some(tape) = v.tape.as_mut() {
            tape.push(crate::TapeEntry::now(symbol, Some(1), &b.bids, &b.asks));
        }
        for (c, topics) in v.clients.values() {
            for t in topics {
                if let Some((depth, sym)) = depth_of(t)
                    && sym == symbol
                {
                    let _ = c.tx.send(Message::text(snapshot_frame(symbol, &b, depth)));
                }
            }
        }
    }

    /// Print a trade (`side` `Buy`/`Sell` is the taker's) to every `publicTrade` subscriber;
    /// returns its id.
    pub fn trade(&self, symbol: &str, side: &str, price: &str, qty: &str) -> u64 {
        let mut v = self.venue();
        v.trade_id += 1;
        let id = 2_290_000_000_000_000_000 + v.trade_id;
        let topic = format!("publicTrade.{symbol}");
        let frame = serde_json::json!({
            "topic": topic, "type": "snapshot", "ts": TS,
            "data": [{"T": TS, "s": symbol, "S": side, "v": qty, "p": price, "L": "PlusTick", "i": id.to_string(), "BT": false}]
        })
        .to_string();
        if !v.faults.silent {
            for (c, topics) in v.clients.values() {
                if topics.contains(&topic) {
                    let _ = c.tx.send(Message::text(frame.clone()));
                }
            }
        }
        id
    }

    /// The venue's top `n` levels of `symbol`.
    pub fn top(&self, symbol: &str, n: usize) -> (Levels, Levels) {
        self.venue()
            .books
            .get(symbol)
            .map(|b| {
                let (bids, asks) = b.top(n);
                let norm = |l: Levels| {
                    l.into_iter()
                        .map(|(p, q)| (p.normalize(), q.normalize()))
                        .collect()
                };
                (norm(bids), norm(asks))
            })
            .unwrap_or_default()
    }

    /// Start recording every book state (for checking fills against the venue).
    pub fn start_tape(&self) {
        let mut v = self.venue();
        let tape = v
            .books
            .iter()
            .map(|(s, b)| crate::TapeEntry::now(s, Some(b.u), &b.bids, &b.asks))
            .collect();
        v.tape = Some(tape);
    }

    /// Every book state since [`Self::start_tape`], oldest first.
    pub fn tape(&self) -> Vec<crate::TapeEntry> {
        self.venue().tape.clone().unwrap_or_default()
    }

    /// The venue's current update id of `symbol` (the `u` of its last message).
    pub fn update_id(&self, symbol: &str) -> Option<u64> {
        self.venue().books.get(symbol).map(|b| b.u)
    }

    /// The next `n` book messages are lost (each a gap in `u`).
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next = n;
    }

    /// Send `text` to every client.
    pub fn send_raw(&self, text: &str) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::text(text.to_owned()));
        }
    }

    /// Stop sending anything (and answering pings).
    pub fn set_silent(&self, on: bool) {
        self.venue().faults.silent = on;
    }

    /// Refuse subscriptions to this topic (`orderbook.200.BTCUSDT`).
    pub fn refuse_topic(&self, topic: &str) {
        self.venue().faults.refuse_topics.insert(topic.to_owned());
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
        for (c, _) in v.clients.values() {
            let _ = c.tx.send(Message::Close(None));
        }
        v.clients.clear();
    }

    /// Topics each connected client follows.
    pub fn subscriptions(&self) -> Vec<HashSet<String>> {
        self.venue()
            .clients
            .values()
            .map(|(_, t)| t.clone())
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
