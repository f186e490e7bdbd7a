//! The `Db` handle: one concrete type over a SQLite or PostgreSQL pool, with
//! just enough surface for repositories — run a statement with bound
//! parameters, read rows by column name, open a transaction.
//!
//! SQL is written once with `$1`-style placeholders, which both engines
//! accept; where the engines differ, repositories branch on `Db::engine`.

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Postgres, Row as _, Sqlite, Transaction};

use crate::StoreError;

/// Which SQL engine a `Db` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A pool of connections to the system of record.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone)]
pub enum Param {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    /// Stored as JSONB on PostgreSQL and as JSON text on SQLite.
    Json(Value),
    NullInt,
    NullText,
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(v)
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Param {
        Param::Float(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Param {
        Param::Bool(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(v.to_string())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(v)
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Param {
        Param::Text(v.clone())
    }
}
impl From<Value> for Param {
    fn from(v: Value) -> Param {
        Param::Json(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Param {
        v.map_or(Param::NullInt, Param::Int)
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Param {
        v.map_or(Param::NullText, Param::Text)
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Param {
        v.map_or(Param::NullText, Param::from)
    }
}

/// Build a `Vec<Param>` from values of mixed types.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::Param::from($value)),*]
    };
}

/// A row read from either engine, decoded by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// A column decoded the same way on both engines.
    fn get<T>(&self, col: &str) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite>
            + sqlx::Type<Sqlite>
            + for<'r> sqlx::Decode<'r, Postgres>
            + sqlx::Type<Postgres>,
    {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.get(col)
    }

    pub fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        self.get(col)
    }

    pub fn text(&self, col: &str) -> Result<String, StoreError> {
        self.get(col)
    }

    pub fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        self.get(col)
    }

    pub fn bool(&self, col: &str) -> Result<bool, StoreError> {
        self.get(col)
    }

    /// A JSON column; SQL NULL reads as `Value::Null`.
    pub fn json(&self, col: &str) -> Result<Value, StoreError> {
        match self {
            Row::Sqlite(r) => {
                let text: Option<String> = r.try_get(col)?;
                match text {
                    Some(t) => serde_json::from_str(&t)
                        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))),
                    None => Ok(Value::Null),
                }
            }
            Row::Postgres(r) => {
                let v: Option<sqlx::types::Json<Value>> = r.try_get(col)?;
                Ok(v.map(|j| j.0).unwrap_or(Value::Null))
            }
        }
    }
}

fn bind_sqlite<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    params: Vec<Param>,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Json(v) => q.bind(v.to_string()),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullText => q.bind(None::<String>),
        };
    }
    q
}

fn bind_pg<'q>(
    mut q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Param>,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Json(v) => q.bind(sqlx::types::Json(v)),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullText => q.bind(None::<String>),
        };
    }
    q
}

