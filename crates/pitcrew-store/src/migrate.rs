//! Schema migrations: one folder per engine, applied in order, each once,
//! inside a transaction. On PostgreSQL an advisory lock makes concurrent
//! `pitcrew serve` processes wait for one another rather than race.

use crate::{Db, StoreError, Tx, params};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "record",
        sqlite: include_str!("../migrations/sqlite/0001_record.sql"),
        postgres: include_str!("../migrations/postgres/0001_record.sql"),
    },
    Migration {
        version: 2,
        name: "events",
        sqlite: include_str!("../migrations/sqlite/0002_events.sql"),
        postgres: include_str!("../migrations/postgres/0002_events.sql"),
    },
    Migration {
        version: 3,
        name: "imports",
        sqlite: include_str!("../migrations/sqlite/0003_imports.sql"),
        postgres: include_str!("../migrations/postgres/0003_imports.sql"),
    },
    Migration {
        version: 4,
        name: "audiences",
        sqlite: include_str!("../migrations/sqlite/0004_audiences.sql"),
        postgres: include_str!("../migrations/postgres/0004_audiences.sql"),
    },
    Migration {
        version: 5,
        name: "campaigns",
        sqlite: include_str!("../migrations/sqlite/0005_campaigns.sql"),
        postgres: include_str!("../migrations/postgres/0005_campaigns.sql"),
    },
];

/// Arbitrary constant naming pitcrew's migration lock on PostgreSQL.
const MIGRATION_LOCK: i64 = 0x0070_6974_6372_6577;

/// Apply every migration not yet applied; returns the names applied now.
pub async fn migrate(db: &Db, now_ms: i64) -> Result<Vec<String>, StoreError> {
    let mut tx = db.begin().await?;
    if let Tx::Postgres(_) = tx {
        tx.execute("SELECT pg_advisory_xact_lock($1)", params![MIGRATION_LOCK])
            .await?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        vec![],
    )
    .await?;
    let applied: Vec<i64> = tx
        .fetch_all("SELECT version FROM schema_migrations", vec![])
        .await?
        .iter()
        .map(|r| r.int("version"))
        .collect::<Result<_, _>>()?;
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let script = match tx {
            Tx::Sqlite(_) => m.sqlite,
            Tx::Postgres(_) => m.postgres,
        };
        tx.execute_script(script).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            params![m.version, m.name, now_ms],
        )
        .await?;
        done.push(format!("{:04}_{}", m.version, m.name));
    }
    tx.commit().await?;
    Ok(done)
}

/// Versions known to this build but not yet applied to `db`.
pub async fn pending(db: &Db) -> Result<Vec<String>, StoreError> {
    let applied: Vec<i64> = match db
        .fetch_all("SELECT version FROM schema_migrations", vec![])
        .await
    {
        Ok(rows) => rows
            .iter()
            .map(|r| r.int("version"))
            .collect::<Result<_, _>>()?,
        Err(_) => Vec::new(),
    };
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect())
}
