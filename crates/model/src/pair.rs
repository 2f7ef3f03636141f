use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::exchange::ExchangeId;
use crate::symbol::{Symbol, canonical_asset};

/// Whether a pair can be traded, normalized across venues.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PairStatus {
    /// Open for trading.
    Trading,
    /// Halted, in a break, or closed for the day.
    Halted,
    /// Only cancels accepted.
    CancelOnly,
    /// Only post-only orders accepted.
    PostOnly,
    /// Only limit orders accepted.
    LimitOnly,
    /// Only reducing orders accepted.
    ReduceOnly,
    /// Not yet open.
    PreTrading,
    /// Removed from the venue.
    Delisted,
    /// A status this version does not know, kept verbatim.
    Unknown(String),
}

impl PairStatus {
    /// snake_case name (`trading`, `cancel_only`, …; unknown statuses as sent).
    pub fn as_str(&self) -> &str {
        match self {
            PairStatus::Trading => "trading",
            PairStatus::Halted => "halted",
            PairStatus::CancelOnly => "cancel_only",
            PairStatus::PostOnly => "post_only",
            PairStatus::LimitOnly => "limit_only",
            PairStatus::ReduceOnly => "reduce_only",
            PairStatus::PreTrading => "pre_trading",
            PairStatus::Delisted => "delisted",
            PairStatus::Unknown(s) => s,
        }
    }

    /// True when a paper order may take liquidity: trading, or a restriction that concerns
    /// only the kind of resting order (limit-only still lets an aggressive limit order in).
    pub fn accepts_takers(&self) -> bool {
        matches!(self, PairStatus::Trading | PairStatus::LimitOnly)
    }
}

impl std::str::FromStr for PairStatus {
    type Err = std::convert::Infallible;

    /// Every text is a status: words this version does not know are kept as
    /// [`PairStatus::Unknown`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "trading" => PairStatus::Trading,
            "halted" => PairStatus::Halted,
            "cancel_only" => PairStatus::CancelOnly,
            "post_only" => PairStatus::PostOnly,
            "limit_only" => PairStatus::LimitOnly,
            "reduce_only" => PairStatus::ReduceOnly,
            "pre_trading" => PairStatus::PreTrading,
            "delisted" => PairStatus::Delisted,
            other => PairStatus::Unknown(other.to_owned()),
        })
    }
}

impl fmt::Display for PairStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalized trading pair of one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The exchange listing it.
    pub exchange: ExchangeId,
    /// Canonical symbol, e.g. `BTC-USDT`.
    pub symbol: Symbol,
    /// The venue's REST name, e.g. `BTCUSDT` or Kraken's altname `XBTUSD`.
    pub exchange_symbol: String,
    /// The exact string the venue's WebSocket subscription uses, e.g. `btcusdt`, `BTC/USD`.
    pub ws_symbol: String,
    /// Further native names that must resolve to this pair (Kraken's `XXBTZUSD`, `XBT/USD`).
    pub aliases: Vec<String>,
    /// Trading status.
    pub status: PairStatus,
    /// Minimum price increment (0 = no grid).
    pub price_tick: Decimal,
    /// Minimum quantity increment (0 = no grid).
    pub qty_step: Decimal,
    /// Minimum order quantity (0 = none).
    pub min_qty: Decimal,
    /// Minimum order value in quote currency, where the venue has one.
    pub min_notional: Option<Decimal>,
}

impl Pair {
    /// Decimal places of the price tick (the precision prices are rendered at).
    pub fn price_precision(&self) -> u32 {
        self.price_tick.normalize().scale()
    }

    /// Decimal places of the quantity step.
    pub fn qty_precision(&self) -> u32 {
        self.qty_step.normalize().scale()
    }
}

/// All pairs of one exchange, resolvable by any of their spellings.
///
/// Lookup folds case, separators (`-`, `/`, `_`) and asset aliases, so `BTC-USDT`, `btcusdt`,
/// `BTC/USDT`, `XBT/USD`, `XBTUSD` and `XXBTZUSD` all find their pair when the exchange lists
/// those names. Concatenated names are only ever matched against names the exchange gave,
/// never split by guessing (`XBTUSD` could be `XB`/`TUSD`).
#[derive(Clone, Debug, Default)]
pub struct PairIndex {
    pairs: Vec<Pair>,
    by_key: HashMap<String, usize>,
}

impl PairIndex {
    /// Index a list of pairs. When two pairs claim the same spelling, the canonical name wins
    /// over native names, then the first pair listed.
    pub fn new(pairs: Vec<Pair>) -> Self {
        let mut by_key = HashMap::new();
        // Canonical names first so they take precedence.
        for (i, p) in pairs.iter().enumerate() {
            by_key.entry(compact(p.symbol.as_str())).or_insert(i);
        }
        for (i, p) in pairs.iter().enumerate() {
            let natives = std::iter::once(&p.exchange_symbol)
                .chain(std::iter::once(&p.ws_symbol))
                .chain(p.aliases.iter());
            for n in natives {
                by_key.entry(lookup_key(n)).or_insert(i);
            }
        }
        PairIndex { pairs, by_key }
    }

    /// Find a pair by any spelling.
    pub fn resolve(&self, text: &str) -> Option<&Pair> {
        self.by_key
            .get(&lookup_key(text))
            .and_then(|&i| self.pairs.get(i))
    }

    /// Find a pair by canonical symbol.
    pub fn get(&self, symbol: &Symbol) -> Option<&Pair> {
        self.resolve(symbol.as_str())
    }

    /// Every pair, in the order given.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when the exchange lists no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '/' | '_' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Separated names get their asset aliases applied per part; concatenated names are taken
/// as they are.
fn lookup_key(s: &str) -> String {
    let t = s.trim();
    let parts: Vec<&str> = t.split(['-', '/', '_']).collect();
    if parts.len() == 2 {
        format!("{}{}", canonical_asset(parts[0]), canonical_asset(parts[1]))
    } else {
        compact(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(sym: &str, ex: &str, ws: &str, aliases: &[&str]) -> Pair {
        Pair {
            exchange: ExchangeId::Kraken,
            symbol: sym.parse().unwrap(),
            exchange_symbol: ex.to_owned(),
            ws_symbol: ws.to_owned(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            status: PairStatus::Trading,
            price_tick: Decimal::new(1, 1),
            qty_step: Decimal::new(1, 8),
            min_qty: Decimal::new(5, 5),
            min_notional: None,
        }
    }

    #[test]
    fn resolves_every_native_spelling() {
        let idx = PairIndex::new(vec![
            pair("BTC-USD", "XBTUSD", "BTC/USD", &["XXBTZUSD", "XBT/USD"]),
            pair("BTC-TUSD", "XBTTUSD", "BTC/TUSD", &[]),
        ]);
        for s in [
            "BTC-USD",
            "btc-usd",
            "BTC/USD",
            "XBT/USD",
            "xbt%2Fusd",
            "XBTUSD",
            "XXBTZUSD",
            "BTCUSD",
        ] {
            let got = idx.resolve(s).map(|p| p.symbol.as_str());
            if s.contains('%') {
                assert_eq!(got, None, "URL decoding is the caller's job");
            } else {
                assert_eq!(got, Some("BTC-USD"), "{s}");
            }
        }
        assert_eq!(idx.resolve("XBTTUSD").unwrap().symbol.as_str(), "BTC-TUSD");
        assert!(idx.resolve("ETH-USD").is_none());
        assert_eq!(idx.pairs()[0].price_precision(), 1);
        assert_eq!(idx.pairs()[0].qty_precision(), 8);
    }
}
