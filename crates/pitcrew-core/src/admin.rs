//! Who may do what: workspace roles, the actions they permit, and the kinds
//! of object the audit log records. The single source of permission truth;
//! the web layer and the CLI both ask `Role::can`.

use serde::{Deserialize, Serialize};

/// A member's role in a workspace, ordered from least to most powerful.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads records and results; changes nothing.
    Viewer,
    /// Works with contacts and accounts day to day.
    Marketer,
    /// Builds audiences, templates and journeys (and everything a marketer does).
    Builder,
    /// Runs the workspace: data model, users, tokens, audit, deletions.
    Admin,
    /// Owns the workspace; the only role that can make other owners.
    Owner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Marketer,
        Role::Builder,
        Role::Admin,
        Role::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Marketer => "marketer",
            Role::Builder => "builder",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
    }

    pub fn can(self, action: Action) -> bool {
        self >= action.least_role()
    }

    /// Whether a member with this role may hand `other` to someone
    /// (a new member, a role change or an API token).
    pub fn may_grant(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => other <= Role::Admin,
            // Anyone may make a token for themselves that is no stronger than they are.
            _ => other <= self,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a caller wants to do; each maps to the least role allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read contacts, accounts and the data model.
    ReadRecords,
    /// Create and update contacts and accounts.
    WriteRecords,
    /// Delete contacts and accounts.
    DeleteRecords,
    /// Add, change and delete fields of the data model.
    ManageFields,
    /// Add members, change their roles, remove them.
    ManageUsers,
    /// See and revoke every API token of the workspace.
    ManageTokens,
    /// Create, list and revoke one's own API tokens.
    OwnTokens,
    /// Read the audit log.
    ReadAudit,
    /// Create and revoke event sources and their write keys; change workspace settings.
    ManageSources,
    /// Create, change and delete segments and static lists, and change list members.
    ManageSegments,
    /// Write templates and broadcasts, send tests and start approved sends.
    ManageCampaigns,
    /// Record consent and change suppression lists.
    ManageConsent,
    /// Approve a broadcast that needs sign-off before it may start.
    ApproveBroadcasts,
    /// Configure sending: SMTP providers, DKIM key, caps, quiet hours, consent rules.
    ManageSending,
}

impl Action {
    pub fn least_role(self) -> Role {
        match self {
            Action::ReadRecords | Action::OwnTokens => Role::Viewer,
            Action::WriteRecords
            | Action::ManageSegments
            | Action::ManageCampaigns
            | Action::ManageConsent => Role::Marketer,
            Action::DeleteRecords
            | Action::ApproveBroadcasts
            | Action::ManageSending
            | Action::ManageFields
            | Action::ManageUsers
            | Action::ManageTokens
            | Action::ReadAudit
            | Action::ManageSources => Role::Admin,
        }
    }
}

/// The kinds of object whose changes the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Workspace,
    User,
    Token,
    Field,
    Contact,
    Account,
    Source,
    Segment,
    Topic,
    Consent,
    Suppression,
    Provider,
    Template,
    Broadcast,
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Workspace => "workspace",
            ObjectType::User => "user",
            ObjectType::Token => "token",
            ObjectType::Field => "field",
            ObjectType::Contact => "contact",
            ObjectType::Account => "account",
            ObjectType::Source => "source",
            ObjectType::Segment => "segment",
            ObjectType::Topic => "topic",
            ObjectType::Consent => "consent",
            ObjectType::Suppression => "suppression",
            ObjectType::Provider => "provider",
            ObjectType::Template => "template",
            ObjectType::Broadcast => "broadcast",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Viewer < Role::Marketer && Role::Admin < Role::Owner);
    }

    #[test]
    fn viewer_reads_but_never_writes() {
        assert!(Role::Viewer.can(Action::ReadRecords));
        assert!(!Role::Viewer.can(Action::WriteRecords));
    }

    #[test]
    fn only_admins_change_the_data_model() {
        assert!(!Role::Builder.can(Action::ManageFields));
        assert!(Role::Admin.can(Action::ManageFields));
    }

    #[test]
    fn marketers_build_segments_and_viewers_only_read_them() {
        assert!(Role::Marketer.can(Action::ManageSegments));
        assert!(!Role::Viewer.can(Action::ManageSegments));
    }

    #[test]
    fn admin_cannot_make_owners() {
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(!Role::Marketer.may_grant(Role::Builder));
    }

    #[test]
    fn role_parses_case_insensitively() {
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("god"), None);
    }
}

/// A tenant: everything in pitcrew belongs to exactly one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Workspace {
    pub id: i64,
    /// Short unique name used at sign-in and in the CLI, e.g. `acme`.
    pub slug: String,
    pub name: String,
    pub created_at: String,
}

/// A person who signs in, as seen inside one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

/// An API token as listed: never the secret itself, only its prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    /// The member who created it; the token acts on their behalf.
    pub user_id: i64,
    pub user_email: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// One recorded change: who did what to which object, and the values before
/// and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// Who acted: a member's email, or `token:<name>` for an API token.
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub actor_token_id: Option<i64>,
    /// `{"before": {...}, "after": {...}}` holding only the changed values.
    pub changes: serde_json::Value,
}
