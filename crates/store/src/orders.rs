//! Orders and slices. Rows carry decimals as exact text and times as nanoseconds; the
//! caller maps them to its own types.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Store, StoreError};

/// One order row (request, schedule, status and running totals).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderRow {
    /// Primary key (0 before insertion).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Client id, unique per user.
    pub token_id: String,
    /// `sim`, `binance`, …
    pub exchange: String,
    /// Canonical symbol.
    pub symbol: String,
    /// `buy` / `sell`.
    pub side: String,
    /// Decimal text.
    pub quantity: String,
    /// Decimal text.
    pub limit_price: Option<String>,
    /// `spread` / `next` / `none`.
    pub catch_up: String,
    /// First slice time, ns.
    pub start_ns: i64,
    /// Milliseconds between slices.
    pub interval_ms: i64,
    /// Order window, ms.
    pub duration_ms: i64,
    /// Number of slices.
    pub slices_total: i64,
    /// Lot step, decimal text.
    pub qty_step: String,
    /// Fee, basis points, decimal text.
    pub fee_bps: String,
    /// Lifecycle state.
    pub status: String,
    /// Acceptance time, ns.
    pub created_ns: i64,
    /// Final-state time, ns.
    pub closed_ns: Option<i64>,
    /// Next slice index.
    pub next_index: i64,
    /// Σ filled.
    pub filled: String,
    /// Σ price·qty.
    pub notional: String,
    /// Σ fees.
    pub fees: String,
    /// Mid when the order started working.
    pub arrival_mid: Option<String>,
    /// Σ sampled mids.
    pub mid_sum: String,
    /// Mids sampled.
    pub mid_samples: i64,
    /// Σ spread cost.
    pub spread_cost: String,
    /// Slices attempted.
    pub slices_done: i64,
    /// Skipped slices by reason, JSON object.
    pub skipped: String,
    /// The algorithm and its parameters, JSON object.
    pub strategy: String,
    /// A routed order's venues, JSON array.
    pub route: Option<String>,
    /// Simulated latency, ms.
    pub latency_ms: i64,
    /// Transaction-cost running totals, JSON object of decimal strings.
    pub tca: String,
}

/// One slice row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SliceRow {
    /// The order.
    pub order_id: i64,
    /// Slice index.
    pub idx: i64,
    /// Due time, ns.
    pub scheduled_ns: i64,
    /// Execution time, ns.
    pub executed_ns: i64,
    /// Asked quantity.
    pub target: String,
    /// Filled quantity.
    pub filled: String,
    /// Σ price·qty.
    pub notional: String,
    /// VWAP.
    pub avg_price: Option<String>,
    /// Fee.
    pub fee: String,
    /// `[["price","qty"],…]`.
    pub fills: String,
    /// Best bid then.
    pub best_bid: Option<String>,
    /// Best ask then.
    pub best_ask: Option<String>,
    /// Mid then.
    pub mid: Option<String>,
    /// Book sequence number used.
    pub book_seq: Option<i64>,
    /// Book age used, ms.
    pub book_age_ms: Option<i64>,
    /// Why not attempted.
    pub skipped: Option<String>,
    /// Why short.
    pub short_reason: Option<String>,
    /// Market volume and notional in the slice's window, JSON `["v","n"]`.
    pub market: Option<String>,
    /// Markouts at 1/5/30/60 s, JSON `["bps"|null, …]`.
    pub markouts: Option<String>,
    /// A routed order's slice: the venue of each fill, JSON array.
    pub fill_venues: Option<String>,
    /// When the last venue event of the book used was received, ns.
    pub book_ns: Option<i64>,
    /// The quantity the venue showed at each fill's level, JSON array of decimal strings.
    pub fill_shown: Option<String>,
}

/// One change to record: the order row, the slice it added (if any), and a slice's new
/// markouts (its index and JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordItem {
    /// The order's id.
    pub order_id: i64,
    /// The order row as it now is; `None` when a later item of the same batch writes it.
    pub order: Option<OrderRow>,
    /// A new slice.
    pub slice: Option<SliceRow>,
    /// An existing slice's markouts.
    pub markouts: Option<(i64, String)>,
}

