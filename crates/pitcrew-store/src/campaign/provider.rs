//! Sending providers: the SMTP servers a workspace sends through, with
//! their limits. The password is kept as given (the server must present it
//! to the provider) and never leaves the store through a listing.

use crate::{Conn, Row, StoreError, params};

/// A sending provider as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredProvider {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    pub verify_tls: bool,
    pub username: String,
    pub password: String,
    pub per_second: i64,
    pub per_hour: i64,
    pub concurrency: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for StoredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The settings of a provider being saved.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRow<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: i64,
    pub security: &'a str,
    pub verify_tls: bool,
    pub username: &'a str,
    pub password: &'a str,
    pub per_second: i64,
    pub per_hour: i64,
    pub concurrency: i64,
}

const COLUMNS: &str = "id, name, host, port, security, verify_tls, username, password, per_second, per_hour, concurrency, created_at, updated_at";

fn provider(r: &Row) -> Result<StoredProvider, StoreError> {
    Ok(StoredProvider {
        id: r.int("id")?,
        name: r.text("name")?,
        host: r.text("host")?,
        port: r.int("port")?,
        security: r.text("security")?,
        verify_tls: r.bool("verify_tls")?,
        username: r.text("username")?,
        password: r.text("password")?,
        per_second: r.int("per_second")?,
        per_hour: r.int("per_hour")?,
        concurrency: r.int("concurrency")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub async fn insert_provider(
    mut c: Conn<'_>,
    ws: i64,
    p: ProviderRow<'_>,
    now: i64,
) -> Result<StoredProvider, StoreError> {
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO sending_providers (workspace_id, name, host, port, security, verify_tls, username, password, per_second, per_hour, concurrency, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {COLUMNS}"
            ),
            params![
                ws, p.name, p.host, p.port, p.security, p.verify_tls, p.username, p.password,
                p.per_second, p.per_hour, p.concurrency, now
            ],
        )
        .await?;
    provider(&row)
}

/// Replace a provider's settings; `None` when it does not exist.
pub async fn update_provider(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    p: ProviderRow<'_>,
    now: i64,
) -> Result<Option<StoredProvider>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "UPDATE sending_providers SET name = $3, host = $4, port = $5, security = $6, verify_tls = $7, username = $8, password = $9, \
                 per_second = $10, per_hour = $11, concurrency = $12, updated_at = $13 WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            params![
                ws, id, p.name, p.host, p.port, p.security, p.verify_tls, p.username, p.password,
                p.per_second, p.per_hour, p.concurrency, now
            ],
        )
        .await?;
    row.as_ref().map(provider).transpose()
}

pub async fn get_provider(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Option<StoredProvider>, StoreError> {
    let row = c
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM sending_providers WHERE workspace_id = $1 AND id = $2"),
            params![ws, id],
        )
        .await?;
    row.as_ref().map(provider).transpose()
}

pub async fn provider_by_name(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<Option<StoredProvider>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM sending_providers WHERE workspace_id = $1 AND name = $2"
            ),
            params![ws, name],
        )
        .await?;
    row.as_ref().map(provider).transpose()
}

pub async fn list_providers(mut c: Conn<'_>, ws: i64) -> Result<Vec<StoredProvider>, StoreError> {
    c.fetch_all(
        &format!("SELECT {COLUMNS} FROM sending_providers WHERE workspace_id = $1 ORDER BY name"),
        params![ws],
    )
    .await?
    .iter()
    .map(provider)
    .collect()
}

/// Delete a provider; false when it did not exist.
pub async fn delete_provider(mut c: Conn<'_>, ws: i64, id: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM sending_providers WHERE workspace_id = $1 AND id = $2",
            params![ws, id],
        )
        .await?;
    Ok(n > 0)
}

// ---- workspace secrets ------------------------------------------------------------

/// A workspace secret by name (`dkim`, `link_key`).
pub async fn secret(mut c: Conn<'_>, ws: i64, name: &str) -> Result<Option<String>, StoreError> {
    let row = c
        .fetch_optional(
            "SELECT value FROM workspace_secrets WHERE workspace_id = $1 AND name = $2",
            params![ws, name],
        )
        .await?;
    row.map(|r| r.text("value")).transpose()
}

pub async fn set_secret(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![ws, name, value, now],
    )
    .await?;
    Ok(())
}

/// Keep the first value written under `name`: two processes racing to
/// create a key end up using the same one. Returns the value kept.
pub async fn secret_or_insert(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
    value: &str,
    now: i64,
) -> Result<String, StoreError> {
    c.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, name) DO NOTHING",
        params![ws, name, value, now],
    )
    .await?;
    secret(c, ws, name)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("workspace secret {name} vanished")))
}
