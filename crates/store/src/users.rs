//! Users: name, bcrypt hash (computed by the caller), tier.

use sqlx::Row;

use crate::{Store, StoreError};

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Unique name.
    pub username: String,
    /// bcrypt hash.
    pub password_hash: String,
    /// `basic` or `premium`.
    pub tier: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Incremented by every password change; tokens of an older version are revoked.
    pub token_version: i64,
}

fn user_row(r: &sqlx::any::AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        tier: r.try_get("tier")?,
        created_at: r.try_get("created_at")?,
        token_version: r.try_get("token_version")?,
    })
}

impl Store {
    /// Add a user; `Ok(None)` when the name is taken.
    pub async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        tier: &str,
    ) -> Result<Option<i64>, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, tier) VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(tier)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// A user by name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let r = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(user_row).transpose()?)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_row).collect::<Result<_, _>>()?)
    }

    /// Remove a user (and their orders); false when there was none.
    pub async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Replace a user's password hash and revoke their earlier tokens (the token version
    /// moves on); false when there is no such user.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET password_hash = $1, token_version = token_version + 1 WHERE username = $2")
            .bind(password_hash)
            .bind(username)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
