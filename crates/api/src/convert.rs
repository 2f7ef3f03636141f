//! `model` → `wire` conversions: the one place where domain types become JSON types.

use chrono::{DateTime, Utc};
use market::{BookSnapshot, ConnState, ExchangeStatus};
use model::{BookHealth, Kline, Level, Pair, Timestamp};

/// A timestamp as a UTC date-time.
pub fn time(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(t.as_nanos())
}

/// Exchange status used by `/exchanges` and `/health`.
pub fn status_word(s: &ExchangeStatus) -> wire::ConnectionStatus {
    match s.connection {
        None => wire::ConnectionStatus::Disabled,
        Some(c) => match c {
            ConnState::Connecting => wire::ConnectionStatus::Connecting,
            ConnState::Connected => wire::ConnectionStatus::Connected,
            ConnState::Down => wire::ConnectionStatus::Down,
            ConnState::Failed => wire::ConnectionStatus::Failed,
        },
    }
}

/// A book state.
pub fn book_state(s: model::BookState) -> wire::BookState {
    match s {
        model::BookState::Syncing => wire::BookState::Syncing,
        model::BookState::Live => wire::BookState::Live,
        model::BookState::Stale => wire::BookState::Stale,
        model::BookState::Resyncing => wire::BookState::Resyncing,
        model::BookState::Down => wire::BookState::Down,
    }
}

/// An order side.
pub fn side(s: model::Side) -> wire::Side {
    match s {
        model::Side::Buy => wire::Side::Buy,
        model::Side::Sell => wire::Side::Sell,
    }
}

/// A catch-up policy.
pub fn catch_up(c: engine::CatchUp) -> wire::CatchUp {
    match c {
        engine::CatchUp::Spread => wire::CatchUp::Spread,
        engine::CatchUp::Next => wire::CatchUp::Next,
        engine::CatchUp::None => wire::CatchUp::None,
    }
}

/// An order status.
pub fn order_status(s: engine::OrderStatus) -> wire::OrderStatus {
    match s {
        engine::OrderStatus::Pending => wire::OrderStatus::Pending,
        engine::OrderStatus::Working => wire::OrderStatus::Working,
        engine::OrderStatus::Filled => wire::OrderStatus::Filled,
        engine::OrderStatus::Expired => wire::OrderStatus::Expired,
        engine::OrderStatus::Cancelled => wire::OrderStatus::Cancelled,
    }
}

/// Why a slice was skipped.
pub fn skip_reason(r: engine::SkipReason) -> wire::SkipReason {
    match r {
        engine::SkipReason::StaleBook => wire::SkipReason::StaleBook,
        engine::SkipReason::NoBook => wire::SkipReason::NoBook,
        engine::SkipReason::CrossedBook => wire::SkipReason::CrossedBook,
        engine::SkipReason::ServerDown => wire::SkipReason::ServerDown,
        engine::SkipReason::Cancelled => wire::SkipReason::Cancelled,
    }
}

/// Why a slice filled short.
pub fn short_reason(r: engine::ShortReason) -> wire::ShortReason {
    match r {
        engine::ShortReason::LimitPrice => wire::ShortReason::LimitPrice,
        engine::ShortReason::Depth => wire::ShortReason::Depth,
    }
}

/// One `/exchanges` entry.
pub fn exchange(s: &ExchangeStatus) -> wire::Exchange {
    wire::Exchange {
        id: s.id.as_str().to_owned(),
        name: s.id.display_name().to_owned(),
        status: status_word(s),
        symbols: s.pairs,
        last_error: s.last_error.clone(),
    }
}

/// One `/health` exchange entry.
pub fn exchange_health(s: &ExchangeStatus) -> wire::ExchangeHealth {
    wire::ExchangeHealth {
        id: s.id.as_str().to_owned(),
        status: status_word(s),
        books: s.books,
        last_error: s.last_error.clone(),
    }
}

/// A pair.
pub fn pair(p: &Pair) -> wire::Pair {
    wire::Pair {
        symbol: p.symbol.to_string(),
        base: p.symbol.base().to_owned(),
        quote: p.symbol.quote().to_owned(),
        exchange_symbol: p.exchange_symbol.clone(),
        ws_symbol: p.ws_symbol.clone(),
        status: p.status.as_str().to_owned(),
        price_tick: p.price_tick.normalize(),
        qty_step: p.qty_step.normalize(),
        min_qty: p.min_qty.normalize(),
        min_notional: p.min_notional.map(|d| d.normalize()),
    }
}

