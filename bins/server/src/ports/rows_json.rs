//! The JSON columns of an order row: its strategy, its transaction-cost totals and a slice's
//! markouts. Decimals travel as exact strings.

use engine::markout::Markouts;
use engine::route::Venue;
use engine::{Jitter, Strategy, Totals, VenueTotals};
use model::ExchangeId;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::rows::{dec, opt, txt, word};

/// An order's strategy as its stored JSON (decimals as exact strings).
pub(super) fn strategy_json(s: &Strategy) -> Value {
    match s {
        Strategy::Twap { jitter } => json!({
            "kind": "twap",
            "jitter": jitter.map(|j| json!({"seed": j.seed.to_string(), "time_pct": j.time_pct, "size_pct": j.size_pct})),
        }),
        Strategy::Vwap {
            profile_days,
            profile,
        } => json!({
            "kind": "vwap",
            "profile_days": profile_days,
            "profile": profile.iter().map(|x| txt(*x)).collect::<Vec<_>>(),
        }),
        Strategy::Pov {
            participation,
            max_slice_qty,
        } => json!({
            "kind": "pov",
            "participation": txt(*participation),
            "max_slice_qty": opt(*max_slice_qty),
        }),
    }
}

pub(super) fn strategy_from_json(text: &str) -> Result<Strategy, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("stored strategy: {e}"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let bad = || format!("stored strategy `{text}` is not valid");
    let pct = |j: &Value, k: &str| {
        j.get(k)
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(bad)
    };
    match s("kind") {
        Some("twap") => Ok(Strategy::Twap {
            jitter: match v.get("jitter") {
                None | Some(Value::Null) => None,
                Some(j) => Some(Jitter {
                    seed: j
                        .get("seed")
                        .and_then(Value::as_str)
                        .and_then(|x| x.parse().ok())
                        .ok_or_else(bad)?,
                    time_pct: pct(j, "time_pct")?,
                    size_pct: pct(j, "size_pct")?,
                }),
            },
        }),
        Some("vwap") => Ok(Strategy::Vwap {
            profile_days: v
                .get("profile_days")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or_else(bad)?,
            profile: v
                .get("profile")
                .and_then(Value::as_array)
                .ok_or_else(bad)?
                .iter()
                .map(|x| dec("profile share", x.as_str().unwrap_or("")))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        }),
        Some("pov") => Ok(Strategy::Pov {
            participation: dec("participation", s("participation").unwrap_or(""))?,
            max_slice_qty: s("max_slice_qty")
                .map(|m| dec("max_slice_qty", m))
                .transpose()?,
        }),
        _ => Err(bad()),
    }
}

/// The transaction-cost totals as their stored JSON.
pub(super) fn tca_json(t: &Totals) -> Value {
    json!({
        "decision_mid": opt(t.decision_mid),
        "start_mid": opt(t.start_mid),
        "last_mid": opt(t.last_mid),
        "mid_notional": txt(t.mid_notional),
        "touch_notional": txt(t.touch_notional),
        "market_volume": txt(t.market_volume),
        "market_notional": txt(t.market_notional),
        "markout_qty": t.markout_qty.iter().map(|x| txt(*x)).collect::<Vec<_>>(),
        "markout_sum": t.markout_sum.iter().map(|x| txt(*x)).collect::<Vec<_>>(),
        "markouts_taken": t.markouts_taken,
        "by_venue": t.by_venue.iter().map(|(e, v)| (e.as_str().to_owned(), json!({
            "filled": txt(v.filled), "notional": txt(v.notional), "fees": txt(v.fees),
        }))).collect::<serde_json::Map<String, Value>>(),
    })
}

/// A route as its stored JSON.
pub(super) fn route_json(r: &[Venue]) -> Value {
    Value::Array(
        r.iter()
            .map(|v| json!({"exchange": v.exchange.as_str(), "fee_bps": txt(v.fee_bps)}))
            .collect(),
    )
}

pub(super) fn route_from_json(text: &str) -> Result<Vec<Venue>, String> {
    let v: Vec<Value> = serde_json::from_str(text).map_err(|e| format!("stored route: {e}"))?;
    v.iter()
        .map(|x| {
            Ok(Venue {
                exchange: word::<ExchangeId>(
                    x.get("exchange").and_then(Value::as_str).unwrap_or(""),
                )?,
                fee_bps: dec(
                    "route fee",
                    x.get("fee_bps").and_then(Value::as_str).unwrap_or(""),
                )?,
            })
        })
        .collect()
}

/// Markouts as their stored JSON: `["bps" | null; 4]`.
pub(super) fn markouts_json(m: &Markouts) -> Value {
    Value::Array(
        m.iter()
            .map(|x| x.map_or(Value::Null, |d| Value::from(txt(d))))
            .collect(),
    )
}

pub(super) fn markouts_from_json(text: &str) -> Result<Markouts, String> {
    let v: Vec<Option<String>> =
        serde_json::from_str(text).map_err(|e| format!("stored markouts: {e}"))?;
    let mut out: Markouts = [None; 4];
    for (slot, x) in out.iter_mut().zip(v) {
        *slot = x.map(|x| dec("markout", &x)).transpose()?;
    }
    Ok(out)
}

/// Four decimals from a stored JSON array of strings (zeros when absent).
pub(super) fn four(v: &Value, key: &str) -> Result<[Decimal; 4], String> {
    let mut out = [Decimal::ZERO; 4];
    if let Some(a) = v.get(key).and_then(Value::as_array) {
        for (slot, x) in out.iter_mut().zip(a) {
            *slot = dec(key, x.as_str().unwrap_or("0"))?;
        }
    }
    Ok(out)
}

/// Fill `t`'s transaction-cost totals from their stored JSON (`{}` for orders stored before
/// strategies existed: their shortfall stays unknown).
pub(super) fn tca_from_json(text: &str, t: &mut Totals) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("stored tca: {e}"))?;
    let get = |k: &str| -> Result<Option<Decimal>, String> {
        v.get(k)
            .and_then(Value::as_str)
            .map(|x| dec(k, x))
            .transpose()
    };
    t.decision_mid = get("decision_mid")?;
    t.start_mid = get("start_mid")?;
    t.last_mid = get("last_mid")?;
    t.mid_notional = get("mid_notional")?.unwrap_or_default();
    t.touch_notional = get("touch_notional")?.unwrap_or_default();
    t.market_volume = get("market_volume")?.unwrap_or_default();
    t.market_notional = get("market_notional")?.unwrap_or_default();
    t.markout_qty = four(&v, "markout_qty")?;
    t.markout_sum = four(&v, "markout_sum")?;
    if let Some(m) = v.get("by_venue").and_then(Value::as_object) {
        for (e, x) in m {
            let field = |k: &str| dec(k, x.get(k).and_then(Value::as_str).unwrap_or("0"));
            t.by_venue.insert(
                word::<ExchangeId>(e)?,
                VenueTotals {
                    filled: field("filled")?,
                    notional: field("notional")?,
                    fees: field("fees")?,
                },
            );
        }
    }
    t.markouts_taken = v
        .get("markouts_taken")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    Ok(())
}
