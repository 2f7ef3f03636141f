//! Persistence for papertwap: SQLite (embedded, the default) or PostgreSQL (shared by
//! several instances) through sqlx, schema migrations per backend embedded in the binary and
//! run at start.
//!
//! # Invariants
//! - The only crate with SQL. Callers see typed methods, never queries.
//! - Both backends hold the same schema (migrations of the same versions) and answer every
//!   method the same way; the whole test-suite runs against both.
//! - SQLite is opened in WAL mode with foreign keys on and a busy timeout, so readers never
//!   block the writer and a brief lock never surfaces as an error.
//! - Secrets generated here (the JWT secret) are written once and never logged.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod backtests;
mod cluster;
mod connect;
mod orders;
mod record;
#[cfg(test)]
mod testing;
mod users;

pub use cluster::{CHANNEL, Fence, LeaseRow, Listener};
pub use orders::{FullOrder, Inserted, OrderFilter, OrderRow, RecordItem, SliceRow};
pub use users::UserRow;

use sqlx::{AnyPool, Row};
use tracing::info;

/// Errors at the store boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `store.url` is not a usable database URL.
    #[error("invalid store.url `{url}`: {reason}")]
    Url {
        /// The URL given (credentials removed).
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The database file's folder could not be created.
    #[error("cannot create the folder for {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database failed a query.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The system random source failed.
    #[error("no system randomness for the secret: {0}")]
    Random(String),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (or memory): one server instance.
    Sqlite,
    /// A PostgreSQL server: several instances may share it.
    Postgres,
}

impl Backend {
    /// The backend `url` names (`sqlite:…`, `postgres://…`), if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        connect::backend_of(url)
    }

    /// The current UTC time as RFC 3339 text with milliseconds, in this backend's SQL.
    fn now_text(self) -> &'static str {
        match self {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            Backend::Postgres => {
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        }
    }
}

/// The name of the setting holding the generated JWT secret.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// A handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The engine's slice writes. On SQLite one connection, so that its page cache stays
    /// warm with the pages those writes touch (the pool hands out its connections in turn);
    /// on PostgreSQL the shared pool.
    writer: AnyPool,
    backend: Backend,
    /// The URL it was opened with (a PostgreSQL listener opens its own connection).
    url: std::sync::Arc<str>,
}

impl Store {
    /// Open and migrate the database at `url`: `sqlite://relative.db`,
    /// `sqlite:///abs/path.db` or `sqlite::memory:` (the file and its folder are created if
    /// missing), or `postgres://user:password@host:port/database` (the database must exist).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let o = connect::open(url).await?;
        info!(url = %redact(url), backend = ?o.backend, "store ready");
        Ok(Store {
            pool: o.pool,
            writer: o.writer,
            backend: o.backend,
            url: url.into(),
        })
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The database's own consistency check: SQLite's `PRAGMA integrity_check` says `ok`.
    /// PostgreSQL keeps its own (checksums, WAL replay) and has no such query: a trivial
    /// query answering is all that is asked of it.
    pub async fn integrity_ok(&self) -> Result<bool, StoreError> {
        if self.backend == Backend::Postgres {
            return Ok(self.ping().await);
        }
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        let v: String = row.try_get(0)?;
        Ok(v == "ok")
    }

    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Set a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = {}",
            self.backend.now_text()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The JWT signing secret kept in the store, generated (64 random bytes, hex) on first
    /// use. Concurrent first calls (of any instance) agree on one secret: the insert does
    /// nothing on a conflict and the stored value is read back.
    pub async fn jwt_secret(&self) -> Result<String, StoreError> {
        if let Some(s) = self.setting(JWT_SECRET_KEY).await? {
            return Ok(s);
        }
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(JWT_SECRET_KEY)
            .bind(&hex)
            .execute(&self.pool)
            .await?;
        info!("generated and stored a new JWT secret");
        self.setting(JWT_SECRET_KEY)
            .await?
            .ok_or_else(|| StoreError::Random("secret vanished after insert".to_owned()))
    }

    /// The cached pair list of an exchange (an opaque body the caller serialized).
    pub async fn cached_pairs(&self, exchange: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT body FROM pair_cache WHERE exchange = $1")
            .bind(exchange)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Replace the cached pair list of an exchange.
    pub async fn cache_pairs(&self, exchange: &str, body: &str) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO pair_cache (exchange, body) VALUES ($1, $2) \
             ON CONFLICT (exchange) DO UPDATE SET body = excluded.body, fetched_at = {}",
            self.backend.now_text()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(exchange)
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Close the pools, waiting for connections to finish (on SQLite, checkpoints the WAL).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A URL safe for logs and errors: credentials removed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database and its WAL files are owner-only, a new one and an older one alike.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("old.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        for path in [dir.path().join("new.db"), db] {
            let s = Store::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            s.add_user("u", "h", "basic").await.unwrap();
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let mode = std::fs::metadata(&name).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{name:?}");
            }
            s.close().await;
        }
    }

    #[tokio::test]
    async fn creates_file_and_folder_migrates_and_keeps_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/pt.db");
        let url = format!("sqlite://{}", path.display());
        let s = Store::connect(&url).await.unwrap();
        assert!(s.ping().await);
        assert!(s.integrity_ok().await.unwrap());
        let secret = s.jwt_secret().await.unwrap();
        assert_eq!(secret.len(), 128);
        assert_eq!(s.jwt_secret().await.unwrap(), secret);
        s.close().await;
        assert!(path.exists());
        // Reopening keeps the secret (tokens survive restarts).
        let s = Store::connect(&url).await.unwrap();
        assert_eq!(s.jwt_secret().await.unwrap(), secret);
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&s.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(&s.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(fk, 1);
    }

    #[tokio::test]
    async fn settings_and_pair_cache_round_trip() {
        for s in crate::testing::stores().await {
            settings_and_pairs(&s).await;
        }
    }

    async fn settings_and_pairs(s: &Store) {
        let secret = s.jwt_secret().await.unwrap();
        assert_eq!(secret.len(), 128);
        assert_eq!(s.jwt_secret().await.unwrap(), secret);
        assert_eq!(s.setting("x").await.unwrap(), None);
        s.set_setting("x", "1").await.unwrap();
        s.set_setting("x", "2").await.unwrap();
        assert_eq!(s.setting("x").await.unwrap().as_deref(), Some("2"));
        s.cache_pairs("binance", "[]").await.unwrap();
        assert_eq!(
            s.cached_pairs("binance").await.unwrap().as_deref(),
            Some("[]")
        );
        assert_eq!(s.cached_pairs("kraken").await.unwrap(), None);
    }

    #[tokio::test]
    async fn rejects_other_databases_with_a_clear_error() {
        let e = Store::connect("mysql://u:secret@localhost/db")
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("store.url") && text.contains("postgres://"),
            "{e}"
        );
        assert!(!text.contains("secret"), "{e}");
        assert_eq!(
            Backend::of_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(redact("postgres://u:p@h/db"), "postgres://***@h/db");
    }
}
