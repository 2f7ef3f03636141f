//! A Bitstamp v2 mock: the WebSocket (`bts:subscribe`/`bts:unsubscribe` of
//! `diff_order_book_{pair}` and `live_trades_{pair}` with `bts:subscription_succeeded`;
//! diffs with `microtimestamp`s that never go back; `bts:request_reconnect`) and the REST
//! routes the adapter uses (`/api/v2/trading-pairs-info/`, `/api/v2/order_book/{pair}/`,
//! `/api/v2/ohlc/{pair}/`), with faults: lost diffs (which the venue gives no way to see),
//! a diff whose time goes back, a REST book that lags the stream, a REST book with a phantom
//! level that crosses the book, a malformed frame, a stalled socket (silence: nothing
//! arrives, not even pongs, and what the venue sent meanwhile arrives when it resumes, as
//! TCP delivers it), a refused pair, a refused connection, and REST 429s with
//! `Retry-After`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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

use rest::{OhlcResponder, OrderBookResponder, PairsResponder};

type Side = BTreeMap<Decimal, Decimal>;

/// `(price, qty)` levels, best first, normalized.
pub type Levels = Vec<(Decimal, Decimal)>;

/// The books' time before their first change, and the trades' clock (2026-07-01T12:00:00Z).
const T0: i64 = 1_782_907_200_000_000;

#[derive(Debug, Clone, Default)]
struct Book {
    bids: Side,
    asks: Side,
    /// The `microtimestamp` of the last change.
    micros: i64,
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
    refuse_pairs: HashSet<String>,
    refuse_ws: Option<u16>,
    /// `(status, retry_after_secs, remaining)` for REST answers.
    rest_failures: Option<(u16, u64, usize)>,
    /// The REST book shows the state this many changes ago.
    rest_lag: usize,
    /// ...stamped with the current time rather than its own (content older than its stamp).
    rest_restamped: bool,
    /// The next REST book of this pair carries this extra bid (a level the stream never
    /// retracts).
    phantom: HashMap<String, (Decimal, Decimal)>,
}

#[derive(Debug, Default)]
struct Venue {
    books: BTreeMap<String, Book>,
    /// Past states per pair, newest last (kept while `rest_lag` > 0).
    history: HashMap<String, VecDeque<Book>>,
    /// client id → (client, channels)
    clients: HashMap<u64, (Client, HashSet<String>)>,
    /// What a stalled socket holds: `(client, message)` in order.
    held: Vec<(u64, Message)>,
    faults: Faults,
    trade_id: u64,
    rng: u64,
    rest_books: u64,
    tape: Option<Vec<crate::TapeEntry>>,
}

fn lock(v: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn levels_json<'a>(levels: impl Iterator<Item = (&'a Decimal, &'a Decimal)>) -> serde_json::Value {
    serde_json::Value::Array(
        levels
            .map(|(p, q)| serde_json::json!([format!("{p:.2}"), format!("{q:.8}")]))
            .collect(),
    )
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(T0)
}

fn msg(event: &str, channel: &str, data: serde_json::Value) -> Message {
    Message::text(serde_json::json!({"event": event, "channel": channel, "data": data}).to_string())
}

struct WsHandler(Arc<Mutex<Venue>>);

impl Handler for WsHandler {
    fn on_connect(&self, client: &Client) {
        lock(&self.0)
            .clients
            .insert(client.id, (client.clone(), HashSet::new()));
    }

