//! Workspaces, users, memberships, browser sessions and API tokens.
//! Secrets arrive here already hashed; this module never sees a password
//! or a token in clear.

use pitcrew_core::admin::{ApiToken, Member, Role, Workspace};
use pitcrew_core::time::format_ms;

use crate::{Conn, Row, StoreError, params};

fn role(row: &Row, col: &str) -> Result<Role, StoreError> {
    let s = row.text(col)?;
    Role::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown role `{s}`")))
}

fn workspace(row: &Row) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: row.int("id")?,
        slug: row.text("slug")?,
        name: row.text("name")?,
        created_at: format_ms(row.int("created_at")?),
    })
}

pub async fn create_workspace(
    mut c: Conn<'_>,
    slug: &str,
    name: &str,
    now: i64,
) -> Result<Workspace, StoreError> {
    let row = c
        .fetch_one(
            "INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id, slug, name, created_at",
            params![slug, name, now],
        )
        .await?;
    workspace(&row)
}

pub async fn workspace_by_slug(
    mut c: Conn<'_>,
    slug: &str,
) -> Result<Option<Workspace>, StoreError> {
    c.fetch_optional(
        "SELECT id, slug, name, created_at FROM workspaces WHERE slug = $1",
        params![slug],
    )
    .await?
    .map(|r| workspace(&r))
    .transpose()
}

pub async fn workspace_by_id(mut c: Conn<'_>, id: i64) -> Result<Option<Workspace>, StoreError> {
    c.fetch_optional(
        "SELECT id, slug, name, created_at FROM workspaces WHERE id = $1",
        params![id],
    )
    .await?
    .map(|r| workspace(&r))
    .transpose()
}

/// The workspaces a user belongs to, with their role in each.
pub async fn workspaces_of_user(
    mut c: Conn<'_>,
    user_id: i64,
) -> Result<Vec<(Workspace, Role)>, StoreError> {
    c.fetch_all(
        "SELECT w.id, w.slug, w.name, w.created_at, m.role FROM workspaces w JOIN memberships m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY w.slug",
        params![user_id],
    )
    .await?
    .iter()
    .map(|r| Ok((workspace(r)?, role(r, "role")?)))
    .collect()
}

/// A user's sign-in record.
#[derive(Debug, Clone)]
pub struct UserLogin {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

pub async fn user_by_email(mut c: Conn<'_>, email: &str) -> Result<Option<UserLogin>, StoreError> {
    let row = c
        .fetch_optional(
            "SELECT id, email, name, password_hash FROM users WHERE email = $1",
            params![email],
        )
        .await?;
    row.map(|r| {
        Ok(UserLogin {
            id: r.int("id")?,
            email: r.text("email")?,
            name: r.text("name")?,
            password_hash: r.text("password_hash")?,
        })
    })
    .transpose()
}

pub async fn create_user(
    mut c: Conn<'_>,
    email: &str,
    name: &str,
    password_hash: &str,
    now: i64,
) -> Result<i64, StoreError> {
    c.fetch_one(
        "INSERT INTO users (email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        params![email, name, password_hash, now],
    )
    .await?
    .int("id")
}

pub async fn set_password(
    mut c: Conn<'_>,
    user_id: i64,
    password_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        params![user_id, password_hash, now],
    )
    .await?;
    // A new password signs the user out everywhere.
    c.execute("DELETE FROM sessions WHERE user_id = $1", params![user_id])
        .await?;
    Ok(())
}

const MEMBER_SELECT: &str = "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id";

fn member_row(row: &Row) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: row.int("user_id")?,
        email: row.text("email")?,
        name: row.text("name")?,
        role: role(row, "role")?,
        joined_at: format_ms(row.int("created_at")?),
    })
}

pub async fn add_member(
    mut c: Conn<'_>,
    ws: i64,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        params![ws, user_id, role.as_str(), now],
    )
    .await?;
    Ok(())
}

pub async fn member(mut c: Conn<'_>, ws: i64, user_id: i64) -> Result<Option<Member>, StoreError> {
    c.fetch_optional(
        &format!("{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"),
        params![ws, user_id],
    )
    .await?
    .map(|r| member_row(&r))
    .transpose()
}

pub async fn list_members(mut c: Conn<'_>, ws: i64) -> Result<Vec<Member>, StoreError> {
    c.fetch_all(
        &format!("{MEMBER_SELECT} WHERE m.workspace_id = $1 ORDER BY u.email"),
        params![ws],
    )
    .await?
    .iter()
    .map(member_row)
    .collect()
}

pub async fn set_role(
    mut c: Conn<'_>,
    ws: i64,
    user_id: i64,
    role: Role,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2",
        params![ws, user_id, role.as_str()],
    )
    .await?;
    Ok(())
}

