//! The store as the engine's order store: engine orders and slices to and from the store's
//! text rows. Decimals travel as their exact text; enums as their one wire word.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use engine::{
    InsertOutcome, Order, OrderParts, OrderQuery, OrderStore, Plan, SkipReason, SliceRecord,
    StoreFailure, StoredOrder, TokenId, Totals, Update,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use model::{ExchangeId, Side, Symbol, Timestamp};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::rows_json::{
    markouts_from_json, markouts_json, route_from_json, route_json, strategy_from_json,
    strategy_json, tca_from_json, tca_json,
};
use store::{FullOrder, Inserted, OrderFilter, OrderRow, RecordItem, SliceRow, Store};

/// The store as the engine's order store.
#[derive(Debug, Clone)]
pub struct StoreOrders(pub Store);

pub(crate) fn fail(e: impl std::fmt::Display) -> StoreFailure {
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
                Inserted::Existing(..) => {
                    // Read back with its slices, from one snapshot.
                    let full = self
                        .0
                        .order_with_slices(order.user_id(), order.token_id().as_str())
                        .await
                        .map_err(fail)?
                        .ok_or_else(|| fail("an existing order vanished during insert"))?;
                    Ok(InsertOutcome::Existing(Box::new(stored(full)?)))
                }
            }
        }
        .boxed()
    }

    fn record<'a>(
        &'a self,
        updates: &'a [Update],
    ) -> BoxFuture<'a, Result<Vec<Symbol>, StoreFailure>> {
        async move {
            self.0.record(&record_items(updates)).await.map_err(fail)?;
            Ok(Vec::new())
        }
        .boxed()
    }

    fn load_open(&self) -> BoxFuture<'_, Result<Vec<StoredOrder>, StoreFailure>> {
        async move {
            let rows = self.0.open_orders_full().await.map_err(fail)?;
            rows.into_iter().map(stored).collect()
        }
        .boxed()
    }

    fn find<'a>(
        &'a self,
        user_id: i64,
        token_id: &'a TokenId,
    ) -> BoxFuture<'a, Result<Option<StoredOrder>, StoreFailure>> {
        async move {
            self.0
                .order_with_slices(user_id, token_id.as_str())
                .await
                .map_err(fail)?
                .map(stored)
                .transpose()
        }
        .boxed()
    }

    fn list<'a>(
        &'a self,
        user_id: i64,
        q: &'a OrderQuery,
    ) -> BoxFuture<'a, Result<(Vec<Order>, u64), StoreFailure>> {
        async move {
            let filter = OrderFilter {
                open: match q.status {
                    engine::StatusFilter::Open => Some(true),
                    engine::StatusFilter::Closed => Some(false),
                    engine::StatusFilter::All => None,
                },
                token_id: q.token_id.as_ref().map(|t| t.as_str().to_owned()),
                exchange: q
                    .exchange
                    .map(|e| e.map_or("best", ExchangeId::as_str).to_owned()),
                symbol: q.symbol.clone(),
            };
            let (rows, total) = self
                .0
                .list_orders(user_id, &filter, i64::from(q.limit), i64::from(q.offset))
                .await
                .map_err(fail)?;
            let orders = rows
                .iter()
                .map(|r| order_from_row(r).map_err(StoreFailure))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((orders, u64::try_from(total).unwrap_or(0)))
        }
        .boxed()
    }
}

/// The rows a batch of updates writes.
pub(crate) fn record_items(updates: &[Update]) -> Vec<RecordItem> {
    // Each order's row is written once per batch, in its last state: a batch the writer
    // coalesced while behind holds several updates of an order (its slices, its markouts),
    // and only the last row counts.
    // A markout-only update writes its slice's markouts and nothing else: the order's
    // markout figures are rebuilt from its slices when it is read back (`stored`), so the
    // order row is written only with its slices and states.
    let last: HashMap<i64, usize> = updates
        .iter()
        .enumerate()
        .filter(|(_, u)| u.slice.is_some() || u.markouts.is_none())
        .map(|(i, u)| (u.order.id(), i))
        .collect();
    updates
        .iter()
        .enumerate()
        .map(|(i, u)| RecordItem {
            order_id: u.order.id(),
            order: (last.get(&u.order.id()) == Some(&i)).then(|| update_row(&u.order)),
            slice: u.slice.as_ref().map(|s| slice_row(u.order.id(), s)),
            markouts: u
                .markouts
                .map(|(i, m)| (i64::from(i), markouts_json(&m).to_string())),
        })
        .collect()
}

