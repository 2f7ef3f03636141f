//! The mock's REST side: `AssetPairs` and `OHLC` as Kraken answers them.

use std::sync::{Arc, Mutex};

use std::collections::HashMap;
use wiremock::{Request, Respond, ResponseTemplate};

use super::{Venue, lock};

pub(super) struct PairsResponder(pub(super) Arc<Mutex<Venue>>);

/// `(result key, altname, wsname)` as Kraken spells them for a WS v2 symbol.
fn kraken_names(ws: &str) -> (String, String, String) {
    let (b, q) = ws.split_once('/').unwrap_or((ws, ""));
    let legacy = |a: &str| match a {
        "BTC" => "XBT".to_owned(),
        "DOGE" => "XDG".to_owned(),
        o => o.to_owned(),
    };
    let (lb, lq) = (legacy(b), legacy(q));
    let alt = format!("{lb}{lq}");
    let key = if ws == "BTC/USD" {
        "XXBTZUSD".to_owned()
    } else {
        alt.clone()
    };
    (key, alt, format!("{lb}/{lq}"))
}

impl Respond for PairsResponder {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let v = lock(&self.0);
        let mut result = serde_json::Map::new();
        for (s, b) in &v.books {
            let (key, alt, wsname) = kraken_names(s);
            result.insert(key, serde_json::json!({
                "altname": alt, "wsname": wsname, "aclass_base": "currency", "base": "X", "aclass_quote": "currency", "quote": "Z",
                "lot": "unit", "cost_decimals": 5, "pair_decimals": b.price_dp, "lot_decimals": b.qty_dp, "lot_multiplier": 1,
                "ordermin": "0.0001", "costmin": "0.5", "tick_size": b.tick.to_string(), "status": "online"
            }));
        }
        // A dark-pool pair and a tokenized equity, which the adapter must skip.
        result.insert("XBTUSD.d".into(), serde_json::json!({"altname": "XBTUSD.d", "aclass_base": "currency", "pair_decimals": 1, "lot_decimals": 8}));
        result.insert("AAPLxUSD".into(), serde_json::json!({"altname": "AAPLxUSD", "wsname": "AAPLx/USD", "aclass_base": "tokenized_asset", "pair_decimals": 2, "lot_decimals": 8}));
        ResponseTemplate::new(200)
            .set_body_string(serde_json::json!({"error": [], "result": result}).to_string())
    }
}

pub(super) struct OhlcResponder(pub(super) Arc<Mutex<Venue>>);

/// The mock's OHLC window ends (last, in-progress candle) at this time.
pub(super) const OHLC_LAST: i64 = 1_795_255_200;

impl Respond for OhlcResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let pair = q.get("pair").cloned().unwrap_or_default();
        let v = lock(&self.0);
        let Some((ws, _)) = v.books.iter().find(|(s, _)| kraken_names(s).1 == pair) else {
            return ResponseTemplate::new(200)
                .set_body_string(r#"{"error":["EQuery:Unknown asset pair"]}"#);
        };
        let minutes: i64 = q.get("interval").and_then(|i| i.parse().ok()).unwrap_or(1);
        let since: i64 = q.get("since").and_then(|i| i.parse().ok()).unwrap_or(0);
        let step = minutes * 60;
        let last = OHLC_LAST - OHLC_LAST % step;
        let rows: Vec<serde_json::Value> = (0..720)
            .map(|i| last - (719 - i) * step)
            .filter(|t| *t > since)
            .map(|t| {
                let base = 67_000 + (t / step) % 50;
                serde_json::json!([
                    t,
                    format!("{base}.0"),
                    format!("{}.0", base + 5),
                    format!("{}.0", base - 5),
                    format!("{}.5", base),
                    format!("{base}.2"),
                    "1.50000000",
                    12
                ])
            })
            .collect();
        let key = kraken_names(ws).0;
        ResponseTemplate::new(200).set_body_string(
            serde_json::json!({"error": [], "result": {key: rows, "last": last - step}})
                .to_string(),
        )
    }
}
