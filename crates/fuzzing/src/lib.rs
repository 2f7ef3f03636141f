//! Fuzz harnesses for every decoder that reads bytes from outside: exchange frames and REST
//! bodies (Binance, Kraken; OKX, Bybit, Coinbase and Bitstamp in `venues.rs`), the Binance
//! sync state machine and Bitstamp's splice rule fed with arbitrary sequences,
//! and our own request decoding (TWAP bodies through to a validated plan, WebSocket client
//! messages, bearer tokens, query times).
//!
//! `fuzz/` (cargo fuzz, libFuzzer) calls these functions; `tests/corpus.rs` replays the seed
//! corpus and every crash ever found (`fuzz/regressions/`) through them in `cargo test`.
//!
//! # Invariant
//! Each harness accepts any bytes without panicking, and where a decoder accepts its input
//! the properties named in the harness's doc hold — they are asserted, so a violation is a
//! crash the fuzzer reports, exactly like a panic inside a decoder.

mod venues;

pub use venues::{
    bitstamp_frame, bitstamp_splice, bybit_frame, coinbase_frame, okx_frame, venue_rest,
};

use model::{BookEvent, BookSide, ExchangeId, OrderBook, Pair, PairStatus, Symbol, Timestamp};
use rust_decimal::Decimal;

/// A harness: any bytes in, a panic out when a property breaks.
pub type Harness = fn(&[u8]);

/// The harnesses by name, as `fuzz/fuzz_targets/<name>.rs` and the corpus folders name them.
pub const TARGETS: &[(&str, Harness)] = &[
    ("binance_frame", binance_frame),
    ("binance_rest", binance_rest),
    ("binance_sync", binance_sync),
    ("bitstamp_frame", bitstamp_frame),
    ("bitstamp_splice", bitstamp_splice),
    ("bybit_frame", bybit_frame),
    ("coinbase_frame", coinbase_frame),
    ("kraken_frame", kraken_frame),
    ("kraken_rest", kraken_rest),
    ("okx_frame", okx_frame),
    ("twap_request", twap_request),
    ("order_request", order_request),
    ("venue_rest", venue_rest),
    ("ws_message", ws_message),
    ("lab_request", lab_request),
    ("tape_decode", tape_decode),
    ("tape_pair", tape_pair),
];

/// A fixed "now" (2026-11-21T12:00:00Z) so every run of an input does the same.
pub(crate) const NOW_SECS: i64 = 1_795_262_400;

/// The book's sides are sorted strictly (bids descending, asks ascending) and hold no zero
/// quantity; a depth cap is respected.
pub(crate) fn assert_book_sane(book: &OrderBook) {
    let bids: Vec<_> = book.levels(BookSide::Bid).collect();
    let asks: Vec<_> = book.levels(BookSide::Ask).collect();
    assert!(
        bids.windows(2).all(|w| w[0].price > w[1].price),
        "bids sorted"
    );
    assert!(
        asks.windows(2).all(|w| w[0].price < w[1].price),
        "asks sorted"
    );
    assert!(
        bids.iter().chain(&asks).all(|l| !l.qty.is_zero()),
        "no zero quantity is kept"
    );
    if let Some(cap) = book.depth_cap() {
        assert!(bids.len() <= cap && asks.len() <= cap, "depth cap");
    }
}

/// A Binance WS frame. Accepted depth updates have `U <= u` and apply to a book without
/// breaking its order.
pub fn binance_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(binance::parse::BinanceInbound::Depth { update, .. }) =
        binance::parse::parse_frame(text)
    {
        assert!(update.first <= update.last, "U <= u");
        let mut book = OrderBook::new();
        if book
            .apply(&BookEvent::delta(update.bids, update.asks))
            .is_ok()
        {
            assert_book_sane(&book);
        }
    }
}

