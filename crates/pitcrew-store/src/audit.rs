//! The audit log: an append-only record of who changed what, written in the
//! same transaction as the change it describes.

use pitcrew_core::admin::{AuditEntry, ObjectType};
use pitcrew_core::time::format_ms;
use serde_json::Value;

use crate::{Conn, StoreError, params};

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    /// A member's email, `token:<name>`, or `system` for pitcrew itself.
    pub label: String,
}

/// One change about to be recorded.
pub struct Change<'a> {
    pub action: &'a str,
    pub object_type: ObjectType,
    pub object_id: String,
    pub changes: Value,
}

pub async fn record(
    mut c: Conn<'_>,
    ws: i64,
    actor: &Actor,
    change: Change<'_>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit_log (workspace_id, at, actor_user_id, actor_token_id, actor, action, object_type, object_id, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            ws,
            now,
            actor.user_id,
            actor.token_id,
            actor.label.as_str(),
            change.action,
            change.object_type.as_str(),
            change.object_id,
            change.changes,
        ],
    )
    .await?;
    Ok(())
}

/// Which entries to read: newest first, before an optional cursor id.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub user_id: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Further narrowing of an audit query: one action, and a time window.
#[derive(Debug, Default, Clone)]
pub struct AuditNarrowing {
    pub action: Option<String>,
    /// Only entries at or after this instant (epoch milliseconds).
    pub from: Option<i64>,
    /// Only entries before this instant (epoch milliseconds).
    pub until: Option<i64>,
}

pub async fn list(c: Conn<'_>, ws: i64, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    list_narrowed(c, ws, q, &AuditNarrowing::default()).await
}

pub async fn list_narrowed(
    mut c: Conn<'_>,
    ws: i64,
    q: &AuditQuery,
    n: &AuditNarrowing,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = c
        .fetch_all(
            "SELECT id, at, action, object_type, object_id, actor, actor_user_id, actor_token_id, changes FROM audit_log \
             WHERE workspace_id = $1 AND ($2 IS NULL OR object_type = $2) AND ($3 IS NULL OR object_id = $3) \
             AND ($4 IS NULL OR actor_user_id = $4) AND ($5 IS NULL OR id < $5) \
             AND ($7 IS NULL OR action = $7) AND ($8 IS NULL OR at >= $8) AND ($9 IS NULL OR at < $9) \
             ORDER BY id DESC LIMIT $6",
            params![
                ws,
                q.object_type.clone(),
                q.object_id.clone(),
                q.user_id,
                q.before_id,
                q.limit,
                n.action.clone(),
                n.from,
                n.until,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.int("id")?,
                at: format_ms(r.int("at")?),
                action: r.text("action")?,
                object_type: r.text("object_type")?,
                object_id: r.text("object_id")?,
                actor: r.text("actor")?,
                actor_user_id: r.opt_int("actor_user_id")?,
                actor_token_id: r.opt_int("actor_token_id")?,
                changes: r.json("changes")?,
            })
        })
        .collect()
}