/// A candle.
pub fn kline(k: &Kline) -> wire::Kline {
    wire::Kline {
        open_time: time(k.open_time),
        close_time: time(k.close_time),
        open: k.open.get(),
        high: k.high.get(),
        low: k.low.get(),
        close: k.close.get(),
        volume: k.volume.get(),
        closed: k.closed,
    }
}

/// A public trade.
pub fn trade(t: &model::Trade) -> wire::Trade {
    wire::Trade {
        trade_id: t.trade_id.to_string(),
        exchange_ts: time(t.exchange_ts),
        local_ts: time(t.local_ts),
        price: t.price.get(),
        qty: t.qty.get(),
        taker_side: side(t.taker_side),
    }
}

/// A book's health, `age_ms` computed against `now`.
pub fn health(h: &BookHealth, now: Timestamp) -> wire::BookHealth {
    wire::BookHealth {
        state: book_state(h.state),
        age_ms: h.age_ms(now),
        resyncs: h.resyncs,
        checksum_failures: h.checksum_failures,
        orphan_deletes: h.orphan_deletes,
        crossed: h.crossed,
        checksum_unreliable: h.checksum_unreliable,
        last_error: h.last_error.clone(),
    }
}

fn level(l: &Level) -> wire::BookLevel {
    (l.price.get(), l.qty.get())
}

/// A book snapshot limited to `depth` levels a side.
pub fn order_book(s: &BookSnapshot, depth: usize, now: Timestamp) -> wire::OrderBook {
    let top = s.book.top(depth);
    wire::OrderBook {
        exchange: s.exchange.as_str().to_owned(),
        symbol: s.symbol().to_string(),
        ts: time(s.health.last_update.unwrap_or(now)),
        seq: s.book.seq(),
        bids: top.bids().iter().map(level).collect(),
        asks: top.asks().iter().map(level).collect(),
        health: health(&s.health, now),
    }
}

/// A consolidated book, stamped `ts`.
pub fn consolidated(b: &market::ConsolidatedBook, ts: Timestamp) -> wire::ConsolidatedBook {
    let level = |l: &market::ConsolidatedLevel| {
        (
            l.price.normalize(),
            l.total.normalize(),
            l.venues
                .iter()
                .map(|(e, q)| (e.as_str().to_owned(), q.normalize()))
                .collect(),
        )
    };
    wire::ConsolidatedBook {
        symbol: b.symbol.to_string(),
        ts: time(ts),
        bids: b.bids.iter().map(level).collect(),
        asks: b.asks.iter().map(level).collect(),
        exchanges: b
            .venues
            .iter()
            .map(|(e, h)| (e.as_str().to_owned(), health(h, ts)))
            .collect(),
    }
}

/// An engine slice record as the wire slice.
pub fn slice(s: &engine::SliceRecord) -> wire::Slice {
    wire::Slice {
        index: s.index,
        scheduled_at: time(s.scheduled_at),
        executed_at: time(s.executed_at),
        target_quantity: s.target.normalize(),
        filled_quantity: s.filled.normalize(),
        avg_price: s.avg_price.map(|d| d.normalize()),
        fee: s.fee.normalize(),
        fills: s
            .fills
            .iter()
            .map(|(p, q)| (p.normalize(), q.normalize()))
            .collect(),
        best_bid: s.best_bid.map(|d| d.normalize()),
        best_ask: s.best_ask.map(|d| d.normalize()),
        mid: s.mid.map(|d| d.normalize()),
        book_seq: s.book_seq,
        book_age_ms: s.book_age_ms,
        skipped: s.skipped.map(skip_reason),
        short_reason: s.short.map(short_reason),
        market_volume: s.market_volume.map(|d| d.normalize()),
        markouts_bps: markouts(&s.markouts),
        fill_venues: (!s.fill_venues.is_empty()).then(|| {
            s.fill_venues
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect()
        }),
    }
}

/// Markouts at the four horizons.
pub fn markouts(m: &engine::markout::Markouts) -> wire::Markouts {
    wire::Markouts {
        s1: m[0],
        s5: m[1],
        s30: m[2],
        s60: m[3],
    }
}

/// A strategy's name.
pub fn strategy_kind(k: engine::StrategyKind) -> wire::Strategy {
    match k {
        engine::StrategyKind::Twap => wire::Strategy::Twap,
        engine::StrategyKind::Vwap => wire::Strategy::Vwap,
        engine::StrategyKind::Pov => wire::Strategy::Pov,
    }
}

