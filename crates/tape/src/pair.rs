//! A tape's trading rules: `pair.json` beside a book's tape files
//! (`<root>/<exchange>/<symbol>/pair.json`), so that a folder of tapes can be served as a
//! venue (the replay venue) anywhere, without the venue that recorded it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use model::{ExchangeId, Pair, PairStatus, Symbol};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::TapeError;

/// The file name of a book's trading rules.
pub const PAIR_FILE: &str = "pair.json";

/// A pair's trading rules as `pair.json` holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairInfo {
    /// The venue that listed it (`binance`).
    pub exchange: String,
    /// Canonical symbol (`BTC-USDT`).
    pub symbol: String,
    /// The venue's REST name.
    pub exchange_symbol: String,
    /// The venue's WebSocket name.
    pub ws_symbol: String,
    /// Trading status when recorded (`trading`, …).
    pub status: String,
    /// Minimum price increment.
    pub price_tick: Decimal,
    /// Minimum quantity increment.
    pub qty_step: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Minimum order value in quote currency, where the venue has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_notional: Option<Decimal>,
}

impl From<&Pair> for PairInfo {
    fn from(p: &Pair) -> Self {
        PairInfo {
            exchange: p.exchange.as_str().to_owned(),
            symbol: p.symbol.to_string(),
            exchange_symbol: p.exchange_symbol.clone(),
            ws_symbol: p.ws_symbol.clone(),
            status: p.status.as_str().to_owned(),
            price_tick: p.price_tick,
            qty_step: p.qty_step,
            min_qty: p.min_qty,
            min_notional: p.min_notional,
        }
    }
}

impl PairInfo {
    /// The pair these rules describe, listed by `exchange` (the venue that serves it, which
    /// for a replay is not the one that recorded it).
    pub fn to_pair(&self, exchange: ExchangeId) -> Result<Pair, TapeError> {
        let bad = |what: String| TapeError::NotATape(format!("{PAIR_FILE}: {what}"));
        let symbol = Symbol::from_str(&self.symbol).map_err(|e| bad(e.to_string()))?;
        for (name, v) in [
            ("price_tick", self.price_tick),
            ("qty_step", self.qty_step),
            ("min_qty", self.min_qty),
        ] {
            if v.is_sign_negative() {
                return Err(bad(format!("{name} {v} is negative")));
            }
        }
        let status = PairStatus::from_str(&self.status).unwrap_or(PairStatus::Trading);
        Ok(Pair {
            exchange,
            symbol,
            exchange_symbol: self.exchange_symbol.clone(),
            ws_symbol: self.ws_symbol.clone(),
            aliases: Vec::new(),
            status,
            price_tick: self.price_tick,
            qty_step: self.qty_step,
            min_qty: self.min_qty,
            min_notional: self.min_notional,
        })
    }
}

/// Where `exchange`/`symbol`'s rules are kept under `root`.
pub fn pair_path(root: &Path, exchange: &str, symbol: &str) -> PathBuf {
    root.join(exchange).join(symbol).join(PAIR_FILE)
}

/// Write `pair`'s rules into the folder of its tapes under `root` (replacing older ones; a
/// new name is written, then renamed over the old, so a reader never sees half a file).
pub fn write_pair(root: &Path, pair: &Pair) -> Result<(), TapeError> {
    let path = pair_path(root, pair.exchange.as_str(), pair.symbol.as_str());
    let dir = path
        .parent()
        .ok_or_else(|| TapeError::NotATape("a pair file needs a folder".into()))?;
    crate::dir::create_private_dir(dir)?;
    let text = serde_json::to_vec_pretty(&PairInfo::from(pair))
        .map_err(|e| TapeError::NotATape(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The rules kept in the folder of `exchange`/`symbol`'s tapes under `root`, if any.
pub fn read_pair(root: &Path, exchange: &str, symbol: &str) -> Result<Option<PairInfo>, TapeError> {
    let path = pair_path(root, exchange, symbol);
    match std::fs::read(&path) {
        Ok(bytes) => parse_pair(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Rules from the bytes of a `pair.json`.
pub fn parse_pair(bytes: &[u8]) -> Result<PairInfo, TapeError> {
    serde_json::from_slice(bytes).map_err(|e| TapeError::NotATape(format!("{PAIR_FILE}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let pair = Pair {
            exchange: ExchangeId::Binance,
            symbol: "NKN-USDT".parse().unwrap(),
            exchange_symbol: "NKNUSDT".into(),
            ws_symbol: "nknusdt".into(),
            aliases: vec![],
            status: PairStatus::Trading,
            price_tick: Decimal::new(1, 4),
            qty_step: Decimal::new(1, 1),
            min_qty: Decimal::new(1, 1),
            min_notional: Some(Decimal::new(10, 0)),
        };
        assert_eq!(read_pair(dir.path(), "binance", "NKN-USDT").unwrap(), None);
        write_pair(dir.path(), &pair).unwrap();
        let info = read_pair(dir.path(), "binance", "NKN-USDT")
            .unwrap()
            .unwrap();
        assert_eq!(info.to_pair(ExchangeId::Binance).unwrap(), pair);
        let replayed = info.to_pair(ExchangeId::Replay).unwrap();
        assert_eq!(replayed.exchange, ExchangeId::Replay);
        assert_eq!(replayed.price_tick.to_string(), "0.0001");
    }

    #[test]
    fn bad_rules_are_named() {
        let err = parse_pair(b"{\"exchange\":1}").unwrap_err().to_string();
        assert!(err.contains("pair.json"), "{err}");
        let mut info = PairInfo {
            exchange: "x".into(),
            symbol: "NOT A SYMBOL".into(),
            exchange_symbol: String::new(),
            ws_symbol: String::new(),
            status: "trading".into(),
            price_tick: Decimal::ONE,
            qty_step: Decimal::ONE,
            min_qty: Decimal::ZERO,
            min_notional: None,
        };
        assert!(info.to_pair(ExchangeId::Replay).is_err());
        info.symbol = "BTC-USD".into();
        info.qty_step = Decimal::NEGATIVE_ONE;
        assert!(
            info.to_pair(ExchangeId::Replay)
                .unwrap_err()
                .to_string()
                .contains("qty_step")
        );
    }
}
