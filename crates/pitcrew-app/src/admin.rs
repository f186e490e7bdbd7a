//! Use cases of administration: workspaces, members, signing in and out,
//! and API tokens.

use pitcrew_core::admin::{Action, ApiToken, Member, ObjectType, Role, Workspace};
use pitcrew_core::record::value::normalize_email;
use pitcrew_store::Db;
use pitcrew_store::admin::{self as repo, NewToken, Principal};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::secret::{hash_password, random_hex, sha256_hex, verify_password};
use crate::{Actor, AppError, ErrorKind};

/// How long a browser session lasts.
pub const SESSION_DAYS: i64 = 14;
/// What every API token starts with, so secret scanners and people spot it.
pub const TOKEN_PREFIX: &str = "pct_";

fn bad_slug(slug: &str) -> bool {
    let len_ok = (2..=40).contains(&slug.len());
    !len_ok
        || !slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Create a workspace with its built-in fields. Used by the CLI and demo.
pub async fn create_workspace(
    db: &Db,
    slug: &str,
    name: &str,
    now: i64,
) -> Result<Workspace, AppError> {
    if bad_slug(slug) {
        return Err(AppError::invalid(
            "workspace_slug_invalid",
            "slug",
            format!(
                "`{slug}` cannot name a workspace: use 2 to 40 lowercase letters, digits and dashes, e.g. acme-emea"
            ),
        ));
    }
    let mut tx = db.begin().await?;
    if repo::workspace_by_slug(tx.conn(), slug).await?.is_some() {
        return Err(AppError::conflict(
            "workspace_exists",
            "slug",
            format!("a workspace `{slug}` already exists"),
        ));
    }
    let ws = repo::create_workspace(tx.conn(), slug, name.trim(), now).await?;
    crate::record::seed_builtin_fields(tx.conn(), ws.id, now).await?;
    Actor::system(ws.id)
        .log(
            &mut tx,
            "create",
            ObjectType::Workspace,
            ws.id,
            json!({"after": {"slug": slug, "name": name}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(ws)
}

pub async fn workspace_by_slug(db: &Db, slug: &str) -> Result<Workspace, AppError> {
    repo::workspace_by_slug(db.conn(), slug)
        .await?
        .ok_or_else(|| AppError::not_found("workspace_not_found", format!("there is no workspace `{slug}`; create it with `pitcrew workspace create {slug}`")))
}

pub async fn workspace(db: &Db, actor: &Actor) -> Result<Workspace, AppError> {
    repo::workspace_by_id(db.conn(), actor.workspace_id)
        .await?
        .ok_or_else(|| {
            AppError::not_found("workspace_not_found", "this workspace no longer exists")
        })
}

/// A person being added to a workspace.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    /// Needed when the person has no pitcrew sign-in yet (at least 10 characters).
    pub password: Option<String>,
}

/// Add a member: a new user with a password, or an existing user (who
/// keeps their own password) joining this workspace.
pub async fn add_member(
    db: &Db,
    actor: &Actor,
    new: NewMember,
    now: i64,
) -> Result<Member, AppError> {
    actor.require(Action::ManageUsers)?;
    if !actor.role.may_grant(new.role) {
        return Err(AppError::forbidden(format!(
            "your role ({}) cannot give the role {}",
            actor.role, new.role
        )));
    }
    let ws = actor.workspace_id;
    let email =
        normalize_email(&new.email).map_err(|m| AppError::invalid("email_invalid", "email", m))?;
    let mut tx = db.begin().await?;
    let user_id = match repo::user_by_email(tx.conn(), &email).await? {
        Some(u) => {
            if repo::member(tx.conn(), ws, u.id).await?.is_some() {
                return Err(AppError::conflict(
                    "member_exists",
                    "email",
                    format!(
                        "{email} is already a member of this workspace; change their role instead"
                    ),
                ));
            }
            u.id
        }
        None => {
            let Some(password) = new.password.as_deref() else {
                return Err(AppError::invalid(
                    "password_required",
                    "password",
                    format!(
                        "{email} has no pitcrew sign-in yet; give them a first password (at least 10 characters)"
                    ),
                ));
            };
            let name = if new.name.trim().is_empty() {
                email.clone()
            } else {
                new.name.trim().to_string()
            };
            repo::create_user(tx.conn(), &email, &name, &hash_password(password)?, now).await?
        }
    };
    repo::add_member(tx.conn(), ws, user_id, new.role, now).await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::User,
            user_id,
            json!({"before": {}, "after": {"email": email, "role": new.role}}),
            now,
        )
        .await?;
    let member = repo::member(tx.conn(), ws, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("member_not_found", "the member vanished"))?;
    tx.commit().await?;
    Ok(member)
}

pub async fn list_members(db: &Db, actor: &Actor) -> Result<Vec<Member>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(repo::list_members(db.conn(), actor.workspace_id).await?)
}

fn member_not_found(user_id: i64) -> AppError {
    AppError::not_found(
        "member_not_found",
        format!("user {user_id} is not a member of this workspace"),
    )
}

/// Give a member another role. Nobody changes their own role, and the last
/// owner stays an owner.
pub async fn set_role(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<Member, AppError> {
    actor.require(Action::ManageUsers)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let member = repo::member(tx.conn(), ws, user_id)
        .await?
        .ok_or_else(|| member_not_found(user_id))?;
    if actor.user_id == Some(user_id) {
        return Err(AppError::forbidden(
            "you cannot change your own role; ask another admin",
        ));
    }
    if !actor.role.may_grant(role) || !actor.role.may_grant(member.role) {
        return Err(AppError::forbidden(format!(
            "your role ({}) cannot change a {} into a {}",
            actor.role, member.role, role
        )));
    }
    if member.role == Role::Owner
        && role != Role::Owner
        && repo::count_owners(tx.conn(), ws).await? <= 1
    {
        return Err(AppError::conflict(
            "last_owner",
            "role",
            "this is the workspace's only owner; make someone else owner first",
        ));
    }
    repo::set_role(tx.conn(), ws, user_id, role).await?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::User,
            user_id,
            json!({"before": {"role": member.role}, "after": {"role": role}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(Member { role, ..member })
}

/// Remove a member; their sessions end and their tokens are revoked.
pub async fn remove_member(db: &Db, actor: &Actor, user_id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageUsers)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let member = repo::member(tx.conn(), ws, user_id)
        .await?
        .ok_or_else(|| member_not_found(user_id))?;
    if !actor.role.may_grant(member.role) {
        return Err(AppError::forbidden(format!(
            "your role ({}) cannot remove a {}",
            actor.role, member.role
        )));
    }
    if member.role == Role::Owner && repo::count_owners(tx.conn(), ws).await? <= 1 {
        return Err(AppError::conflict(
            "last_owner",
            "user_id",
            "this is the workspace's only owner and cannot be removed",
        ));
    }
    repo::remove_member(tx.conn(), ws, user_id, now).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::User,
            user_id,
            json!({"before": {"email": member.email, "role": member.role}, "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Create or update a user from the command line: a new user gets the
/// password; an existing one gets the password reset. Either way they
/// become a member with `role`.
pub async fn upsert_user(
    db: &Db,
    ws: &Workspace,
    email: &str,
    name: &str,
    password: &str,
    role: Role,
    now: i64,
) -> Result<Member, AppError> {
    let email =
        normalize_email(email).map_err(|m| AppError::invalid("email_invalid", "email", m))?;
    let hash = hash_password(password)?;
    let mut tx = db.begin().await?;
    let user_id = match repo::user_by_email(tx.conn(), &email).await? {
        Some(u) => {
            repo::set_password(tx.conn(), u.id, &hash, now).await?;
            u.id
        }
        None => {
            repo::create_user(
                tx.conn(),
                &email,
                if name.is_empty() { &email } else { name },
                &hash,
                now,
            )
            .await?
        }
    };
    let actor = Actor::system(ws.id);
    match repo::member(tx.conn(), ws.id, user_id).await? {
        Some(m) if m.role == role => {}
        Some(_) => repo::set_role(tx.conn(), ws.id, user_id, role).await?,
        None => repo::add_member(tx.conn(), ws.id, user_id, role, now).await?,
    }
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::User,
            user_id,
            json!({"after": {"email": email, "role": role, "password": "reset"}}),
            now,
        )
        .await?;
    let member = repo::member(tx.conn(), ws.id, user_id)
        .await?
        .ok_or_else(|| member_not_found(user_id))?;
    tx.commit().await?;
    Ok(member)
}

/// Change one's own password, proving the current one.
pub async fn change_password(
    db: &Db,
    actor: &Actor,
    current: &str,
    new: &str,
    now: i64,
) -> Result<(), AppError> {
    let Some(user_id) = actor.user_id else {
        return Err(AppError::forbidden(
            "only a signed-in person can change a password",
        ));
    };
    let member = repo::member(db.conn(), actor.workspace_id, user_id)
        .await?
        .ok_or_else(|| member_not_found(user_id))?;
    let login = repo::user_by_email(db.conn(), &member.email)
        .await?
        .ok_or_else(|| member_not_found(user_id))?;
    if !verify_password(current, &login.password_hash) {
        return Err(AppError::invalid(
            "password_wrong",
            "current_password",
            "the current password is not right",
        ));
    }
    let hash = hash_password(new)?;
    repo::set_password(db.conn(), user_id, &hash, now).await?;
    Ok(())
}

// ---- signing in -----------------------------------------------------------

/// A new browser session: the cookie value (shown once) and who it is.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub actor: Actor,
    pub workspace: Workspace,
    pub expires_at: i64,
}

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "invalid_credentials",
        "the email or password is not right",
    )
}

/// Check an email and password and open a session in a workspace: the one
/// named, or the user's first.
pub async fn login(
    db: &Db,
    email: &str,
    password: &str,
    workspace: Option<&str>,
    now: i64,
) -> Result<NewSession, AppError> {
    let email = email.trim().to_lowercase();
    let Some(user) = repo::user_by_email(db.conn(), &email).await? else {
        // Spend the same time as a real check, so timing does not reveal who has an account.
        let _ = hash_password("not-a-real-password-at-all");
        return Err(invalid_credentials());
    };
    if !verify_password(password, &user.password_hash) {
        return Err(invalid_credentials());
    }
    let memberships = repo::workspaces_of_user(db.conn(), user.id).await?;
    let chosen = match workspace {
        Some(slug) => memberships.into_iter().find(|(w, _)| w.slug == slug),
        None => memberships.into_iter().next(),
    };
    let Some((ws, role)) = chosen else {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "no_workspace",
            "you are not a member of that workspace; ask its admin to add you",
        ));
    };
    let token = random_hex(32);
    let expires_at = now + SESSION_DAYS * 86_400_000;
    repo::create_session(
        db.conn(),
        ws.id,
        user.id,
        &sha256_hex(&token),
        now,
        expires_at,
    )
    .await?;
    Ok(NewSession {
        token,
        actor: Actor {
            workspace_id: ws.id,
            user_id: Some(user.id),
            token_id: None,
            role,
            label: user.email,
        },
        workspace: ws,
        expires_at,
    })
}

