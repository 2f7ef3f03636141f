//! The lab from the command line: what-ifs and backtests, their runs side by side.

use std::io::Write;

use papertwap_client::{Client, wire};

use crate::Fail;
use crate::args::{BacktestAction, Changes, WhatIfArgs};
use crate::render::{Fmt, Fmts, bps, print_json};
use crate::tape::parse_utc;

/// The changes the flags describe.
fn changes(c: &Changes) -> Result<wire::WhatIfRequest, Fail> {
    Ok(wire::WhatIfRequest {
        interval_secs: c.interval,
        slices: c.slices,
        duration_secs: c.duration,
        start_time: c
            .start
            .as_deref()
            .map(|t| parse_utc(t, "--start"))
            .transpose()?,
        end_time: c
            .end
            .as_deref()
            .map(|t| parse_utc(t, "--end"))
            .transpose()?,
        catch_up: c.catch_up.clone(),
        limit_price: if c.no_limit {
            Some(None)
        } else {
            c.limit_price.map(Some)
        },
        strategy: c.strategy.as_deref().and_then(wire::Strategy::parse),
        jitter: None,
        profile_days: c.profile_days,
        participation: c.participation,
        max_slice_qty: c.max_slice_qty,
        latency_ms: c.latency_ms,
    })
}

/// The figures a comparison shows, one row each: (label, value per run).
fn rows(runs: &[&wire::Order], f: Fmt) -> Vec<(&'static str, Vec<String>)> {
    let is_bps = |o: &wire::Order| {
        o.analytics
            .implementation_shortfall_bps
            .as_ref()
            .map(|s| s.total)
    };
    let field = |g: &dyn Fn(&wire::Order) -> String| runs.iter().map(|o| g(o)).collect();
    vec![
        ("strategy", field(&|o| o.strategy.to_string())),
        ("status", field(&|o| o.status.to_string())),
        ("slices", field(&|o| o.slices_total.to_string())),
        ("filled", field(&|o| f.qty(o.filled_quantity))),
        ("avg price", field(&|o| f.avg(o.avg_price))),
        (
            "vs arrival bps",
            field(&|o| bps(o.analytics.slippage_vs_arrival_bps)),
        ),
        ("shortfall bps", field(&|o| bps(is_bps(o)))),
        ("fees", field(&|o| f.quote(o.fees))),
    ]
}

fn table(heads: &[String], rows: &[(&'static str, Vec<String>)]) {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.1.get(i).map_or(0, String::len))
            .chain([heads.get(i).map_or(0, String::len)])
            .max()
            .unwrap_or(0)
    };
    let mut line = format!("{:<16}", "");
    for (i, h) in heads.iter().enumerate() {
        line.push_str(&format!(" {h:>w$}", w = width(i)));
    }
    out!("{line}");
    for (label, values) in rows {
        let mut line = format!("{label:<16}");
        for (i, v) in values.iter().enumerate() {
            line.push_str(&format!(" {v:>w$}", w = width(i)));
        }
        out!("{line}");
    }
}

/// `papertwap whatif TOKEN_ID [changes]`.
pub(crate) async fn whatif(client: &Client, a: &WhatIfArgs, json: bool) -> Result<(), Fail> {
    let req = changes(&a.changes)?;
    let w = client.whatif(&a.token_id, &req).await?;
    if json {
        print_json(&w);
        return Ok(());
    }
    let original = client.order(&a.token_id).await?;
    let changed = serde_json::to_string(&w.overrides).unwrap_or_default();
    out!(
        "{} re-run on its recorded market with {changed}: {}",
        a.token_id,
        if w.reproduces_original {
            "reproduces the original fill for fill"
        } else {
            "differs from the original"
        }
    );
    let f = Fmts::default()
        .get(client, &original.exchange, &original.symbol)
        .await;
    table(
        &["original".to_owned(), "what-if".to_owned()],
        &rows(&[&original, &w.order], f),
    );
    Ok(())
}

async fn show(client: &Client, b: &wire::Backtest) {
    let f = Fmts::default()
        .get(client, &b.request.order.exchange, &b.request.order.symbol)
        .await;
    out!(
        "{}  {} {} {}  {} – {}",
        b.id,
        b.request.order.exchange,
        b.request.order.symbol,
        b.request.order.side,
        b.window.start.format("%Y-%m-%d %H:%M:%S"),
        b.window.end.format("%H:%M:%S")
    );
    let heads: Vec<String> = b
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i == 0 {
                "base".to_owned()
            } else {
                serde_json::to_string(&r.variant).unwrap_or_default()
            }
        })
        .collect();
    let runs: Vec<&wire::Order> = b.results.iter().map(|r| &r.order).collect();
    table(&heads, &rows(&runs, f));
}

/// `papertwap backtest run|ls|show`.
pub(crate) async fn backtest(
    client: &Client,
    action: &BacktestAction,
    json: bool,
) -> Result<(), Fail> {
    match action {
        BacktestAction::Run {
            spec,
            start,
            variants,
        } => {
            let mut order = crate::orders::request(spec, None);
            order.start_time = Some(parse_utc(start, "--start")?);
            let variants = variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_str(v).map_err(|e| {
                        Fail::Usage(format!("--variant #{i}: `{v}` is not a what-if: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let b = client
                .backtest(&wire::BacktestRequest { order, variants })
                .await?;
            if json {
                print_json(&b);
            } else {
                show(client, &b).await;
            }
        }
        BacktestAction::Ls { limit } => {
            let v = client
                .backtests(&wire::BacktestsQuery {
                    limit: Some(*limit),
                    offset: None,
                })
                .await?;
            if json {
                print_json(&v);
                return Ok(());
            }
            out!(
                "{:<19} {:<20} {:<8} {:<10} {:<4} {:>5}",
                "ID",
                "CREATED",
                "EXCHANGE",
                "SYMBOL",
                "SIDE",
                "RUNS"
            );
            for b in &v {
                out!(
                    "{:<19} {:<20} {:<8} {:<10} {:<4} {:>5}",
                    b.id,
                    b.created_at.format("%Y-%m-%d %H:%M:%S"),
                    b.request.order.exchange,
                    b.request.order.symbol,
                    b.request.order.side,
                    b.results.len()
                );
            }
        }
        BacktestAction::Show { id } => {
            let b = client.backtest_by_id(id).await?;
            if json {
                print_json(&b);
            } else {
                show(client, &b).await;
            }
        }
    }
    Ok(())
}
