//! pitcrew-store: the system of record on SQLite or PostgreSQL.
//!
//! The only crate that writes SQL by hand. Every function that touches a
//! workspace's rows takes the `workspace_id` and filters by it; nothing here
//! decides permissions or validates field values (that is `pitcrew-app` and
//! `pitcrew-core`).

pub mod admin;
pub mod audience;
pub mod audit;
pub mod campaign;
mod db;
pub mod event;
pub mod health;
pub mod import;
pub mod migrate;
pub mod record;

pub use db::{Conn, Db, Engine, Lease, Param, Row, Tx};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key would be duplicated; `target` names the index or columns.
    #[error("duplicate value for {target}")]
    Unique { target: String },
    #[error("a referenced row does not exist")]
    ForeignKey,
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if let Some(db) = e.as_database_error() {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let target = db
                        .constraint()
                        .map(str::to_string)
                        .unwrap_or_else(|| db.message().to_string());
                    return StoreError::Unique { target };
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return StoreError::ForeignKey,
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}

/// SQL expression reading a JSON member of `column` as text, per engine.
/// `key` must be a validated field key (lowercase letters, digits, `_`).
pub(crate) fn json_text(engine: Engine, column: &str, key: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_extract({column}, '$.{key}')"),
        Engine::Postgres => format!("({column}->>'{key}')"),
    }
}

/// SQL expression reading a JSON member with its JSON type kept, for ordering.
pub(crate) fn json_value(engine: Engine, column: &str, key: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_extract({column}, '$.{key}')"),
        Engine::Postgres => format!("({column}->'{key}')"),
    }
}

/// A LIKE pattern matching `needle` anywhere, with wildcards escaped (`\`).
pub(crate) fn like_pattern(needle: &str) -> String {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