/// A Binance REST body, chosen by the first byte: depth snapshot, exchangeInfo or klines.
/// An accepted snapshot builds a sane book.
pub fn binance_rest(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(s) = binance::parse::parse_snapshot(text) {
                let mut book = OrderBook::new();
                if book.apply(&BookEvent::snapshot(s.bids, s.asks)).is_ok() {
                    assert_book_sane(&book);
                }
            }
        }
        1 => {
            if let Ok(pairs) = binance::parse::parse_exchange_info(text) {
                for p in pairs {
                    assert!(!p.exchange_symbol.is_empty());
                    assert!(p.price_tick >= Decimal::ZERO && p.qty_step >= Decimal::ZERO);
                }
            }
        }
        _ => {
            let _ = binance::parse::parse_klines(text, Timestamp::from_secs(NOW_SECS));
        }
    }
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

/// The Binance diff-depth sync fed with any sequence of updates and snapshots (ids near a
/// moving base, or raw 64-bit values). Whatever arrives, the events it tells the feed to
/// apply form one unbroken chain: a snapshot starts it, and every delta continues it
/// (`U <= last + 1 < u + 1`).
pub fn binance_sync(data: &[u8]) {
    use binance::sync::{DepthSnapshot, DepthSync, DepthUpdate, SnapshotOutcome, Step};
    let mut sync = DepthSync::new(8);
    let mut base: u64 = 1_000;
    let mut applied: Option<u64> = None;
    for op in data.chunks(17) {
        let kind = op[0];
        let raw = kind & 0x80 != 0;
        let (a, b) = if raw {
            (u64_at(op, 1), u64_at(op, 9))
        } else {
            let a = base.saturating_add(u64::from(op.get(1).copied().unwrap_or(0) % 16));
            (
                a,
                a.saturating_add(u64::from(op.get(2).copied().unwrap_or(0) % 8)),
            )
        };
        base = base.saturating_add(u64::from(kind % 8));
        if kind & 1 == 0 {
            let (first, last) = (a.min(b), a.max(b));
            let step = sync.on_update(DepthUpdate {
                first,
                last,
                event_ts: None,
                bids: vec![],
                asks: vec![],
            });
            match step {
                Step::Apply(ev) => {
                    let prev = applied.expect("a delta is applied only after a snapshot");
                    let seq = ev.seq.expect("deltas carry their u");
                    assert!(first <= prev.saturating_add(1) && prev < last, "chain");
                    assert_eq!(seq, last);
                    applied = Some(seq);
                }
                Step::Gap { .. } => applied = None,
                Step::NeedSnapshot | Step::Nothing => {}
            }
        } else {
            match sync.on_snapshot(DepthSnapshot {
                last_update_id: a,
                bids: vec![],
                asks: vec![],
            }) {
                SnapshotOutcome::Synced(events) => {
                    let mut it = events.iter();
                    let snap = it.next().expect("a snapshot comes first");
                    assert_eq!(snap.seq, Some(a));
                    let mut prev = a;
                    for e in it {
                        let seq = e.seq.expect("deltas carry their u");
                        assert!(seq > prev, "buffered deltas move forward");
                        prev = seq;
                    }
                    applied = Some(prev);
                    assert!(sync.is_live());
                }
                SnapshotOutcome::TooOld { .. } | SnapshotOutcome::Unexpected => {}
            }
        }
    }
}

/// Kraken's checksum computed the documented way, from printed text, independently of the
/// adapter's integer rendering.
fn text_checksum(book: &OrderBook, price_dp: u32, qty_dp: u32) -> u32 {
    let mut s = String::new();
    let mut push = |d: Decimal, dp: u32| {
        let t = format!("{:.*}", dp as usize, d).replace('.', "");
        s.push_str(t.trim_start_matches('0'));
    };
    for side in [BookSide::Ask, BookSide::Bid] {
        for l in book.levels(side).take(10) {
            push(l.price.into(), price_dp);
            push(l.qty.into(), qty_dp);
        }
    }
    crc32fast::hash(s.as_bytes())
}

