//! Integration tests of the use cases, each run against SQLite and PostgreSQL.
//!
//! Tests run on the multi-threaded runtime: a use case that refuses a change
//! drops its transaction, and the pool rolls it back on a runtime task. That
//! task must be able to run while a test's PostgreSQL schema is dropped
//! (which blocks the test's own thread and waits for those locks).

mod admin;
mod audience;
mod audit;
mod broadcast;
mod consent;
mod equivalence;
mod feedback;
mod fields;
mod health;
mod import;
mod ingest;
mod isolation;
mod mail;
mod record;
mod sending;
mod templates;

use std::fmt::Debug;

use pitcrew_app::admin::NewMember;
use pitcrew_app::record::{RecordInput, RecordPatch};
use pitcrew_app::{Actor, AppError, Db};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::Engine;
use pitcrew_store::record::StoredRecord;
use serde_json::{Map, Value};

/// The instant every test acts at: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600_000;

pub const CONTACT: ObjectKind = ObjectKind::Contact;
pub const ACCOUNT: ObjectKind = ObjectKind::Account;

/// A JSON object literal as a field map.
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// A record to create, written as the API receives it.
pub fn input(v: Value) -> RecordInput {
    serde_json::from_value(v).expect("a valid record input")
}

/// Changes to a record, written as the API receives them.
pub fn patch(v: Value) -> RecordPatch {
    serde_json::from_value(v).expect("a valid record patch")
}

pub async fn new_workspace(db: &Db, slug: &str) -> Workspace {
    pitcrew_app::admin::create_workspace(db, slug, &format!("{slug} Inc."), NOW)
        .await
        .expect("create workspace")
}

/// Someone acting with `role` who is not a signed-in member (permission checks only).
pub fn with_role(ws: &Workspace, role: Role) -> Actor {
    Actor {
        workspace_id: ws.id,
        user_id: None,
        token_id: None,
        role,
        label: format!("{role}@test"),
    }
}

/// A member of `ws` with `role`, added by the system, acting as themselves.
/// The user has no usable password (no slow hashing); sign-in tests set one.
pub async fn member(db: &Db, ws: &Workspace, email: &str, role: Role) -> Actor {
    if pitcrew_store::admin::user_by_email(db.conn(), email)
        .await
        .expect("look up user")
        .is_none()
    {
        pitcrew_store::admin::create_user(db.conn(), email, email, "no-password", NOW)
            .await
            .expect("create user");
    }
    let m = pitcrew_app::admin::add_member(
        db,
        &Actor::system(ws.id),
        NewMember {
            email: email.into(),
            name: String::new(),
            role,
            password: None,
        },
        NOW,
    )
    .await
    .expect("add member");
    Actor {
        workspace_id: ws.id,
        user_id: Some(m.user_id),
        token_id: None,
        role,
        label: m.email,
    }
}

pub async fn create(db: &Db, actor: &Actor, object: ObjectKind, v: Value) -> StoredRecord {
    pitcrew_app::record::create_record(db, actor, object, input(v), NOW)
        .await
        .expect("create record")
}

pub async fn contact(db: &Db, actor: &Actor, fields: Value) -> StoredRecord {
    create(db, actor, CONTACT, serde_json::json!({ "fields": fields })).await
}

pub async fn account(db: &Db, actor: &Actor, fields: Value) -> StoredRecord {
    create(db, actor, ACCOUNT, serde_json::json!({ "fields": fields })).await
}

/// The error of a call expected to fail with `code`.
#[track_caller]
pub fn refused<T: Debug>(result: Result<T, AppError>, code: &str, engine: Engine) -> AppError {
    match result {
        Err(e) if e.code == code => e,
        Err(e) => panic!("{engine:?}: expected `{code}`, got `{}`: {e}", e.code),
        Ok(v) => panic!("{engine:?}: expected `{code}`, but it succeeded with {v:?}"),
    }
}

/// A field value of a record, `Null` when it has none.
pub fn value(r: &StoredRecord, key: &str) -> Value {
    r.fields.get(key).cloned().unwrap_or(Value::Null)
}