/// An order as the engine has it, from its stored rows.
pub(crate) fn stored((row, slices, request): FullOrder) -> Result<StoredOrder, StoreFailure> {
    let slices: Vec<SliceRecord> = slices
        .iter()
        .map(slice_from_row)
        .collect::<Result<_, _>>()
        .map_err(StoreFailure)?;
    let mut parts = order_from_row(&row).map_err(StoreFailure)?.into_parts();
    // The markout figures from the slices' own (the order row is not rewritten per markout).
    let t = &mut parts.totals;
    t.markout_qty = [Decimal::ZERO; 4];
    t.markout_sum = [Decimal::ZERO; 4];
    t.markouts_taken = 0;
    for s in &slices {
        for (h, v) in s.markouts.iter().enumerate() {
            if let Some(v) = v {
                t.markout_qty[h] += s.filled;
                t.markout_sum[h] += s.filled * *v;
                t.markouts_taken += 1;
            }
        }
    }
    Ok(StoredOrder {
        order: Order::from_parts(parts),
        slices,
        request,
    })
}

pub(super) fn opt(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

pub(super) fn txt(d: Decimal) -> String {
    d.normalize().to_string()
}

/// An engine order as a store row.
/// The row of an order's update: the running state only (the store's update writes
/// nothing else). The strategy — a VWAP's profile holds a share per slice — and the route
/// are written once, at insertion, not serialized again with every slice.
fn update_row(o: &Order) -> OrderRow {
    let t = o.totals();
    let skipped: BTreeMap<&str, u32> = t.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    OrderRow {
        id: o.id(),
        status: o.status().as_str().to_owned(),
        closed_ns: o.closed_at().map(Timestamp::as_nanos),
        next_index: i64::from(o.next_index()),
        filled: txt(t.filled),
        notional: txt(t.notional),
        fees: txt(t.fees),
        arrival_mid: opt(t.arrival_mid),
        mid_sum: txt(t.mid_sum),
        mid_samples: i64::from(t.mid_samples),
        spread_cost: txt(t.spread_cost),
        slices_done: i64::from(t.slices_done),
        skipped: serde_json::to_string(&skipped).unwrap_or_else(|_| "{}".to_owned()),
        tca: tca_json(t).to_string(),
        ..OrderRow::default()
    }
}

/// An engine order as a store row (every column, for insertion and round trips).
fn order_row(o: &Order) -> OrderRow {
    let p = o.plan();
    OrderRow {
        user_id: o.user_id(),
        token_id: o.token_id().to_string(),
        exchange: if o.route().is_some() {
            "best".to_owned()
        } else {
            o.exchange().as_str().to_owned()
        },
        symbol: o.symbol().to_string(),
        side: o.side().as_str().to_owned(),
        quantity: txt(p.quantity),
        limit_price: opt(o.limit_price()),
        catch_up: o.catch_up().as_str().to_owned(),
        start_ns: p.start.as_nanos(),
        interval_ms: p.interval_ms,
        duration_ms: p.duration_ms,
        slices_total: i64::from(p.slices),
        qty_step: txt(p.step),
        fee_bps: txt(o.fee_bps()),
        created_ns: o.created_at().as_nanos(),
        strategy: strategy_json(o.strategy()).to_string(),
        route: o.route().map(|r| route_json(r).to_string()),
        latency_ms: i64::from(o.latency_ms()),
        ..update_row(o)
    }
}

pub(super) fn dec(field: &str, s: &str) -> Result<Decimal, String> {
    Decimal::from_str(s).map_err(|e| format!("stored {field} `{s}` is not a decimal: {e}"))
}

fn odec(field: &str, s: &Option<String>) -> Result<Option<Decimal>, String> {
    s.as_deref().map(|s| dec(field, s)).transpose()
}

fn int<T: TryFrom<i64>>(field: &str, v: i64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("stored {field} {v} is out of range"))
}

pub(super) fn word<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(|e| format!("stored {e}"))
}

