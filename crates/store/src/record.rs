//! Recording the engine's changes: a batch of slices, markouts and order rows in one
//! transaction, written with multi-row statements.
//!
//! A statement costs a round trip to the connection's worker thread, so a batch of `n`
//! slices is written with a handful of statements, not `3n`: rows are grouped in chunks of
//! fixed sizes (so each statement's text repeats and its prepared form is cached).

use std::collections::HashMap;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use crate::cluster::pairs;
use crate::orders::{OrderRow, RecordItem, SliceRow};
use crate::{Backend, Fence, Store, StoreError};

/// Rows per statement, largest first: any count splits into these, and only these few
/// statement texts are ever prepared. 128 slice rows bind 2 816 values, far below SQLite's
/// limit of 32 766 and PostgreSQL's of 65 535.
const CHUNKS: [usize; 4] = [128, 32, 8, 1];

/// `items` in consecutive chunks of the sizes in [`CHUNKS`].
fn chunked<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = CHUNKS.iter().copied().find(|c| *c <= items.len())?;
        let (head, tail) = items.split_at(size);
        items = tail;
        Some(head)
    })
}

/// `WITH v(columns) AS (VALUES (…), …) ` for `rows` rows of the columns' placeholders:
/// anonymous `?` on SQLite — each named parameter (`$n`) costs a linear search of the
/// statement's parameter names when it is bound (`sqlite3_bind_parameter_name`), quadratic
/// in a 2 816-value statement, where it took half the writer's time —, numbered `$n` on
/// PostgreSQL, which knows no other kind.
fn values(backend: Backend, columns: &str, rows: usize) -> String {
    let width = columns.split(',').count();
    let mut sql = format!("WITH v({columns}) AS (VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${}", r * width + c + 1)),
            }
        }
        sql.push(')');
    }
    sql.push_str(") ");
    sql
}

type Statement = Query<'static, Any, AnyArguments>;

const SLICE_COLUMNS: &str = "order_id, idx, scheduled_ns, executed_ns, target, filled, notional, \
     avg_price, fee, fills, best_bid, best_ask, mid, book_seq, book_age_ms, skipped, short_reason, \
     market, markouts, fill_venues, book_ns, fill_shown";

const ORDER_COLUMNS: [&str; 13] = [
    "status",
    "closed_ns",
    "next_index",
    "filled",
    "notional",
    "fees",
    "arrival_mid",
    "mid_sum",
    "mid_samples",
    "spread_cost",
    "slices_done",
    "skipped",
    "tca",
];

impl Store {
    /// Write slices, markouts and the order rows that go with them, in one transaction:
    /// either all of it is stored or none.
    ///
    /// The new slices are inserted first, then the markouts (a batch written while the
    /// writer was behind may hold a slice and its markouts; of two markouts of one slice the
    /// later wins), then each order's row (the last given for it). A slice of an order that
    /// is gone (its user was removed) is skipped, not an error.
    pub async fn record(&self, items: &[RecordItem]) -> Result<(), StoreError> {
        self.record_fenced(items, None).await.map(|_| ())
    }

