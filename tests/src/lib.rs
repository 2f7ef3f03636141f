//! Harness for full-stack tests: [`spawn_app`] starts the real server on port 0 with a
//! temporary database and returns its address; dropping the [`TestApp`] stops it.
//!
//! # Invariant
//! Tests talk to loopback only; every server started here is stopped when its handle drops.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use papertwap_server::{Application, Settings};
use tokio_util::sync::CancellationToken;

/// A running server and its temporary state.
#[derive(Debug)]
pub struct TestApp {
    /// Bound address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A plain HTTP client for it.
    pub http: reqwest::Client,
    /// The database URL (the tests may open it alongside the server).
    pub store_url: String,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Log in through `POST /token` (form-encoded) and return the bearer token.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .post(self.url("/token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "login failed: {}", r.status());
        let v: serde_json::Value = r.json().await?;
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no access_token in {v}"))
    }

    /// Log in as the demo user.
    pub async fn login_demo(&self) -> anyhow::Result<String> {
        self.login("premium", "CryptoTWAPpremium").await
    }

    /// Add a user directly in the store.
    pub async fn add_user(&self, name: &str, password: &str, tier: &str) -> anyhow::Result<()> {
        let store = store::Store::connect(&self.store_url).await?;
        let res = papertwap_server::users::create(&store, name, password, tier).await;
        store.close().await;
        res
    }

    /// Stop the server and wait for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(h) => h.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings for a test server: port 0, a temp database, only the simulated exchange (live
/// adapters get their mock servers in their own tests).
pub fn test_settings(dir: &tempfile::TempDir) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".to_owned();
    s.store.url = format!("sqlite://{}", dir.path().join("test.db").display());
    s.exchanges.binance.enabled = false;
    s.exchanges.kraken.enabled = false;
    s.exchanges.bybit.enabled = false;
    s.exchanges.okx.enabled = false;
    s.exchanges.coinbase.enabled = false;
    s.exchanges.bitstamp.enabled = false;
    // Tests poll freely; the rate-limit tests set their own small budgets.
    for tier in [
        &mut s.limits.anonymous,
        &mut s.limits.basic,
        &mut s.limits.premium,
    ] {
        tier.per_minute = 1_000_000;
    }
    s.limits.token_per_ip_per_minute = 10_000;
    s.limits.token_per_username_per_minute = 10_000;
    s
}

/// Start the server with [`test_settings`] adjusted by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> anyhow::Result<TestApp> {
    testkit::init_tracing();
    // reqwest is built without a default crypto provider; tests use ring like the server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let mut settings = test_settings(&dir);
    tweak(&mut settings);
    let store_url = settings.store.url.clone();
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder().build()?,
        store_url,
        shutdown,
        handle: Some(handle),
        _dir: dir,
    })
}

/// Start the server configured the way an operator would: `PAPERTWAP_…__…` variables
/// (`env`) over the defaults, then port 0 and a temp database. A live venue the variables
/// neither point at a mock (`…__WS_URL`) nor enable explicitly is disabled: tests talk to
/// loopback only.
pub async fn spawn_app_with_env(env: &[(&str, &str)]) -> anyhow::Result<TestApp> {
    let vars: std::collections::HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut from_env = Settings::load_from(&papertwap_server::Overrides::default(), &vars)?;
    let ex = &mut from_env.exchanges;
    for (name, venue) in [
        ("BINANCE", &mut ex.binance),
        ("KRAKEN", &mut ex.kraken),
        ("OKX", &mut ex.okx),
        ("BYBIT", &mut ex.bybit),
        ("COINBASE", &mut ex.coinbase),
        ("BITSTAMP", &mut ex.bitstamp),
    ] {
        let named = |key: &str| vars.contains_key(&format!("PAPERTWAP_EXCHANGES__{name}__{key}"));
        if !named("WS_URL") && !named("ENABLED") {
            venue.enabled = false;
        }
    }
    spawn_app_with(move |s| {
        let (bind, store) = (s.server.bind.clone(), s.store.url.clone());
        *s = from_env;
        s.server.bind = bind;
        s.store.url = store;
    })
    .await
}

/// Start the server with the default test settings.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(|_| {}).await
}
