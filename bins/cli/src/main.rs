//! `papertwap`: the command-line client for a papertwap server.
//!
//! # Invariant
//! Talks to the server only through `papertwap-client`, so everything it does is something
//! any SDK user can do.
//!
//! Exit codes: 0 success, 1 the server refused the request (4xx), 2 usage error, 3 server or
//! connection failure (5xx, unreachable), 4 not logged in.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

/// `println!` that ignores a closed stdout (`papertwap orders | head`).
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! outp {
    ($($t:tt)*) => {{
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}
use papertwap_client::wire::{self, ServerMessage};
use papertwap_client::{BookChannel, Client, Decimal, Error};
use serde::Serialize;

/// papertwap command-line client.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Server base URL.
    #[arg(
        long,
        global = true,
        env = "PAPERTWAP_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    server: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Log in and keep the token (in the user's config dir, mode 0600).
    Login {
        /// User name.
        #[arg(long, default_value = "premium")]
        user: String,
        /// Password (or --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Exchanges and their status.
    Exchanges,
    /// An exchange's pairs.
    Pairs {
        /// Exchange id.
        exchange: String,
        /// Only pairs quoted in this asset.
        #[arg(long)]
        quote: Option<String>,
    },
    /// Candles.
    Klines {
        /// Exchange id.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w 1M.
        #[arg(long, default_value = "1m")]
        interval: String,
        /// How many (1–1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The order book; `--watch` redraws a live ladder in place.
    Book {
        /// Exchange id.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// Levels per side.
        #[arg(long, default_value_t = 10)]
        depth: u32,
        /// Redraw live until Ctrl-C (or for --seconds).
        #[arg(long)]
        watch: bool,
        /// Stop watching after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// TWAP orders.
    Twap {
        #[command(subcommand)]
        action: TwapAction,
    },
    /// Your orders.
    Orders {
        /// open, closed or all.
        #[arg(long, default_value = "all")]
        status: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One order with its slices and analytics.
    Order {
        /// The order's token id.
        token_id: String,
    },
    /// Cancel an order.
    Cancel {
        /// The order's token id.
        token_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum TwapAction {
    /// Submit a TWAP order.
    Submit {
        /// Exchange id.
        #[arg(long, default_value = "sim")]
        exchange: String,
        /// Symbol.
        #[arg(long)]
        symbol: String,
        /// buy or sell.
        #[arg(long)]
        side: String,
        /// Base quantity.
        #[arg(long)]
        quantity: Decimal,
        /// Total duration, seconds.
        #[arg(long)]
        duration: u64,
        /// Seconds between slices.
        #[arg(long)]
        interval: u64,
        /// Price cap.
        #[arg(long)]
        limit_price: Option<Decimal>,
        /// spread, next or none.
        #[arg(long)]
        catch_up: Option<String>,
        /// Client order id (default: generated).
        #[arg(long)]
        token_id: Option<String>,
        /// Follow it live until it ends (Ctrl-C offers to cancel).
        #[arg(long)]
        watch: bool,
    },
}

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("papertwap"))
}

fn save_token(server: &str, token: &str) -> std::io::Result<PathBuf> {
    let dir = config_dir().ok_or_else(|| std::io::Error::other("no HOME or XDG_CONFIG_HOME"))?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("token.json");
    let body = serde_json::json!({"server": server, "token": token}).to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    f.write_all(body.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(path)
}

fn load_token(server: &str) -> Option<String> {
    if let Ok(t) = std::env::var("PAPERTWAP_TOKEN") {
        return Some(t);
    }
    let text = std::fs::read_to_string(config_dir()?.join("token.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    (v["server"].as_str() == Some(server)).then(|| v["token"].as_str().map(str::to_owned))?
}

enum Fail {
    Api(String),
    Server(String),
    NotLoggedIn,
    Usage(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        match &e {
            Error::Api { status: 401, .. } | Error::NotLoggedIn => Fail::NotLoggedIn,
            Error::Api { status, .. } if *status < 500 => Fail::Api(e.to_string()),
            Error::Invalid(m) => Fail::Usage(m.clone()),
            _ => Fail::Server(e.to_string()),
        }
    }
}

fn print_json<T: Serialize>(v: &T) {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

fn order_line(o: &wire::Order) -> String {
    format!(
        "{:<24} {:<8} {:<10} {:<4} {:>12} {:>12} {:>9} {:>14} {}/{}",
        o.token_id,
        o.exchange,
        o.symbol,
        o.side,
        o.quantity,
        o.filled_quantity,
        o.status,
        opt(&o.avg_price),
        o.slices_done + o.slices_skipped,
        o.slices_total
    )
}

fn ladder(b: &wire::OrderBook) -> String {
    let mut s = format!(
        "{} {}  seq {}  {}  health {} (age {} ms)\n",
        b.exchange,
        b.symbol,
        opt(&b.seq),
        b.ts,
        b.health.state,
        opt(&b.health.age_ms)
    );
    s.push_str(&format!(
        "{:>16} {:>14} | {:<14} {:<16}\n",
        "bid qty", "bid", "ask", "ask qty"
    ));
    let n = b.bids.len().max(b.asks.len());
    for i in 0..n {
        let (bp, bq) = b.bids.get(i).map_or((String::new(), String::new()), |l| {
            (l.0.to_string(), l.1.to_string())
        });
        let (ap, aq) = b.asks.get(i).map_or((String::new(), String::new()), |l| {
            (l.0.to_string(), l.1.to_string())
        });
        s.push_str(&format!("{bq:>16} {bp:>14} | {ap:<14} {aq:<16}\n"));
    }
    s
}

async fn authed(cli: &Cli) -> Result<Client, Fail> {
    let client = Client::new(&cli.server).map_err(Fail::from)?;
    let token = load_token(&cli.server).ok_or(Fail::NotLoggedIn)?;
    client.set_token(&token);
    Ok(client)
}

async fn watch_order(client: &Client, token_id: &str, json: bool) -> Result<wire::Order, Fail> {
    let mut stream = client.stream().await?;
    stream.subscribe_orders().await?;
    let started = Instant::now();
    let mut last = client.order(token_id).await?;
    loop {
        if !last.status.is_open() {
            break;
        }
        tokio::select! {
            m = stream.next() => match m {
                Some(Ok(ServerMessage::Order { order, .. })) if order.token_id == token_id => last = *order,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Fail::NotLoggedIn),
            },
            _ = tokio::signal::ctrl_c() => {
                eprint!("\ncancel order {token_id}? [y/N] ");
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                if line.trim().eq_ignore_ascii_case("y") {
                    return Ok(client.cancel(token_id).await?);
                }
            }
        }
        if !json {
            let q: f64 = last.quantity.to_string().parse().unwrap_or(1.0);
            let f: f64 = last.filled_quantity.to_string().parse().unwrap_or(0.0);
            let width = 30usize;
            let done = ((f / q.max(f64::MIN_POSITIVE)) * width as f64)
                .round()
                .clamp(0.0, width as f64) as usize;
            eprint!(
                "\r[{}{}] {}/{}  {:>5.0}s/{}s  avg {}  slippage {} bps   ",
                "#".repeat(done),
                " ".repeat(width - done),
                last.filled_quantity,
                last.quantity,
                started.elapsed().as_secs_f64(),
                last.duration_secs,
                opt(&last.avg_price),
                opt(&last.analytics.slippage_vs_arrival_bps)
            );
        }
    }
    if !json {
        eprintln!();
    }
    Ok(client.order(token_id).await?)
}

async fn run(cli: Cli) -> Result<(), Fail> {
    let json = cli.json;
    match &cli.command {
        Command::Login {
            user,
            password,
            password_stdin,
        } => {
            let pw = match (password, password_stdin) {
                (Some(p), false) => p.clone(),
                (None, true) => {
                    let mut l = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut l)
                        .map_err(|e| Fail::Usage(e.to_string()))?;
                    l.trim_end_matches(['\n', '\r']).to_owned()
                }
                _ => return Err(Fail::Usage("give --password PW or --password-stdin".into())),
            };
            let client = Client::new(&cli.server)?;
            client.login(user, &pw).await.map_err(|e| match e {
                Error::Api {
                    status: 401,
                    detail,
                    ..
                } => Fail::Api(detail),
                other => other.into(),
            })?;
            let token = client.token().await?;
            let path = save_token(&cli.server, &token)
                .map_err(|e| Fail::Usage(format!("saving the token: {e}")))?;
            if json {
                print_json(&serde_json::json!({"user": user, "token_file": path}));
            } else {
                out!("logged in as {user}; token saved in {}", path.display());
            }
        }
        Command::Exchanges => {
            let v = Client::new(&cli.server)?.exchanges().await?;
            if json {
                print_json(&v);
            } else {
                out!(
                    "{:<10} {:<12} {:<11} {:>8}  LAST ERROR",
                    "ID",
                    "NAME",
                    "STATUS",
                    "SYMBOLS"
                );
                for e in v {
                    out!(
                        "{:<10} {:<12} {:<11} {:>8}  {}",
                        e.id,
                        e.name,
                        e.status,
                        e.symbols,
                        e.last_error.unwrap_or_default()
                    );
                }
            }
        }
        Command::Pairs { exchange, quote } => {
            let v = Client::new(&cli.server)?
                .pairs(exchange, quote.as_deref())
                .await?;
            if json {
                print_json(&v);
            } else {
                out!(
                    "{:<12} {:<14} {:<10} {:>12} {:>12} {:>12}",
                    "SYMBOL",
                    "NATIVE",
                    "STATUS",
                    "TICK",
                    "STEP",
                    "MIN QTY"
                );
                for p in v {
                    out!(
                        "{:<12} {:<14} {:<10} {:>12} {:>12} {:>12}",
                        p.symbol,
                        p.exchange_symbol,
                        p.status,
                        p.price_tick,
                        p.qty_step,
                        p.min_qty
                    );
                }
            }
        }
        Command::Klines {
            exchange,
            symbol,
            interval,
            limit,
        } => {
            let q = wire::KlinesQuery {
                interval: Some(interval.clone()),
                limit: Some(*limit),
                start: None,
                end: None,
            };
            let v = Client::new(&cli.server)?
                .klines(exchange, symbol, &q)
                .await?;
            if json {
                print_json(&v);
            } else {
                out!(
                    "{:<22} {:>12} {:>12} {:>12} {:>12} {:>14}",
                    "OPEN TIME",
                    "OPEN",
                    "HIGH",
                    "LOW",
                    "CLOSE",
                    "VOLUME"
                );
                for k in v {
                    out!(
                        "{:<22} {:>12} {:>12} {:>12} {:>12} {:>14}{}",
                        k.open_time.format("%Y-%m-%d %H:%M:%S"),
                        k.open,
                        k.high,
                        k.low,
                        k.close,
                        k.volume,
                        if k.closed { "" } else { "  (open)" }
                    );
                }
            }
        }
        Command::Book {
            exchange,
            symbol,
            depth,
            watch,
            seconds,
        } => {
            let client = Client::new(&cli.server)?;
            if !watch {
                let b = client.order_book(exchange, symbol, *depth).await?;
                if json {
                    print_json(&b)
                } else {
                    outp!("{}", ladder(&b))
                }
                return Ok(());
            }
            let client = match load_token(&cli.server) {
                Some(t) => {
                    client.set_token(&t);
                    client
                }
                None => return Err(Fail::NotLoggedIn),
            };
            let mut stream = client.stream().await?;
            stream
                .subscribe_book(BookChannel {
                    exchange: exchange.clone(),
                    symbol: symbol.clone(),
                    depth: *depth,
                    interval_ms: 1_000,
                })
                .await?;
            let end = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
            loop {
                let next = async {
                    match end {
                        Some(e) => tokio::time::timeout_at(e, stream.next())
                            .await
                            .ok()
                            .flatten(),
                        None => stream.next().await,
                    }
                };
                tokio::select! {
                    m = next => match m {
                        Some(Ok(ServerMessage::Book(b))) => {
                            if json { out!("{}", serde_json::to_string(&b).unwrap_or_default()) } else { outp!("\x1b[2J\x1b[H{}", ladder(&b)) }
                            let _ = std::io::stdout().flush();
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.into()),
                        None => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
        Command::Twap {
            action:
                TwapAction::Submit {
                    exchange,
                    symbol,
                    side,
                    quantity,
                    duration,
                    interval,
                    limit_price,
                    catch_up,
                    token_id,
                    watch,
                },
        } => {
            let client = authed(&cli).await?;
            let token_id = token_id.clone().unwrap_or_else(|| {
                format!(
                    "cli-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                )
            });
            let req = wire::TwapRequest {
                token_id: token_id.clone(),
                exchange: exchange.clone(),
                symbol: symbol.clone(),
                side: Some(side.clone()),
                quantity: *quantity,
                limit_price: *limit_price,
                duration_secs: Some(*duration),
                interval_secs: Some(*interval),
                slices: None,
                start_time: None,
                end_time: None,
                catch_up: catch_up.clone(),
            };
            let o = client.submit(&req).await?;
            let o = if *watch {
                watch_order(&client, &token_id, json).await?
            } else {
                o
            };
            if json {
                print_json(&o);
            } else {
                out!("{}", order_line(&o));
                let a = &o.analytics;
                out!(
                    "arrival mid {}  slippage vs arrival {} bps  market TWAP {}  vs TWAP {} bps  fees {}",
                    opt(&a.arrival_mid),
                    opt(&a.slippage_vs_arrival_bps),
                    opt(&a.market_twap),
                    opt(&a.slippage_vs_market_twap_bps),
                    o.fees
                );
            }
        }
        Command::Orders { status, limit } => {
            let client = authed(&cli).await?;
            let v = client
                .orders(&wire::OrdersQuery {
                    status: Some(status.clone()),
                    limit: Some(*limit),
                    ..Default::default()
                })
                .await?;
            if json {
                print_json(&v);
            } else {
                out!(
                    "{:<24} {:<8} {:<10} {:<4} {:>12} {:>12} {:>9} {:>14} SLICES",
                    "TOKEN ID",
                    "EXCHANGE",
                    "SYMBOL",
                    "SIDE",
                    "QUANTITY",
                    "FILLED",
                    "STATUS",
                    "AVG PRICE"
                );
                for o in &v {
                    out!("{}", order_line(o));
                }
            }
        }
        Command::Order { token_id } => {
            let o = authed(&cli).await?.order(token_id).await?;
            if json {
                print_json(&o);
            } else {
                out!("{}", order_line(&o));
                for s in o.slices.iter().flatten() {
                    out!(
                        "  #{:<4} {}  target {:>10}  filled {:>10}  at {:>14}  {}",
                        s.index,
                        s.scheduled_at.format("%H:%M:%S"),
                        s.target_quantity,
                        s.filled_quantity,
                        opt(&s.avg_price),
                        s.skipped
                            .map(|r| r.as_str())
                            .or(s.short_reason.map(|r| r.as_str()))
                            .unwrap_or_default()
                    );
                }
            }
        }
        Command::Cancel { token_id } => {
            let o = authed(&cli).await?.cancel(token_id).await?;
            if json {
                print_json(&o)
            } else {
                out!("{}", order_line(&o))
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Api(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
        Err(Fail::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Server(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(3)
        }
        Err(Fail::NotLoggedIn) => {
            eprintln!("error: not logged in (or the token expired): run `papertwap login`");
            ExitCode::from(4)
        }
    }
}
