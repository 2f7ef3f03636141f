//! Engine scale: N concurrent TWAPs on the simulated exchange, slices persisted to SQLite,
//! and the slice timing error measured from the engine's own records.
//!
//! `cargo run --release -p papertwap-tools --bin engine-load -- --orders 10000 --slices 30`
//!
//! Timing error of a slice = executed_at − scheduled_at (how late the engine ran it);
//! publish lag = when the update reached a subscriber (after its database commit) −
//! scheduled_at.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use engine::{CatchUp, Clock, OrderRequest, Strategy, SubmitOutcome, Timing};
use market::{Exchange, Hub, HubConfig};
use model::{ExchangeId, Side, Timestamp};
use papertwap_tools::{percentiles, rss_mb};
use rust_decimal::Decimal;
use sim::{SimConfig, SimExchange};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
struct Args {
    /// Concurrent orders.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Slices per order (1 s apart).
    #[arg(long, default_value_t = 30)]
    slices: u64,
    /// Start every order at the same instant (worst case) instead of spreading the starts
    /// over one second.
    #[arg(long)]
    aligned: bool,
    /// Store URL: SQLite (default: a temporary file) or PostgreSQL.
    #[arg(long)]
    store: Option<String>,
    /// Live books the orders spread over (the sim's 4 markets, plus synthetic copies of
    /// BTC-USDT named S001-USDT…).
    #[arg(long, default_value_t = 4)]
    books: usize,
    /// Milliseconds from the start of the submissions to the first slice: every order must
    /// be accepted by then (the tool fails otherwise).
    #[arg(long, default_value_t = 15_000)]
    lead_ms: u64,
    /// Also print the publish lag per second of the run (p50 / p99 / max of the slices due
    /// in that second), to see when a lag builds up.
    #[arg(long)]
    timeline: bool,
    /// On PostgreSQL: run as one instance of a cluster, as the server does there (the
    /// symbols leased, every slice write fenced, every commit notified).
    #[arg(long)]
    cluster: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let url = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    let store = store::Store::connect(&url).await?;
    let hash = "x".to_owned();
    let uid = store
        .add_user("load", &hash, "premium")
        .await?
        .context("user exists")?;
    let shutdown = CancellationToken::new();
    let (specs, symbols) = papertwap_tools::sim_books(args.books);
    let sim: Arc<dyn Exchange> = Arc::new(SimExchange::with_specs(
        SimConfig::default(),
        specs,
        Timestamp::now(),
    )?);
    let hub = Hub::start(HubConfig::default(), vec![sim], shutdown.child_token());
    hub.pairs_within(ExchangeId::Sim, Duration::from_secs(10))
        .await?;
    let mut watches = Vec::new();
    for s in &symbols {
        let mut w = hub.watch(ExchangeId::Sim, s)?;
        let _ = w
            .wait_for(Duration::from_secs(10), |b| b.health.is_tradeable())
            .await;
        watches.push(w);
    }
    let orders = papertwap_server::ports::StoreOrders(store.clone());
    let cluster = args
        .cluster
        .then(|| papertwap_server::cluster::Cluster::new(store.clone(), "engine-load", 5_000));
    let (order_store, ownership): (Arc<dyn engine::OrderStore>, Arc<dyn engine::Ownership>) =
        match &cluster {
            Some(c) => (
                Arc::new(papertwap_server::cluster::FencedOrders {
                    orders,
                    cluster: c.clone(),
                }),
                c.clone(),
            ),
            None => (Arc::new(orders), Arc::new(engine::Alone)),
        };
    let (handle, task) = engine::runner::start_with(
        order_store,
        Arc::new(papertwap_server::ports::HubBooks(hub.clone())),
        ownership,
        engine::EngineConfig {
            fees: [(ExchangeId::Sim, Decimal::from(10))].into(),
            limits: engine::Limits::default(),
        },
        Clock::system(),
        shutdown.child_token(),
    )
    .await?;
    if let Some(c) = &cluster {
        papertwap_server::cluster::spawn(c.clone(), handle.clone(), shutdown.child_token());
    }
    let clock = handle.clock();
    let expected = args.orders * args.slices as usize;
    // Collect concurrently from the start, so submissions never fill the channel.
    let mut updates = handle.subscribe();
    let limit = Duration::from_secs(args.slices + 90);
    let print_rss = args.timeline;
    let collector = tokio::spawn(async move {
        let mut exec_ms = Vec::with_capacity(expected);
        let mut publish_ms = Vec::with_capacity(expected);
        // (scheduled second, publish lag) for the per-second timeline.
        let mut by_second: Vec<(i64, f64)> = Vec::with_capacity(expected);
        let mut short = 0usize;
        let mut peak_rss: f64 = 0.0;
        let deadline = tokio::time::Instant::now() + limit;
        while exec_ms.len() < expected {
            let u = tokio::select! {
                u = updates.recv() => u,
                _ = tokio::time::sleep_until(deadline) => anyhow::bail!("only {} of {expected} slices within the time limit", exec_ms.len()),
            };
            let u = match u {
                Ok(u) => u,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    anyhow::bail!("the measuring subscriber lagged by {n}")
                }
                Err(e) => return Err(e.into()),
            };
            let Some(s) = &u.slice else { continue };
            let now = clock.now();
            exec_ms.push(
                s.executed_at.millis_since(s.scheduled_at) as f64
                    + nanos_frac(s.executed_at, s.scheduled_at),
            );
            publish_ms.push(now.millis_since(s.scheduled_at) as f64);
            by_second.push((
                s.scheduled_at.as_nanos() / 1_000_000_000,
                now.millis_since(s.scheduled_at) as f64,
            ));
            if s.short.is_some() {
                short += 1;
            }
            if exec_ms.len() % 20_000 == 0 {
                let rss = rss_mb().unwrap_or(0.0);
                peak_rss = peak_rss.max(rss);
                if print_rss {
                    println!("  {:>7} slices in: RSS {rss:.0} MB", exec_ms.len());
                }
            }
        }
        peak_rss = peak_rss.max(rss_mb().unwrap_or(0.0));
        Ok((exec_ms, publish_ms, short, peak_rss, by_second))
    });
    // Every order is accepted before the first slice is due, so that the timing measured is
    // the engine's steady state, not the submissions competing with the first slices (the
    // submission rate is reported on its own).
    let lead = i64::try_from(args.lead_ms).unwrap_or(i64::MAX);
    let first = clock.now().plus_millis(lead);
    let submitted_at = std::time::Instant::now();
    for i in 0..args.orders {
        let symbol = &symbols[i % symbols.len()];
        let pair = hub.resolve(ExchangeId::Sim, symbol)?;
        let offset = if args.aligned {
            0
        } else {
            (i as i64 * 1_000) / args.orders as i64
        };
        // Two lots per slice, or the lots that make a slice worth twice the pair's minimum
        // notional at the current mid (the engine checks it, as for any order).
        let lot = pair.min_qty.max(pair.qty_step);
        let mid = hub
            .snapshot(ExchangeId::Sim, symbol)
            .ok()
            .and_then(|s| s.book.mid())
            .map(|m| m.get())
            .unwrap_or(Decimal::ONE);
        let lots = pair
            .min_notional
            .map(|n| (n * Decimal::TWO / (mid * lot)).ceil())
            .unwrap_or(Decimal::ZERO)
            .max(Decimal::TWO);
        let qty = (lot * lots * Decimal::from(args.slices)).normalize();
        let req = OrderRequest {
            token_id: format!("load-{i}").parse()?,
            exchange: ExchangeId::Sim,
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            quantity: qty,
            limit_price: None,
            timing: Timing::DurationSlices {
                duration_secs: args.slices,
                slices: args.slices,
            },
            start_time: Some(first.plus_millis(offset)),
            catch_up: CatchUp::Spread,
            strategy: Strategy::default(),
            latency_ms: 0,
            route: None,
        };
        let sub = engine::Submission {
            user_id: uid,
            request: req,
            pair,
            fingerprint: format!("load-{i}"),
        };
        match handle.submit(sub).await? {
            SubmitOutcome::Created(_) => {}
            other => anyhow::bail!("unexpected submit outcome {other:?}"),
        }
    }
    let took = submitted_at.elapsed();
    anyhow::ensure!(
        clock.now() < first,
        "submitting took {:.2} s, past the first slice: raise --lead-ms",
        took.as_secs_f64()
    );
    println!(
        "submitted {} orders in {:.2} s ({:.0} orders/s); {} slices each, 1 s apart, starts {}",
        args.orders,
        took.as_secs_f64(),
        args.orders as f64 / took.as_secs_f64(),
        args.slices,
        if args.aligned {
            "aligned"
        } else {
            "spread over 1 s"
        }
    );
    let (exec_ms, publish_ms, short, peak_rss, by_second) = collector.await??;
    let (p50, p99, max) = percentiles(&exec_ms);
    let (q50, q99, qmax) = percentiles(&publish_ms);
    println!(
        "slices: {} ({} short of target for lack of depth after paper consumption)",
        exec_ms.len(),
        short
    );
    println!(
        "timing error (executed − scheduled): p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
    println!(
        "publish lag (stored and published − scheduled): p50 {q50:.2} ms, p99 {q99:.2} ms, max {qmax:.2} ms"
    );
    println!("peak RSS {peak_rss:.0} MB (hub, engine, SQLite, this tool)");
    if args.timeline {
        timeline(by_second);
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    store.close().await;
    drop(watches);
    Ok(())
}

/// Publish lag per scheduled second.
fn timeline(mut by_second: Vec<(i64, f64)>) {
    by_second.sort_by_key(|(s, _)| *s);
    let Some(first) = by_second.first().map(|(s, _)| *s) else {
        return;
    };
    for group in by_second.chunk_by(|a, b| a.0 == b.0) {
        let lags: Vec<f64> = group.iter().map(|(_, l)| *l).collect();
        let (p50, p99, max) = percentiles(&lags);
        println!(
            "  second {:>3}: {:>6} slices, publish lag p50 {p50:.0} / p99 {p99:.0} / max {max:.0} ms",
            group[0].0 - first,
            lags.len()
        );
    }
}

/// Sub-millisecond part of `a − b`, for finer percentiles.
fn nanos_frac(a: Timestamp, b: Timestamp) -> f64 {
    ((a.as_nanos() - b.as_nanos()) % 1_000_000) as f64 / 1e6
}
