//! Opening the database named by `store.url`: SQLite (a file or memory, embedded) or
//! PostgreSQL (a server several instances share), both behind sqlx's `Any` driver, each
//! migrated from its own folder of the same versions.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use crate::{Backend, StoreError};

/// Connections to a PostgreSQL server per instance: the engine's writer, the API's readers
/// and the lease keeper share them.
const PG_CONNECTIONS: u32 = 16;

/// The pools of an opened database: every query's, and the engine's slice writes'.
pub(crate) struct Opened {
    pub(crate) pool: AnyPool,
    pub(crate) writer: AnyPool,
    pub(crate) backend: Backend,
}

/// The backend a `store.url` names.
pub(crate) fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

/// Open and migrate the database at `url`.
pub(crate) async fn open(url: &str) -> Result<Opened, StoreError> {
    sqlx::any::install_default_drivers();
    match backend_of(url) {
        Some(Backend::Sqlite) => open_sqlite(url).await,
        Some(Backend::Postgres) => open_postgres(url).await,
        None => Err(StoreError::Url {
            url: crate::redact(url),
            reason: "expected sqlite:… (a file, or sqlite::memory:) or postgres://…".to_owned(),
        }),
    }
}

async fn open_postgres(url: &str) -> Result<Opened, StoreError> {
    let bad = |e: sqlx::Error| StoreError::Url {
        url: crate::redact(url),
        reason: e.to_string(),
    };
    let opts = AnyConnectOptions::from_str(url).map_err(bad)?;
    let pool = AnyPoolOptions::new()
        .max_connections(PG_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(Opened {
        writer: pool.clone(),
        pool,
        backend: Backend::Postgres,
    })
}

async fn open_sqlite(url: &str) -> Result<Opened, StoreError> {
    let bad = |reason: String| StoreError::Url {
        url: url.to_owned(),
        reason,
    };
    let parsed = SqliteConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    if !memory
        && let Some(dir) = parsed
            .get_filename()
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        create_dir(dir)?;
    }
    if !memory {
        owner_only(parsed.get_filename())?;
    }
    // Created when missing (the file exists by now, owner-only, unless in memory).
    let with_mode = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    let opts = AnyConnectOptions::from_str(&with_mode).map_err(|e| bad(e.to_string()))?;
    // WAL (readers never block the writer), commits without fsync (NORMAL: a crash loses
    // at most the last commits, never the file), checkpoints only in the background task
    // below, never inside a writer's commit, so slice writes never stall behind one.
    let pragmas: &'static str = if memory {
        "PRAGMA journal_mode = MEMORY; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
    } else {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0;"
    };
    let pool = AnyPoolOptions::new()
        // One connection for an in-memory database, or each would get its own.
        .max_connections(if memory { 1 } else { 8 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(pragmas).await?;
                Ok(())
            })
        })
        .connect_with(opts.clone())
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    let writer = if memory {
        pool.clone()
    } else {
        spawn_checkpointer(pool.clone());
        // One connection, so that its page cache stays warm with the order rows and slice
        // index pages it keeps updating (SQLite's default is 2 MiB; pages are only taken as
        // used).
        AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(pragmas).await?;
                    conn.execute("PRAGMA cache_size = -8192").await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?
    };
    Ok(Opened {
        pool,
        writer,
        backend: Backend::Sqlite,
    })
}

/// Copy the WAL back into the database once a second without blocking writers (`PASSIVE`),
/// until the pool is closed. SQLite also checkpoints when the last connection closes.
fn spawn_checkpointer(pool: AnyPool) {
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