/// A Kraken WS v2 frame; the first byte picks the pair's precisions. Accepted book events
/// apply to a depth-10 book at those scales, which stays sane, and the adapter's checksum
/// equals the checksum of the printed book.
pub fn kraken_frame(data: &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (pdp, qdp) = (u32::from(b % 9), u32::from((b / 9) % 9));
    if let Ok(kraken::parse::KrakenInbound::Book(books)) = kraken::parse::parse_frame(text) {
        let mut book = OrderBook::with_scales(pdp, qdp).with_depth_cap(Some(10));
        for k in books {
            if book.apply(&k.event).is_err() {
                return;
            }
            assert_book_sane(&book);
            if book.scales() != (pdp, qdp) {
                // The venue sent more decimals than the pair's precision (a precision
                // change): the checksum is then expected to mismatch and resync; the
                // two renderings need not agree.
                continue;
            }
            assert_eq!(
                kraken::parse::checksum(&book, pdp, qdp),
                text_checksum(&book, pdp, qdp),
                "integer and text checksums agree"
            );
        }
    }
}

/// A Kraken REST body, chosen by the first byte: AssetPairs or OHLC (at every native
/// interval). Accepted pairs have a canonical symbol and non-negative grids.
pub fn kraken_rest(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    const MINUTES: [u32; 9] = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
    if which % 2 == 0 {
        if let Ok(pairs) = kraken::parse::parse_asset_pairs(text) {
            for p in pairs {
                assert!(p.pair.symbol.as_str().contains('-'));
                assert!(p.pair.price_tick >= Decimal::ZERO && p.pair.qty_step >= Decimal::ZERO);
            }
        }
    } else {
        let minutes = MINUTES[usize::from(which / 2) % MINUTES.len()];
        let _ = kraken::parse::parse_ohlc(text, minutes);
    }
}

fn test_pair() -> Pair {
    Pair {
        exchange: ExchangeId::Sim,
        symbol: Symbol::new("BTC", "USDT").unwrap_or_else(|_| unreachable!("a valid symbol")),
        exchange_symbol: "BTCUSDT".into(),
        ws_symbol: "btcusdt".into(),
        aliases: vec![],
        status: PairStatus::Trading,
        price_tick: Decimal::new(1, 2),
        qty_step: Decimal::new(1, 5),
        min_qty: Decimal::new(1, 5),
        min_notional: Some(Decimal::from(5)),
    }
}

/// A `POST /orders/twap` body (object or batch) decoded as the endpoint does — JSON, then
/// `wire::TwapRequest`, then `api::orders::decode_twap`, then `engine::validate` against a
/// BTC-USDT pair. An accepted plan has 1–10 000 slices, keeps the quantity, and its slice
/// shares are on the lot grid, never negative, and add up to the quantity exactly.
pub fn twap_request(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let pair = test_pair();
    let now = chrono::DateTime::from_timestamp(NOW_SECS, 0).unwrap_or_default();
    let limits = engine::Limits::default();
    for item in items.into_iter().take(8) {
        let Ok(req) = serde_json::from_value::<wire::TwapRequest>(item) else {
            continue;
        };
        let query = wire::TwapQuery::default();
        let Ok(request) = api::orders::decode_twap(&req, &query, now, &|s| s) else {
            continue;
        };
        let mid = Some(Decimal::from(67_000));
        let Ok(plan) = engine::validate(
            &request,
            &pair,
            Timestamp::from_secs(NOW_SECS),
            &limits,
            mid,
        ) else {
            continue;
        };
        assert!((1..=10_000).contains(&plan.slices), "slice count");
        assert_eq!(plan.quantity, req.quantity);
        let mut sum = Decimal::ZERO;
        for i in 0..plan.slices {
            let share = plan.share(i);
            assert!(share >= Decimal::ZERO, "share {i} is negative");
            assert!(
                (share % pair.qty_step).is_zero(),
                "share {i} off the lot grid"
            );
            sum += share;
        }
        assert_eq!(sum, plan.quantity, "shares add up to the quantity");
    }
}