    /// As [`Store::record`], fenced when several instances share the database: `fence`
    /// gives each item's scope (its order's symbol, parallel to `items`). In the
    /// transaction, the leases of those scopes the fence's holder still holds at its epochs
    /// are read and locked against a take-over until the commit (PostgreSQL `FOR SHARE`),
    /// and only the items of those scopes are written: a paused instance that wakes after
    /// its lease moved on writes nothing. The scopes it no longer holds are returned. The
    /// other instances are told which orders changed, on commit (`u:<id>,…`).
    pub async fn record_fenced(
        &self,
        items: &[RecordItem],
        fence: Option<(Fence<'_>, &[&str])>,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut lost: Vec<String> = Vec::new();
        let kept: Vec<&RecordItem> = match fence {
            None => items.iter().collect(),
            Some((fence, scopes)) => {
                let mut wanted: Vec<(String, i64)> = Vec::new();
                for s in scopes {
                    if wanted.iter().all(|(w, _)| w != s) {
                        let epoch = fence
                            .leases
                            .iter()
                            .find(|(l, _)| l == s)
                            .map_or(-1, |(_, e)| *e);
                        wanted.push(((*s).to_owned(), epoch));
                    }
                }
                let held: Vec<String> = if wanted.is_empty() {
                    Vec::new()
                } else {
                    let sql = format!(
                        "SELECT scope FROM leases WHERE holder = $1 AND (scope, epoch) IN ({}){}",
                        pairs(2, wanted.len()),
                        if self.backend == Backend::Postgres {
                            " FOR SHARE"
                        } else {
                            ""
                        }
                    );
                    let mut q =
                        sqlx::query_scalar(AssertSqlSafe(sql)).bind(fence.holder.to_owned());
                    for (scope, epoch) in &wanted {
                        q = q.bind(scope.clone()).bind(*epoch);
                    }
                    q.fetch_all(&mut *tx).await?
                };
                lost = wanted
                    .into_iter()
                    .map(|(s, _)| s)
                    .filter(|s| !held.contains(s))
                    .collect();
                items
                    .iter()
                    .zip(scopes.iter().copied().chain(std::iter::repeat("")))
                    .filter(|(_, s)| held.iter().any(|h| h == s))
                    .map(|(i, _)| i)
                    .collect()
            }
        };
        let slices: Vec<&SliceRow> = kept.iter().filter_map(|i| i.slice.as_ref()).collect();
        let mut marks: Vec<(i64, i64, &str)> = Vec::new();
        let mut mark_at: HashMap<(i64, i64), usize> = HashMap::new();
        for i in &kept {
            if let Some((idx, json)) = &i.markouts {
                match mark_at.get(&(i.order_id, *idx)) {
                    Some(&at) => marks[at].2 = json,
                    None => {
                        mark_at.insert((i.order_id, *idx), marks.len());
                        marks.push((i.order_id, *idx, json));
                    }
                }
            }
        }
        let mut orders: Vec<&OrderRow> = Vec::new();
        let mut order_at: HashMap<i64, usize> = HashMap::new();
        for o in kept.iter().filter_map(|i| i.order.as_ref()) {
            match order_at.get(&o.id) {
                Some(&at) => orders[at] = o,
                None => {
                    order_at.insert(o.id, orders.len());
                    orders.push(o);
                }
            }
        }
        for chunk in chunked(&slices) {
            insert_slices(self.backend, chunk).execute(&mut *tx).await?;
        }
        for chunk in chunked(&marks) {
            update_markouts(self.backend, chunk)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in chunked(&orders) {
            update_orders(self.backend, chunk).execute(&mut *tx).await?;
        }
        if self.backend == Backend::Postgres {
            let mut ids: Vec<i64> = kept.iter().map(|i| i.order_id).collect();
            ids.sort_unstable();
            ids.dedup();
            // A payload holds at most 8000 bytes.
            for part in ids.chunks(400) {
                let list: Vec<String> = part.iter().map(i64::to_string).collect();
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(crate::CHANNEL)
                    .bind(format!("u:{}", list.join(",")))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(lost)
    }
}

fn insert_slices(backend: Backend, rows: &[&SliceRow]) -> Statement {
    let sql = format!(
        "{}INSERT INTO slices ({SLICE_COLUMNS}) SELECT {SLICE_COLUMNS} FROM v \
         WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = v.order_id)",
        values(backend, SLICE_COLUMNS, rows.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for s in rows {
        q = q
            .bind(s.order_id)
            .bind(s.idx)
            .bind(s.scheduled_ns)
            .bind(s.executed_ns)
            .bind(s.target.clone())
            .bind(s.filled.clone())
            .bind(s.notional.clone())
            .bind(s.avg_price.clone())
            .bind(s.fee.clone())
            .bind(s.fills.clone())
            .bind(s.best_bid.clone())
            .bind(s.best_ask.clone())
            .bind(s.mid.clone())
            .bind(s.book_seq)
            .bind(s.book_age_ms)
            .bind(s.skipped.clone())
            .bind(s.short_reason.clone())
            .bind(s.market.clone())
            .bind(s.markouts.clone())
            .bind(s.fill_venues.clone())
            .bind(s.book_ns)
            .bind(s.fill_shown.clone());
    }
    q
}

fn update_markouts(backend: Backend, rows: &[(i64, i64, &str)]) -> Statement {
    let sql = format!(
        "{}UPDATE slices SET markouts = v.markouts FROM v \
         WHERE slices.order_id = v.order_id AND slices.idx = v.idx",
        values(backend, "order_id, idx, markouts", rows.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (order, idx, json) in rows {
        q = q.bind(*order).bind(*idx).bind((*json).to_owned());
    }
    q
}

fn update_orders(backend: Backend, rows: &[&OrderRow]) -> Statement {
    let set: Vec<String> = ORDER_COLUMNS
        .iter()
        .map(|c| format!("{c} = v.{c}"))
        .collect();
    let sql = format!(
        "{}UPDATE orders SET {} FROM v WHERE orders.id = v.id",
        values(
            backend,
            &format!("id, {}", ORDER_COLUMNS.join(", ")),
            rows.len()
        ),
        set.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for o in rows {
        q = q
            .bind(o.id)
            .bind(o.status.clone())
            .bind(o.closed_ns)
            .bind(o.next_index)
            .bind(o.filled.clone())
            .bind(o.notional.clone())
            .bind(o.fees.clone())
            .bind(o.arrival_mid.clone())
            .bind(o.mid_sum.clone())
            .bind(o.mid_samples)
            .bind(o.spread_cost.clone())
            .bind(o.slices_done)
            .bind(o.skipped.clone())
            .bind(o.tca.clone());
    }
    q
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::orders::Inserted;

    async fn order(s: &Store, user: i64, token: &str) -> OrderRow {
        let mut o = OrderRow {
            user_id: user,
            token_id: token.to_owned(),
            side: "buy".to_owned(),
            catch_up: "spread".to_owned(),
            interval_ms: 1_000,
            duration_ms: 60_000,
            slices_total: 60,
            status: "working".to_owned(),
            filled: "0".to_owned(),
            ..OrderRow::default()
        };
        let Inserted::New(id) = s.insert_order(&o, "{}").await.unwrap() else {
            panic!("not inserted")
        };
        o.id = id;
        o
    }

    fn slice(order_id: i64, idx: i64) -> SliceRow {
        SliceRow {
            order_id,
            idx,
            scheduled_ns: idx * 1_000,
            filled: format!("{idx}.5"),
            ..SliceRow::default()
        }
    }

    /// Every count of rows crosses the chunk sizes: each slice is stored once, the later
    /// of two markouts wins, each order row ends in its last state, and a slice of an
    /// order that is gone is skipped without failing the batch.
    #[tokio::test]
    async fn a_batch_of_any_size_is_stored_exactly() {
        for s in crate::testing::stores().await {
            batches_of(&s).await;
        }
    }

    async fn batches_of(s: &Store) {
        let user = s.add_user("u", "h", "basic").await.unwrap().unwrap();
        let (a, b) = (order(s, user, "a").await, order(s, user, "b").await);
        let mut next = 0i64;
        for n in [1usize, 7, 8, 41, 170, 300] {
            let mut items = Vec::new();
            for k in 0..n {
                let (o, idx) = (if k % 2 == 0 { &a } else { &b }, next);
                next += 1;
                items.push(RecordItem {
                    order_id: o.id,
                    order: Some(OrderRow {
                        next_index: idx,
                        filled: format!("{idx}"),
                        ..o.clone()
                    }),
                    slice: Some(slice(o.id, idx)),
                    markouts: None,
                });
                items.push(RecordItem {
                    order_id: o.id,
                    order: None,
                    slice: None,
                    markouts: Some((idx, format!("{{\"1s\":\"{idx}\"}}"))),
                });
                items.push(RecordItem {
                    order_id: o.id,
                    order: None,
                    slice: None,
                    markouts: Some((idx, format!("{{\"60s\":\"{idx}\"}}"))),
                });
            }
            items.push(RecordItem {
                order_id: 999_999,
                order: None,
                slice: Some(slice(999_999, 0)),
                markouts: None,
            });
            s.record(&items).await.unwrap();
        }
        let (sa, sb) = (s.slices(a.id).await.unwrap(), s.slices(b.id).await.unwrap());
        assert_eq!(sa.len() + sb.len(), usize::try_from(next).unwrap());
        for r in sa.iter().chain(&sb) {
            assert_eq!(r.filled, format!("{}.5", r.idx));
            assert_eq!(r.markouts, Some(format!("{{\"60s\":\"{}\"}}", r.idx)));
        }
        let last_a = sa.iter().map(|r| r.idx).max().unwrap();
        let (row, _) = s.order_by_token(user, "a").await.unwrap().unwrap();
        assert_eq!((row.next_index, row.filled), (last_a, format!("{last_a}")));
        assert!(s.slices(999_999).await.unwrap().is_empty());
    }

    #[test]
    fn chunks_cover_every_row_once_in_the_fixed_sizes() {
        for n in 0..400usize {
            let rows: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = chunked(&rows).collect();
            assert!(parts.iter().all(|p| CHUNKS.contains(&p.len())), "n = {n}");
            let flat: Vec<usize> = parts.concat();
            assert_eq!(flat, rows, "n = {n}");
        }
    }
}