/// Which orders a listing wants.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// `Some(true)` = open only, `Some(false)` = closed only, `None` = all.
    pub open: Option<bool>,
    /// Exact token id.
    pub token_id: Option<String>,
    /// Exchange id.
    pub exchange: Option<String>,
    /// Canonical symbol.
    pub symbol: Option<String>,
}

/// The result of an insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// New row with this id.
    New(i64),
    /// The user already had this token id: the existing row and its request text.
    Existing(Box<OrderRow>, String),
}

macro_rules! order_columns {
    () => {
        "id, user_id, token_id, exchange, symbol, side, quantity, limit_price, catch_up, \
    start_ns, interval_ms, duration_ms, slices_total, qty_step, fee_bps, status, created_ns, closed_ns, \
    next_index, filled, notional, fees, arrival_mid, mid_sum, mid_samples, spread_cost, slices_done, skipped, \
    strategy, route, latency_ms, tca"
    };
}

/// The slice columns [`slices_from_json`] reads, in its order.
macro_rules! slice_json_columns {
    () => {
        "idx, scheduled_ns, executed_ns, target, filled, notional, avg_price, fee, fills, \
         best_bid, best_ask, mid, book_seq, book_age_ms, skipped, short_reason, market, markouts, \
         fill_venues, book_ns, fill_shown"
    };
}

/// The slices of `orders.id` as one JSON array of arrays (text), in index order.
fn slices_json(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => concat!(
            "(SELECT json_group_array(json_array(",
            slice_json_columns!(),
            ")) FROM (SELECT * FROM slices WHERE order_id = orders.id ORDER BY idx)) AS slices_json"
        ),
        Backend::Postgres => concat!(
            "(SELECT COALESCE(json_agg(json_build_array(",
            slice_json_columns!(),
            ") ORDER BY idx), '[]'::json)::text FROM slices WHERE order_id = orders.id) AS slices_json"
        ),
    }
}

/// An order row with its slice rows and the request text it was created from.
pub type FullOrder = (OrderRow, Vec<SliceRow>, String);

pub(crate) fn full_order(row: &AnyRow) -> Result<FullOrder, StoreError> {
    let order = order_row(row)?;
    let text: String = row.try_get("slices_json")?;
    let request: String = row.try_get("request")?;
    let slices = slices_from_json(order.id, &text)
        .map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?;
    Ok((order, slices, request))
}

/// The order columns, for the dynamic listing query (built from fixed fragments only).
const ORDER_COLUMNS: &str = order_columns!();

/// The columns [`full_order`] reads: the order's, its request and its slices as JSON.
pub(crate) fn order_columns_with_slices(backend: Backend) -> String {
    format!("{ORDER_COLUMNS}, request, {}", slices_json(backend))
}

fn order_row(r: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        token_id: r.try_get("token_id")?,
        exchange: r.try_get("exchange")?,
        symbol: r.try_get("symbol")?,
        side: r.try_get("side")?,
        quantity: r.try_get("quantity")?,
        limit_price: r.try_get("limit_price")?,
        catch_up: r.try_get("catch_up")?,
        start_ns: r.try_get("start_ns")?,
        interval_ms: r.try_get("interval_ms")?,
        duration_ms: r.try_get("duration_ms")?,
        slices_total: r.try_get("slices_total")?,
        qty_step: r.try_get("qty_step")?,
        fee_bps: r.try_get("fee_bps")?,
        status: r.try_get("status")?,
        created_ns: r.try_get("created_ns")?,
        closed_ns: r.try_get("closed_ns")?,
        next_index: r.try_get("next_index")?,
        filled: r.try_get("filled")?,
        notional: r.try_get("notional")?,
        fees: r.try_get("fees")?,
        arrival_mid: r.try_get("arrival_mid")?,
        mid_sum: r.try_get("mid_sum")?,
        mid_samples: r.try_get("mid_samples")?,
        spread_cost: r.try_get("spread_cost")?,
        slices_done: r.try_get("slices_done")?,
        skipped: r.try_get("skipped")?,
        strategy: r.try_get("strategy")?,
        route: r.try_get("route")?,
        latency_ms: r.try_get("latency_ms")?,
        tca: r.try_get("tca")?,
    })
}