fn actor_of(p: Principal) -> Actor {
    let label = match &p.token {
        Some((_, name)) => format!("token:{name}"),
        None => p.email.clone(),
    };
    Actor {
        workspace_id: p.workspace_id,
        user_id: Some(p.user_id),
        token_id: p.token.map(|(id, _)| id),
        role: p.role,
        label,
    }
}

pub async fn session_actor(db: &Db, session: &str, now: i64) -> Result<Option<Actor>, AppError> {
    Ok(
        repo::session_principal(db.conn(), &sha256_hex(session), now)
            .await?
            .map(actor_of),
    )
}

pub async fn token_actor(db: &Db, token: &str, now: i64) -> Result<Option<Actor>, AppError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(repo::token_principal(db.conn(), &sha256_hex(token), now)
        .await?
        .map(actor_of))
}

pub async fn logout(db: &Db, session: &str) -> Result<(), AppError> {
    Ok(repo::delete_session(db.conn(), &sha256_hex(session)).await?)
}

// ---- API tokens -------------------------------------------------------------

/// A token being created; it acts for the member who creates it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What the token is for, e.g. "CRM sync".
    pub name: String,
    /// At most the creator's own role; default the creator's role.
    pub role: Option<Role>,
}

/// A new token: the secret appears here once and is never retrievable again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// The secret to send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

