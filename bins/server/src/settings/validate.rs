//! Validation of the whole configuration before anything starts: every value in range,
//! every error naming its key.

use rust_decimal::Decimal;

use super::{ExchangeSettings, Settings, SettingsError, invalid};

impl Settings {
    /// Check every value; the first problem found is reported with its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.bind_addr()?;
        if store::Backend::of_url(&self.store.url).is_none() {
            return Err(invalid(
                "store.url",
                "must be a sqlite: URL (sqlite://file.db, sqlite:///abs/file.db, sqlite::memory:) \
                 or a postgres:// URL (postgres://user:password@host:5432/database)",
            ));
        }
        self.cluster.validate()?;
        if !(1..=3_650).contains(&self.store.tape_retention_days) {
            return Err(invalid(
                "store.tape_retention_days",
                "must be between 1 and 3650",
            ));
        }
        if let Some(s) = &self.auth.jwt_secret
            && s.len() < 32
        {
            return Err(invalid(
                "auth.jwt_secret",
                format!("must be at least 32 bytes long (got {})", s.len()),
            ));
        }
        if !(60..=7 * 86_400).contains(&self.auth.token_ttl_secs) {
            return Err(invalid(
                "auth.token_ttl_secs",
                "must be between 60 and 604800",
            ));
        }
        for (id, ex) in [
            ("binance", &self.exchanges.binance),
            ("kraken", &self.exchanges.kraken),
            ("bybit", &self.exchanges.bybit),
            ("okx", &self.exchanges.okx),
            ("coinbase", &self.exchanges.coinbase),
            ("bitstamp", &self.exchanges.bitstamp),
            ("sim", &self.exchanges.sim),
            ("replay", &self.exchanges.replay),
        ] {
            ex.validate(id)?;
        }
        if !(100..=600_000).contains(&self.market.stale_after_ms) {
            return Err(invalid(
                "market.stale_after_ms",
                "must be between 100 and 600000",
            ));
        }
        if !(1_000..=120_000).contains(&self.market.dead_after_ms) {
            return Err(invalid(
                "market.dead_after_ms",
                "must be between 1000 and 120000",
            ));
        }
        if !(1_000..=10_000_000).contains(&self.market.trades_per_book) {
            return Err(invalid(
                "market.trades_per_book",
                "must be between 1000 and 10000000",
            ));
        }
        if !(60..=7 * 86_400).contains(&self.market.trades_retention_secs) {
            return Err(invalid(
                "market.trades_retention_secs",
                "must be between 60 and 604800",
            ));
        }
        if !(1..=86_400).contains(&self.market.release_after_secs) {
            return Err(invalid(
                "market.release_after_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(100..=60_000).contains(&self.feed.default_interval_ms) {
            return Err(invalid(
                "feed.default_interval_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=100_000).contains(&self.feed.max_messages_per_second) {
            return Err(invalid(
                "feed.max_messages_per_second",
                "must be between 1 and 100000",
            ));
        }
        if self.feed.message_burst < self.feed.max_messages_per_second
            || self.feed.message_burst > 1_000_000
        {
            return Err(invalid(
                "feed.message_burst",
                "must be at least feed.max_messages_per_second and at most 1000000",
            ));
        }
        if !(1..=10_000).contains(&self.feed.max_connections_per_user) {
            return Err(invalid(
                "feed.max_connections_per_user",
                "must be between 1 and 10000",
            ));
        }
        if !(1..=10_000).contains(&self.feed.max_subscriptions) {
            return Err(invalid(
                "feed.max_subscriptions",
                "must be between 1 and 10000",
            ));
        }
        for (tier, l) in [
            ("anonymous", &self.limits.anonymous),
            ("basic", &self.limits.basic),
            ("premium", &self.limits.premium),
        ] {
            for (key, v) in [
                ("per_minute", Some(l.per_minute)),
                ("market_per_minute", l.market_per_minute),
                ("orders_per_minute", l.orders_per_minute),
            ] {
                if v == Some(0) {
                    return Err(invalid(
                        &format!("limits.{tier}.{key}"),
                        "must be at least 1",
                    ));
                }
            }
        }
        for (key, v) in [
            (
                "token_per_ip_per_minute",
                self.limits.token_per_ip_per_minute,
            ),
            (
                "token_per_username_per_minute",
                self.limits.token_per_username_per_minute,
            ),
        ] {
            if v == 0 {
                return Err(invalid(&format!("limits.{key}"), "must be at least 1"));
            }
        }
        for p in &self.limits.trusted_proxies {
            if p.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(
                    "limits.trusted_proxies",
                    format!("`{p}` is not an IP address"),
                ));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be `text` or `json`"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                "is not a valid tracing filter (e.g. `info`)",
            ));
        }
        Ok(())
    }
}