impl Db {
    /// Connect to a `sqlite://path` or `postgres://…` URL. A SQLite file is
    /// created if missing and runs in WAL mode with foreign keys enforced.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a committed write survives a power cut, not only a crash — an answer means stored.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Segment conditions' `matches` runs on the same regex engine in SQL and in memory.
                .with_regexp()
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            return Ok(Db::Sqlite(pool));
        }
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            return Db::connect_postgres(opts).await;
        }
        Err(StoreError::Config(format!(
            "the database URL must start with sqlite:// or postgres://, got `{}`",
            url.split(':').next().unwrap_or_default()
        )))
    }

    /// Connect to PostgreSQL with options already built (tests pick a schema).
    pub async fn connect_postgres(opts: PgConnectOptions) -> Result<Db, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Db::Postgres(pool))
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Begin a transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing midway.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn execute(&self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(p) => sqlite_exec(p, sql, params).await,
            Db::Postgres(p) => pg_exec(p, sql, params).await,
        }
    }

    pub async fn fetch_all(&self, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(p) => sqlite_all(p, sql, params).await,
            Db::Postgres(p) => pg_all(p, sql, params).await,
        }
    }

    pub async fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn fetch_one(&self, sql: &str, params: Vec<Param>) -> Result<Row, StoreError> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Try to become the one holder of `key` across every process sharing
    /// this database (a PostgreSQL advisory lock on a connection of its
    /// own, released when the lease is dropped or the process dies). On
    /// SQLite, which one process serves, the lease is always granted.
    pub async fn try_lease(&self, key: i64) -> Result<Option<Lease>, StoreError> {
        match self {
            Db::Sqlite(_) => Ok(Some(Lease { _conn: None })),
            Db::Postgres(p) => {
                let mut conn = p.acquire().await?.detach();
                let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                Ok(held.then_some(Lease { _conn: Some(conn) }))
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

async fn sqlite_all<'e>(
    e: impl sqlx::SqliteExecutor<'e>,
    sql: &str,
    params: Vec<Param>,
) -> Result<Vec<Row>, StoreError> {
    let q = bind_sqlite(sqlx::query(AssertSqlSafe(sql.to_string())), params);
    Ok(q.fetch_all(e).await?.into_iter().map(Row::Sqlite).collect())
}

async fn pg_all<'e>(
    e: impl sqlx::PgExecutor<'e>,
    sql: &str,
    params: Vec<Param>,
) -> Result<Vec<Row>, StoreError> {
    let q = bind_pg(sqlx::query(AssertSqlSafe(sql.to_string())), params);
    Ok(q.fetch_all(e)
        .await?
        .into_iter()
        .map(Row::Postgres)
        .collect())
}

async fn sqlite_exec<'e>(
    e: impl sqlx::SqliteExecutor<'e>,
    sql: &str,
    params: Vec<Param>,
) -> Result<u64, StoreError> {
    let q = bind_sqlite(sqlx::query(AssertSqlSafe(sql.to_string())), params);
    Ok(q.execute(e).await?.rows_affected())
}

async fn pg_exec<'e>(
    e: impl sqlx::PgExecutor<'e>,
    sql: &str,
    params: Vec<Param>,
) -> Result<u64, StoreError> {
    let q = bind_pg(sqlx::query(AssertSqlSafe(sql.to_string())), params);
    Ok(q.execute(e).await?.rows_affected())
}

/// Proof of holding a lease from `Db::try_lease`; dropping it lets go.
pub struct Lease {
    // Detached from the pool: closing it is what releases the advisory lock.
    _conn: Option<sqlx::postgres::PgConnection>,
}

/// An open transaction; dropped without `commit` it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    pub async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(t) => sqlite_exec(&mut **t, sql, params).await,
            Tx::Postgres(t) => pg_exec(&mut **t, sql, params).await,
        }
    }

    pub async fn fetch_all(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(t) => sqlite_all(&mut **t, sql, params).await,
            Tx::Postgres(t) => pg_all(&mut **t, sql, params).await,
        }
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Param>) -> Result<Row, StoreError> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Run several `;`-separated statements with no parameters (migrations).
    pub async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&mut **t)
                    .await?;
            }
            Tx::Postgres(t) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// Where a repository function runs: straight on the pool, or inside an
/// open transaction. Repositories take a `Conn` so one function serves both.
pub enum Conn<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

impl Db {
    pub fn conn(&self) -> Conn<'_> {
        Conn::Db(self)
    }
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        Conn::Tx(self)
    }
}

impl Conn<'_> {
    /// A shorter-lived `Conn` to the same place, to pass on and keep using this one.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Db(d) => Conn::Db(d),
            Conn::Tx(t) => Conn::Tx(t),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Conn::Db(d) => d.engine(),
            Conn::Tx(t) => t.engine(),
        }
    }

    pub async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        match self {
            Conn::Db(d) => d.execute(sql, params).await,
            Conn::Tx(t) => t.execute(sql, params).await,
        }
    }

    pub async fn fetch_all(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Conn::Db(d) => d.fetch_all(sql, params).await,
            Conn::Tx(t) => t.fetch_all(sql, params).await,
        }
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Param>) -> Result<Row, StoreError> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or(StoreError::NotFound)
    }
}
