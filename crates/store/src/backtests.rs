//! The lab's backtests: each stored whole, as its JSON answer, owned by a user.

use crate::{Store, StoreError};

impl Store {
    /// Store a backtest's answer `body` under `id` for `user_id`.
    pub async fn insert_backtest(
        &self,
        id: &str,
        user_id: i64,
        created_ns: i64,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO backtests (id, user_id, created_ns, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(created_ns)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One of a user's backtests (another user's is `None`, like a missing one).
    pub async fn backtest(&self, user_id: i64, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT body FROM backtests WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A user's backtests, newest first (at most `limit`, skipping `offset`).
    pub async fn backtests(
        &self,
        user_id: i64,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM backtests WHERE user_id = $1 \
             ORDER BY created_ns DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[tokio::test]
    async fn backtests_are_the_owners_newest_first() {
        for s in crate::testing::stores().await {
            owners_newest_first(&s).await;
        }
    }

    async fn owners_newest_first(s: &Store) {
        let a = s.add_user("a", "h", "basic").await.unwrap().unwrap();
        let b = s.add_user("b", "h", "basic").await.unwrap().unwrap();
        s.insert_backtest("bt-1", a, 10, "{\"n\":1}").await.unwrap();
        s.insert_backtest("bt-2", a, 20, "{\"n\":2}").await.unwrap();
        s.insert_backtest("bt-3", b, 30, "{\"n\":3}").await.unwrap();
        assert_eq!(
            s.backtests(a, 10, 0).await.unwrap(),
            ["{\"n\":2}", "{\"n\":1}"]
        );
        assert_eq!(s.backtests(a, 1, 1).await.unwrap(), ["{\"n\":1}"]);
        assert_eq!(
            s.backtest(a, "bt-1").await.unwrap().as_deref(),
            Some("{\"n\":1}")
        );
        assert_eq!(s.backtest(b, "bt-1").await.unwrap(), None);
        assert!(
            s.insert_backtest("bt-1", b, 40, "{}").await.is_err(),
            "ids are unique"
        );
    }
}
