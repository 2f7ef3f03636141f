//! Persistence for papertwap: SQLite through sqlx, schema migrations embedded in the binary
//! and run at start.
//!
//! # Invariants
//! - The only crate with SQL. Callers see typed methods, never queries.
//! - The database is opened in WAL mode with foreign keys on and a busy timeout, so readers
//!   never block the writer and a brief lock never surfaces as an error.
//! - Secrets generated here (the JWT secret) are written once and never logged.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod backtests;
mod orders;
mod record;
mod users;

pub use orders::{FullOrder, Inserted, OrderFilter, OrderRow, RecordItem, SliceRow};
pub use users::UserRow;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tracing::info;

/// Errors at the store boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `store.url` is not a usable SQLite URL.
    #[error("invalid store.url `{url}`: {reason}")]
    Url {
        /// The URL given.
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

/// The name of the setting holding the generated JWT secret.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// A handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The engine's slice writes: one connection, so that its page cache stays warm with
    /// the pages those writes touch (the pool hands out its connections in turn).
    writer: SqlitePool,
}

impl Store {
    /// Open (creating the file and its folder if missing) and migrate the database at
    /// `url`: `sqlite://relative.db`, `sqlite:///abs/path.db` or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let bad = |reason: &str| StoreError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if !url.starts_with("sqlite:") {
            return Err(bad("only sqlite: URLs are supported by this build"));
        }
        let opts = SqliteConnectOptions::from_str(url).map_err(|e| bad(&e.to_string()))?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !memory
            && let Some(dir) = opts
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
        {
            create_dir(dir)?;
        }
        if !memory {
            owner_only(opts.get_filename())?;
        }
        let opts = opts
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Checkpoints (the only fsyncs in WAL + NORMAL) run in the background task below,
            // never inside a writer's commit, so slice writes never stall behind one.
            .pragma("wal_autocheckpoint", if memory { "1000" } else { "0" });
        // The writer's cache holds the order rows and the slice index pages it keeps
        // updating (SQLite's default is 2 MiB; pages are only taken as used).
        let writer_opts = opts.clone().pragma("cache_size", "-8192");
        let pool = SqlitePoolOptions::new()
            // One connection for an in-memory database, or each would get its own.
            .max_connections(if memory { 1 } else { 8 })
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = if memory {
            pool.clone()
        } else {
            spawn_checkpointer(pool.clone());
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(writer_opts)
                .await?
        };
        info!(url = %redact(url), "store ready");
        Ok(Store { pool, writer })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`): `Ok(true)` when it says
    /// `ok`.
    pub async fn integrity_ok(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        let v: String = row.try_get(0)?;
        Ok(v == "ok")
    }

    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Set a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The JWT signing secret kept in the store, generated (64 random bytes, hex) on first
    /// use. Concurrent first calls agree on one secret: the insert is `OR IGNORE` and the
    /// stored value is read back.
    pub async fn jwt_secret(&self) -> Result<String, StoreError> {
        if let Some(s) = self.setting(JWT_SECRET_KEY).await? {
            return Ok(s);
        }
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)")
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
        let row = sqlx::query("SELECT body FROM pair_cache WHERE exchange = ?")
            .bind(exchange)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Replace the cached pair list of an exchange.
    pub async fn cache_pairs(&self, exchange: &str, body: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pair_cache (exchange, body) VALUES (?, ?)
             ON CONFLICT(exchange) DO UPDATE SET body = excluded.body,
                 fetched_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        )
        .bind(exchange)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Close the pool, waiting for connections to finish (checkpoints the WAL).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Copy the WAL back into the database once a second without blocking writers (`PASSIVE`),
/// until the pool is closed. SQLite also checkpoints when the last connection closes.
fn spawn_checkpointer(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
    });
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
        path: dir.display().to_string(),
        source,
    })
}

/// The database file (and its `-wal` and `-shm` files, which SQLite creates with the
/// database's permissions) readable by its owner only (0600 on Unix): it holds the token
/// signing secret and the password hashes. A file created by an older version is tightened.
fn owner_only(db: &Path) -> Result<(), StoreError> {
    let failed = |source: std::io::Error| StoreError::Folder {
        path: db.display().to_string(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)
            .map_err(failed)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = Path::new(&name);
            if path.exists() {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(failed)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = failed;
    Ok(())
}

/// A URL safe for logs: credentials (for future server URLs) removed.
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
        let s = Store::connect("sqlite::memory:").await.unwrap();
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
        let e = Store::connect("postgres://u:p@localhost/db")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("store.url"), "{e}");
        assert_eq!(redact("postgres://u:p@h/db"), "postgres://***@h/db");
    }
}
