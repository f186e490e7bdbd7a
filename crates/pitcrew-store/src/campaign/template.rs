//! Email templates as stored: name, format (`html` or `mjml`), body and
//! plain-text part, with a version that every change raises. The subject
//! belongs to the broadcast, not the template.

use crate::{Conn, Engine, Row, StoreError, params};

/// A template as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub id: i64,
    pub name: String,
    /// `html` or `mjml`.
    pub format: String,
    pub body: String,
    /// The plain-text part; empty means it is derived from the HTML.
    pub text_body: String,
    /// Starts at 1; every change adds one.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A template's content, as created or as it becomes on a change.
#[derive(Debug, Clone, Copy)]
pub struct TemplateContent<'a> {
    pub name: &'a str,
    pub format: &'a str,
    pub body: &'a str,
    pub text_body: &'a str,
}

/// A broadcast that still needs a template (it has not started sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUser {
    pub broadcast_id: i64,
    pub name: String,
    pub status: String,
}

const COLUMNS: &str = "id, name, format, body, text_body, version, created_at, updated_at";

fn template(row: &Row) -> Result<StoredTemplate, StoreError> {
    Ok(StoredTemplate {
        id: row.int("id")?,
        name: row.text("name")?,
        format: row.text("format")?,
        body: row.text("body")?,
        text_body: row.text("text_body")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// Save a new template as version 1.
pub async fn insert_template(
    mut c: Conn<'_>,
    ws: i64,
    new: TemplateContent<'_>,
    now: i64,
) -> Result<StoredTemplate, StoreError> {
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO templates (workspace_id, name, format, body, text_body, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING {COLUMNS}"
            ),
            params![ws, new.name, new.format, new.body, new.text_body, now],
        )
        .await?;
    template(&row)
}

/// Save a template's new content as its next version; `None` when it does
/// not exist.
pub async fn update_template(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    change: TemplateContent<'_>,
    now: i64,
) -> Result<Option<StoredTemplate>, StoreError> {
    c.fetch_optional(
        &format!(
            "UPDATE templates SET name = $3, format = $4, body = $5, text_body = $6, version = version + 1, updated_at = $7 \
             WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ),
        params![
            ws,
            id,
            change.name,
            change.format,
            change.body,
            change.text_body,
            now
        ],
    )
    .await?
    .map(|r| template(&r))
    .transpose()
}

/// Read one template; `lock` holds it against concurrent writers until the
/// transaction ends (PostgreSQL; SQLite transactions already serialise).
pub async fn get_template_locked(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<Option<StoredTemplate>, StoreError> {
    let lock = if lock && c.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    c.fetch_optional(
        &format!("SELECT {COLUMNS} FROM templates WHERE workspace_id = $1 AND id = $2{lock}"),
        params![ws, id],
    )
    .await?
    .map(|r| template(&r))
    .transpose()
}

/// Read one template.
pub async fn get_template(
    c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Option<StoredTemplate>, StoreError> {
    get_template_locked(c, ws, id, false).await
}

pub async fn template_by_name(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<Option<StoredTemplate>, StoreError> {
    c.fetch_optional(
        &format!("SELECT {COLUMNS} FROM templates WHERE workspace_id = $1 AND name = $2"),
        params![ws, name],
    )
    .await?
    .map(|r| template(&r))
    .transpose()
}

/// Every template of a workspace, by name.
pub async fn list_templates(mut c: Conn<'_>, ws: i64) -> Result<Vec<StoredTemplate>, StoreError> {
    c.fetch_all(
        &format!("SELECT {COLUMNS} FROM templates WHERE workspace_id = $1 ORDER BY name, id"),
        params![ws],
    )
    .await?
    .iter()
    .map(template)
    .collect()
}

/// Delete a template; returns whether it existed.
pub async fn delete_template(mut c: Conn<'_>, ws: i64, id: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM templates WHERE workspace_id = $1 AND id = $2",
            params![ws, id],
        )
        .await?;
    Ok(n > 0)
}

/// Broadcasts that will read the template when they start: drafts and
/// scheduled ones. (Once sending starts, a broadcast keeps its own copy.)
pub async fn template_users(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Vec<TemplateUser>, StoreError> {
    c.fetch_all(
        "SELECT id, name, status FROM broadcasts WHERE workspace_id = $1 AND template_id = $2 \
         AND status IN ('draft', 'scheduled') ORDER BY id",
        params![ws, id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(TemplateUser {
            broadcast_id: r.int("id")?,
            name: r.text("name")?,
            status: r.text("status")?,
        })
    })
    .collect()
}
