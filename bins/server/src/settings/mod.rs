//! Layered configuration: built-in defaults → TOML file → `PAPERTWAP_<SECTION>__<KEY>`
//! environment variables → command-line flags, then validated as a whole before anything
//! starts. Every error names the key it is about.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod cluster;
mod exchanges;
mod validate;

pub use cluster::ClusterSettings;
pub use exchanges::{ExchangeSettings, ExchangesSettings};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A source could not be read or did not deserialize.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is out of its allowed range; the message names the key.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// Dotted key, e.g. `server.bind`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// The whole configuration. See DESIGN §8 for the meaning of each key.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `server.*`
    pub server: ServerSettings,
    /// `store.*`
    pub store: StoreSettings,
    /// `auth.*`
    pub auth: AuthSettings,
    /// `exchanges.<id>.*`
    pub exchanges: ExchangesSettings,
    /// `market.*`
    pub market: MarketSettings,
    /// `feed.*`
    pub feed: FeedSettings,
    /// `limits.<tier>.*`
    pub limits: LimitsSettings,
    /// `log.*`
    pub log: LogSettings,
    /// `cluster.*` (several instances on PostgreSQL)
    pub cluster: ClusterSettings,
}

/// `server.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    pub bind: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8000".to_owned(),
        }
    }
}

/// `store.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://relative.db`, `sqlite:///abs/path.db` or `sqlite::memory:` (one instance),
    /// or `postgres://user:password@host:5432/database` (several instances may share it).
    pub url: String,
    /// Folder of the lab's tapes (every followed book recorded). Unset: `papertwap-tapes`
    /// beside the database file (no recording for an in-memory database), or in the working
    /// folder on PostgreSQL; `""`: off. One process records into a folder at a time.
    pub tape_dir: Option<String>,
    /// Days of tape kept.
    pub tape_retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://papertwap.db".to_owned(),
            tape_dir: None,
            tape_retention_days: 7,
        }
    }
}

impl StoreSettings {
    /// The tape folder in effect, if recording is on.
    pub fn tape_folder(&self) -> Option<std::path::PathBuf> {
        match self.tape_dir.as_deref() {
            Some("") => None,
            Some(dir) => Some(dir.into()),
            None if store::Backend::of_url(&self.url) == Some(store::Backend::Postgres) => {
                Some("papertwap-tapes".into())
            }
            None => {
                let path = self.url.strip_prefix("sqlite:")?.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or(path);
                if path.is_empty() || path.contains(":memory:") {
                    return None;
                }
                let dir = std::path::Path::new(path)
                    .parent()
                    .unwrap_or(std::path::Path::new(""));
                Some(dir.join("papertwap-tapes"))
            }
        }
    }
}

/// `auth.*`
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 secret (≥ 32 bytes); when absent one is generated once and kept in the store.
    pub jwt_secret: Option<String>,
    /// Token lifetime in seconds.
    pub token_ttl_secs: u64,
    /// Create the demo user at first start.
    pub demo_user: bool,
}

impl std::fmt::Debug for AuthSettings {
    // The secret is never printed, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("demo_user", &self.demo_user)
            .finish()
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            // DESIGN §5 and §5.1 say 30 minutes (`expires_in: 1800`); the §8 table's 3600
            // contradicts them, and the shorter lifetime is the safer reading.
            token_ttl_secs: 1_800,
            demo_user: true,
        }
    }
}

/// `market.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketSettings {
    /// A book whose venue went quiet this long is `stale`.
    pub stale_after_ms: u64,
    /// A lazily subscribed book without users is released after this long.
    pub release_after_secs: u64,
    /// The pong deadline: a venue connection that shows no frame (data, heartbeat or pong to
    /// our pings) for this long is replaced.
    pub dead_after_ms: u64,
    /// Public trades kept per book (the newest; 72 bytes a trade with a numeric id).
    pub trades_per_book: usize,
    /// Public trades older than this are dropped from a book's tape.
    pub trades_retention_secs: u64,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings {
            stale_after_ms: 5_000,
            release_after_secs: 300,
            dead_after_ms: 10_000,
            trades_per_book: 1_000_000,
            trades_retention_secs: 86_400,
        }
    }
}

