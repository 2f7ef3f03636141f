//! `exchanges.*`: which venues run and how, one table per venue.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `exchanges.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangesSettings {
    /// `exchanges.binance.*`
    pub binance: ExchangeSettings,
    /// `exchanges.kraken.*`
    pub kraken: ExchangeSettings,
    /// `exchanges.bybit.*`
    pub bybit: ExchangeSettings,
    /// `exchanges.okx.*`
    pub okx: ExchangeSettings,
    /// `exchanges.coinbase.*`
    pub coinbase: ExchangeSettings,
    /// `exchanges.bitstamp.*`
    pub bitstamp: ExchangeSettings,
    /// `exchanges.sim.*`
    pub sim: ExchangeSettings,
    /// `exchanges.replay.*`: recorded tapes played as a venue (off by default).
    pub replay: ExchangeSettings,
}

impl Default for ExchangesSettings {
    fn default() -> Self {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ExchangesSettings {
            binance: ExchangeSettings {
                ws_url: Some("wss://stream.binance.com:9443/stream".to_owned()),
                rest_url: Some("https://api.binance.com".to_owned()),
                symbols: list(&["BTC-USDT", "ETH-USDT"]),
                fee_bps: Decimal::from(10),
                ..ExchangeSettings::default()
            },
            kraken: ExchangeSettings {
                ws_url: Some("wss://ws.kraken.com/v2".to_owned()),
                rest_url: Some("https://api.kraken.com".to_owned()),
                symbols: list(&["BTC-USD", "ETH-USD"]),
                fee_bps: Decimal::from(40),
                book_depth: Some(10),
                checksum: Some(true),
                ..ExchangeSettings::default()
            },
            bybit: ExchangeSettings {
                ws_url: Some("wss://stream.bybit.com/v5/public/spot".to_owned()),
                rest_url: Some("https://api.bybit.com".to_owned()),
                symbols: list(&["BTC-USDT", "ETH-USDT"]),
                fee_bps: Decimal::from(10),
                book_depth: Some(200),
                ..ExchangeSettings::default()
            },
            okx: ExchangeSettings {
                ws_url: Some("wss://ws.okx.com:8443/ws/v5/public".to_owned()),
                rest_url: Some("https://www.okx.com".to_owned()),
                symbols: list(&["BTC-USDT", "ETH-USDT"]),
                fee_bps: Decimal::from(10),
                checksum: Some(true),
                ..ExchangeSettings::default()
            },
            coinbase: ExchangeSettings {
                ws_url: Some("wss://advanced-trade-ws.coinbase.com".to_owned()),
                rest_url: Some("https://api.coinbase.com".to_owned()),
                symbols: list(&["BTC-USD", "ETH-USD"]),
                fee_bps: Decimal::from(60),
                ..ExchangeSettings::default()
            },
            bitstamp: ExchangeSettings {
                ws_url: Some("wss://ws.bitstamp.net".to_owned()),
                rest_url: Some("https://www.bitstamp.net".to_owned()),
                symbols: list(&["BTC-USD", "ETH-USD"]),
                fee_bps: Decimal::from(40),
                ..ExchangeSettings::default()
            },
            sim: ExchangeSettings {
                symbols: list(&["BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC"]),
                fee_bps: Decimal::from(10),
                seed: Some(42),
                update_interval_ms: Some(50),
                history_minutes: Some(10_080),
                ..ExchangeSettings::default()
            },
            replay: ExchangeSettings {
                enabled: false,
                // Empty: every book on the tapes.
                symbols: Vec::new(),
                fee_bps: Decimal::from(10),
                speed: Some(1.0),
                looped: Some(true),
                ..ExchangeSettings::default()
            },
        }
    }
}

/// `exchanges.<id>.*`. Venue-specific keys are accepted only on their venue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeSettings {
    /// Connect to this exchange.
    pub enabled: bool,
    /// Full WebSocket endpoint.
    pub ws_url: Option<String>,
    /// REST API origin.
    pub rest_url: Option<String>,
    /// Symbols kept subscribed from start (any spelling the exchange understands).
    pub symbols: Vec<String>,
    /// Taker fee charged on paper fills, in basis points.
    pub fee_bps: Decimal,
    /// Kraken and Bybit only: book depth (Kraken 10, 25, 100, 500, 1000; Bybit 1, 50, 200,
    /// 1000).
    pub book_depth: Option<u32>,
    /// Kraken and OKX only: verify book checksums (OKX: whenever a frame carries one).
    pub checksum: Option<bool>,
    /// Kraken only: symbols whose checksums are not verified (pairs with known venue-side
    /// mismatches); their books rely on crossed-book and staleness checks.
    pub checksum_skip: Vec<String>,
    /// Sim only: seed of the random walk.
    pub seed: Option<u64>,
    /// Sim only: milliseconds between book updates.
    pub update_interval_ms: Option<u64>,
    /// Sim only: minutes of 1-minute candles generated at start.
    pub history_minutes: Option<usize>,
    /// Replay only: the folder of tapes to play (a server's `store.tape_dir` or a copy);
    /// unset plays the sample tape built into the server.
    pub tape_dir: Option<String>,
    /// Replay only: playback speed (1 = real time, 10 = ten times faster; 0.01–1000).
    pub speed: Option<f64>,
    /// Replay only: start over at the end of the tapes.
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
}

impl Default for ExchangeSettings {
    fn default() -> Self {
        ExchangeSettings {
            enabled: true,
            ws_url: None,
            rest_url: None,
            symbols: Vec::new(),
            fee_bps: Decimal::ZERO,
            book_depth: None,
            checksum: None,
            checksum_skip: Vec::new(),
            seed: None,
            update_interval_ms: None,
            history_minutes: None,
            tape_dir: None,
            speed: None,
            looped: None,
        }
    }
}
