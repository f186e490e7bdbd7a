//! pitcrew-app: the use cases. Each public function checks the caller's
//! role, validates input with `pitcrew-core`, writes through `pitcrew-store`
//! in one transaction together with its audit entry, and returns domain
//! types. The web layer and the CLI both call these; neither bypasses them.

pub mod admin;
pub mod audience;
pub mod audit;
pub mod campaign;
pub mod demo;
mod error;
pub mod health;
pub mod import;
pub mod ingest;
mod names;
pub mod record;
pub mod secret;

pub use error::{AppError, ErrorKind};
pub use pitcrew_store::Db;

use pitcrew_core::admin::{Action, Role};

/// Who is calling, resolved from a session, a token or the CLI.
#[derive(Debug, Clone)]
pub struct Actor {
    pub workspace_id: i64,
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub role: Role,
    /// A member's email, `token:<name>`, or `system` for the CLI.
    pub label: String,
}

impl Actor {
    /// The command line acts with full rights in the workspace it names.
    pub fn system(workspace_id: i64) -> Actor {
        Actor {
            workspace_id,
            user_id: None,
            token_id: None,
            role: Role::Owner,
            label: "system".into(),
        }
    }

    pub fn require(&self, action: Action) -> Result<(), AppError> {
        if self.role.can(action) {
            return Ok(());
        }
        Err(AppError::forbidden(format!(
            "your role ({}) cannot do this; it needs {} or higher — ask a workspace admin",
            self.role,
            action.least_role()
        )))
    }

    /// Record a change made by this actor, inside the transaction making it.
    pub(crate) async fn log(
        &self,
        tx: &mut pitcrew_store::Tx,
        action: &str,
        object_type: pitcrew_core::admin::ObjectType,
        object_id: impl std::fmt::Display,
        changes: serde_json::Value,
        now: i64,
    ) -> Result<(), AppError> {
        let change = pitcrew_store::audit::Change {
            action,
            object_type,
            object_id: object_id.to_string(),
            changes,
        };
        self.log_change(tx, change, now).await
    }

    pub(crate) async fn log_change(
        &self,
        tx: &mut pitcrew_store::Tx,
        change: pitcrew_store::audit::Change<'_>,
        now: i64,
    ) -> Result<(), AppError> {
        pitcrew_store::audit::record(tx.conn(), self.workspace_id, &self.audit(), change, now)
            .await?;
        Ok(())
    }

    pub(crate) fn audit(&self) -> pitcrew_store::audit::Actor {
        pitcrew_store::audit::Actor {
            user_id: self.user_id,
            token_id: self.token_id,
            label: self.label.clone(),
        }
    }
}

/// The current time in epoch milliseconds — the one clock read, at the edge;
/// use cases take `now` as an argument.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
