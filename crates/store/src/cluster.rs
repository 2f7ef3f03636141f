//! Several instances on one database (DESIGN §19): leases of symbols with epochs on the
//! database's clock, the fence every slice write checks, cancels asked of the instance that
//! executes an order, and notifications between instances (PostgreSQL `LISTEN`/`NOTIFY`).
//!
//! No session advisory lock anywhere: a lease is a row, so it works through any pooler.

use sqlx::Row;
use sqlx::postgres::PgListener;

use crate::orders::{FullOrder, full_order, order_columns_with_slices};
use crate::{Backend, Store, StoreError};

/// The channel instances notify each other on.
pub const CHANNEL: &str = "papertwap";

/// What fences a batch of writes: the holder and the leases it believes it holds (scope,
/// epoch). A write of a scope whose lease has moved on is not made.
#[derive(Debug, Clone, Copy)]
pub struct Fence<'a> {
    /// This instance's holder id.
    pub holder: &'a str,
    /// The leases it holds, by scope.
    pub leases: &'a [(String, i64)],
}

/// A lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The symbol.
    pub scope: String,
    /// Who holds it.
    pub holder: String,
    /// Its epoch.
    pub epoch: i64,
    /// Until when (database clock, ms).
    pub expires_ms: i64,
}

impl Backend {
    /// The database clock in ms since the Unix epoch, in this backend's SQL (the clock at
    /// the statement, not at the transaction's start).
    fn now_ms(self) -> &'static str {
        match self {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres => "(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        }
    }
}

/// `($a, $b), ($c, $d), …` from placeholder `first`, for `n` pairs.
pub(crate) fn pairs(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The database's clock, ms since the Unix epoch.
    pub async fn db_now_ms(&self) -> Result<i64, StoreError> {
        let sql = format!("SELECT {}", self.backend.now_ms());
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?)
    }

    /// Take `scope`'s lease for `holder` when nobody holds it or its lease has expired:
    /// the new epoch (one more than the last holder's). `None` while another's lease runs
    /// (or this holder's own: renew that instead).
    pub async fn acquire_lease(
        &self,
        scope: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.backend.now_ms();
        let sql = format!(
            "INSERT INTO leases (scope, holder, epoch, expires_ms) VALUES ($1, $2, 1, {now} + $3) \
             ON CONFLICT (scope) DO UPDATE SET holder = excluded.holder, \
                 epoch = leases.epoch + 1, expires_ms = excluded.expires_ms \
             WHERE leases.expires_ms < {now} RETURNING epoch"
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(scope)
            .bind(holder)
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Extend the leases `holder` holds at the epochs given (expired or not: nobody took
    /// them while the epoch is unchanged). The scopes still held.
    pub async fn renew_leases(
        &self,
        holder: &str,
        held: &[(String, i64)],
        ttl_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE leases SET expires_ms = {} + $2 WHERE holder = $1 AND (scope, epoch) IN ({}) \
             RETURNING scope",
            self.backend.now_ms(),
            pairs(3, held.len())
        );
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(holder.to_owned())
            .bind(ttl_ms);
        for (scope, epoch) in held {
            q = q.bind(scope.clone()).bind(*epoch);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Give a lease up (a graceful stop, or no open order left on it): true when it was
    /// still held.
    pub async fn release_lease(
        &self,
        scope: &str,
        holder: &str,
        epoch: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM leases WHERE scope = $1 AND holder = $2 AND epoch = $3")
            .bind(scope)
            .bind(holder)
            .bind(epoch)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Every lease, by scope (for operators and tests).
    pub async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows =
            sqlx::query("SELECT scope, holder, epoch, expires_ms FROM leases ORDER BY scope")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaseRow {
                    scope: r.try_get(0)?,
                    holder: r.try_get(1)?,
                    epoch: r.try_get(2)?,
                    expires_ms: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Symbols with open orders and no running lease (never taken, released, or expired).
    pub async fn orphan_scopes(&self) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT o.symbol FROM orders o LEFT JOIN leases l ON l.scope = o.symbol \
             WHERE o.status IN ('pending', 'working') \
               AND (l.scope IS NULL OR l.expires_ms < {}) ORDER BY o.symbol",
            self.backend.now_ms()
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// The open orders of one symbol (every venue, routed ones too), oldest first, with
    /// their slices and request text.
    pub async fn open_orders_of(&self, symbol: &str) -> Result<Vec<FullOrder>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders WHERE status IN ('pending', 'working') AND symbol = $1 \
             ORDER BY id",
            order_columns_with_slices(self.backend)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(symbol)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(full_order).collect()
    }

    /// The open orders of `scopes`: (id, symbol), by id.
    pub async fn open_order_ids(
        &self,
        scopes: &[String],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..scopes.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT id, symbol FROM orders WHERE status IN ('pending', 'working') \
             AND symbol IN ({}) ORDER BY id",
            list.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in scopes {
            q = q.bind(s.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// An order by id with its slices and request text.
    pub async fn order_by_id(&self, id: i64) -> Result<Option<FullOrder>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders WHERE id = $1",
            order_columns_with_slices(self.backend)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(full_order).transpose()
    }

    /// Ask the instance executing an open order to cancel it (at `at_ns`), and tell it.
    /// False when the order is no longer open.
    pub async fn request_cancel(&self, order_id: i64, at_ns: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE orders SET cancel_requested_ns = COALESCE(cancel_requested_ns, $2) \
             WHERE id = $1 AND status IN ('pending', 'working')",
        )
        .bind(order_id)
        .bind(at_ns)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n > 0 {
            self.notify(&format!("c:{order_id}")).await?;
        }
        Ok(n > 0)
    }

    /// The open orders of `scopes` whose cancel was asked, by id.
    pub async fn cancels_requested(&self, scopes: &[String]) -> Result<Vec<i64>, StoreError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..scopes.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT id FROM orders WHERE cancel_requested_ns IS NOT NULL \
             AND status IN ('pending', 'working') AND symbol IN ({}) ORDER BY id",
            list.join(", ")
        );
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for s in scopes {
            q = q.bind(s.clone());
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Tell every instance listening (PostgreSQL; nothing to tell on SQLite, where one
    /// instance runs).
    pub async fn notify(&self, payload: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Listen to the other instances' notifications: `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut l = PgListener::connect(&self.url).await?;
        l.listen(CHANNEL).await?;
        Ok(Some(Listener(l)))
    }
}

/// The other instances' notifications: `n:<symbol>` (a new order its submitting instance
/// does not execute), `u:<id>,…` (orders changed), `c:<id>` (a cancel asked).
#[derive(Debug)]
pub struct Listener(PgListener);

impl Listener {
    /// The next notification's payload. After a lost connection it reconnects and answers
    /// `None` once: notifications may have been missed, so the caller looks again.
    pub async fn recv(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}
