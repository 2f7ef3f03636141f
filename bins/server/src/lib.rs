//! The papertwap server's composition root: the only place that names concrete exchanges
//! and wires the hub, store and HTTP API together.
//!
//! # Invariants
//! - [`Application::build`] binds its listener before returning, so `server.bind` with port 0
//!   works and [`Application::port`] tells the port (tests start the real server this way).
//! - Configuration is validated whole before anything starts ([`settings`]).
//! - One cancellation token fans out shutdown: HTTP stops accepting, in-flight requests
//!   finish, feeds close, the store is closed last.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
mod pair_cache;
pub mod ports;
pub mod recorder;
pub mod settings;
pub mod users;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use market::{Exchange, Hub, HubConfig};
use model::ExchangeId;
use rust_decimal::Decimal;
use sim::{SimConfig, SimExchange};
use store::Store;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use settings::{Overrides, Settings};

/// A built, bound, not yet running server.
pub struct Application {
    addr: SocketAddr,
    server: actix_web::dev::Server,
    shutdown: CancellationToken,
    hub: Hub,
    store: Store,
    engine_task: tokio::task::JoinHandle<()>,
    /// This instance's leases, when several share PostgreSQL.
    cluster: Option<Arc<cluster::Cluster>>,
    /// The tape recorder, stopped after the feeds (so that it records all they sent).
    recorder: Option<(CancellationToken, recorder::Recorder)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Application {
    /// Open the store, start the market hub and bind the HTTP listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let store = Store::connect(&settings.store.url)
            .await
            .with_context(|| format!("opening store.url {}", settings.store.url))?;
        // Generated once and kept, so tokens survive restarts. Never logged.
        let secret = match &settings.auth.jwt_secret {
            Some(s) => s.clone(),
            None => store
                .jwt_secret()
                .await
                .context("preparing the JWT secret")?,
        };
        let account_states = api::accounts::AccountStates::default();
        let jwt = api::auth::Jwt::new(secret.as_bytes(), settings.auth.token_ttl_secs)?
            .with_accounts(account_states.clone());
        let passwords =
            tokio::task::spawn_blocking(|| api::auth::Passwords::new(api::auth::BCRYPT_COST))
                .await
                .context("preparing password hashing")??;
        users::seed_demo_user(&store, &passwords, settings.auth.demo_user).await?;

        let shutdown = CancellationToken::new();
        let (exchanges, mut hub_config) = exchanges(&settings)?;
        hub_config.pair_cache = Some(Arc::new(pair_cache::StorePairCache::new(store.clone())));
        let recorder = match settings.store.tape_folder() {
            Some(dir) => {
                let stop = CancellationToken::new();
                let r = recorder::start(dir, settings.store.tape_retention_days, stop.clone())?;
                hub_config.recorder = Some(r.recorders.clone());
                Some((stop, r))
            }
            None => None,
        };
        let hub = Hub::start(hub_config, exchanges, shutdown.child_token());

        let ex = &settings.exchanges;
        let fees: HashMap<ExchangeId, Decimal> = [
            (ExchangeId::Sim, ex.sim.fee_bps),
            (ExchangeId::Binance, ex.binance.fee_bps),
            (ExchangeId::Kraken, ex.kraken.fee_bps),
            (ExchangeId::Bybit, ex.bybit.fee_bps),
            (ExchangeId::Okx, ex.okx.fee_bps),
            (ExchangeId::Coinbase, ex.coinbase.fee_bps),
            (ExchangeId::Bitstamp, ex.bitstamp.fee_bps),
            (ExchangeId::Replay, ex.replay.fee_bps),
        ]
        .into();
        // On PostgreSQL several instances may share the store: this one executes the orders
        // of the symbols it leases, and its slice writes are fenced by those leases.
        let cluster = (store.backend() == store::Backend::Postgres).then(|| {
            cluster::Cluster::new(
                store.clone(),
                &settings.cluster.name(),
                settings.cluster.lease_ttl_ms,
            )
        });
        let orders: Arc<dyn engine::OrderStore> = match &cluster {
            Some(c) => Arc::new(cluster::FencedOrders {
                orders: ports::StoreOrders(store.clone()),
                cluster: c.clone(),
            }),
            None => Arc::new(ports::StoreOrders(store.clone())),
        };
        let ownership: Arc<dyn engine::Ownership> = match &cluster {
            Some(c) => c.clone(),
            None => Arc::new(engine::Alone),
        };
        let (engine, engine_task) = engine::runner::start_with(
            orders,
            Arc::new(ports::HubBooks(hub.clone())),
            ownership,
            engine::EngineConfig {
                fees,
                limits: engine::Limits::default(),
            },
            engine::Clock::system(),
            shutdown.child_token(),
        )
        .await
        .context("starting the TWAP engine")?;
        if let Some(c) = &cluster {
            cluster::spawn(c.clone(), engine.clone(), shutdown.child_token());
        }
        if let Some((stop, r)) = &recorder {
            r.follow_fills(engine.subscribe(), stop.clone());
        }
        let accounts: Arc<dyn api::accounts::Accounts> =
            Arc::new(ports::StoreAccounts(store.clone()));
        ports::keep_accounts_fresh(
            accounts.clone(),
            account_states,
            engine.clone(),
            shutdown.child_token(),
        )
        .await
        .context("loading users")?;
        let trading = api::Trading {
            engine,
            jwt,
            passwords,
        };
        let l = &settings.limits;
        let limits = api::RateLimits::new(api::LimitConfig {
            anonymous: l.anonymous.budgets(),
            basic: l.basic.budgets(),
            premium: l.premium.budgets(),
            token_per_ip: l.token_per_ip_per_minute,
            token_per_username: l.token_per_username_per_minute,
            trusted_proxies: l
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
        });
        let ws = api::WsConfig {
            default_interval_ms: settings.feed.default_interval_ms,
            max_subscriptions: settings.feed.max_subscriptions,
            max_connections_per_user: settings.feed.max_connections_per_user,
            max_messages_per_second: settings.feed.max_messages_per_second,
            message_burst: settings.feed.message_burst,
            ..api::WsConfig::default()
        };
        let mut state = api::AppState::new(hub.clone(), accounts, trading, limits, ws);
        if let (Some(dir), Some((_, r))) = (settings.store.tape_folder(), &recorder) {
            state = state.with_lab(Arc::new(ports::TapeLab::new(
                dir,
                hub.clone(),
                r.flusher(),
                store.clone(),
            )));
        }
        let listener = TcpListener::bind(settings.bind_addr()?)
            .with_context(|| format!("binding server.bind {}", settings.server.bind))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || {
            // Outermost last: request id → access log → metrics → body guard (every body
            // read in full, or refused, before anything can answer early) → rate limit.
            App::new()
                .wrap(from_fn(api::rate_limit))
                .wrap(from_fn(api::body_guard))
                .wrap(from_fn(api::track_metrics))
                .wrap(from_fn(api::access_log))
                .wrap(from_fn(api::request_id))
                .configure(api::configure(state.clone()))
                .default_service(web::to(api::not_found))
        })
        // A client has 5 s to send a request head (408 and close otherwise: slowloris); the
        // body has `api::BODY_TIMEOUT` (body_guard). Idle keep-alive connections close after
        // 15 s.
        .on_connect(api::remember_socket)
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(15))
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(10)
        .run();
        info!(address = %addr, "listening on http://{addr}");
        Ok(Application {
            addr,
            server,
            shutdown,
            hub,
            store,
            engine_task,
            cluster,
            recorder,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token that stops the server when cancelled (tests use it; signals use it too).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serve until Ctrl-C, SIGTERM or the shutdown token, then stop gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            shutdown,
            hub,
            store,
            engine_task,
            cluster,
            recorder,
            ..
        } = self;
        let handle = server.handle();
        let token = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = signal() => {
                    info!("shutdown signal received");
                    token.cancel();
                }
            }
            handle.stop(true).await;
        });
        let served = server.await;
        shutdown.cancel();
        if tokio::time::timeout(Duration::from_secs(10), hub.wait())
            .await
            .is_err()
        {
            warn!("market feeds did not stop within 10 s");
        }
        // The engine finishes the slice batch it is writing, then stops.
        if tokio::time::timeout(Duration::from_secs(10), engine_task)
            .await
            .is_err()
        {
            warn!("the engine did not stop within 10 s");
        }
        // Its last slices written: the other instances take its orders over at once.
        if let Some(c) = cluster {
            c.release_all().await;
        }
        // The recorder writes out what the feeds sent before they stopped.
        if let Some((stop, r)) = recorder
            && {
                stop.cancel();
                true
            }
            && tokio::time::timeout(Duration::from_secs(10), r.task)
                .await
                .is_err()
        {
            warn!("the tape recorder did not stop within 10 s");
        }
        store.close().await;
        info!("stopped");
        served.context("HTTP server failed")
    }
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The exchanges this build can run, and the hub configuration that goes with them.
fn exchanges(s: &Settings) -> anyhow::Result<(Vec<Arc<dyn Exchange>>, HubConfig)> {
    let mut list: Vec<Arc<dyn Exchange>> = Vec::new();
    let mut config = HubConfig {
        stale_after: Duration::from_millis(s.market.stale_after_ms),
        release_after: Duration::from_secs(s.market.release_after_secs),
        trades: market::TapeLimits {
            max_trades: s.market.trades_per_book,
            retention: Duration::from_secs(s.market.trades_retention_secs),
        },
        ..HubConfig::default()
    };
    let ex = &s.exchanges;
    for (id, e) in [
        (ExchangeId::Sim, &ex.sim),
        (ExchangeId::Binance, &ex.binance),
        (ExchangeId::Kraken, &ex.kraken),
        (ExchangeId::Okx, &ex.okx),
        (ExchangeId::Bybit, &ex.bybit),
        (ExchangeId::Coinbase, &ex.coinbase),
        (ExchangeId::Bitstamp, &ex.bitstamp),
        (ExchangeId::Replay, &ex.replay),
    ] {
        if !e.enabled {
            config.disabled.push(id);
            continue;
        }
        config.default_symbols.insert(id, e.symbols.clone());
        match id {
            ExchangeId::Sim => {
                let defaults = SimConfig::default();
                let sim = SimExchange::new(SimConfig {
                    seed: e.seed.unwrap_or(defaults.seed),
                    update_interval: e
                        .update_interval_ms
                        .map_or(defaults.update_interval, Duration::from_millis),
                    history_minutes: e.history_minutes.unwrap_or(defaults.history_minutes),
                })
                .context("building the simulated exchange")?;
                list.push(Arc::new(sim));
            }
            ExchangeId::Binance => {
                let defaults = binance::BinanceConfig::default();
                let adapter = binance::BinanceExchange::new(binance::BinanceConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the Binance adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Kraken => {
                let defaults = kraken::KrakenConfig::default();
                let adapter = kraken::KrakenExchange::new(kraken::KrakenConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    depth: e.book_depth.unwrap_or(defaults.depth),
                    checksum: e.checksum.unwrap_or(defaults.checksum),
                    checksum_skip: e.checksum_skip.clone(),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the Kraken adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Bybit => {
                let defaults = bybit::BybitConfig::default();
                let adapter = bybit::BybitExchange::new(bybit::BybitConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    depth: e.book_depth.unwrap_or(defaults.depth),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the Bybit adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Okx => {
                let defaults = okx::OkxConfig::default();
                let adapter = okx::OkxExchange::new(okx::OkxConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    checksum: e.checksum.unwrap_or(defaults.checksum),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the OKX adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Coinbase => {
                let defaults = coinbase::CoinbaseConfig::default();
                let adapter = coinbase::CoinbaseExchange::new(coinbase::CoinbaseConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the Coinbase adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Bitstamp => {
                let defaults = bitstamp::BitstampConfig::default();
                let adapter = bitstamp::BitstampExchange::new(bitstamp::BitstampConfig {
                    ws_url: e.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
                    rest_url: e.rest_url.clone().unwrap_or(defaults.rest_url.clone()),
                    dead_after: Duration::from_millis(s.market.dead_after_ms),
                    ..defaults
                })
                .context("building the Bitstamp adapter")?;
                list.push(Arc::new(adapter));
            }
            ExchangeId::Replay => {
                let defaults = replay::ReplayConfig::default();
                let venue = replay::ReplayExchange::new(replay::ReplayConfig {
                    tape_dir: e.tape_dir.as_ref().map(PathBuf::from),
                    speed: e.speed.unwrap_or(defaults.speed),
                    looped: e.looped.unwrap_or(defaults.looped),
                })
                .context("building the replay venue (exchanges.replay)")?;
                if e.symbols.is_empty() {
                    // Every book on the tapes.
                    config
                        .default_symbols
                        .insert(id, venue.symbols().iter().map(|s| s.to_string()).collect());
                }
                list.push(Arc::new(venue));
            }
        }
    }
    Ok((list, config))
}
