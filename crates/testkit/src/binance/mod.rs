//! A Binance spot mock: the combined-stream WebSocket (`/stream`, runtime `SUBSCRIBE`/
//! `UNSUBSCRIBE`, diff-depth events with real update-id chains, `serverShutdown`) and the
//! REST routes the adapter uses (`/api/v3/depth`, `/api/v3/exchangeInfo`, `/api/v3/klines`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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

use rest::{DepthResponder, InfoResponder, KlinesResponder};

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

#[derive(Debug, Clone)]
struct Book {
    bids: Side,
    asks: Side,
    last_id: u64,
    /// Past states, newest last, for lagging snapshots.
    history: VecDeque<(u64, Side, Side)>,
    tick: Decimal,
}

#[derive(Debug, Default)]
struct Faults {
    drop_next: usize,
    silent: bool,
    snapshot_errors: VecDeque<(u16, u64)>,
    snapshot_delay: Duration,
    snapshot_lag: usize,
    refuse_ws: Option<u16>,
}

#[derive(Debug, Default)]
struct Venue {
    books: HashMap<String, Book>,
    /// Every book state since `start_tape`, when recording.
    tape: Option<Vec<crate::TapeEntry>>,
    clients: HashMap<u64, (Client, HashSet<String>)>,
    faults: Faults,
    snapshot_requests: u64,
    snapshot_times: Vec<Instant>,
    rng: u64,
    /// The last trade id printed.
    trade_id: u64,
}

/// A running Binance mock.
#[derive(Clone)]
pub struct MockBinance {
    /// Combined-stream endpoint (`ws://127.0.0.1:P/stream`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockBinance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBinance")
            .field("ws_url", &self.ws_url)
            .field("rest_url", &self.rest_url)
            .finish()
    }
}

struct WsHandler(Arc<Mutex<Venue>>);