/// A shortfall decomposition.
pub fn shortfall(s: &engine::Shortfall) -> wire::ImplementationShortfall {
    wire::ImplementationShortfall {
        total: s.total.normalize(),
        delay_cost: s.delay_cost.normalize(),
        execution_cost: s.execution_cost.normalize(),
        spread_cost: s.spread_cost.normalize(),
        impact_cost: s.impact_cost.normalize(),
        timing_cost: s.timing_cost.normalize(),
        opportunity_cost: s.opportunity_cost.normalize(),
        fees: s.fees.normalize(),
    }
}

/// An engine order (with its slices, when given) as the wire order.
pub fn order(o: &engine::Order, slices: Option<&engine::SliceList>) -> wire::Order {
    let a = o.analytics();
    let p = o.plan();
    let t = o.totals();
    let secs = |ms: i64| u64::try_from(ms / 1_000).unwrap_or(0);
    let (mut jitter, mut profile_days, mut participation, mut max_slice_qty) =
        (None, None, None, None);
    let mut profile = None;
    match o.strategy() {
        engine::Strategy::Twap { jitter: j } => {
            jitter = j.map(|j| wire::Jitter {
                seed: j.seed,
                time_pct: j.time_pct,
                size_pct: j.size_pct,
            });
        }
        engine::Strategy::Vwap {
            profile_days: d,
            profile: shares,
        } => {
            profile_days = Some(*d);
            profile = Some(shares.iter().map(|s| s.normalize()).collect());
        }
        engine::Strategy::Pov {
            participation: p,
            max_slice_qty: m,
        } => {
            participation = Some(p.normalize());
            max_slice_qty = m.map(|m| m.normalize());
        }
    }
    wire::Order {
        token_id: o.token_id().to_string(),
        exchange: if o.route().is_some() {
            "best".to_owned()
        } else {
            o.exchange().as_str().to_owned()
        },
        symbol: o.symbol().to_string(),
        side: side(o.side()),
        quantity: p.quantity.normalize(),
        limit_price: o.limit_price().map(|d| d.normalize()),
        catch_up: catch_up(o.catch_up()),
        strategy: strategy_kind(o.strategy().kind()),
        jitter,
        profile_days,
        participation,
        max_slice_qty,
        latency_ms: o.latency_ms(),
        venues: o
            .route()
            .map(|r| r.iter().map(|v| v.exchange.as_str().to_owned()).collect()),
        status: order_status(o.status()),
        created_at: time(o.created_at()),
        start_time: time(p.start),
        end_time: time(p.end()),
        closed_at: o.closed_at().map(time),
        duration_secs: secs(p.duration_ms),
        interval_secs: secs(p.interval_ms),
        interval_ms: u64::try_from(p.interval_ms).unwrap_or(0),
        slices_total: p.slices,
        slices_done: t.slices_done,
        slices_skipped: o.slices_skipped(),
        filled_quantity: t.filled.normalize(),
        fill_ratio: a.fill_ratio,
        avg_price: a.avg_price,
        notional: t.notional.normalize(),
        fees: t.fees.normalize(),
        analytics: wire::Analytics {
            arrival_mid: a.arrival_mid.map(|d| d.normalize()),
            slippage_vs_arrival_bps: a.slippage_vs_arrival_bps,
            market_twap: a.market_twap,
            slippage_vs_market_twap_bps: a.slippage_vs_market_twap_bps,
            spread_cost: a.spread_cost,
            skipped_by_reason: a
                .skipped_by_reason
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            market_vwap: a.market_vwap,
            slippage_vs_market_vwap_bps: a.slippage_vs_market_vwap_bps,
            participation_rate: a.participation_rate,
            implementation_shortfall: a.shortfall.as_ref().map(shortfall),
            implementation_shortfall_bps: a.shortfall_bps.as_ref().map(shortfall),
            markouts_bps: markouts(&a.markouts_bps),
            by_venue: o.route().map(|_| {
                t.by_venue
                    .iter()
                    .map(|(e, v)| {
                        (
                            e.as_str().to_owned(),
                            wire::VenueFills {
                                filled_quantity: v.filled.normalize(),
                                notional: v.notional.normalize(),
                                avg_price: (!v.filled.is_zero())
                                    .then(|| (v.notional / v.filled).round_dp(12).normalize()),
                                fees: v.fees.normalize(),
                            },
                        )
                    })
                    .collect()
            }),
        },
        volume_profile: slices.and(profile),
        slices: slices.map(|s| s.iter().map(|s| slice(&s)).collect()),
    }
}

/// An engine order with all its slices as the wire order.
pub fn order_detail(d: &engine::OrderDetail) -> wire::Order {
    order(&d.order, Some(&d.slices))
}