fn slice_row(r: &AnyRow) -> Result<SliceRow, sqlx::Error> {
    Ok(SliceRow {
        order_id: r.try_get("order_id")?,
        idx: r.try_get("idx")?,
        scheduled_ns: r.try_get("scheduled_ns")?,
        executed_ns: r.try_get("executed_ns")?,
        target: r.try_get("target")?,
        filled: r.try_get("filled")?,
        notional: r.try_get("notional")?,
        avg_price: r.try_get("avg_price")?,
        fee: r.try_get("fee")?,
        fills: r.try_get("fills")?,
        best_bid: r.try_get("best_bid")?,
        best_ask: r.try_get("best_ask")?,
        mid: r.try_get("mid")?,
        book_seq: r.try_get("book_seq")?,
        book_age_ms: r.try_get("book_age_ms")?,
        skipped: r.try_get("skipped")?,
        short_reason: r.try_get("short_reason")?,
        market: r.try_get("market")?,
        markouts: r.try_get("markouts")?,
        fill_venues: r.try_get("fill_venues")?,
        book_ns: r.try_get("book_ns")?,
        fill_shown: r.try_get("fill_shown")?,
    })
}

impl Store {
    /// Insert a new order unless the user already has one with this `token_id` (then return
    /// that one and its request text). Atomic: concurrent duplicates create exactly one row.
    pub async fn insert_order(&self, o: &OrderRow, request: &str) -> Result<Inserted, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO orders (user_id, token_id, request, exchange, symbol, side, quantity, limit_price, \
             catch_up, start_ns, interval_ms, duration_ms, slices_total, qty_step, fee_bps, status, created_ns, \
             closed_ns, next_index, filled, notional, fees, arrival_mid, mid_sum, mid_samples, spread_cost, \
             slices_done, skipped, strategy, route, latency_ms, tca) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,\
             $23,$24,$25,$26,$27,$28,$29,$30,$31,$32) \
             ON CONFLICT (user_id, token_id) DO NOTHING RETURNING id",
        )
        .bind(o.user_id)
        .bind(&o.token_id)
        .bind(request)
        .bind(&o.exchange)
        .bind(&o.symbol)
        .bind(&o.side)
        .bind(&o.quantity)
        .bind(&o.limit_price)
        .bind(&o.catch_up)
        .bind(o.start_ns)
        .bind(o.interval_ms)
        .bind(o.duration_ms)
        .bind(o.slices_total)
        .bind(&o.qty_step)
        .bind(&o.fee_bps)
        .bind(&o.status)
        .bind(o.created_ns)
        .bind(o.closed_ns)
        .bind(o.next_index)
        .bind(&o.filled)
        .bind(&o.notional)
        .bind(&o.fees)
        .bind(&o.arrival_mid)
        .bind(&o.mid_sum)
        .bind(o.mid_samples)
        .bind(&o.spread_cost)
        .bind(o.slices_done)
        .bind(&o.skipped)
        .bind(&o.strategy)
        .bind(&o.route)
        .bind(o.latency_ms)
        .bind(&o.tca)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = id {
            return Ok(Inserted::New(id));
        }
        match self.order_by_token(o.user_id, &o.token_id).await? {
            Some((row, req)) => Ok(Inserted::Existing(Box::new(row), req)),
            None => Err(StoreError::Db(sqlx::Error::RowNotFound)),
        }
    }

    /// A user's order by token id, with its request text.
    pub async fn order_by_token(
        &self,
        user_id: i64,
        token_id: &str,
    ) -> Result<Option<(OrderRow, String)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            ", request FROM orders WHERE user_id = $1 AND token_id = $2"
        ))
        .bind(user_id)
        .bind(token_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((order_row(&r)?, r.try_get("request")?))),
            None => Ok(None),
        }
    }

    /// A user's orders, newest first, with the total matching the filter.
    pub async fn list_orders(
        &self,
        user_id: i64,
        f: &OrderFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<OrderRow>, i64), StoreError> {
        let mut clause = String::from("user_id = $1");
        let mut n = 1;
        match f.open {
            Some(true) => clause.push_str(" AND status IN ('pending', 'working')"),
            Some(false) => clause.push_str(" AND status NOT IN ('pending', 'working')"),
            None => {}
        }
        for (col, v) in [
            ("token_id", &f.token_id),
            ("exchange", &f.exchange),
            ("symbol", &f.symbol),
        ] {
            if v.is_some() {
                n += 1;
                clause.push_str(&format!(" AND {col} = ${n}"));
            }
        }
        let binds: Vec<&String> = [&f.token_id, &f.exchange, &f.symbol]
            .into_iter()
            .flatten()
            .collect();
        let count_sql = format!("SELECT COUNT(*) FROM orders WHERE {clause}");
        let mut cq = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)).bind(user_id);
        for b in &binds {
            cq = cq.bind(*b);
        }
        let total = cq.fetch_one(&self.pool).await?;
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE {clause} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id);
        for b in &binds {
            q = q.bind(*b);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        Ok((rows.iter().map(order_row).collect::<Result<_, _>>()?, total))
    }

    /// A user's order by token id with its slices and request text, read by **one
    /// statement** (so from one snapshot: a slice being committed meanwhile is either in
    /// both the totals and the list, or in neither) in one round trip.
    pub async fn order_with_slices(
        &self,
        user_id: i64,
        token_id: &str,
    ) -> Result<Option<FullOrder>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders WHERE user_id = $1 AND token_id = $2",
            order_columns_with_slices(self.backend)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(full_order).transpose()
    }

    /// Every order still `pending` or `working`, oldest first, with its slices and request
    /// text.
    pub async fn open_orders_full(&self) -> Result<Vec<FullOrder>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders WHERE status IN ('pending', 'working') ORDER BY id",
            order_columns_with_slices(self.backend)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(full_order).collect()
    }

    /// An order's slices, by index.
    pub async fn slices(&self, order_id: i64) -> Result<Vec<SliceRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM slices WHERE order_id = $1 ORDER BY idx")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(slice_row).collect::<Result<_, _>>()?)
    }
}

