//! The Bitstamp mock's REST side: pairs, the book (with its lag and phantom-level faults)
//! and OHLC as `/api/v2` answers them, and the REST failure fault.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wiremock::{Request, Respond, ResponseTemplate};

use super::{Venue, levels_json, lock};

/// The REST failure fault, with the venue's throttling body.
fn failure(v: &mut Venue) -> Option<ResponseTemplate> {
    crate::rest_failure(
        &mut v.faults.rest_failures,
        r#"{"status":"error","reason":"Request rejected due to exceeded rate limit","code":"400.002"}"#,
    )
}

/// The pair named by a path like `/api/v2/order_book/btcusd/`.
fn pair_of(req: &Request) -> String {
    req.url
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned()
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_string(r#"{"status":"error","reason":"Not found"}"#)
}

pub(super) struct PairsResponder(pub(super) Arc<Mutex<Venue>>);

impl Respond for PairsResponder {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let mut v = lock(&self.0);
        if let Some(r) = failure(&mut v) {
            return r;
        }
        let list: Vec<serde_json::Value> = v
            .books
            .keys()
            .map(|p| {
                let (base, quote) = p.split_at(p.len().saturating_sub(3));
                let (base, quote) = (base.to_ascii_uppercase(), quote.to_ascii_uppercase());
                serde_json::json!({
                    "name": format!("{base}/{quote}"), "url_symbol": p, "base_decimals": 8,
                    "counter_decimals": 2, "instant_order_counter_decimals": 2,
                    "minimum_order": format!("10.0 {quote}"), "trading": "Enabled",
                    "instant_and_market_orders": "Enabled", "description": format!("{base} / {quote}")
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_string(serde_json::Value::Array(list).to_string())
    }
}

pub(super) struct OrderBookResponder(pub(super) Arc<Mutex<Venue>>);

impl Respond for OrderBookResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut guard = lock(&self.0);
        let v = &mut *guard;
        if let Some(r) = failure(v) {
            return r;
        }
        let pair = pair_of(req);
        let Some(current) = v.books.get(&pair) else {
            return not_found();
        };
        let lag = v.faults.rest_lag;
        let mut book = match v.history.get(&pair) {
            Some(h) if lag > 0 && !h.is_empty() => h
                .get(h.len().saturating_sub(lag))
                .cloned()
                .unwrap_or_else(|| current.clone()),
            _ => current.clone(),
        };
        // The venue stamps its answer with the time it was made; a lagging book (`rest_lag`)
        // carries its own older time, unless it is restamped (`rest_content_lag`).
        if lag == 0 || v.faults.rest_restamped {
            book.micros = super::now_micros().max(current.micros);
        }
        if let Some((p, q)) = v.faults.phantom.remove(&pair) {
            book.bids.insert(p, q);
        }
        v.rest_books += 1;
        let body = serde_json::json!({
            "timestamp": (book.micros / 1_000_000).to_string(),
            "microtimestamp": book.micros.to_string(),
            "bids": levels_json(book.bids.iter().rev()),
            "asks": levels_json(book.asks.iter()),
        });
        ResponseTemplate::new(200).set_body_string(body.to_string())
    }
}

pub(super) struct OhlcResponder(pub(super) Arc<Mutex<Venue>>);

impl Respond for OhlcResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let mut v = lock(&self.0);
        if let Some(r) = failure(&mut v) {
            return r;
        }
        let pair = pair_of(req);
        if !v.books.contains_key(&pair) {
            return not_found();
        }
        let step: i64 = q.get("step").and_then(|s| s.parse().ok()).unwrap_or(0);
        let limit: i64 = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(0);
        if ![
            60, 180, 300, 900, 1_800, 3_600, 7_200, 14_400, 21_600, 43_200, 86_400, 259_200,
        ]
        .contains(&step)
            || !(1..=1_000).contains(&limit)
        {
            return ResponseTemplate::new(400).set_body_string(
                r#"{"status":"error","reason":{"__all__":["Invalid step or limit."]}}"#,
            );
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let last = q
            .get("end")
            .and_then(|e| e.parse::<i64>().ok())
            .unwrap_or(now)
            .min(now)
            .div_euclid(step)
            * step;
        let first = match q.get("start").and_then(|s| s.parse::<i64>().ok()) {
            Some(s) => (s + step - 1).div_euclid(step) * step,
            None => last - (limit - 1) * step,
        };
        // Oldest first, as the venue answers; prices a deterministic function of time.
        let ohlc: Vec<serde_json::Value> = (0..limit)
            .map(|i| first + i * step)
            .filter(|t| *t <= last)
            .map(|t| {
                let base = 67_000 + (t / step) % 50;
                serde_json::json!({
                    "timestamp": t.to_string(), "open": format!("{base}.00"), "high": format!("{}.00", base + 5),
                    "low": format!("{}.00", base - 5), "close": format!("{base}.50"), "volume": "1.50000000"
                })
            })
            .collect();
        let name = format!("{}/USD", pair.trim_end_matches("usd").to_ascii_uppercase());
        ResponseTemplate::new(200)
            .set_body_string(serde_json::json!({"data": {"pair": name, "ohlc": ohlc}}).to_string())
    }
}
