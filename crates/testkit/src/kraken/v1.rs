//! Captured Kraken WS v1 book sequences carried into v2 frames.

use std::collections::BTreeMap;

/// Turn a captured Kraken WS **v1** book sequence (the fixture's frames as raw text) into
/// the equivalent WS **v2** frames, carrying every price and quantity text unchanged (as
/// JSON numbers) and the v1 checksum `"c"` as `checksum`. Lets the v2 decoder and the
/// checksum be tested against real captured data. Republish flags are dropped (v2 has none).
pub fn v1_to_v2(frames: &[&serde_json::value::RawValue]) -> Vec<String> {
    let mut out = Vec::new();
    for f in frames {
        let Ok(arr) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(f.get()) else {
            continue; // subscriptionStatus and other events are objects
        };
        if arr.len() < 4 {
            continue;
        }
        let symbol = arr[arr.len() - 1].get().trim_matches('"');
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        let mut checksum = None;
        let mut snapshot = false;
        for part in &arr[1..arr.len() - 2] {
            let Ok(obj) =
                serde_json::from_str::<BTreeMap<String, &serde_json::value::RawValue>>(part.get())
            else {
                continue;
            };
            for (k, val) in obj {
                match k.as_str() {
                    "c" => checksum = Some(val.get().trim_matches('"').to_owned()),
                    "as" | "bs" | "a" | "b" => {
                        snapshot |= k.len() == 2;
                        let rows: Vec<Vec<String>> =
                            serde_json::from_str(val.get()).unwrap_or_default();
                        let target = if k.starts_with('a') {
                            &mut asks
                        } else {
                            &mut bids
                        };
                        for r in rows {
                            if r.len() >= 2 {
                                target.push(format!(r#"{{"price":{},"qty":{}}}"#, r[0], r[1]));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let kind = if snapshot { "snapshot" } else { "update" };
        let sum = checksum.map_or_else(String::new, |c| format!(r#","checksum":{c}"#));
        out.push(format!(
            r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{}],"asks":[{}]{sum},"timestamp":"2021-04-17T16:48:53.020508Z"}}]}}"#,
            bids.join(","),
            asks.join(",")
        ));
    }
    out
}
