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
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

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
mod args;
mod export;
mod lab;
mod orders;
mod parquet_sink;
mod render;
mod tape;
mod tokens;

use args::{Cli, Command, OrderAction, TwapAction};
use render::{Fmts, bps, ladder, order_header, order_line, print_json, trade_line, trades_header};
use tokens::{load_token, save_token};

use papertwap_client::wire::{self, ServerMessage};
use papertwap_client::{BookChannel, Client, Error};

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

/// A client order id for an order submitted without one.
fn generated_token_id() -> String {
    format!(
        "cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    )
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
    let fmt = Fmts::default()
        .get(client, &last.exchange, &last.symbol)
        .await;
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
                fmt.qty(last.filled_quantity),
                fmt.qty(last.quantity),
                started.elapsed().as_secs_f64(),
                last.duration_secs,
                fmt.avg(last.avg_price),
                bps(last.analytics.slippage_vs_arrival_bps)
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
        Command::Tape { action } => tape::run(action, json)?,
        Command::Whatif(a) => lab::whatif(&authed(&cli).await?, a, json).await?,
        Command::Backtest { action } => lab::backtest(&authed(&cli).await?, action, json).await?,
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
        Command::Trades {
            exchange,
            symbol,
            limit,
            watch,
            seconds,
        } => {
            let client = Client::new(&cli.server)?;
            let q = wire::TradesQuery {
                limit: Some(*limit),
                ..Default::default()
            };
            let recent = client.trades(exchange, symbol, &q).await?;
            let fmt = Fmts::default().get(&client, exchange, symbol).await;
            if json && !watch {
                print_json(&recent);
                return Ok(());
            }
            if !json {
                out!("{}", trades_header());
            }
            let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
            for t in &recent {
                seen.insert(t.trade_id.clone());
                if json {
                    out!("{}", serde_json::to_string(t).unwrap_or_default());
                } else {
                    out!("{}", trade_line(t, fmt));
                }
            }
            if !watch {
                return Ok(());
            }
            let Some(token) = load_token(&cli.server) else {
                return Err(Fail::NotLoggedIn);
            };
            client.set_token(&token);
            let mut stream = client.stream().await?;
            stream.subscribe_trades(exchange, symbol, None).await?;
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
                        Some(Ok(ServerMessage::Trades(batch))) => {
                            for t in &batch.trades {
                                // The REST history and the stream may overlap by a few.
                                if !seen.insert(t.trade_id.clone()) {
                                    continue;
                                }
                                if json { out!("{}", serde_json::to_string(t).unwrap_or_default()) } else { out!("{}", trade_line(t, fmt)) }
                            }
                            if seen.len() > 10_000 {
                                seen.clear();
                            }
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
                    outp!(
                        "{}",
                        ladder(&b, Fmts::default().get(&client, exchange, symbol).await)
                    )
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
            let fmt = Fmts::default().get(&client, exchange, symbol).await;
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
                            if json { out!("{}", serde_json::to_string(&b).unwrap_or_default()) } else { outp!("\x1b[2J\x1b[H{}", ladder(&b, fmt)) }
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
            let token_id = token_id.clone().unwrap_or_else(generated_token_id);
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
                let f = Fmts::default().get(&client, &o.exchange, &o.symbol).await;
                orders::print(&o, f, false);
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
                out!("{}", order_header());
                let mut fmts = Fmts::default();
                for o in &v {
                    let f = fmts.get(&client, &o.exchange, &o.symbol).await;
                    out!("{}", order_line(o, f));
                }
            }
        }
        Command::Preview(spec) => {
            let client = authed(&cli).await?;
            let p = client.preview(&orders::request(spec, None)).await?;
            if json {
                print_json(&p);
            } else {
                let f = Fmts::default().get(&client, &p.exchange, &p.symbol).await;
                orders::preview(&p, f);
            }
        }
        Command::Order {
            action:
                Some(OrderAction::Submit {
                    spec,
                    token_id,
                    watch,
                }),
            ..
        } => {
            let client = authed(&cli).await?;
            let token_id = token_id.clone().unwrap_or_else(generated_token_id);
            let o = client
                .submit_order(&orders::request(spec, Some(token_id.clone())))
                .await?;
            let o = if *watch {
                watch_order(&client, &token_id, json).await?
            } else {
                o
            };
            if json {
                print_json(&o);
            } else {
                let f = Fmts::default().get(&client, &o.exchange, &o.symbol).await;
                orders::print(&o, f, false);
            }
        }
        Command::Order {
            token_id: None,
            action: None,
        } => {
            return Err(Fail::Usage(
                "give an order's token id, or `submit` and its flags".to_owned(),
            ));
        }
        Command::Order {
            token_id: Some(token_id),
            action: None,
        } => {
            let client = authed(&cli).await?;
            let o = client.order(token_id).await?;
            if json {
                print_json(&o);
            } else {
                let f = Fmts::default().get(&client, &o.exchange, &o.symbol).await;
                orders::print(&o, f, true);
            }
        }
        Command::Cancel { token_id } => {
            let client = authed(&cli).await?;
            let o = client.cancel(token_id).await?;
            if json {
                print_json(&o)
            } else {
                let f = Fmts::default().get(&client, &o.exchange, &o.symbol).await;
                out!("{}", order_line(&o, f))
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
