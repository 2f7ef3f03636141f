//! The Coinbase mock's REST side: products and candles as the public `market` routes answer
//! them (candles newest first, at most 350 a request), and the REST failure fault.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wiremock::{Request, Respond, ResponseTemplate};

use super::{Venue, lock};

/// The REST failure fault, with the venue's throttling body.
fn failure(v: &mut Venue) -> Option<ResponseTemplate> {
    crate::rest_failure(
        &mut v.faults.rest_failures,
        r#"{"error":"RESOURCE_EXHAUSTED","error_details":"Too many requests","message":"Too many requests"}"#,
    )
}

pub(super) struct ProductsResponder(pub(super) Arc<Mutex<Venue>>);

impl Respond for ProductsResponder {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let mut v = lock(&self.0);
        if let Some(r) = failure(&mut v) {
            return r;
        }
        let mut products: Vec<serde_json::Value> = Vec::new();
        for id in v.books.keys() {
            let (base, quote) = id.split_once('-').unwrap_or((id, "USD"));
            products.push(serde_json::json!({
                "product_id": id, "price": "67000.00", "base_increment": "0.00000001",
                "quote_increment": "0.01", "price_increment": "0.01", "base_min_size": "0.00000001",
                "base_max_size": "3400", "quote_min_size": "1", "quote_max_size": "150000000",
                "status": "online", "trading_disabled": false, "is_disabled": false, "cancel_only": false,
                "limit_only": false, "post_only": false, "view_only": false, "auction_mode": false,
                "product_type": "SPOT", "base_currency_id": base, "quote_currency_id": quote,
                "alias": "", "alias_to": [format!("{base}-USDC")], "display_name": id, "product_venue": "CBE"
            }));
            // The USDC alias shares the book and is not a product of its own.
            products.push(serde_json::json!({
                "product_id": format!("{base}-USDC"), "base_increment": "0.00000001",
                "quote_increment": "0.01", "price_increment": "0.01", "status": "online",
                "product_type": "SPOT", "base_currency_id": base, "quote_currency_id": "USDC",
                "alias": id, "alias_to": []
            }));
        }
        let n = products.len();
        ResponseTemplate::new(200).set_body_string(
            serde_json::json!({"products": products, "num_products": n}).to_string(),
        )
    }
}

pub(super) struct CandlesResponder(pub(super) Arc<Mutex<Venue>>);

/// Seconds per bucket of a granularity name.
fn granularity_secs(name: &str) -> Option<i64> {
    Some(match name {
        "ONE_MINUTE" => 60,
        "FIVE_MINUTE" => 300,
        "FIFTEEN_MINUTE" => 900,
        "THIRTY_MINUTE" => 1_800,
        "ONE_HOUR" => 3_600,
        "TWO_HOUR" => 7_200,
        "SIX_HOUR" => 21_600,
        "ONE_DAY" => 86_400,
        _ => return None,
    })
}

fn bad_request(msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_string(
        serde_json::json!({"error": "INVALID_ARGUMENT", "error_details": msg, "message": msg})
            .to_string(),
    )
}

impl Respond for CandlesResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let mut v = lock(&self.0);
        if let Some(r) = failure(&mut v) {
            return r;
        }
        let product = req
            .url
            .path()
            .trim_end_matches("/candles")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        if !v.books.contains_key(&product) {
            return ResponseTemplate::new(404).set_body_string(
                r#"{"error":"NOT_FOUND","error_details":"ProductID not found","message":"ProductID not found"}"#,
            );
        }
        let Some(step) = q.get("granularity").and_then(|g| granularity_secs(g)) else {
            return bad_request("unknown granularity");
        };
        let (Some(start), Some(end)) = (
            q.get("start").and_then(|s| s.parse::<i64>().ok()),
            q.get("end").and_then(|s| s.parse::<i64>().ok()),
        ) else {
            return bad_request("start and end are required");
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let first = start.div_euclid(step) * step;
        let last = end.min(now).div_euclid(step) * step;
        let count = (last - first) / step + 1;
        if count > 350 {
            return bad_request("number of candles requested should be less than 350");
        }
        // Newest first, as the venue answers; prices a deterministic function of time.
        let candles: Vec<serde_json::Value> = (0..count.max(0))
            .map(|i| last - i * step)
            .filter(|t| *t >= start.div_euclid(step) * step)
            .map(|t| {
                let base = 67_000 + (t / step) % 50;
                serde_json::json!({
                    "start": t.to_string(), "low": format!("{}.0", base - 5), "high": format!("{}.0", base + 5),
                    "open": format!("{base}.0"), "close": format!("{base}.5"), "volume": "1.50000000"
                })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_string(serde_json::json!({"candles": candles}).to_string())
    }
}
