//! Reading the audit log (writing happens inside each use case).

use pitcrew_core::admin::{Action, AuditEntry};
use pitcrew_store::Db;
pub use pitcrew_store::audit::AuditNarrowing;
use pitcrew_store::audit::{self, AuditQuery};
use serde::Deserialize;

use crate::{Actor, AppError};

/// Filters for the audit log; entries come newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// `contact`, `account`, `field`, `user`, `token`, `workspace`, `source`,
    /// `segment`, `topic`, `consent`, `suppression`, `provider`, `template` or `broadcast`.
    pub object_type: Option<String>,
    /// The object's id (for fields `<object>.<key>`, e.g. `contact.plan`).
    pub object_id: Option<String>,
    /// Only changes made by this member (directly or with their tokens).
    pub user_id: Option<i64>,
    /// Only entries older than this entry id (the next page).
    pub before: Option<i64>,
    /// 1 to 500; default 100.
    pub limit: Option<i64>,
}

/// The kinds of object the audit log records changes of.
pub const OBJECT_TYPES: &[&str] = &[
    "contact",
    "account",
    "field",
    "user",
    "token",
    "workspace",
    "source",
    "segment",
    "topic",
    "consent",
    "suppression",
    "provider",
    "template",
    "broadcast",
];

/// The audit log, newest first.
pub async fn list(db: &Db, actor: &Actor, p: AuditParams) -> Result<Vec<AuditEntry>, AppError> {
    list_narrowed(db, actor, p, AuditNarrowing::default()).await
}

/// The audit log narrowed further, for the web app's filters: one action
/// (`create`, `update`, `delete`, …) and a window of time.
pub async fn list_narrowed(
    db: &Db,
    actor: &Actor,
    p: AuditParams,
    n: AuditNarrowing,
) -> Result<Vec<AuditEntry>, AppError> {
    actor.require(Action::ReadAudit)?;
    if let Some(t) = p
        .object_type
        .as_deref()
        .filter(|t| !OBJECT_TYPES.contains(t))
    {
        return Err(AppError::invalid(
            "object_type_unknown",
            "object_type",
            format!(
                "`{t}` is not an object type; use one of {}",
                OBJECT_TYPES.join(", ")
            ),
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    let q = AuditQuery {
        object_type: p.object_type,
        object_id: p.object_id,
        user_id: p.user_id,
        before_id: p.before,
        limit,
    };
    Ok(audit::list_narrowed(db.conn(), actor.workspace_id, &q, &n).await?)
}
