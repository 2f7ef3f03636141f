//! `papertwap-server`: run the server (the default) on the embedded defaults, or override
//! them with a TOML file, `PAPERTWAP_<SECTION>__<KEY>` variables and these flags.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use papertwap_server::{Application, Overrides, Settings, users};
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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage users (in the configured store).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
}

#[derive(Subcommand, Debug)]
enum UsersAction {
    /// Add a user.
    Add {
        /// User name.
        name: String,
        /// Password (or use --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// basic or premium.
        #[arg(long, default_value = "basic")]
        tier: String,
    },
    /// Remove a user and their orders.
    Remove {
        /// User name.
        name: String,
    },
    /// List users.
    List,
    /// Change a user's password.
    Passwd {
        /// User name.
        name: String,
        /// New password (or use --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn password(given: Option<String>, stdin: bool) -> anyhow::Result<String> {
    match (given, stdin) {
        (Some(p), false) => Ok(p),
        (None, true) => users::password_from_stdin(),
        (Some(_), true) => bail!("give --password or --password-stdin, not both"),
        (None, false) => bail!("a password is needed: --password PW or --password-stdin"),
    }
}

async fn users_command(settings: &Settings, action: UsersAction) -> anyhow::Result<()> {
    let store = store::Store::connect(&settings.store.url).await?;
    let res = match action {
        UsersAction::Add {
            name,
            password: p,
            password_stdin,
            tier,
        } => users::add(&store, &name, &password(p, password_stdin)?, &tier).await,
        UsersAction::Remove { name } => users::remove(&store, &name).await,
        UsersAction::List => users::list(&store).await,
        UsersAction::Passwd {
            name,
            password: p,
            password_stdin,
        } => users::passwd(&store, &name, &password(p, password_stdin)?).await,
    };
    store.close().await;
    res
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command;
    let settings = Settings::load(&Overrides {
        config_file: cli.config,
        bind: cli.bind,
        store_url: cli.store_url,
        log_format: cli.log_format,
        log_level: cli.log_level,
    })?;
    if let Some(Command::Users { action }) = command {
        // Commands print their result on stdout; only warnings go to stderr.
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .init();
        return users_command(&settings, action).await;
    }
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
