//! The engine's ports implemented on the hub and the store, and the conversions between
//! engine orders, store rows and wire orders.

use std::collections::BTreeMap;
use std::str::FromStr;

use engine::{
    BookAccess, BookRef, Books, CatchUp, InsertOutcome, Order, OrderStatus, OrderStore, Plan,
    SkipReason, SliceRecord, StoreFailure, Totals, Update,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::Hub;
use model::{ExchangeId, Side, Symbol, Timestamp};
use rust_decimal::Decimal;
use store::{Inserted, OrderRow, SliceRow, Store};

use crate::convert::time;

/// The hub as the engine's book source.
#[derive(Debug, Clone)]
pub struct HubBooks(pub Hub);

impl Books for HubBooks {
    fn with_book(&self, exchange: ExchangeId, symbol: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        match self.0.snapshot(exchange, symbol.as_str()) {
            Ok(s) => f(Some((&s.book, &s.health))),
            Err(_) => f(None),
        }
    }
}

impl BookAccess for HubBooks {
    fn hold(&self, exchange: ExchangeId, symbol: &Symbol) -> Option<Box<dyn Send>> {
        self.0
            .watch(exchange, symbol.as_str())
            .ok()
            .map(|w| Box::new(w) as Box<dyn Send>)
    }
}

/// The store as the engine's order store.
#[derive(Debug, Clone)]
pub struct StoreOrders(pub Store);

fn fail(e: impl std::fmt::Display) -> StoreFailure {
    StoreFailure(e.to_string())
}

impl OrderStore for StoreOrders {
    fn insert<'a>(
        &'a self,
        order: &'a Order,
        request: &'a str,
    ) -> BoxFuture<'a, Result<InsertOutcome, StoreFailure>> {
        async move {
            match self
                .0
                .insert_order(&order_row(order), request)
                .await
                .map_err(fail)?
            {
                Inserted::New(id) => Ok(InsertOutcome::Inserted(id)),
                Inserted::Existing(row, req) => {
                    let o = order_from_row(&row).map_err(StoreFailure)?;
                    Ok(InsertOutcome::Existing(Box::new(o), req))
                }
            }
        }
        .boxed()
    }

    fn record<'a>(&'a self, updates: &'a [Update]) -> BoxFuture<'a, Result<(), StoreFailure>> {
        async move {
            let items: Vec<(OrderRow, Option<SliceRow>)> = updates
                .iter()
                .map(|u| {
                    (
                        order_row(&u.order),
                        u.slice.as_ref().map(|s| slice_row(u.order.id, s)),
                    )
                })
                .collect();
            self.0.record(&items).await.map_err(fail)
        }
        .boxed()
    }

    fn load_open(&self) -> BoxFuture<'_, Result<Vec<Order>, StoreFailure>> {
        async move {
            let rows = self.0.open_orders().await.map_err(fail)?;
            rows.iter()
                .map(|r| order_from_row(r).map_err(StoreFailure))
                .collect()
        }
        .boxed()
    }
}

fn opt(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn txt(d: Decimal) -> String {
    d.normalize().to_string()
}

/// An engine order as a store row.
pub fn order_row(o: &Order) -> OrderRow {
    let t = &o.totals;
    let skipped: BTreeMap<&str, u32> = t.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    OrderRow {
        id: o.id,
        user_id: o.user_id,
        token_id: o.token_id.clone(),
        exchange: o.exchange.as_str().to_owned(),
        symbol: o.symbol.to_string(),
        side: o.side.as_str().to_owned(),
        quantity: txt(o.plan.quantity),
        limit_price: opt(o.limit_price),
        catch_up: o.catch_up.as_str().to_owned(),
        start_ns: o.plan.start.as_nanos(),
        interval_ms: o.plan.interval_ms,
        duration_ms: o.plan.duration_ms,
        slices_total: i64::from(o.plan.slices),
        qty_step: txt(o.plan.step),
        fee_bps: txt(o.fee_bps),
        status: o.status.as_str().to_owned(),
        created_ns: o.created_at.as_nanos(),
        closed_ns: o.closed_at.map(Timestamp::as_nanos),
        next_index: i64::from(o.next_index),
        filled: txt(t.filled),
        notional: txt(t.notional),
        fees: txt(t.fees),
        arrival_mid: opt(t.arrival_mid),
        mid_sum: txt(t.mid_sum),
        mid_samples: i64::from(t.mid_samples),
        spread_cost: txt(t.spread_cost),
        slices_done: i64::from(t.slices_done),
        skipped: serde_json::to_string(&skipped).unwrap_or_else(|_| "{}".to_owned()),
    }
}

fn dec(field: &str, s: &str) -> Result<Decimal, String> {
    Decimal::from_str(s).map_err(|e| format!("stored {field} `{s}` is not a decimal: {e}"))
}

fn odec(field: &str, s: &Option<String>) -> Result<Option<Decimal>, String> {
    s.as_deref().map(|s| dec(field, s)).transpose()
}

fn int<T: TryFrom<i64>>(field: &str, v: i64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("stored {field} {v} is out of range"))
}