fn lock(v: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0)
            .clients
            .insert(client.id, (client.clone(), HashSet::new()));
    }

    fn on_text(&self, client: &Client, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            let _ = client.tx.send(Message::text(
                r#"{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}"#,
            ));
            return;
        };
        let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let params: Vec<String> = v
            .get("params")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut venue = lock(&self.0);
        let Some((_, streams)) = venue.clients.get_mut(&client.id) else {
            return;
        };
        match v.get("method").and_then(|m| m.as_str()) {
            Some("SUBSCRIBE") => streams.extend(params),
            Some("UNSUBSCRIBE") => {
                for p in params {
                    streams.remove(&p);
                }
            }
            Some("LIST_SUBSCRIPTIONS") => {
                let list: Vec<&String> = streams.iter().collect();
                let _ = client.tx.send(Message::text(
                    serde_json::json!({"result": list, "id": id}).to_string(),
                ));
                return;
            }
            _ => {
                let _ = client.tx.send(Message::text(
                    serde_json::json!({"code": 2, "msg": "Invalid request: unknown method", "id": id})
                        .to_string(),
                ));
                return;
            }
        }
        let _ = client.tx.send(Message::text(
            serde_json::json!({"result": null, "id": id}).to_string(),
        ));
    }

    fn on_disconnect(&self, client_id: u64) {
        lock(&self.0).clients.remove(&client_id);
    }

    fn periodic(&self, client: &Client) {
        let _ = client.tx.send(Message::Ping(b"hb".to_vec().into()));
    }

    fn silent(&self) -> bool {
        lock(&self.0).faults.silent
    }

    fn refuse_with(&self) -> Option<u16> {
        lock(&self.0).faults.refuse_ws
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

impl MockBinance {
    /// Start a mock listing `symbols` (e.g. `BTCUSDT`), each with a 50-level book around
    /// a mid (BTC 67000, others 100) and `lastUpdateId` 1000.
    pub async fn start(symbols: &[&str]) -> std::io::Result<MockBinance> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0x5EED_1234_ABCD_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for s in symbols {
                let mid = if s.starts_with("BTC") {
                    dec("67000")
                } else {
                    dec("100")
                };
                let tick = dec("0.01");
                let mut bids = Side::new();
                let mut asks = Side::new();
                for i in 1..=50i64 {
                    let q = dec("0.5") + Decimal::new(i % 7, 1);
                    bids.insert(mid - tick * Decimal::from(i), q);
                    asks.insert(mid + tick * Decimal::from(i), q);
                }
                v.books.insert(
                    (*s).to_owned(),
                    Book {
                        bids,
                        asks,
                        last_id: 1_000,
                        history: VecDeque::new(),
                        tick,
                    },
                );
            }
        }
        let record = Arc::new(Mutex::new(Record::default()));
        let (ws_base, _task) = serve(
            Arc::new(WsHandler(venue.clone())),
            record.clone(),
            Duration::from_secs(20),
        )
        .await?;
        let rest = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v3/depth"))
            .respond_with(DepthResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v3/exchangeInfo"))
            .respond_with(InfoResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v3/klines"))
            .respond_with(KlinesResponder)
            .mount(&rest)
            .await;
        Ok(MockBinance {
            ws_url: format!("{ws_base}/stream"),
            rest_url: rest.uri(),
            venue,
            record,
            _rest: Arc::new(rest),
        })
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        lock(&self.venue)
    }

    /// Apply changes to the venue book (absolute quantities, `"0"` deletes) as one event
    /// of `n_ids` update ids, and send it to every client subscribed to the symbol's depth
    /// stream (unless a drop fault swallows it).
    pub fn update(&self, symbol: &str, bids: &[(&str, &str)], asks: &[(&str, &str)], n_ids: u64) {
        let mut v = self.venue();
        let recording = v.tape.is_some();
        let Some(book) = v.books.get_mut(symbol) else {
            return;
        };
        book.history
            .push_back((book.last_id, book.bids.clone(), book.asks.clone()));
        while book.history.len() > 64 {
            book.history.pop_front();
        }
        let first = book.last_id + 1;
        book.last_id += n_ids.max(1);
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
        let entry = recording
            .then(|| crate::TapeEntry::now(symbol, Some(book.last_id), &book.bids, &book.asks));
        let frame = serde_json::json!({
            "stream": format!("{}@depth@100ms", symbol.to_lowercase()),
            "data": {
                "e": "depthUpdate", "E": 1_782_907_200_000i64 + book.last_id as i64, "s": symbol,
                "U": first, "u": book.last_id,
                "b": bids.iter().map(|(p, q)| [format!("{:.8}", dec(p)), format!("{:.8}", dec(q))]).collect::<Vec<_>>(),
                "a": asks.iter().map(|(p, q)| [format!("{:.8}", dec(p)), format!("{:.8}", dec(q))]).collect::<Vec<_>>(),
            }
        })
        .to_string();
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
        let stream = format!("{}@depth@100ms", symbol.to_lowercase());
        for (c, streams) in v.clients.values() {
            if streams.contains(&stream) {
                let _ = c.tx.send(Message::text(frame.clone()));
            }
        }
    }

    /// Print a trade on `symbol` to every client subscribed to `<symbol>@trade` (as Binance
    /// sends it: `m` is true when the buyer was the maker, i.e. the taker sold); returns its
    /// id. The silence fault swallows it like any frame.
    pub fn trade(&self, symbol: &str, price: &str, qty: &str, buyer_is_maker: bool) -> u64 {
        let mut v = self.venue();
        v.trade_id += 1;
        let id = v.trade_id;
        let stream = format!("{}@trade", symbol.to_lowercase());
        let frame = serde_json::json!({
            "stream": stream,
            "data": {"e": "trade", "E": 1_782_907_200_000i64 + id as i64, "s": symbol, "t": id,
                     "p": price, "q": qty, "T": 1_782_907_200_000i64 + id as i64,
                     "m": buyer_is_maker, "M": true}
        })
        .to_string();
        if v.faults.silent {
            return id;
        }
        for (c, streams) in v.clients.values() {
            if streams.contains(&stream) {
                let _ = c.tx.send(Message::text(frame.clone()));
            }
        }
        id
    }

    fn next_rand(&self) -> u64 {
        crate::xorshift(&mut self.venue().rng)
    }

    /// One random, valid (never crossing) update near the top of `symbol`'s book.
    pub fn random_update(&self, symbol: &str) {
        let (best_bid, best_ask, tick) = {
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
            let depth = Decimal::from(r % 20);
            let qty = match (r >> 8) % 6 {
                0 => Decimal::ZERO,
                k => Decimal::new(i64::try_from(k).unwrap_or(1) * 125, 3),
            };
            if (r >> 16).is_multiple_of(2) {
                // At or below the best bid; a new best bid stays below the best ask.
                let p = (best_bid - tick * depth).max(tick);
                bids.push((p.to_string(), qty.to_string()));
            } else {
                asks.push(((best_ask + tick * depth).to_string(), qty.to_string()));
            }
        }
        let b: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let ids = 1 + self.next_rand() % 3;
        self.update(symbol, &b, &a, ids);
    }

    /// The venue's top `n` levels `(bids best first, asks best first)`, normalized.
    pub fn top(&self, symbol: &str, n: usize) -> (Levels, Levels) {
        let v = self.venue();
        let Some(b) = v.books.get(symbol) else {
            return (vec![], vec![]);
        };
        (
            b.bids
                .iter()
                .rev()
                .take(n)
                .map(|(p, q)| (p.normalize(), q.normalize()))
                .collect(),
            b.asks
                .iter()
                .take(n)
                .map(|(p, q)| (p.normalize(), q.normalize()))
                .collect(),
        )
    }

    /// Record every book state from now on (the current states first); see [`Self::tape`].
    pub fn start_tape(&self) {
        let mut v = self.venue();
        let tape = v
            .books
            .iter()
            .map(|(symbol, b)| crate::TapeEntry::now(symbol, Some(b.last_id), &b.bids, &b.asks))
            .collect();
        v.tape = Some(tape);
    }

    /// Every book state since [`Self::start_tape`], oldest first.
    pub fn tape(&self) -> Vec<crate::TapeEntry> {
        self.venue().tape.clone().unwrap_or_default()
    }

    /// The venue's last update id for `symbol`.
    pub fn last_id(&self, symbol: &str) -> u64 {
        self.venue().books.get(symbol).map_or(0, |b| b.last_id)
    }

    /// Swallow the next `n` depth events (a gap for every client).
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next += n;
    }

    /// Send a raw text frame to every client (malformed frames, unknown types).
    pub fn send_raw(&self, text: &str) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::text(text.to_owned()));
        }
    }

    /// Announce maintenance on every connection.
    pub fn server_shutdown(&self) {
        self.send_raw(
            r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#,
        );
    }

    /// Stop sending anything (events and pings) while `on`.
    pub fn set_silent(&self, on: bool) {
        self.venue().faults.silent = on;
    }

    /// Close every client connection.
    pub fn disconnect_all(&self) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::Close(None));
        }
    }

    /// Answer the next snapshot requests with `status` (429, 418…) and `Retry-After`.
    pub fn fail_snapshots(&self, status: u16, retry_after_secs: u64, times: usize) {
        let mut v = self.venue();
        for _ in 0..times {
            v.faults
                .snapshot_errors
                .push_back((status, retry_after_secs));
        }
    }

    /// Delay every snapshot answer.
    pub fn set_snapshot_delay(&self, d: Duration) {
        self.venue().faults.snapshot_delay = d;
    }

    /// Serve snapshots `k` updates old (a REST cache lagging the stream); 0 = current.
    pub fn set_snapshot_lag(&self, k: usize) {
        self.venue().faults.snapshot_lag = k;
    }

    /// Refuse WebSocket upgrades with this HTTP status (451 = geo-blocked).
    pub fn refuse_ws(&self, status: Option<u16>) {
        self.venue().faults.refuse_ws = status;
    }

    /// Snapshot requests served (or refused) so far.
    pub fn snapshot_requests(&self) -> u64 {
        self.venue().snapshot_requests
    }

    /// When each snapshot request arrived.
    pub fn snapshot_times(&self) -> Vec<Instant> {
        self.venue().snapshot_times.clone()
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.venue().clients.len()
    }

    /// Streams each connected client is subscribed to.
    pub fn subscriptions(&self) -> Vec<HashSet<String>> {
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

    /// WebSocket upgrades refused so far (see [`MockBinance::refuse_ws`]).
    pub fn refused_total(&self) -> u64 {
        self.record.lock().map(|r| r.refused).unwrap_or(0)
    }

    /// Every text frame clients sent: `(client, when, text)`.
    pub fn received(&self) -> Vec<(u64, Instant, String)> {
        self.record
            .lock()
            .map(|r| r.sent.clone())
            .unwrap_or_default()
    }
}
