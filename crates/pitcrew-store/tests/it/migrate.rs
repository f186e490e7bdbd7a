//! Migrations apply once, in order, and report what is left to apply.

use pitcrew_store::Db;
use pitcrew_store::migrate::{migrate, pending};

use crate::schema::logical_schema;
use crate::{NOW, workspace};

/// An empty, unmigrated SQLite file in its own folder (removed on drop).
struct FreshSqlite {
    db: Db,
    dir: std::path::PathBuf,
}

impl Drop for FreshSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fresh_sqlite() -> FreshSqlite {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pitcrew_store_it_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temporary folder");
    let url = format!("sqlite://{}", dir.join("fresh.db").display());
    let db = Db::connect(&url).await.expect("open SQLite");
    FreshSqlite { db, dir }
}

#[tokio::test]
async fn a_new_database_has_every_migration_pending_until_migrated() {
    let lite = fresh_sqlite().await;
    let pg = pitcrew_testkit::postgres_empty().await;
    let mut dbs = vec![&lite.db];
    dbs.extend(pg.as_ref().map(|t| &t.db));
    for db in dbs {
        let engine = db.engine();
        assert_eq!(
            pending(db).await.expect("pending"),
            [
                "0001_record",
                "0002_events",
                "0003_imports",
                "0004_audiences",
                "0005_campaigns"
            ],
            "{engine:?}: an empty database needs every migration"
        );
        assert_eq!(
            migrate(db, NOW).await.expect("migrate"),
            [
                "0001_record",
                "0002_events",
                "0003_imports",
                "0004_audiences",
                "0005_campaigns"
            ],
            "{engine:?}: migrate reports what it applied"
        );
        assert!(
            pending(db).await.expect("pending").is_empty(),
            "{engine:?}: nothing is pending after migrate"
        );
    }
}

#[tokio::test]
async fn pending_is_empty_after_migrate() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        assert_eq!(
            pending(&t.db).await.expect("pending"),
            Vec::<String>::new(),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let before = logical_schema(db).await;

        let applied = migrate(db, NOW + 1).await.expect("second migrate");
        assert!(
            applied.is_empty(),
            "{engine:?}: a second migrate applies nothing, applied {applied:?}"
        );
        assert!(pending(db).await.expect("pending").is_empty(), "{engine:?}");
        assert_eq!(
            logical_schema(db).await,
            before,
            "{engine:?}: the schema is unchanged"
        );
        let versions = db
            .fetch_all("SELECT version FROM schema_migrations", vec![])
            .await
            .expect("read schema_migrations");
        assert_eq!(
            versions.len(),
            5,
            "{engine:?}: each of the five migrations is recorded once"
        );
        let kept = pitcrew_store::admin::workspace_by_id(db.conn(), ws)
            .await
            .expect("read workspace");
        assert!(kept.is_some(), "{engine:?}: existing rows are kept");
    }
}

#[tokio::test]
async fn concurrent_migrations_apply_each_migration_once() {
    let Some(t) = pitcrew_testkit::postgres_empty().await else {
        return;
    };
    let (a, b) = tokio::join!(migrate(&t.db, NOW), migrate(&t.db, NOW));
    let mut applied = a.expect("first migrate");
    applied.extend(b.expect("second migrate"));
    assert_eq!(
        applied,
        [
            "0001_record",
            "0002_events",
            "0003_imports",
            "0004_audiences",
            "0005_campaigns"
        ],
        "Postgres: the advisory lock lets exactly one process apply a migration"
    );
}
