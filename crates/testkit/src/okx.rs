//! An OKX v5 mock: the public WebSocket (`/ws/v5/public`: `subscribe`/`unsubscribe` of
//! `books` and `trades` per instrument with per-argument acks, a `books` snapshot then
//! updates chained by `prevSeqId`/`seqId` with arbitrary steps, checksums when enabled, the
//! text `ping`/`pong`, `notice` before a service upgrade) and the REST routes the adapter uses
//! (`/api/v5/public/instruments`, `/api/v5/market/candles`, `/api/v5/market/books` with its
//! `seqId`), with faults: a lost update, a corrupted checksum, a malformed frame, silence, a
//! refused instrument, no in-band snapshot (the REST splice path), REST 429s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::wsserver::{Client, Handler, Record, serve};

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

const TS: i64 = 1_782_907_200_000;

#[derive(Debug, Clone)]
struct Book {
    bids: Side,
    asks: Side,
    seq: i64,
}

#[derive(Debug, Default)]
struct Faults {
    drop_next: usize,
    corrupt_next: usize,
    silent: bool,
    refuse: HashSet<String>,
    refuse_ws: Option<u16>,
    no_inband_snapshot: bool,
    rest_failures: Option<(u16, u64, usize)>,
}

#[derive(Debug, Default)]
struct Venue {
    books: BTreeMap<String, Book>,
    /// client id → (client, (channel, instId))
    clients: HashMap<u64, (Client, HashSet<(String, String)>)>,
    faults: Faults,
    checksums: bool,
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

/// A number as OKX prints it: no trailing zeros.
fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn levels_json(levels: &[(Decimal, Decimal)]) -> serde_json::Value {
    serde_json::Value::Array(
        levels
            .iter()
            .map(|(p, q)| {
                serde_json::json!([text(*p), text(*q), "0", if q.is_zero() { "0" } else { "1" }])
            })
            .collect(),
    )
}

/// OKX's checksum as documented, from printed text: top 25 interleaved, signed.
fn text_checksum(b: &Book) -> i64 {
    let bids: Vec<_> = b.bids.iter().rev().take(25).collect();
    let asks: Vec<_> = b.asks.iter().take(25).collect();
    let mut parts = Vec::new();
    for i in 0..bids.len().max(asks.len()) {
        if let Some((p, q)) = bids.get(i) {
            parts.push(format!("{}:{}", text(**p), text(**q)));
        }
        if let Some((p, q)) = asks.get(i) {
            parts.push(format!("{}:{}", text(**p), text(**q)));
        }
    }
    i64::from(crate::crc32(parts.join(":").as_bytes()) as i32)
}

fn snapshot_frame(inst: &str, b: &Book, checksums: bool) -> String {
    let bids: Levels = b.bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
    let asks: Levels = b.asks.iter().map(|(p, q)| (*p, *q)).collect();
    serde_json::json!({
        "arg": {"channel": "books", "instId": inst}, "action": "snapshot",
        "data": [{"asks": levels_json(&asks), "bids": levels_json(&bids), "ts": (TS + b.seq).to_string(),
                  "checksum": if checksums { text_checksum(b) } else { 0 }, "prevSeqId": -1, "seqId": b.seq}]
    })
    .to_string()
}

struct WsHandler(Arc<Mutex<Venue>>);

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0)
            .clients
            .insert(client.id, (client.clone(), HashSet::new()));
    }

    fn on_text(&self, client: &Client, text_in: &str) {
        let reply = |body: String| {
            let _ = client.tx.send(Message::text(body));
        };
        if text_in == "ping" {
            reply("pong".to_owned());
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text_in) else {
            reply(serde_json::json!({"event": "error", "code": "60012", "msg": format!("Invalid request: {text_in}"), "connId": "mock"}).to_string());
            return;
        };
        let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let op = v
            .get("op")
            .and_then(|o| o.as_str())
            .unwrap_or("")
            .to_owned();
        let args: Vec<(String, String)> = v
            .get("args")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x["channel"].as_str().unwrap_or("").to_owned(),
                            x["instId"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut venue = lock(&self.0);
        if !matches!(op.as_str(), "subscribe" | "unsubscribe") {
            reply(serde_json::json!({"id": id, "event": "error", "code": "60012", "msg": format!("Invalid request: {text_in}"), "connId": "mock"}).to_string());
            return;
        }
        for (channel, inst) in args {
            let known =
                venue.books.contains_key(&inst) && matches!(channel.as_str(), "books" | "trades");
            if op == "subscribe" && (!known || venue.faults.refuse.contains(&inst)) {
                reply(serde_json::json!({"id": id, "event": "error", "code": "60018",
                    "msg": format!("Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the correct URL, channel and parameters referring to API document."), "connId": "mock"}).to_string());
                continue;
            }
            let Some((_, subs)) = venue.clients.get_mut(&client.id) else {
                return;
            };
            if op == "subscribe" {
                subs.insert((channel.clone(), inst.clone()));
            } else {
                subs.remove(&(channel.clone(), inst.clone()));
            }
            reply(serde_json::json!({"id": id, "event": op, "arg": {"channel": channel, "instId": inst}, "connId": "mock"}).to_string());
            if op == "subscribe"
                && channel == "books"
                && !venue.faults.no_inband_snapshot
                && let Some(b) = venue.books.get(&inst)
            {
                reply(snapshot_frame(&inst, b, venue.checksums));
            }
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

struct RestResponder(Arc<Mutex<Venue>>);

impl Respond for RestResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut v = lock(&self.0);
        if let Some(r) = crate::rest_failure(
            &mut v.faults.rest_failures,
            r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#,
        ) {
            return r;
        }
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let ok = |data: serde_json::Value| {
            ResponseTemplate::new(200).set_body_string(
                serde_json::json!({"code": "0", "msg": "", "data": data}).to_string(),
            )
        };
        match req.url.path() {
            "/api/v5/public/instruments" => ok(serde_json::Value::Array(
                v.books
                    .keys()
                    .map(|i| {
                        let (b, qc) = i.split_once('-').unwrap_or((i, ""));
                        serde_json::json!({"instType": "SPOT", "instId": i, "baseCcy": b, "quoteCcy": qc,
                            "tickSz": "0.1", "lotSz": "0.00000001", "minSz": "0.00001", "state": "live"})
                    })
                    .collect(),
            )),
            "/api/v5/market/books" => {
                let inst = q.get("instId").cloned().unwrap_or_default();
                let Some(b) = v.books.get(&inst) else {
                    return ResponseTemplate::new(200).set_body_string(
                        r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
                    );
                };
                let bids: Levels = b.bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
                let asks: Levels = b.asks.iter().map(|(p, q)| (*p, *q)).collect();
                ok(serde_json::json!([{"asks": levels_json(&asks), "bids": levels_json(&bids),
                    "ts": (TS + b.seq).to_string(), "seqId": b.seq}]))
            }
            _ => {
                // Candles, newest first; the last one in progress.
                let inst = q.get("instId").cloned().unwrap_or_default();
                if !v.books.contains_key(&inst) {
                    return ResponseTemplate::new(200).set_body_string(
                        r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
                    );
                }
                let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                let step = 60_000;
                let last = KLINE_LAST - KLINE_LAST % step;
                ok(serde_json::Value::Array(
                    (0..limit)
                        .map(|i| {
                            let t = last - i * step;
                            let base = 67_000 + (t / step) % 50;
                            serde_json::json!([t.to_string(), format!("{base}"), format!("{}", base + 5),
                                format!("{}", base - 5), format!("{base}.5"), "1.5", "100500", "100500",
                                if i == 0 { "0" } else { "1" }])
                        })
                        .collect(),
                ))
            }
        }
    }
}

/// The mock's last (in-progress) 1-minute candle starts here.
pub const KLINE_LAST: i64 = 1_795_255_200_000;

/// A running OKX mock.
#[derive(Clone)]
pub struct MockOkx {
    /// Public endpoint (`ws://127.0.0.1:P/ws/v5/public`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockOkx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOkx")
            .field("ws_url", &self.ws_url)
            .finish()
    }
}

