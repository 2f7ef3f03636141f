//! `papertwap-server`: run the server (the default) on the embedded defaults, or override
//! them with a TOML file, `PAPERTWAP_<SECTION>__<KEY>` variables and these flags.

use std::path::PathBuf;

use clap::Parser;
use papertwap_server::{Application, Overrides, Settings};
use tracing_subscriber::EnvFilter;

/// papertwap server: live books, market data API and TWAP paper trading.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (default: ./papertwap.toml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address (server.bind), e.g. 127.0.0.1:8000; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Database URL (store.url), e.g. sqlite://papertwap.db.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Log format (log.format): text or json.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Log filter (log.level), e.g. info or info,market=debug.
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(&Overrides {
        config_file: cli.config,
        bind: cli.bind,
        store_url: cli.store_url,
        log_format: cli.log_format,
        log_level: cli.log_level,
    })?;
    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.log.level))?;
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.log.format == "json" {
        fmt.json().init();
    } else {
        fmt.init();
    }
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}
