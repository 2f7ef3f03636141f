//! Orders of any strategy from flags, and how they, their cost analysis and previews print.

use std::io::Write;

use papertwap_client::wire;

use crate::args::OrderSpec;
use crate::render::opt;

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

/// The analytics of an order, benchmarks first, then the shortfall's parts.
pub(crate) fn analytics(o: &wire::Order) -> String {
    let a = &o.analytics;
    let mut s = format!(
        "{} {}  arrival mid {}  vs arrival {} bps  market TWAP {}  vs TWAP {} bps  market VWAP {}  vs VWAP {} bps  participation {}  fees {}",
        o.strategy,
        if o.latency_ms > 0 {
            format!("(latency {} ms)", o.latency_ms)
        } else {
            String::new()
        },
        opt(&a.arrival_mid),
        opt(&a.slippage_vs_arrival_bps),
        opt(&a.market_twap),
        opt(&a.slippage_vs_market_twap_bps),
        opt(&a.market_vwap),
        opt(&a.slippage_vs_market_vwap_bps),
        opt(&a.participation_rate),
        o.fees
    );
    if let Some(by) = &a.by_venue {
        for (venue, v) in by {
            s.push_str(&format!(
                "\n  {venue:<10} filled {:>14}  avg {:>16}  fees {}",
                v.filled_quantity,
                opt(&v.avg_price),
                v.fees
            ));
        }
    }
    let m = &a.markouts_bps;
    s.push_str(&format!(
        "\nmarkouts (bps, + = good)  1s {}  5s {}  30s {}  60s {}",
        opt(&m.s1),
        opt(&m.s5),
        opt(&m.s30),
        opt(&m.s60)
    ));
    if let (Some(q), Some(b)) = (&a.implementation_shortfall, &a.implementation_shortfall_bps) {
        s.push_str("\nimplementation shortfall (quote, bps):");
        for (name, v, bps) in [
            ("delay", q.delay_cost, b.delay_cost),
            ("spread", q.spread_cost, b.spread_cost),
            ("impact", q.impact_cost, b.impact_cost),
            ("timing", q.timing_cost, b.timing_cost),
            ("opportunity", q.opportunity_cost, b.opportunity_cost),
            ("fees", q.fees, b.fees),
            ("total", q.total, b.total),
        ] {
            s.push_str(&format!("\n  {name:<12} {v:>18} {bps:>10}"));
        }
    }
    s
}

/// A preview: its schedule, totals and estimates.
pub(crate) fn preview(p: &wire::Preview) {
    out!(
        "{} {} {}  mid {}",
        p.strategy,
        p.exchange,
        p.symbol,
        opt(&p.mid)
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
            .map_or(String::new(), |x| format!(" {x:>8}"));
        out!(
            "{:>5} {:<20} {:>14} {:>16} {:>10} {:>12} {:>8}{}",
            s.index,
            s.scheduled_at.format("%Y-%m-%d %H:%M:%S"),
            s.target_quantity,
            opt(&s.expected_vwap),
            opt(&s.expected_cost_bps),
            s.expected_fee,
            s.fillable_ratio,
            share
        );
    }
    let t = &p.totals;
    out!(
        "total {}  expected VWAP {}  cost {} bps  fees {}  fillable {}",
        t.quantity,
        opt(&t.expected_vwap),
        opt(&t.expected_cost_bps),
        t.expected_fees,
        t.fillable_ratio
    );
    for e in &p.estimates {
        out!(
            "estimate {:<16} {:>10} bps  {:>16} quote  ({})",
            e.method,
            opt(&e.cost_bps),
            opt(&e.cost),
            e.note
        );
    }
}