impl MockOkx {
    /// Start a mock listing `insts` (`BTC-USDT`…), each with a 300-level book around 67000
    /// (price step 0.1, sizes with 8 decimals), checksums off (0) as the venue sends today.
    pub async fn start(insts: &[&str]) -> std::io::Result<MockOkx> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0x5EED_0C50_0000_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for i in insts {
                let mid = dec("67000.0");
                let tick = dec("0.1");
                let mut bids = Side::new();
                let mut asks = Side::new();
                for k in 1..=300i64 {
                    let q = dec("0.5") + Decimal::new(k % 7, 1);
                    bids.insert(mid - tick * Decimal::from(k), q);
                    asks.insert(mid + tick * Decimal::from(k - 1), q);
                }
                v.books.insert(
                    (*i).to_owned(),
                    Book {
                        bids,
                        asks,
                        seq: 1_000,
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
        for p in [
            "/api/v5/public/instruments",
            "/api/v5/market/books",
            "/api/v5/market/candles",
            "/api/v5/market/history-candles",
        ] {
            Mock::given(method("GET"))
                .and(path(p))
                .respond_with(RestResponder(venue.clone()))
                .mount(&rest)
                .await;
        }
        Ok(MockOkx {
            ws_url: format!("{ws_base}/ws/v5/public"),
            rest_url: rest.uri(),
            venue,
            record,
            _rest: Arc::new(rest),
        })
    }

    fn venue(&self) -> MutexGuard<'_, Venue> {
        lock(&self.venue)
    }

    fn send_to(v: &Venue, channel: &str, inst: &str, frame: &str) {
        for (c, subs) in v.clients.values() {
            if subs.contains(&(channel.to_owned(), inst.to_owned())) {
                let _ = c.tx.send(Message::text(frame.to_owned()));
            }
        }
    }

    /// Apply changes (absolute quantities, `"0"` deletes) as one update with the next
    /// `seqId` (an arbitrary step) and send it to `books` subscribers, with the checksum of
    /// the new book when checksums are on (corrupted by the fault), unless it is dropped.
    pub fn update(&self, inst: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        let mut v = self.venue();
        let step = 1 + (crate::xorshift(&mut v.rng) % 7) as i64;
        let checksums = v.checksums;
        let corrupt = v.faults.corrupt_next > 0;
        if corrupt {
            v.faults.corrupt_next -= 1;
        }
        let recording = v.tape.is_some();
        let Some(book) = v.books.get_mut(inst) else {
            return;
        };
        let prev = book.seq;
        book.seq += step;
        let mut b_out = Levels::new();
        let mut a_out = Levels::new();
        for (side, changes, out) in [
            (&mut book.bids, bids, &mut b_out),
            (&mut book.asks, asks, &mut a_out),
        ] {
            for (p, q) in changes {
                let (p, q) = (dec(p), dec(q));
                if q.is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
                out.push((p, q));
            }
        }
        let entry = recording.then(|| {
            crate::TapeEntry::now(inst, u64::try_from(book.seq).ok(), &book.bids, &book.asks)
        });
        let sum = if checksums {
            text_checksum(book) ^ i64::from(corrupt)
        } else {
            0
        };
        let frame = serde_json::json!({
            "arg": {"channel": "books", "instId": inst}, "action": "update",
            "data": [{"asks": levels_json(&a_out), "bids": levels_json(&b_out), "ts": (TS + book.seq).to_string(),
                      "checksum": sum, "prevSeqId": prev, "seqId": book.seq}]
        })
        .to_string();
        if let (Some(tape), Some(e)) = (v.tape.as_mut(), entry) {
            tape.push(e);
        }
        if v.faults.drop_next > 0 {
            v.faults.drop_next -= 1;
            return;
        }
        if !v.faults.silent {
            Self::send_to(&v, "books", inst, &frame);
        }
    }

    /// One random, valid (never crossing) update near the top, keeping 100+ levels a side.
    pub fn random_update(&self, inst: &str) {
        let (bb, ba, nb, na, r) = {
            let mut v = self.venue();
            let r = crate::xorshift(&mut v.rng);
            let Some(b) = v.books.get(inst) else { return };
            (
                b.bids.keys().next_back().copied().unwrap_or(dec("66999.9")),
                b.asks.keys().next().copied().unwrap_or(dec("67000.0")),
                b.bids.len(),
                b.asks.len(),
                r,
            )
        };
        let c = crate::touch_change(r, (bb, ba), (nb, na), dec("0.1"), 5, 50_000);
        if c.bid {
            self.update(inst, &[(&c.price, &c.qty)], &[]);
        } else {
            self.update(inst, &[], &[(&c.price, &c.qty)]);
        }
    }

    /// Print a trade (`side` is the taker's: `buy`/`sell`); returns its id.
    pub fn trade(&self, inst: &str, side: &str, px: &str, sz: &str) -> u64 {
        let mut v = self.venue();
        v.trade_id += 1;
        let id = 130_639_000 + v.trade_id;
        let frame = serde_json::json!({"arg": {"channel": "trades", "instId": inst},
            "data": [{"instId": inst, "tradeId": id.to_string(), "px": px, "sz": sz, "side": side, "ts": TS.to_string(), "count": "1"}]})
        .to_string();
        if !v.faults.silent {
            Self::send_to(&v, "trades", inst, &frame);
        }
        id
    }

    /// The venue's top `n` levels of `inst`.
    pub fn top(&self, inst: &str, n: usize) -> (Levels, Levels) {
        self.venue()
            .books
            .get(inst)
            .map(|b| {
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
            })
            .unwrap_or_default()
    }

    /// Start recording every book state (for checking fills against the venue).
    pub fn start_tape(&self) {
        let mut v = self.venue();
        let tape = v
            .books
            .iter()
            .map(|(i, b)| crate::TapeEntry::now(i, u64::try_from(b.seq).ok(), &b.bids, &b.asks))
            .collect();
        v.tape = Some(tape);
    }

    /// Every book state since [`Self::start_tape`], oldest first.
    pub fn tape(&self) -> Vec<crate::TapeEntry> {
        self.venue().tape.clone().unwrap_or_default()
    }

    /// The venue's current `seqId` of `inst`.
    pub fn seq(&self, inst: &str) -> Option<i64> {
        self.venue().books.get(inst).map(|b| b.seq)
    }

    /// Send real checksums (the legacy algorithm) instead of 0.
    pub fn set_checksums(&self, on: bool) {
        self.venue().checksums = on;
    }

    /// The next `n` updates carry a wrong checksum.
    pub fn corrupt_next_checksums(&self, n: usize) {
        self.venue().faults.corrupt_next = n;
    }

    /// The next `n` updates are lost (each breaks the chain).
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next = n;
    }

    /// Stop sending the in-band snapshot on subscribe (the venue's announced change).
    pub fn set_no_inband_snapshot(&self, on: bool) {
        self.venue().faults.no_inband_snapshot = on;
    }

    /// Refuse subscriptions to this instrument.
    pub fn refuse(&self, inst: &str) {
        self.venue().faults.refuse.insert(inst.to_owned());
    }

    /// Send the service-upgrade notice to every client.
    pub fn notice(&self) {
        self.send_raw(r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"mock"}"#);
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

    /// `(channel, instId)` pairs each connected client follows.
    pub fn subscriptions(&self) -> Vec<HashSet<(String, String)>> {
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