/// Remove a member and everything that lets them act in the workspace.
pub async fn remove_member(
    mut c: Conn<'_>,
    ws: i64,
    user_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        params![ws, user_id],
    )
    .await?;
    c.execute(
        "DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2",
        params![ws, user_id],
    )
    .await?;
    c.execute(
        "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        params![ws, user_id, now],
    )
    .await?;
    Ok(())
}

pub async fn count_owners(mut c: Conn<'_>, ws: i64) -> Result<i64, StoreError> {
    c.fetch_one(
        "SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
        params![ws],
    )
    .await?
    .int("n")
}

/// Who is acting, as resolved from a session or token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: i64,
    pub user_id: i64,
    pub email: String,
    /// The member's role, or for a token the lesser of its role and the member's.
    pub role: Role,
    pub token: Option<(i64, String)>,
}

pub async fn create_session(
    mut c: Conn<'_>,
    ws: i64,
    user_id: i64,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (workspace_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        params![ws, user_id, token_hash, now, expires_at],
    )
    .await?;
    Ok(())
}

pub async fn session_principal(
    mut c: Conn<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<Principal>, StoreError> {
    let row = c
        .fetch_optional(
            "SELECT s.workspace_id, s.user_id, u.email, m.role FROM sessions s JOIN users u ON u.id = s.user_id JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
            params![token_hash, now],
        )
        .await?;
    row.map(|r| {
        Ok(Principal {
            workspace_id: r.int("workspace_id")?,
            user_id: r.int("user_id")?,
            email: r.text("email")?,
            role: role(&r, "role")?,
            token: None,
        })
    })
    .transpose()
}

pub async fn delete_session(mut c: Conn<'_>, token_hash: &str) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        params![token_hash],
    )
    .await?;
    Ok(())
}

/// A new token's stored form: the secret only as a hash.
pub struct NewToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub role: Role,
    pub prefix: &'a str,
    pub token_hash: &'a str,
}

pub async fn create_token(
    mut c: Conn<'_>,
    ws: i64,
    t: &NewToken<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    c.fetch_one(
        "INSERT INTO api_tokens (workspace_id, user_id, name, role, token_prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        params![ws, t.user_id, t.name, t.role.as_str(), t.prefix, t.token_hash, now],
    )
    .await?
    .int("id")
}

fn token(row: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: row.int("id")?,
        name: row.text("name")?,
        role: role(row, "role")?,
        prefix: row.text("token_prefix")?,
        user_id: row.int("user_id")?,
        user_email: row.text("email")?,
        created_at: format_ms(row.int("created_at")?),
        last_used_at: row.opt_int("last_used_at")?.map(format_ms),
        revoked_at: row.opt_int("revoked_at")?.map(format_ms),
    })
}

const TOKEN_SELECT: &str = "SELECT t.id, t.name, t.role, t.token_prefix, t.user_id, u.email, t.created_at, t.last_used_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id";

/// Tokens of a workspace, optionally only those of one member.
pub async fn list_tokens(
    mut c: Conn<'_>,
    ws: i64,
    user_id: Option<i64>,
) -> Result<Vec<ApiToken>, StoreError> {
    c.fetch_all(
        &format!("{TOKEN_SELECT} WHERE t.workspace_id = $1 AND ($2 IS NULL OR t.user_id = $2) ORDER BY t.id"),
        params![ws, user_id],
    )
    .await?
    .iter()
    .map(token)
    .collect()
}

pub async fn token_by_id(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Option<ApiToken>, StoreError> {
    c.fetch_optional(
        &format!("{TOKEN_SELECT} WHERE t.workspace_id = $1 AND t.id = $2"),
        params![ws, id],
    )
    .await?
    .map(|r| token(&r))
    .transpose()
}

pub async fn revoke_token(mut c: Conn<'_>, ws: i64, id: i64, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
        params![ws, id, now],
    )
    .await?;
    Ok(())
}

/// The principal behind a live token, and a note of its use (at most once a
/// minute, so busy integrations do not turn every read into a write).
pub async fn token_principal(
    mut c: Conn<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<Principal>, StoreError> {
    let Some(r) = c
        .fetch_optional(
            "SELECT t.id, t.name, t.workspace_id, t.user_id, t.role AS token_role, m.role AS member_role, u.email FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
            params![token_hash],
        )
        .await?
    else {
        return Ok(None);
    };
    let id = r.int("id")?;
    c.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        params![id, now, now - 60_000],
    )
    .await?;
    Ok(Some(Principal {
        workspace_id: r.int("workspace_id")?,
        user_id: r.int("user_id")?,
        email: r.text("email")?,
        role: role(&r, "token_role")?.min(role(&r, "member_role")?),
        token: Some((id, r.text("name")?)),
    }))
}