impl ExchangeSettings {
    fn validate(&self, id: &str) -> Result<(), SettingsError> {
        let key = |k: &str| format!("exchanges.{id}.{k}");
        let only = |k: &str, set: bool, owner: &str| {
            if set && id != owner {
                Err(invalid(&key(k), format!("applies to {owner} only")))
            } else {
                Ok(())
            }
        };
        if self.book_depth.is_some() && !matches!(id, "kraken" | "bybit") {
            return Err(invalid(
                &key("book_depth"),
                "applies to kraken and bybit only",
            ));
        }
        if self.checksum.is_some() && !matches!(id, "kraken" | "okx") {
            return Err(invalid(&key("checksum"), "applies to kraken and okx only"));
        }
        only("checksum_skip", !self.checksum_skip.is_empty(), "kraken")?;
        only("seed", self.seed.is_some(), "sim")?;
        only(
            "update_interval_ms",
            self.update_interval_ms.is_some(),
            "sim",
        )?;
        only("history_minutes", self.history_minutes.is_some(), "sim")?;
        only("tape_dir", self.tape_dir.is_some(), "replay")?;
        only("speed", self.speed.is_some(), "replay")?;
        only("loop", self.looped.is_some(), "replay")?;
        if let Some(v) = self.speed
            && !(v.is_finite() && (0.01..=1_000.0).contains(&v))
        {
            return Err(invalid(
                &key("speed"),
                "must be between 0.01 and 1000 (1 = real time)",
            ));
        }
        if self
            .tape_dir
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            return Err(invalid(
                &key("tape_dir"),
                "must name a folder (leave it unset for the built-in sample tape)",
            ));
        }
        if let Some(d) = self.book_depth {
            let (allowed, text): (&[u32], &str) = if id == "bybit" {
                (&[1, 50, 200, 1_000], "must be one of 1, 50, 200, 1000")
            } else {
                (
                    &[10, 25, 100, 500, 1_000],
                    "must be one of 10, 25, 100, 500, 1000",
                )
            };
            if !allowed.contains(&d) {
                return Err(invalid(&key("book_depth"), text));
            }
        }
        if let Some(ms) = self.update_interval_ms
            && !(10..=10_000).contains(&ms)
        {
            return Err(invalid(
                &key("update_interval_ms"),
                "must be between 10 and 10000",
            ));
        }
        if let Some(m) = self.history_minutes
            && m > 31 * 1_440
        {
            return Err(invalid(
                &key("history_minutes"),
                "must be at most 44640 (31 days)",
            ));
        }
        if self.fee_bps < Decimal::ZERO || self.fee_bps > Decimal::from(1_000) {
            return Err(invalid(&key("fee_bps"), "must be between 0 and 1000"));
        }
        if let Some(u) = &self.ws_url
            && !(u.starts_with("ws://") || u.starts_with("wss://"))
        {
            return Err(invalid(&key("ws_url"), "must start with ws:// or wss://"));
        }
        if let Some(u) = &self.rest_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(invalid(
                &key("rest_url"),
                "must start with http:// or https://",
            ));
        }
        if self.symbols.iter().any(|s| s.trim().is_empty()) {
            return Err(invalid(&key("symbols"), "contains an empty symbol"));
        }
        Ok(())
    }
}