    fn on_text(&self, client: &Client, text: &str) {
        let send = |m: Message| {
            let _ = client.tx.send(m);
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            send(msg(
                "bts:error",
                "",
                serde_json::json!({"code": null, "message": "Bad message."}),
            ));
            return;
        };
        let event = v["event"].as_str().unwrap_or("");
        let channel = v["data"]["channel"].as_str().unwrap_or("").to_owned();
        let mut venue = lock(&self.0);
        if event == "bts:heartbeat" {
            send(msg(
                "bts:heartbeat",
                "",
                serde_json::json!({"status": "success"}),
            ));
            return;
        }
        let pair = channel
            .strip_prefix("diff_order_book_")
            .or_else(|| channel.strip_prefix("live_trades_"))
            .unwrap_or("")
            .to_owned();
        let known = venue.books.contains_key(&pair) && !venue.faults.refuse_pairs.contains(&pair);
        match event {
            "bts:subscribe" if known => {
                if let Some((_, chans)) = venue.clients.get_mut(&client.id) {
                    chans.insert(channel.clone());
                }
                send(msg(
                    "bts:subscription_succeeded",
                    &channel,
                    serde_json::json!({}),
                ));
            }
            "bts:unsubscribe" => {
                if let Some((_, chans)) = venue.clients.get_mut(&client.id) {
                    chans.remove(&channel);
                }
                send(msg(
                    "bts:unsubscription_succeeded",
                    &channel,
                    serde_json::json!({}),
                ));
            }
            _ => send(msg(
                "bts:error",
                &channel,
                serde_json::json!({"code": null, "message": "Bad subscription string."}),
            )),
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

/// A running Bitstamp mock.
#[derive(Clone)]
pub struct MockBitstamp {
    /// WebSocket endpoint (`ws://127.0.0.1:P`).
    pub ws_url: String,
    /// REST origin (`http://127.0.0.1:Q`).
    pub rest_url: String,
    venue: Arc<Mutex<Venue>>,
    record: Arc<Mutex<Record>>,
    _rest: Arc<MockServer>,
}

impl std::fmt::Debug for MockBitstamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBitstamp")
            .field("ws_url", &self.ws_url)
            .finish()
    }
}

impl MockBitstamp {
    /// Start a mock listing `pairs` (`btcusd`…), each with a 300-level book around 67000
    /// (price step 0.01, sizes with 8 decimals).
    pub async fn start(pairs: &[&str]) -> std::io::Result<MockBitstamp> {
        let venue = Arc::new(Mutex::new(Venue {
            rng: 0xB175_7A3F_0000_0001,
            ..Venue::default()
        }));
        {
            let mut v = lock(&venue);
            for p in pairs {
                let mid = dec("67000.00");
                let tick = dec("0.01");
                let mut b = Book {
                    micros: T0,
                    ..Book::default()
                };
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
            Duration::from_secs(3_600),
        )
        .await?;
        let rest = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/trading-pairs-info/"))
            .respond_with(PairsResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v2/order_book/[a-z0-9]+/$"))
            .respond_with(OrderBookResponder(venue.clone()))
            .mount(&rest)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v2/ohlc/[a-z0-9]+/$"))
            .respond_with(OhlcResponder(venue.clone()))
            .mount(&rest)
            .await;
        Ok(MockBitstamp {
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

    /// Apply changes to the venue book (absolute quantities, `"0"` deletes) as one diff to
    /// every subscriber (unless a drop fault loses it), 1 ms after the previous one.
    pub fn update(&self, pair: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        let mut v = self.venue();
        let keep_history = v.faults.rest_lag > 0;
        let recording = v.tape.is_some();
        let Some(book) = v.books.get_mut(pair) else {
            return;
        };
        let before = keep_history.then(|| book.clone());
        // Wall-clock microseconds, never going back (the venue's clock).
        book.micros = (book.micros + 1).max(now_micros());
        let mut changed: [Side; 2] = [Side::new(), Side::new()];
        for (i, (side, list)) in [(&mut book.bids, bids), (&mut book.asks, asks)]
            .into_iter()
            .enumerate()
        {
            for (p, q) in list {
                let (p, q) = (dec(p), dec(q));
                if q.is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
                changed[i].insert(p, q);
            }
        }
        let micros = book.micros;
        let entry = recording.then(|| crate::TapeEntry::now(pair, None, &book.bids, &book.asks));
        if let Some(b) = before {
            let h = v.history.entry(pair.to_owned()).or_default();
            h.push_back(b);
            if h.len() > 1_000 {
                h.pop_front();
            }
        }
        if let (Some(tape), Some(e)) = (v.tape.as_mut(), entry) {
            tape.push(e);
        }
        let data = serde_json::json!({
            "timestamp": (micros / 1_000_000).to_string(), "microtimestamp": micros.to_string(),
            "bids": levels_json(changed[0].iter().rev()), "asks": levels_json(changed[1].iter())
        });
        self.broadcast(&mut v, &format!("diff_order_book_{pair}"), "data", data);
    }

    fn broadcast(&self, v: &mut Venue, channel: &str, event: &str, data: serde_json::Value) {
        if v.faults.drop_next > 0 {
            v.faults.drop_next -= 1;
            return;
        }
        let m = msg(event, channel, data);
        Self::deliver(v, channel, &m);
    }

    /// Send `m` to every follower of `channel`, or hold it while the socket is stalled.
    fn deliver(v: &mut Venue, channel: &str, m: &Message) {
        let silent = v.faults.silent;
        let mut held = Vec::new();
        for (id, (c, chans)) in v.clients.iter() {
            if chans.contains(channel) {
                if silent {
                    held.push((*id, m.clone()));
                } else {
                    let _ = c.tx.send(m.clone());
                }
            }
        }
        v.held.extend(held);
    }

    /// One random, valid (never crossing) update near the top of `pair`'s book: a size
    /// change or a new level within 8 ticks of the touch, or a deletion there while the side
    /// keeps over 100 levels.
    pub fn random_update(&self, pair: &str) {
        let (bb, ba, nb, na, r) = {
            let mut v = self.venue();
            let r = crate::xorshift(&mut v.rng);
            let Some(b) = v.books.get(pair) else {
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
            self.update(pair, &[(&c.price, &c.qty)], &[]);
        } else {
            self.update(pair, &[], &[(&c.price, &c.qty)]);
        }
    }

    /// Send a diff of `pair` stamped `back_ms` before the last one (an empty change).
    pub fn step_back(&self, pair: &str, back_ms: i64) {
        let mut v = self.venue();
        let Some(micros) = v.books.get(pair).map(|b| b.micros - back_ms * 1_000) else {
            return;
        };
        let data = serde_json::json!({"timestamp": (micros / 1_000_000).to_string(), "microtimestamp": micros.to_string(), "bids": [], "asks": []});
        self.broadcast(&mut v, &format!("diff_order_book_{pair}"), "data", data);
    }

    /// Send a `diff_order_book` frame of `pair` that cannot be parsed.
    pub fn send_malformed(&self, pair: &str) {
        let mut v = self.venue();
        let data = serde_json::json!({"timestamp": "1", "microtimestamp": "1", "bids": [["oops", "1"]], "asks": []});
        self.broadcast(&mut v, &format!("diff_order_book_{pair}"), "data", data);
    }

    /// Print a trade (`taker` 0 buy, 1 sell) to every `live_trades` subscriber; returns its
    /// id.
    pub fn trade(&self, pair: &str, taker: u8, price: &str, amount: &str) -> u64 {
        let mut v = self.venue();
        v.trade_id += 1;
        let id = 350_000_000 + v.trade_id;
        let micros = T0 + v.trade_id as i64 * 1_000;
        let data = serde_json::json!({
            "id": id, "timestamp": (micros / 1_000_000).to_string(), "amount": 0.1, "amount_str": amount,
            "price": 67000.5, "price_str": price, "type": taker, "microtimestamp": micros.to_string(),
            "buy_order_id": 1, "sell_order_id": 2
        });
        let channel = format!("live_trades_{pair}");
        let m = msg("trade", &channel, data);
        Self::deliver(&mut v, &channel, &m);
        id
    }

    /// Tell every client the connection will be dropped (`bts:request_reconnect`).
    pub fn request_reconnect(&self) {
        for (c, _) in self.venue().clients.values() {
            let _ =
                c.tx.send(msg("bts:request_reconnect", "", serde_json::json!("")));
        }
    }

    /// The venue's top `n` levels of `pair`.
    pub fn top(&self, pair: &str, n: usize) -> (Levels, Levels) {
        self.venue()
            .books
            .get(pair)
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

    /// The next `n` diffs are lost.
    pub fn drop_next(&self, n: usize) {
        self.venue().faults.drop_next = n;
    }

    /// REST books show the state `n` changes ago (0: current), as the venue's lag, stamped
    /// with that state's time.
    pub fn rest_lag(&self, n: usize) {
        let mut v = self.venue();
        v.faults.rest_lag = n;
        v.faults.rest_restamped = false;
    }

    /// REST books show the state `n` changes ago but stamped with the current time: levels
    /// the stream already changed or deleted appear as current (the venue's phantom levels).
    pub fn rest_content_lag(&self, n: usize) {
        let mut v = self.venue();
        v.faults.rest_lag = n;
        v.faults.rest_restamped = true;
    }

    /// The next REST book of `pair` carries a bid at `price` that the stream never retracts.
    pub fn phantom_bid(&self, pair: &str, price: &str, qty: &str) {
        self.venue()
            .faults
            .phantom
            .insert(pair.to_owned(), (dec(price), dec(qty)));
    }

    /// REST books served so far.
    pub fn rest_books(&self) -> u64 {
        self.venue().rest_books
    }

    /// Send `text` to every client.
    pub fn send_raw(&self, text: &str) {
        for (c, _) in self.venue().clients.values() {
            let _ = c.tx.send(Message::text(text.to_owned()));
        }
    }

    /// Stall the socket (`true`): nothing is sent and pings go unanswered; what the venue
    /// sends meanwhile is held and delivered, in order, when it resumes (`false`).
    pub fn set_silent(&self, on: bool) {
        let mut v = self.venue();
        v.faults.silent = on;
        if !on {
            for (id, m) in std::mem::take(&mut v.held) {
                if let Some((c, _)) = v.clients.get(&id) {
                    let _ = c.tx.send(m);
                }
            }
        }
    }

    /// Refuse subscriptions to this pair.
    pub fn refuse_pair(&self, pair: &str) {
        self.venue().faults.refuse_pairs.insert(pair.to_owned());
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

    /// Channels each connected client follows.
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