/// A store row as an engine order.
pub fn order_from_row(r: &OrderRow) -> Result<Order, String> {
    let skipped_map: BTreeMap<String, u32> =
        serde_json::from_str(&r.skipped).map_err(|e| format!("stored skipped map: {e}"))?;
    let mut skipped = BTreeMap::new();
    for (k, v) in skipped_map {
        let reason = SkipReason::parse(&k).ok_or_else(|| format!("unknown skip reason `{k}`"))?;
        skipped.insert(reason, v);
    }
    Ok(Order {
        id: r.id,
        user_id: r.user_id,
        token_id: r.token_id.clone(),
        exchange: ExchangeId::from_str(&r.exchange).map_err(|e| e.to_string())?,
        symbol: Symbol::from_str(&r.symbol).map_err(|e| e.to_string())?,
        side: Side::from_str(&r.side).map_err(|e| e.to_string())?,
        limit_price: odec("limit_price", &r.limit_price)?,
        catch_up: CatchUp::parse(&r.catch_up)
            .ok_or_else(|| format!("unknown catch_up `{}`", r.catch_up))?,
        plan: Plan {
            start: Timestamp::from_nanos(r.start_ns),
            interval_ms: r.interval_ms,
            duration_ms: r.duration_ms,
            slices: int("slices_total", r.slices_total)?,
            quantity: dec("quantity", &r.quantity)?,
            step: dec("qty_step", &r.qty_step)?,
        },
        fee_bps: dec("fee_bps", &r.fee_bps)?,
        created_at: Timestamp::from_nanos(r.created_ns),
        status: OrderStatus::parse(&r.status)
            .ok_or_else(|| format!("unknown status `{}`", r.status))?,
        closed_at: r.closed_ns.map(Timestamp::from_nanos),
        next_index: int("next_index", r.next_index)?,
        totals: Totals {
            filled: dec("filled", &r.filled)?,
            notional: dec("notional", &r.notional)?,
            fees: dec("fees", &r.fees)?,
            arrival_mid: odec("arrival_mid", &r.arrival_mid)?,
            mid_sum: dec("mid_sum", &r.mid_sum)?,
            mid_samples: int("mid_samples", r.mid_samples)?,
            spread_cost: dec("spread_cost", &r.spread_cost)?,
            slices_done: int("slices_done", r.slices_done)?,
            skipped,
        },
    })
}

/// A slice record as a store row.
pub fn slice_row(order_id: i64, s: &SliceRecord) -> SliceRow {
    let fills: Vec<(String, String)> = s.fills.iter().map(|(p, q)| (txt(*p), txt(*q))).collect();
    SliceRow {
        order_id,
        idx: i64::from(s.index),
        scheduled_ns: s.scheduled_at.as_nanos(),
        executed_ns: s.executed_at.as_nanos(),
        target: txt(s.target),
        filled: txt(s.filled),
        notional: txt(s.notional),
        avg_price: opt(s.avg_price),
        fee: txt(s.fee),
        fills: serde_json::to_string(&fills).unwrap_or_else(|_| "[]".to_owned()),
        best_bid: opt(s.best_bid),
        best_ask: opt(s.best_ask),
        mid: opt(s.mid),
        book_seq: s.book_seq.and_then(|v| i64::try_from(v).ok()),
        book_age_ms: s.book_age_ms,
        skipped: s.skipped.map(|r| r.as_str().to_owned()),
        short_reason: s.short.map(|r| r.as_str().to_owned()),
    }
}

/// A stored slice row as the wire slice.
pub fn wire_slice(s: &SliceRow) -> Result<wire::Slice, String> {
    let fills: Vec<(String, String)> =
        serde_json::from_str(&s.fills).map_err(|e| format!("stored fills: {e}"))?;
    Ok(wire::Slice {
        index: int("idx", s.idx)?,
        scheduled_at: time(Timestamp::from_nanos(s.scheduled_ns)),
        executed_at: time(Timestamp::from_nanos(s.executed_ns)),
        target_quantity: dec("target", &s.target)?,
        filled_quantity: dec("filled", &s.filled)?,
        avg_price: odec("avg_price", &s.avg_price)?,
        fee: dec("fee", &s.fee)?,
        fills: fills
            .iter()
            .map(|(p, q)| Ok((dec("fill price", p)?, dec("fill qty", q)?)))
            .collect::<Result<_, String>>()?,
        best_bid: odec("best_bid", &s.best_bid)?,
        best_ask: odec("best_ask", &s.best_ask)?,
        mid: odec("mid", &s.mid)?,
        book_seq: s.book_seq.and_then(|v| u64::try_from(v).ok()),
        book_age_ms: s.book_age_ms,
        skipped: s.skipped.clone(),
        short_reason: s.short_reason.clone(),
    })
}

/// An engine order (and optionally its slice rows) as the wire order.
pub fn wire_order(o: &Order, slices: Option<&[SliceRow]>) -> Result<wire::Order, String> {
    let a = o.analytics();
    let secs = |ms: i64| u64::try_from(ms / 1_000).unwrap_or(0);
    Ok(wire::Order {
        token_id: o.token_id.clone(),
        exchange: o.exchange.as_str().to_owned(),
        symbol: o.symbol.to_string(),
        side: o.side.as_str().to_owned(),
        quantity: o.plan.quantity.normalize(),
        limit_price: o.limit_price.map(|d| d.normalize()),
        catch_up: o.catch_up.as_str().to_owned(),
        status: o.status.as_str().to_owned(),
        created_at: time(o.created_at),
        start_time: time(o.plan.start),
        end_time: time(o.plan.end()),
        closed_at: o.closed_at.map(time),
        duration_secs: secs(o.plan.duration_ms),
        interval_secs: secs(o.plan.interval_ms),
        interval_ms: u64::try_from(o.plan.interval_ms).unwrap_or(0),
        slices_total: o.plan.slices,
        slices_done: o.totals.slices_done,
        slices_skipped: o.slices_skipped(),
        filled_quantity: o.totals.filled.normalize(),
        fill_ratio: a.fill_ratio,
        avg_price: a.avg_price,
        notional: o.totals.notional.normalize(),
        fees: o.totals.fees.normalize(),
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
        },
        slices: slices
            .map(|s| s.iter().map(wire_slice).collect::<Result<Vec<_>, String>>())
            .transpose()?,
    })
}
