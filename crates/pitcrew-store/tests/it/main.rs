//! Integration tests of the store, each run against SQLite and PostgreSQL.

mod migrate;
mod record;
mod schema;

use pitcrew_store::Db;
use serde_json::{Map, Value};

/// The instant every test acts at: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600_000;

/// A JSON object literal as a field map.
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// A new workspace, straight through the store.
pub async fn workspace(db: &Db, slug: &str) -> i64 {
    pitcrew_store::admin::create_workspace(db.conn(), slug, slug, NOW)
        .await
        .expect("create workspace")
        .id
}