/// A store row as an engine order.
fn order_from_row(r: &OrderRow) -> Result<Order, String> {
    let skipped_map: BTreeMap<String, u32> =
        serde_json::from_str(&r.skipped).map_err(|e| format!("stored skipped map: {e}"))?;
    let mut skipped = BTreeMap::new();
    for (k, v) in skipped_map {
        skipped.insert(word::<SkipReason>(&k)?, v);
    }
    let strategy = strategy_from_json(&r.strategy)?;
    let route = r.route.as_deref().map(route_from_json).transpose()?;
    let exchange = match &route {
        Some(venues) => venues
            .first()
            .map(|v| v.exchange)
            .ok_or_else(|| "stored route is empty".to_owned())?,
        None => word::<ExchangeId>(&r.exchange)?,
    };
    let mut totals = Totals {
        filled: dec("filled", &r.filled)?,
        notional: dec("notional", &r.notional)?,
        fees: dec("fees", &r.fees)?,
        arrival_mid: odec("arrival_mid", &r.arrival_mid)?,
        mid_sum: dec("mid_sum", &r.mid_sum)?,
        mid_samples: int("mid_samples", r.mid_samples)?,
        spread_cost: dec("spread_cost", &r.spread_cost)?,
        slices_done: int("slices_done", r.slices_done)?,
        skipped,
        ..Totals::default()
    };
    tca_from_json(&r.tca, &mut totals)?;
    Ok(Order::from_parts(OrderParts {
        id: r.id,
        user_id: r.user_id,
        token_id: word(&r.token_id)?,
        exchange,
        symbol: word::<Symbol>(&r.symbol)?,
        side: word::<Side>(&r.side)?,
        limit_price: odec("limit_price", &r.limit_price)?,
        catch_up: word(&r.catch_up)?,
        plan: Plan::even(
            Timestamp::from_nanos(r.start_ns),
            r.interval_ms,
            r.duration_ms,
            int("slices_total", r.slices_total)?,
            dec("quantity", &r.quantity)?,
            dec("qty_step", &r.qty_step)?,
        )
        .shaped(&strategy),
        strategy,
        route: route.map(Into::into),
        latency_ms: int("latency_ms", r.latency_ms)?,
        fee_bps: dec("fee_bps", &r.fee_bps)?,
        created_at: Timestamp::from_nanos(r.created_ns),
        status: word(&r.status)?,
        closed_at: r.closed_ns.map(Timestamp::from_nanos),
        next_index: int("next_index", r.next_index)?,
        totals,
    }))
}

/// A slice record as a store row.
fn slice_row(order_id: i64, s: &SliceRecord) -> SliceRow {
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
        market: s
            .market_volume
            .zip(s.market_notional)
            .map(|(v, n)| json!([txt(v), txt(n)]).to_string()),
        markouts: s
            .markouts
            .iter()
            .any(Option::is_some)
            .then(|| markouts_json(&s.markouts).to_string()),
        fill_venues: (!s.fill_venues.is_empty()).then(|| {
            Value::Array(
                s.fill_venues
                    .iter()
                    .map(|e| Value::from(e.as_str()))
                    .collect(),
            )
            .to_string()
        }),
        book_ns: s.book_time.map(Timestamp::as_nanos),
        fill_shown: (!s.fill_shown.is_empty()).then(|| {
            Value::Array(s.fill_shown.iter().map(|q| Value::from(txt(*q))).collect()).to_string()
        }),
    }
}

