use crate::error::StoreResult;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The platform's store. Cheap to share behind an `Arc`.
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// `SELECT` of users with their relations, in this backend's JSON dialect.
    pub(crate) user_select: String,
    /// User rows by id; used only on SQLite (single node).
    pub(crate) user_cache: Option<crate::cache::UserCache>,
    /// SQLite allows one writer; multi-statement write transactions take this gate so that they
    /// never fail with `SQLITE_BUSY` half-way. PostgreSQL uses row locks instead.
    write_gate: tokio::sync::Mutex<()>,
    /// Seals and opens secrets kept in rows (gateway passwords); see [`Store::with_secret_key`].
    pub(crate) secret: Option<std::sync::Arc<crate::SecretKey>>,
    /// Compiled outbound route patterns.
    pub(crate) route_patterns: crate::routing::PatternCache,
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            crate::StoreError::Invalid(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("switchboard.db").display()
        );
        Self::connect(&url).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and applies the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let mut opts = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL keeps readers off the writer's back; NORMAL sync is durable across
                    // process crashes (kill -9), which is what we promise.
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                         PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            user_select: crate::users::user_select(backend),
            user_cache: (backend == Backend::Sqlite).then(Default::default),
            write_gate: tokio::sync::Mutex::new(()),
            secret: None,
            route_patterns: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction (serialised with other writers on SQLite).
    pub(crate) async fn begin_write(&self) -> StoreResult<WriteTx<'_>> {
        let gate = match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        };
        Ok(WriteTx {
            tx: self.pool.begin().await?,
            _gate: gate,
        })
    }

    /// Retires cached reads after a committed write to users, devices or roles.
    pub(crate) fn directory_changed(&self) {
        if let Some(c) = &self.user_cache {
            c.bump();
        }
    }

    /// `FOR UPDATE` where the backend has row locks.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a 0/1 integer column as a bool (both backends store flags as BIGINT).
pub(crate) fn flag(row: &AnyRow, col: &str) -> bool {
    use sqlx::Row;
    row.try_get::<i64, _>(col).unwrap_or(0) != 0
}

/// A transaction plus, on SQLite, the writer gate it holds until commit or drop.
pub(crate) struct WriteTx<'a> {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _gate: Option<tokio::sync::MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Creates an empty PostgreSQL database on the server of `server_url` (tests and setup tools
/// use it to get an isolated database). `name` must be a plain identifier.
pub async fn create_postgres_database(server_url: &str, name: &str) -> StoreResult<()> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(crate::StoreError::Invalid(format!(
            "bad database name {name:?}"
        )));
    }
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(server_url)
        .await?;
    pool.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    pool.close().await;
    Ok(())
}