/// Slice rows from the `json_group_array(json_array(…))` of [`Store::order_with_slices`].
fn slices_from_json(order_id: i64, text: &str) -> Result<Vec<SliceRow>, String> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_str(text).map_err(|e| format!("slices JSON: {e}"))?;
    rows.into_iter()
        .map(|r| {
            let int = |i: usize| r.get(i).and_then(serde_json::Value::as_i64);
            let txt = |i: usize| {
                r.get(i)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            let need_int =
                |i: usize| int(i).ok_or_else(|| format!("slice column {i} is not an integer"));
            let need_txt = |i: usize| txt(i).ok_or_else(|| format!("slice column {i} is not text"));
            Ok(SliceRow {
                order_id,
                idx: need_int(0)?,
                scheduled_ns: need_int(1)?,
                executed_ns: need_int(2)?,
                target: need_txt(3)?,
                filled: need_txt(4)?,
                notional: need_txt(5)?,
                avg_price: txt(6),
                fee: need_txt(7)?,
                fills: need_txt(8)?,
                best_bid: txt(9),
                best_ask: txt(10),
                mid: txt(11),
                book_seq: int(12),
                book_age_ms: int(13),
                skipped: txt(14),
                short_reason: txt(15),
                market: txt(16),
                markouts: txt(17),
                fill_venues: txt(18),
                book_ns: int(19),
                fill_shown: txt(20),
            })
        })
        .collect()
}