/// A stored slice row as an engine slice record.
fn slice_from_row(s: &SliceRow) -> Result<SliceRecord, String> {
    let fills: Vec<(String, String)> =
        serde_json::from_str(&s.fills).map_err(|e| format!("stored fills: {e}"))?;
    let market = match &s.market {
        None => None,
        Some(text) => {
            let (v, n): (String, String) =
                serde_json::from_str(text).map_err(|e| format!("stored market: {e}"))?;
            Some((dec("market volume", &v)?, dec("market notional", &n)?))
        }
    };
    Ok(SliceRecord {
        index: int("idx", s.idx)?,
        scheduled_at: Timestamp::from_nanos(s.scheduled_ns),
        executed_at: Timestamp::from_nanos(s.executed_ns),
        target: dec("target", &s.target)?,
        filled: dec("filled", &s.filled)?,
        notional: dec("notional", &s.notional)?,
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
        book_time: s.book_ns.map(Timestamp::from_nanos),
        skipped: s.skipped.as_deref().map(word).transpose()?,
        short: s.short_reason.as_deref().map(word).transpose()?,
        market_volume: market.map(|m| m.0),
        market_notional: market.map(|m| m.1),
        markouts: s
            .markouts
            .as_deref()
            .map(markouts_from_json)
            .transpose()?
            .unwrap_or([None; 4]),
        fill_venues: match &s.fill_venues {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| format!("stored fill venues: {e}"))?
                .iter()
                .map(|e| word::<ExchangeId>(e))
                .collect::<Result<_, _>>()?,
        },
        fill_shown: match &s.fill_shown {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| format!("stored fill_shown: {e}"))?
                .iter()
                .map(|q| dec("fill shown", q))
                .collect::<Result<_, _>>()?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_survives_the_round_trip_through_its_row() {
        let rec = SliceRecord {
            index: 3,
            scheduled_at: Timestamp::from_nanos(1_700_000_000_123_456_789),
            executed_at: Timestamp::from_nanos(1_700_000_000_223_456_789),
            target: Decimal::from_str("0.15").unwrap(),
            filled: Decimal::from_str("0.1").unwrap(),
            notional: Decimal::from_str("6700.25").unwrap(),
            avg_price: Some(Decimal::from_str("67002.5").unwrap()),
            fee: Decimal::from_str("6.700025").unwrap(),
            fills: vec![(
                Decimal::from_str("67002.5").unwrap(),
                Decimal::from_str("0.1").unwrap(),
            )],
            best_bid: Some(Decimal::from_str("67002.4").unwrap()),
            best_ask: Some(Decimal::from_str("67002.5").unwrap()),
            mid: Some(Decimal::from_str("67002.45").unwrap()),
            book_seq: Some(71_420_955_199),
            book_age_ms: Some(35),
            book_time: Some(Timestamp::from_nanos(1_700_000_000_188_000_001)),
            skipped: None,
            short: Some(engine::ShortReason::Depth),
            market_volume: Some(Decimal::from_str("12.5").unwrap()),
            market_notional: Some(Decimal::from_str("837531.25").unwrap()),
            markouts: [
                Some(Decimal::from_str("0.25").unwrap()),
                None,
                Some(Decimal::from_str("-1.5").unwrap()),
                None,
            ],
            fill_venues: vec![ExchangeId::Binance, ExchangeId::Okx],
            fill_shown: vec![Decimal::from_str("0.40").unwrap()],
        };
        assert_eq!(slice_from_row(&slice_row(9, &rec)).unwrap(), rec);
    }

    #[test]
    fn an_order_of_every_strategy_survives_the_round_trip_through_its_row() {
        use engine::route::Venue;
        use engine::{CatchUp, Jitter, OrderStatus, Strategy, VenueTotals};
        let d = |x: &str| Decimal::from_str(x).unwrap();
        let strategies = [
            (
                Strategy::Twap {
                    jitter: Some(Jitter {
                        seed: u64::MAX,
                        time_pct: 50,
                        size_pct: 7,
                    }),
                },
                None,
            ),
            (
                Strategy::Vwap {
                    profile_days: 7,
                    profile: vec![d("0.25"), d("0.5"), d("0.25")].into(),
                },
                None,
            ),
            (
                Strategy::Pov {
                    participation: d("0.1"),
                    max_slice_qty: Some(d("0.5")),
                },
                Some(
                    vec![
                        Venue {
                            exchange: ExchangeId::Binance,
                            fee_bps: d("10"),
                        },
                        Venue {
                            exchange: ExchangeId::Okx,
                            fee_bps: d("8"),
                        },
                    ]
                    .into(),
                ),
            ),
        ];
        for (strategy, route) in strategies {
            let mut by_venue = BTreeMap::new();
            by_venue.insert(
                ExchangeId::Okx,
                VenueTotals {
                    filled: d("1.5"),
                    notional: d("100500"),
                    fees: d("80.4"),
                },
            );
            let plan = Plan::even(
                Timestamp::from_millis(1_800_000_000_000),
                10_000,
                30_000,
                3,
                d("3"),
                d("0.001"),
            )
            .shaped(&strategy);
            let o = Order::from_parts(OrderParts {
                id: 4,
                user_id: 2,
                token_id: "rt-1".parse().unwrap(),
                exchange: route
                    .as_ref()
                    .map_or(ExchangeId::Sim, |r: &std::sync::Arc<[Venue]>| r[0].exchange),
                symbol: "BTC-USDT".parse().unwrap(),
                side: Side::Sell,
                limit_price: Some(d("60000")),
                catch_up: CatchUp::Next,
                strategy,
                route,
                latency_ms: 250,
                plan,
                fee_bps: d("10"),
                created_at: Timestamp::from_millis(1_800_000_000_000),
                status: OrderStatus::Working,
                closed_at: None,
                next_index: 1,
                totals: Totals {
                    filled: d("1.5"),
                    notional: d("100500"),
                    decision_mid: Some(d("67000.5")),
                    start_mid: Some(d("67001")),
                    last_mid: Some(d("67002")),
                    mid_notional: d("100501.5"),
                    touch_notional: d("100500.75"),
                    market_volume: d("12"),
                    market_notional: d("804000"),
                    markout_qty: [d("1.5"), d("1.5"), Decimal::ZERO, Decimal::ZERO],
                    markout_sum: [d("3"), d("-1.5"), Decimal::ZERO, Decimal::ZERO],
                    markouts_taken: 2,
                    by_venue,
                    ..Totals::default()
                },
            });
            let mut row = order_row(&o);
            row.id = o.id();
            assert_eq!(order_from_row(&row).unwrap(), o);
        }
    }
}
