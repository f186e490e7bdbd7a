//! Test helpers: a real, freshly migrated database per test — a SQLite file
//! in a temporary folder, and a PostgreSQL schema of its own.
//!
//! PostgreSQL is found at `PITCREW_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the
//! PostgreSQL half of a test is skipped with a note — unless `CI=true`, where
//! a missing PostgreSQL fails the test.

pub mod browser;
pub mod python;
pub mod smtp;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use pitcrew_store::{Db, Engine};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema(String),
}

impl TestDb {
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub fn postgres_url() -> String {
    std::env::var("PITCREW_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// A migrated SQLite database in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(unique_name("pitcrew_test"));
    std::fs::create_dir_all(&dir).expect("create temporary folder");
    let url = format!("sqlite://{}", dir.join("pitcrew.db").display());
    let db = Db::connect(&url).await.expect("open SQLite");
    pitcrew_store::migrate::migrate(&db, 0)
        .await
        .expect("migrate SQLite");
    TestDb {
        db,
        cleanup: Cleanup::Dir(dir),
    }
}

/// An unmigrated, empty PostgreSQL schema of its own, or `None` when
/// PostgreSQL is unreachable outside CI.
pub async fn postgres_empty() -> Option<TestDb> {
    let url = postgres_url();
    let mut admin = match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) if !in_ci() => {
            eprintln!(
                "note: PostgreSQL at {url} is unreachable ({e}); skipping its half of this test"
            );
            return None;
        }
        Err(e) => panic!("CI=true and PostgreSQL at {url} is unreachable: {e}"),
    };
    let schema = unique_name("t");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let _ = admin.close().await;
    let opts = PgConnectOptions::from_str(&url)
        .expect("PostgreSQL URL")
        .options([("search_path", schema.as_str())])
        // Tagged so cleanup can end this test's connections before dropping the schema.
        .application_name(&schema);
    let db = Db::connect_postgres(opts).await.expect("connect to schema");
    Some(TestDb {
        db,
        cleanup: Cleanup::Schema(schema),
    })
}

/// A migrated PostgreSQL schema of its own (see `postgres_empty`).
pub async fn postgres() -> Option<TestDb> {
    let t = postgres_empty().await?;
    pitcrew_store::migrate::migrate(&t.db, 0)
        .await
        .expect("migrate PostgreSQL");
    Some(t)
}

/// One database per engine available: SQLite always, PostgreSQL when reachable.
pub async fn each_engine() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema(schema) => {
                // A transaction still open in this test's pool (its rollback is queued on the
                // test's runtime, which is blocked here) would hold locks the drop waits for:
                // end those connections first.
                let sql = format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}' AND pid <> pg_backend_pid(); DROP SCHEMA IF EXISTS {schema} CASCADE"
                );
                let url = postgres_url();
                // Drop runs outside async; a short-lived thread with its own runtime does the cleanup.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(mut c) = PgConnection::connect(&url).await {
                                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                                    .execute(&mut c)
                                    .await;
                                let _ = c.close().await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// `target/tmp` beside the running test binary (`target/<profile>/deps/…`),
/// the folder Cargo gives integration tests for scratch files: tools the
/// tests install (a Python environment, npm packages) live there.
pub(crate) fn scratch_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            let target = if deps.file_name()? == "deps" {
                deps.parent()?.parent()?
            } else {
                deps.parent()?
            };
            Some(target.join("tmp"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("pitcrew-test-tools"))
}