/// A `POST /orders` body (object or batch, any strategy) decoded as the endpoint does —
/// JSON, `wire::OrderRequest`, `api::orders::decode_order` — given what the endpoint would
/// add (a VWAP's profile, here weights drawn from the input's length; `best`'s route, two
/// venues), then `engine::validate` against a BTC-USDT pair. An accepted plan's slice times
/// never go back and stay in the window; its cumulative targets never go down, stay on the
/// lot grid and end at the quantity; its first asks on the way are on the grid and within
/// what remains, whatever the catch-up policy.
pub fn order_request(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    for item in items.into_iter().take(8) {
        let Ok(req) = serde_json::from_value::<wire::OrderRequest>(item) else {
            continue;
        };
        check_order(&req, data.len());
    }
}

/// A what-if or a backtest variant (DESIGN §17): `[original body, changes]` as JSON. The
/// changes are applied as the endpoint applies them (`api::orders::with_changes`: objects only,
/// a timing field replacing its alternative, another strategy dropping the original's
/// parameters), then the result is decoded and validated as any `POST /orders` body, with the
/// same properties of an accepted plan.
pub fn lab_request(data: &[u8]) {
    let Ok(serde_json::Value::Array(parts)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    let [original, changes] = parts.as_slice() else {
        return;
    };
    let Ok(original) = serde_json::from_value::<wire::OrderRequest>(original.clone()) else {
        return;
    };
    if let Ok(req) = api::orders::with_changes(original, changes.clone()) {
        check_order(&req, data.len());
    }
}

/// Decode and validate one order body; an accepted plan must keep its invariants.
fn check_order(req: &wire::OrderRequest, data_len: usize) {
    let pair = test_pair();
    let now = chrono::DateTime::from_timestamp(NOW_SECS, 0).unwrap_or_default();
    let limits = engine::Limits::default();
    {
        let Ok(mut request) = api::orders::decode_order(req, false, now, &|s| s) else {
            return;
        };
        if request.route.is_some() {
            request.route = Some(
                vec![
                    engine::route::Venue {
                        exchange: model::ExchangeId::Sim,
                        fee_bps: Decimal::from(10),
                    },
                    engine::route::Venue {
                        exchange: model::ExchangeId::Binance,
                        fee_bps: Decimal::from(60),
                    },
                ]
                .into(),
            );
        }
        if let engine::Strategy::Vwap { profile_days, .. } = &request.strategy {
            // The profile the endpoint would compute has one share per slice: try the
            // count a plain TWAP of the same window has.
            let mut probe = request.clone();
            probe.strategy = engine::Strategy::default();
            let Ok(p) =
                engine::validate(&probe, &pair, Timestamp::from_secs(NOW_SECS), &limits, None)
            else {
                return;
            };
            let n = p.slices as usize;
            let weights: Vec<Decimal> = (0..n)
                .map(|i| Decimal::from((i * 31 + data_len) % 7))
                .collect();
            let total: Decimal = weights.iter().copied().sum();
            if total.is_zero() {
                return;
            }
            request.strategy = engine::Strategy::Vwap {
                profile_days: *profile_days,
                profile: weights
                    .iter()
                    .map(|w| *w / total)
                    .collect::<Vec<_>>()
                    .into(),
            };
        }
        let Ok(plan) = engine::validate(
            &request,
            &pair,
            Timestamp::from_secs(NOW_SECS),
            &limits,
            Some(Decimal::from(67_000)),
        ) else {
            return;
        };
        assert!((1..=10_000).contains(&plan.slices), "slice count");
        let mut last_time = plan.start;
        let mut last_target = Decimal::ZERO;
        for i in 0..plan.slices {
            let t = plan.slice_time(i);
            assert!(
                t >= last_time && t >= plan.start,
                "slice {i} goes back in time"
            );
            assert!(t <= plan.end(), "slice {i} after the window");
            last_time = t;
            let c = plan.cumulative_target(i);
            assert!(c >= last_target, "target {i} goes down");
            assert!((c % pair.qty_step).is_zero(), "target {i} off the grid");
            last_target = c;
        }
        assert_eq!(
            last_target, plan.quantity,
            "the last target is the quantity"
        );
        for policy in [
            engine::CatchUp::Spread,
            engine::CatchUp::Next,
            engine::CatchUp::None,
        ] {
            let mut filled = Decimal::ZERO;
            for i in 0..plan.slices.min(64) {
                let ask = plan.ask(i, filled, policy);
                assert!(
                    ask >= Decimal::ZERO && ask <= plan.quantity - filled,
                    "ask {i}"
                );
                assert!(
                    (ask % pair.qty_step).is_zero() || i + 1 == plan.slices,
                    "ask {i} off the grid"
                );
                // Fill half of every other slice.
                filled += if i % 2 == 0 {
                    engine::floor_to(ask / Decimal::TWO, pair.qty_step)
                } else {
                    ask
                };
            }
        }
    }
}

/// A WebSocket client message, a bearer token and a query time, all from the same text.
/// Accepted messages re-encode to themselves; no token that this server did not sign is
/// accepted; a time given in Unix milliseconds means exactly those milliseconds.
pub fn ws_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = serde_json::from_str::<wire::ClientMessage>(text) {
        let again = serde_json::to_string(&m).unwrap_or_default();
        let back: Result<wire::ClientMessage, _> = serde_json::from_str(&again);
        assert_eq!(back.ok().as_ref(), Some(&m), "client messages round-trip");
    }
    if let Ok(jwt) = api::auth::Jwt::new(b"fuzzing-secret-fuzzing-secret-32", 1_800) {
        assert!(
            jwt.verify(text, NOW_SECS).is_err(),
            "a token this server never issued was accepted"
        );
    }
    if let Ok(t) = api::parse_time("start", text)
        && let Ok(ms) = text.parse::<i64>()
    {
        assert_eq!(t.as_millis(), ms);
    }
}

