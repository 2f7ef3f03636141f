//! Orders of any strategy from flags, and how they, their cost analysis and previews print.

use std::io::Write;

use papertwap_client::wire;

use crate::args::OrderSpec;
use crate::render::{Fmt, bps, order_line};

/// The `POST /orders` body the flags describe.
pub(crate) fn request(spec: &OrderSpec, token_id: Option<String>) -> wire::OrderRequest {
    let strategy = wire::Strategy::parse(&spec.strategy).unwrap_or(wire::Strategy::Twap);
    wire::OrderRequest {
        token_id,
        strategy: Some(strategy),
        exchange: spec.exchange.clone(),
        symbol: spec.symbol.clone(),
        side: spec.side.clone(),
        quantity: spec.quantity,
        limit_price: spec.limit_price,
        duration_secs: Some(spec.duration),
        interval_secs: Some(spec.interval),
        slices: None,
        start_time: None,
        end_time: None,
        catch_up: spec.catch_up.clone(),
        jitter: spec.jitter_seed.map(|seed| wire::Jitter {
            seed,
            time_pct: spec.jitter_time_pct,
            size_pct: spec.jitter_size_pct,
        }),
        profile_days: spec.profile_days,
        participation: spec.participation,
        max_slice_qty: spec.max_slice_qty,
        latency_ms: spec.latency_ms,
    }
}

/// A ratio as a percentage with `dp` decimals.
fn pct(r: rust_decimal::Decimal, dp: u32) -> String {
    let p = (r * rust_decimal::Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{p:.prec$}", prec = dp as usize)
}

/// An order: its row, its analytics and (`slices`) each slice.
pub(crate) fn print(o: &wire::Order, f: Fmt, slices: bool) {
    out!("{}", order_line(o, f));
    out!("{}", analytics(o, f));
    if !slices {
        return;
    }
    for s in o.slices.iter().flatten() {
        out!(
            "  #{:<4} {}  target {:>14}  filled {:>14}  at {:>16}  {}",
            s.index,
            s.scheduled_at.format("%H:%M:%S"),
            f.qty(s.target_quantity),
            f.qty(s.filled_quantity),
            f.avg(s.avg_price),
            s.skipped
                .map(|r| r.as_str())
                .or(s.short_reason.map(|r| r.as_str()))
                .unwrap_or_default()
        );
    }
}

/// The analytics of an order, benchmarks first, then the shortfall's parts.
pub(crate) fn analytics(o: &wire::Order, f: Fmt) -> String {
    let a = &o.analytics;
    let mut s = format!(
        "{} {}  arrival mid {}  vs arrival {} bps  market TWAP {}  vs TWAP {} bps  market VWAP {}  vs VWAP {} bps  participation {}  fees {}",
        o.strategy,
        if o.latency_ms > 0 {
            format!("(latency {} ms)", o.latency_ms)
        } else {
            String::new()
        },
        f.avg(a.arrival_mid),
        bps(a.slippage_vs_arrival_bps),
        f.avg(a.market_twap),
        bps(a.slippage_vs_market_twap_bps),
        f.avg(a.market_vwap),
        bps(a.slippage_vs_market_vwap_bps),
        a.participation_rate
            .map_or_else(|| "-".to_owned(), |p| format!("{} %", pct(p, 2))),
        f.quote(o.fees)
    );
    if let Some(by) = &a.by_venue {
        for (venue, v) in by {
            s.push_str(&format!(
                "\n  {venue:<10} filled {:>14}  avg {:>16}  fees {}",
                f.qty(v.filled_quantity),
                f.avg(v.avg_price),
                f.quote(v.fees)
            ));
        }
    }
    let m = &a.markouts_bps;
    s.push_str(&format!(
        "\nmarkouts (bps, + = good)  1s {}  5s {}  30s {}  60s {}",
        bps(m.s1),
        bps(m.s5),
        bps(m.s30),
        bps(m.s60)
    ));
    if let (Some(q), Some(b)) = (&a.implementation_shortfall, &a.implementation_shortfall_bps) {
        s.push_str(&format!(
            "\nimplementation shortfall {:>18} {:>10}",
            "quote", "bps"
        ));
        for (name, v, x) in [
            ("delay", q.delay_cost, b.delay_cost),
            ("spread", q.spread_cost, b.spread_cost),
            ("impact", q.impact_cost, b.impact_cost),
            ("timing", q.timing_cost, b.timing_cost),
            ("opportunity", q.opportunity_cost, b.opportunity_cost),
            ("fees", q.fees, b.fees),
            ("total", q.total, b.total),
        ] {
            s.push_str(&format!(
                "\n  {name:<22} {:>18} {:>10}",
                f.quote(v),
                bps(Some(x))
            ));
        }
    }
    s
}

/// A preview: its schedule, totals and estimates.
pub(crate) fn preview(p: &wire::Preview, f: Fmt) {
    out!(
        "{} {} {}  mid {}",
        p.strategy,
        p.exchange,
        p.symbol,
        f.avg(p.mid)
    );
    out!(
        "{:>5} {:<20} {:>14} {:>16} {:>10} {:>12} {:>8}{}",
        "#",
        "at",
        "target",
        "exp. VWAP",
        "cost bps",
        "fee",
        "fillable",
        if p.volume_profile.is_some() {
            "    share"
        } else {
            ""
        }
    );
    for s in &p.schedule {
        let share = p
            .volume_profile
            .as_ref()
            .and_then(|v| v.get(s.index as usize))
            .map_or(String::new(), |x| {
                format!(" {:>8}", format!("{}%", pct(*x, 2)))
            });
        out!(
            "{:>5} {:<20} {:>14} {:>16} {:>10} {:>12} {:>8}{}",
            s.index,
            s.scheduled_at.format("%Y-%m-%d %H:%M:%S"),
            f.qty(s.target_quantity),
            f.avg(s.expected_vwap),
            bps(s.expected_cost_bps),
            f.quote(s.expected_fee),
            format!("{}%", pct(s.fillable_ratio, 1)),
            share
        );
    }
    let t = &p.totals;
    out!(
        "total {}  expected VWAP {}  cost {} bps  fees {}  fillable {} %",
        f.qty(t.quantity),
        f.avg(t.expected_vwap),
        bps(t.expected_cost_bps),
        f.quote(t.expected_fees),
        pct(t.fillable_ratio, 1)
    );
    for e in &p.estimates {
        out!(
            "estimate {:<16} {:>10} bps  {:>16} quote  ({})",
            e.method,
            bps(e.cost_bps),
            e.cost.map_or_else(|| "-".to_owned(), |c| f.quote(c)),
            e.note
        );
    }
}
