//! The Binance mock's REST side: `/api/v3/depth` (with its failure, delay and lag faults),
//! `/api/v3/exchangeInfo` and `/api/v3/klines` as Binance answers them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use tokio::time::Instant;
use wiremock::{Request, Respond, ResponseTemplate};

use super::{Side, Venue, lock};

pub(super) struct DepthResponder(pub(super) Arc<Mutex<Venue>>);

fn levels(side: &Side, best_first_desc: bool, limit: usize) -> Vec<[String; 2]> {
    let it: Box<dyn Iterator<Item = (&Decimal, &Decimal)>> = if best_first_desc {
        Box::new(side.iter().rev())
    } else {
        Box::new(side.iter())
    };
    it.take(limit)
        .map(|(p, q)| [format!("{p:.8}"), format!("{q:.8}")])
        .collect()
}

impl Respond for DepthResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let symbol = q.get("symbol").cloned().unwrap_or_default();
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100);
        let mut v = lock(&self.0);
        v.snapshot_requests += 1;
        v.snapshot_times.push(Instant::now());
        if let Some((status, retry)) = v.faults.snapshot_errors.pop_front() {
            return ResponseTemplate::new(status)
                .insert_header("retry-after", retry.to_string().as_str())
                .set_body_string(r#"{"code":-1003,"msg":"Too much request weight used"}"#);
        }
        let delay = v.faults.snapshot_delay;
        let lag = v.faults.snapshot_lag;
        let Some(book) = v.books.get(&symbol) else {
            return ResponseTemplate::new(400)
                .set_body_string(r#"{"code":-1121,"msg":"Invalid symbol."}"#);
        };
        let (id, bids, asks) = if lag > 0 && book.history.len() >= lag {
            let (id, b, a) = &book.history[book.history.len() - lag];
            (*id, b.clone(), a.clone())
        } else {
            (book.last_id, book.bids.clone(), book.asks.clone())
        };
        let body = serde_json::json!({
            "lastUpdateId": id,
            "bids": levels(&bids, true, limit),
            "asks": levels(&asks, false, limit),
        });
        ResponseTemplate::new(200)
            .set_body_string(body.to_string())
            .set_delay(delay)
    }
}

pub(super) struct InfoResponder(pub(super) Arc<Mutex<Venue>>);

impl Respond for InfoResponder {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let v = lock(&self.0);
        let mut names: Vec<&String> = v.books.keys().collect();
        names.sort();
        let symbols: Vec<serde_json::Value> = names
            .iter()
            .map(|s| {
                let (base, quote) = split_symbol(s);
                serde_json::json!({
                    "symbol": s, "status": "TRADING", "baseAsset": base, "quoteAsset": quote,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                        {"filterType": "NOTIONAL", "minNotional": "5.00000000"}
                    ]
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_string(
            serde_json::json!({"timezone": "UTC", "serverTime": 0, "rateLimits": [], "exchangeFilters": [], "symbols": symbols})
                .to_string(),
        )
    }
}

pub(super) struct KlinesResponder;

impl Respond for KlinesResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<i64>().ok())
            .unwrap_or(500)
            .clamp(1, 1000);
        if q.get("interval").map(String::as_str) != Some("1m") {
            return ResponseTemplate::new(200).set_body_string("[]");
        }
        let end = 1_795_255_200_000i64;
        let rows: Vec<serde_json::Value> = (0..limit)
            .map(|i| {
                let t = end - (limit - 1 - i) * 60_000;
                serde_json::json!([
                    t,
                    "67000.01000000",
                    "67050.00000000",
                    "66990.00000000",
                    "67020.50000000",
                    "12.34567000",
                    t + 59_999,
                    "827345.12345678",
                    1523,
                    "6.10000000",
                    "408812.00000000",
                    "0"
                ])
            })
            .collect();
        ResponseTemplate::new(200).set_body_string(serde_json::Value::Array(rows).to_string())
    }
}

fn split_symbol(s: &str) -> (String, String) {
    for q in ["USDT", "USDC", "BTC", "ETH", "USD", "EUR"] {
        if let Some(b) = s.strip_suffix(q).filter(|b| !b.is_empty()) {
            return (b.to_owned(), q.to_owned());
        }
    }
    (s.to_owned(), String::new())
}
