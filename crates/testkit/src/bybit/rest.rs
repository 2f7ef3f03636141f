//! The Bybit mock's REST side: `instruments-info` and `kline` as Bybit answers them, and the
//! REST failure fault (429 with `Retry-After`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wiremock::{Request, Respond, ResponseTemplate};

use super::{TS, Venue, lock};

pub(super) struct InstrumentsResponder(pub(super) Arc<Mutex<Venue>>);

impl InstrumentsResponder {
    fn failure(v: &mut Venue) -> Option<ResponseTemplate> {
        crate::rest_failure(
            &mut v.faults.rest_failures,
            r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#,
        )
    }
}

impl Respond for InstrumentsResponder {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let mut v = lock(&self.0);
        if let Some(r) = Self::failure(&mut v) {
            return r;
        }
        let list: Vec<serde_json::Value> = v
            .books
            .keys()
            .map(|s| {
                let base = s.trim_end_matches("USDT");
                serde_json::json!({
                    "symbol": s, "baseCoin": base, "quoteCoin": "USDT", "innovation": "0", "status": "Trading",
                    "marginTrading": "utaOnly", "stTag": "0",
                    "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.0000001", "minOrderQty": "0.000011",
                        "maxOrderQty": "83", "minOrderAmt": "5", "maxOrderAmt": "8000000"},
                    "priceFilter": {"tickSize": "0.01"}, "symbolType": ""
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_string(
            serde_json::json!({"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": list}, "retExtInfo": {}, "time": TS})
                .to_string(),
        )
    }
}

pub(super) struct KlineResponder(pub(super) Arc<Mutex<Venue>>);

/// The mock's last (in-progress) 1-minute candle starts here.
pub const KLINE_LAST: i64 = 1_795_255_200_000;

impl Respond for KlineResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let mut v = lock(&self.0);
        if let Some(r) = InstrumentsResponder::failure(&mut v) {
            return r;
        }
        let symbol = q.get("symbol").cloned().unwrap_or_default();
        if !v.books.contains_key(&symbol) {
            return ResponseTemplate::new(200).set_body_string(
                r#"{"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1}"#,
            );
        }
        let step: i64 = match q.get("interval").map(String::as_str) {
            Some("D") => 86_400_000,
            Some(m) => m.parse::<i64>().unwrap_or(1) * 60_000,
            None => 60_000,
        };
        let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(200);
        let last = KLINE_LAST - KLINE_LAST % step;
        let end = q
            .get("end")
            .and_then(|e| e.parse::<i64>().ok())
            .unwrap_or(last)
            .min(last);
        let end = end - end.rem_euclid(step);
        let start = q.get("start").and_then(|s| s.parse::<i64>().ok());
        // Newest first, as Bybit answers.
        let list: Vec<serde_json::Value> = (0..limit.clamp(1, 1_000))
            .map(|i| end - i * step)
            .filter(|t| start.is_none_or(|s| *t >= s))
            .map(|t| {
                let base = 67_000 + (t / step) % 50;
                serde_json::json!([
                    t.to_string(),
                    format!("{base}.0"),
                    format!("{}.0", base + 5),
                    format!("{}.0", base - 5),
                    format!("{base}.5"),
                    "1.5",
                    "100500.0"
                ])
            })
            .collect();
        ResponseTemplate::new(200).set_body_string(
            serde_json::json!({"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "symbol": symbol, "list": list}, "retExtInfo": {}, "time": TS})
                .to_string(),
        )
    }
}