pub async fn create_token(
    db: &Db,
    actor: &Actor,
    req: NewTokenRequest,
    now: i64,
) -> Result<CreatedToken, AppError> {
    actor.require(Action::OwnTokens)?;
    let Some(user_id) = actor.user_id else {
        return Err(AppError::forbidden(
            "tokens belong to a member; create it for a user",
        ));
    };
    let role = req.role.unwrap_or(actor.role);
    if role > actor.role || !actor.role.may_grant(role) {
        return Err(AppError::forbidden(format!(
            "a token cannot have more rights than you: your role is {}",
            actor.role
        )));
    }
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid(
            "token_name_invalid",
            "name",
            "give the token a name of 1 to 100 characters, e.g. \"CRM sync\"",
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(32));
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 8).collect();
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let id = repo::create_token(
        tx.conn(),
        ws,
        &NewToken {
            user_id,
            name,
            role,
            prefix: &prefix,
            token_hash: &sha256_hex(&secret),
        },
        now,
    )
    .await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Token,
            id,
            json!({"before": {}, "after": {"name": name, "role": role, "prefix": prefix}}),
            now,
        )
        .await?;
    let token = repo::token_by_id(tx.conn(), ws, id)
        .await?
        .ok_or_else(|| token_not_found(id))?;
    tx.commit().await?;
    Ok(CreatedToken { token, secret })
}

fn token_not_found(id: i64) -> AppError {
    AppError::not_found(
        "token_not_found",
        format!("there is no token {id} in this workspace"),
    )
}

/// Admins see every token of the workspace; everyone else their own.
pub async fn list_tokens(db: &Db, actor: &Actor) -> Result<Vec<ApiToken>, AppError> {
    actor.require(Action::OwnTokens)?;
    let only = if actor.role.can(Action::ManageTokens) {
        None
    } else {
        actor.user_id
    };
    Ok(repo::list_tokens(db.conn(), actor.workspace_id, only).await?)
}

pub async fn revoke_token(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::OwnTokens)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let token = repo::token_by_id(tx.conn(), ws, id)
        .await?
        .ok_or_else(|| token_not_found(id))?;
    let own = actor.user_id == Some(token.user_id);
    if !own && !actor.role.can(Action::ManageTokens) {
        // Someone else's token is not even acknowledged to exist.
        return Err(token_not_found(id));
    }
    if token.revoked_at.is_some() {
        return Ok(());
    }
    repo::revoke_token(tx.conn(), ws, id, now).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Token,
            id,
            json!({"before": {"name": token.name, "role": token.role}, "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