/// A tape file's bytes (DESIGN §17): never a panic; every event read back re-encodes to a
/// tape that reads back the same events; a seek anywhere yields events of the tape.
pub fn tape_decode(data: &[u8]) {
    let Ok(reader) = tape::TapeReader::from_bytes(data.to_vec()) else {
        return;
    };
    let events: Vec<tape::TapeEvent> = reader.events().map_while(Result::ok).collect();
    assert!(
        reader.valid_len() <= data.len(),
        "valid length within the file"
    );
    let mut block = tape::BlockEncoder::new(model::Timestamp::from_nanos(0));
    for e in &events {
        block.event(e);
    }
    let bytes = tape::tape_bytes(reader.header(), &[block.finish()]);
    if let Ok(again) = tape::TapeReader::from_bytes(bytes) {
        let back: Vec<tape::TapeEvent> = again.events().map_while(Result::ok).collect();
        assert_eq!(back, events, "events re-encode to themselves");
    }
    if let Some(first) = events.first() {
        let _ = reader.seek(first.local()).count();
    }
}

/// A tape folder's `pair.json` (the trading rules a replay serves): never a panic; rules
/// that make a pair describe that pair again exactly.
pub fn tape_pair(data: &[u8]) {
    let Ok(info) = tape::pair::parse_pair(data) else {
        return;
    };
    let Ok(pair) = info.to_pair(model::ExchangeId::Replay) else {
        return;
    };
    let again = tape::pair::PairInfo::from(&pair).to_pair(model::ExchangeId::Replay);
    assert_eq!(
        again.ok().as_ref(),
        Some(&pair),
        "rules describe their pair again"
    );
}