/// `feed.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedSettings {
    /// Default interval of WebSocket book frames.
    pub default_interval_ms: u64,
    /// Subscriptions allowed per WebSocket connection.
    pub max_subscriptions: usize,
    /// WebSocket connections allowed per user.
    pub max_connections_per_user: usize,
    /// Client messages per second allowed on one WebSocket, sustained.
    pub max_messages_per_second: u32,
    /// Client messages allowed at once on one WebSocket (the bucket size).
    pub message_burst: u32,
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings {
            default_interval_ms: 1_000,
            max_subscriptions: 50,
            max_connections_per_user: 20,
            max_messages_per_second: 50,
            message_burst: 100,
        }
    }
}

/// `limits.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSettings {
    /// Requests by IP without a token.
    pub anonymous: TierLimit,
    /// Requests by a basic user.
    pub basic: TierLimit,
    /// Requests by a premium user.
    pub premium: TierLimit,
    /// `POST /token` attempts per minute per IP.
    pub token_per_ip_per_minute: u32,
    /// `POST /token` attempts per minute per username.
    pub token_per_username_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is trusted (IP addresses).
    pub trusted_proxies: Vec<String>,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            anonymous: TierLimit::per_minute(60),
            basic: TierLimit::per_minute(300),
            premium: TierLimit::per_minute(1_200),
            token_per_ip_per_minute: 10,
            token_per_username_per_minute: 5,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `limits.<tier>.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierLimit {
    /// Requests per minute (every route group unless overridden below).
    pub per_minute: u32,
    /// Market-data routes, per minute (default: `per_minute`).
    pub market_per_minute: Option<u32>,
    /// Order routes, per minute (default: `per_minute`).
    pub orders_per_minute: Option<u32>,
}

impl TierLimit {
    /// The same budget for every group.
    pub fn per_minute(n: u32) -> Self {
        TierLimit {
            per_minute: n,
            market_per_minute: None,
            orders_per_minute: None,
        }
    }

    /// `(market, orders)` per minute.
    pub fn budgets(&self) -> (u32, u32) {
        (
            self.market_per_minute.unwrap_or(self.per_minute),
            self.orders_per_minute.unwrap_or(self.per_minute),
        )
    }
}

impl Default for TierLimit {
    fn default() -> Self {
        TierLimit::per_minute(60)
    }
}

/// `log.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,market=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".to_owned(),
            level: "info".to_owned(),
        }
    }
}

/// Command-line overrides (the last layer).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--bind ADDR` → `server.bind`.
    pub bind: Option<String>,
    /// `--store-url URL` → `store.url`.
    pub store_url: Option<String>,
    /// `--log-format` → `log.format`.
    pub log_format: Option<String>,
    /// `--log-level` → `log.level`.
    pub log_level: Option<String>,
}

/// Keys whose environment values are comma-separated lists.
const LIST_KEYS: [&str; 10] = [
    "exchanges.binance.symbols",
    "exchanges.kraken.symbols",
    "exchanges.bybit.symbols",
    "exchanges.okx.symbols",
    "exchanges.coinbase.symbols",
    "exchanges.bitstamp.symbols",
    "exchanges.kraken.checksum_skip",
    "limits.trusted_proxies",
    "exchanges.sim.symbols",
    "exchanges.replay.symbols",
];

