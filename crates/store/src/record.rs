//! Recording the engine's changes: a batch of slices, markouts and order rows in one
//! transaction, written with multi-row statements.
//!
//! A statement costs a round trip to the connection's worker thread, so a batch of `n`
//! slices is written with a handful of statements, not `3n`: rows are grouped in chunks of
//! fixed sizes (so each statement's text repeats and its prepared form is cached).

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite};

use crate::orders::{OrderRow, RecordItem, SliceRow};
use crate::{Store, StoreError};

/// Rows per statement, largest first: any count splits into these, and only these few
/// statement texts are ever prepared. 128 slice rows bind 2 560 values, far below SQLite's
/// limit of 32 766.
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
        let slices: Vec<&SliceRow> = items.iter().filter_map(|i| i.slice.as_ref()).collect();
        let mut marks: Vec<(i64, i64, &str)> = Vec::new();
        let mut mark_at: HashMap<(i64, i64), usize> = HashMap::new();
        for i in items {
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
        for o in items.iter().filter_map(|i| i.order.as_ref()) {
            match order_at.get(&o.id) {
                Some(&at) => orders[at] = o,
                None => {
                    order_at.insert(o.id, orders.len());
                    orders.push(o);
                }
            }
        }
        let mut tx = self.writer.begin().await?;
        for chunk in chunked(&slices) {
            insert_slices(chunk).build().execute(&mut *tx).await?;
        }
        for chunk in chunked(&marks) {
            update_markouts(chunk).build().execute(&mut *tx).await?;
        }
        for chunk in chunked(&orders) {
            update_orders(chunk).build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn insert_slices(rows: &[&SliceRow]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(format!("WITH v({SLICE_COLUMNS}) AS ("));
    q.push_values(rows, |mut b, s| {
        b.push_bind(s.order_id)
            .push_bind(s.idx)
            .push_bind(s.scheduled_ns)
            .push_bind(s.executed_ns)
            .push_bind(&s.target)
            .push_bind(&s.filled)
            .push_bind(&s.notional)
            .push_bind(&s.avg_price)
            .push_bind(&s.fee)
            .push_bind(&s.fills)
            .push_bind(&s.best_bid)
            .push_bind(&s.best_ask)
            .push_bind(&s.mid)
            .push_bind(s.book_seq)
            .push_bind(s.book_age_ms)
            .push_bind(&s.skipped)
            .push_bind(&s.short_reason)
            .push_bind(&s.market)
            .push_bind(&s.markouts)
            .push_bind(&s.fill_venues)
            .push_bind(s.book_ns)
            .push_bind(&s.fill_shown);
    });
    q.push(format!(
        ") INSERT INTO slices ({SLICE_COLUMNS}) SELECT {SLICE_COLUMNS} FROM v \
         WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = v.order_id)"
    ));
    q
}

fn update_markouts(rows: &[(i64, i64, &str)]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new("WITH v(order_id, idx, markouts) AS (");
    q.push_values(rows, |mut b, (order, idx, json)| {
        b.push_bind(*order).push_bind(*idx).push_bind(*json);
    });
    q.push(
        ") UPDATE slices SET markouts = v.markouts FROM v \
         WHERE slices.order_id = v.order_id AND slices.idx = v.idx",
    );
    q
}

fn update_orders(rows: &[&OrderRow]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(format!("WITH v(id, {}) AS (", ORDER_COLUMNS.join(", ")));
    q.push_values(rows, |mut b, o| {
        b.push_bind(o.id)
            .push_bind(&o.status)
            .push_bind(o.closed_ns)
            .push_bind(o.next_index)
            .push_bind(&o.filled)
            .push_bind(&o.notional)
            .push_bind(&o.fees)
            .push_bind(&o.arrival_mid)
            .push_bind(&o.mid_sum)
            .push_bind(o.mid_samples)
            .push_bind(&o.spread_cost)
            .push_bind(o.slices_done)
            .push_bind(&o.skipped)
            .push_bind(&o.tca);
    });
    let set: Vec<String> = ORDER_COLUMNS
        .iter()
        .map(|c| format!("{c} = v.{c}"))
        .collect();
    q.push(format!(
        ") UPDATE orders SET {} FROM v WHERE orders.id = v.id",
        set.join(", ")
    ));
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
        let s = Store::connect("sqlite::memory:").await.unwrap();
        let user = s.add_user("u", "h", "basic").await.unwrap().unwrap();
        let (a, b) = (order(&s, user, "a").await, order(&s, user, "b").await);
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