impl Settings {
    /// Load from the default file (`papertwap.toml` in the working directory, if present),
    /// the process environment and the overrides, then validate.
    pub fn load(o: &Overrides) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Settings::load_from(o, &env)
    }

    /// As [`Settings::load`], with an explicit environment (for tests).
    pub fn load_from(
        o: &Overrides,
        env: &HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        // The built-in defaults are the lowest layer, key by key: setting one key of a
        // section (say `exchanges.kraken.ws_url`) must not reset that section's other keys
        // (Kraken's fee, symbols…) to a generic default.
        let defaults = config::Config::try_from(&Settings::default())
            .map_err(|e| invalid("defaults", e.to_string()))?;
        let mut b = config::Config::builder().add_source(defaults);
        match &o.config_file {
            Some(path) => {
                if !path.exists() {
                    return Err(invalid(
                        "--config",
                        format!("file {} does not exist", path.display()),
                    ));
                }
                b = b.add_source(
                    config::File::from(path.as_path()).format(config::FileFormat::Toml),
                );
            }
            None => {
                let default = Path::new("papertwap.toml");
                b = b.add_source(
                    config::File::from(default)
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        // Only PAPERTWAP_<SECTION>__<KEY> variables configure the server; others with the
        // prefix (PAPERTWAP_URL for the CLI, PAPERTWAP_LIVE for tests) are not ours.
        let ours: HashMap<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("PAPERTWAP_") && k.contains("__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut envsrc = config::Environment::with_prefix("PAPERTWAP")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(ours));
        for k in LIST_KEYS {
            envsrc = envsrc.with_list_parse_key(k);
        }
        b = b.add_source(envsrc);
        let set = |b: config::ConfigBuilder<config::builder::DefaultState>,
                   k: &str,
                   v: &Option<String>| match v {
            Some(v) => b.set_override(k, v.clone()),
            None => Ok(b),
        };
        b = set(b, "server.bind", &o.bind)?;
        b = set(b, "store.url", &o.store_url)?;
        b = set(b, "log.format", &o.log_format)?;
        b = set(b, "log.level", &o.log_level)?;
        let s: Settings = b.build()?.try_deserialize()?;
        s.validate()?;
        Ok(s)
    }

    /// `server.bind` as a socket address.
    pub fn bind_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server.bind.parse().map_err(|_| {
            invalid(
                "server.bind",
                format!(
                    "`{}` is not an address like 127.0.0.1:8000",
                    self.server.bind
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::load_from(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8000");
        assert_eq!(s.store.url, "sqlite://papertwap.db");
        assert_eq!(s.exchanges.binance.symbols, vec!["BTC-USDT", "ETH-USDT"]);
        assert_eq!(s.exchanges.kraken.fee_bps, Decimal::from(40));
        assert_eq!(s.exchanges.kraken.book_depth, Some(10));
        assert_eq!(s.market.stale_after_ms, 5_000);
        assert_eq!(s.limits.premium.per_minute, 1_200);
        assert!(s.auth.demo_user);
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pt.toml");
        std::fs::write(
            &file,
            "[server]\nbind = \"127.0.0.1:9000\"\n[exchanges.binance]\nsymbols = [\"SOL-USDT\"]\nfee_bps = 7.5\n[market]\nstale_after_ms = 2000\n",
        )
        .unwrap();
        let o = Overrides {
            config_file: Some(file),
            ..Overrides::default()
        };
        let e = env(&[
            ("PAPERTWAP_MARKET__STALE_AFTER_MS", "3000"),
            (
                "PAPERTWAP_EXCHANGES__BINANCE__WS_URL",
                "ws://127.0.0.1:9001",
            ),
            ("PAPERTWAP_EXCHANGES__KRAKEN__SYMBOLS", "BTC-USD,XBT/EUR"),
            ("PAPERTWAP_URL", "http://ignored-by-the-server"),
        ]);
        let s = Settings::load_from(&o, &e).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:9000", "file");
        assert_eq!(s.market.stale_after_ms, 3_000, "env beats file");
        assert_eq!(
            s.exchanges.binance.ws_url.as_deref(),
            Some("ws://127.0.0.1:9001")
        );
        assert_eq!(s.exchanges.binance.symbols, vec!["SOL-USDT"]);
        assert_eq!(s.exchanges.binance.fee_bps.to_string(), "7.5");
        assert_eq!(s.exchanges.kraken.symbols, vec!["BTC-USD", "XBT/EUR"]);
        let o2 = Overrides {
            bind: Some("127.0.0.1:0".into()),
            ..o
        };
        let s = Settings::load_from(&o2, &e).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:0", "flags beat everything");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("PAPERTWAP_SERVER__BIND", "nonsense", "server.bind"),
            ("PAPERTWAP_AUTH__JWT_SECRET", "short", "auth.jwt_secret"),
            (
                "PAPERTWAP_EXCHANGES__KRAKEN__BOOK_DEPTH",
                "11",
                "exchanges.kraken.book_depth",
            ),
            (
                "PAPERTWAP_EXCHANGES__BINANCE__CHECKSUM",
                "true",
                "exchanges.binance.checksum",
            ),
            ("PAPERTWAP_MARKET__STALE_AFTER_MS", "abc", "stale_after_ms"),
            ("PAPERTWAP_STORE__URL", "mysql://x", "store.url"),
            ("PAPERTWAP_SERVER__PORT", "1", "port"),
            (
                "PAPERTWAP_EXCHANGES__SIM__WS_URL",
                "http://x",
                "exchanges.sim.ws_url",
            ),
            (
                "PAPERTWAP_EXCHANGES__SIM__SPEED",
                "2",
                "exchanges.sim.speed",
            ),
            (
                "PAPERTWAP_EXCHANGES__REPLAY__SPEED",
                "0",
                "exchanges.replay.speed",
            ),
            (
                "PAPERTWAP_EXCHANGES__REPLAY__TAPE_DIR",
                " ",
                "exchanges.replay.tape_dir",
            ),
        ];
        let replay = Settings::load_from(
            &Overrides::default(),
            &env(&[
                ("PAPERTWAP_EXCHANGES__REPLAY__ENABLED", "true"),
                ("PAPERTWAP_EXCHANGES__REPLAY__SPEED", "10"),
                ("PAPERTWAP_EXCHANGES__REPLAY__LOOP", "false"),
            ]),
        )
        .unwrap();
        let r = &replay.exchanges.replay;
        assert!(r.enabled);
        assert_eq!((r.speed, r.looped), (Some(10.0), Some(false)));
        for (k, v, want) in cases {
            let err = Settings::load_from(&Overrides::default(), &env(&[(k, v)]))
                .expect_err(k)
                .to_string();
            assert!(err.contains(want), "{k}={v}: `{err}` should name `{want}`");
        }
    }

    #[test]
    fn secret_is_never_in_debug_output() {
        let mut s = Settings::default();
        s.auth.jwt_secret = Some("x".repeat(40));
        assert!(!format!("{s:?}").contains("xxxxxxxx"));
    }

    #[test]
    fn one_key_of_a_section_keeps_that_sections_other_defaults() {
        let env: HashMap<String, String> = [
            (
                "PAPERTWAP_EXCHANGES__KRAKEN__WS_URL".to_owned(),
                "ws://127.0.0.1:1/v2".to_owned(),
            ),
            (
                "PAPERTWAP_EXCHANGES__BINANCE__ENABLED".to_owned(),
                "false".to_owned(),
            ),
        ]
        .into();
        let s = Settings::load_from(&Overrides::default(), &env).unwrap();
        assert_eq!(
            s.exchanges.kraken.ws_url.as_deref(),
            Some("ws://127.0.0.1:1/v2")
        );
        assert_eq!(s.exchanges.kraken.fee_bps, Decimal::from(40));
        assert_eq!(s.exchanges.kraken.symbols, vec!["BTC-USD", "ETH-USD"]);
        assert_eq!(
            s.exchanges.kraken.rest_url.as_deref(),
            Some("https://api.kraken.com")
        );
        assert_eq!(s.exchanges.binance.fee_bps, Decimal::from(10));
    }
}
