//! Sending providers (SMTP servers with their limits) and the workspace's
//! sending setup: the rules every send obeys (postal address, caps, quiet
//! hours, consent policy, approval threshold), the DKIM key, and the key
//! that signs tracking and unsubscribe links.

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::campaign::Security;
use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::time::format_ms;
use pitcrew_store::campaign::provider::{self as repo, ProviderRow, StoredProvider};
use pitcrew_store::{Conn, Db};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Actor, AppError};

/// The settings key that holds the sending rules.
const RULES_KEY: &str = "sending";
const DKIM_SECRET: &str = "dkim";
const LINK_SECRET: &str = "link_key";

/// An SMTP server to send through, as written by an admin.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// A name to pick it by, e.g. "Postmark" or "Office relay".
    pub name: String,
    pub host: String,
    pub port: u16,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default = "default_security")]
    pub security: Security,
    /// Check the server's certificate (default true). Turn off only for a
    /// private relay with a self-signed certificate.
    #[serde(default = "yes")]
    pub verify_tls: bool,
    #[serde(default)]
    pub username: String,
    /// Left out when updating: the stored password is kept.
    #[serde(default)]
    pub password: Option<String>,
    /// Messages per second (default 10).
    #[serde(default = "default_per_second")]
    pub per_second: u32,
    /// Messages per rolling hour; 0 means no hourly limit (default 0).
    #[serde(default)]
    pub per_hour: u32,
    /// Connections used at once (default 4).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

impl std::fmt::Debug for ProviderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInput")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

fn default_security() -> Security {
    Security::Starttls
}
fn yes() -> bool {
    true
}
fn default_per_second() -> u32 {
    10
}
fn default_concurrency() -> u32 {
    4
}

/// A sending provider as shown: never its password.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Provider {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub verify_tls: bool,
    pub username: String,
    pub has_password: bool,
    pub per_second: u32,
    pub per_hour: u32,
    pub concurrency: u32,
    pub created_at: String,
    pub updated_at: String,
}

fn view(p: &StoredProvider) -> Provider {
    Provider {
        id: p.id,
        name: p.name.clone(),
        host: p.host.clone(),
        port: u16::try_from(p.port).unwrap_or_default(),
        security: Security::parse(&p.security).unwrap_or(Security::Starttls),
        verify_tls: p.verify_tls,
        username: p.username.clone(),
        has_password: !p.password.is_empty(),
        per_second: u32::try_from(p.per_second).unwrap_or_default(),
        per_hour: u32::try_from(p.per_hour).unwrap_or_default(),
        concurrency: u32::try_from(p.concurrency).unwrap_or_default(),
        created_at: format_ms(p.created_at),
        updated_at: format_ms(p.updated_at),
    }
}

fn provider_not_found(id: i64) -> AppError {
    AppError::not_found(
        "provider_not_found",
        format!(
            "there is no sending provider {id} in this workspace; list them with GET /api/v1/providers"
        ),
    )
}

fn validate(p: &ProviderInput) -> Result<(), AppError> {
    crate::names::clean_name(&p.name, "provider_name_invalid", "provider", "Postmark")?;
    let host = p.host.trim();
    if host.is_empty()
        || host.len() > 253
        || host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == ':')
    {
        return Err(AppError::invalid(
            "provider_host_invalid",
            "host",
            "give the SMTP server's host name or IP address, without a scheme or port (e.g. smtp.postmarkapp.com)",
        ));
    }
    if p.port == 0 {
        return Err(AppError::invalid(
            "provider_port_invalid",
            "port",
            "give the SMTP port: usually 587 (starttls), 465 (tls) or 25",
        ));
    }
    if p.per_second == 0 || p.per_second > 10_000 {
        return Err(AppError::invalid(
            "provider_rate_invalid",
            "per_second",
            "per_second must be between 1 and 10000 messages",
        ));
    }
    if p.concurrency == 0 || p.concurrency > 64 {
        return Err(AppError::invalid(
            "provider_concurrency_invalid",
            "concurrency",
            "concurrency must be between 1 and 64 connections",
        ));
    }
    Ok(())
}

async fn name_free(c: Conn<'_>, ws: i64, name: &str, except: Option<i64>) -> Result<(), AppError> {
    match repo::provider_by_name(c, ws, name).await? {
        Some(p) if Some(p.id) != except => Err(AppError::conflict(
            "provider_name_taken",
            "name",
            format!("a sending provider named \"{name}\" exists already; choose another name"),
        )),
        _ => Ok(()),
    }
}

fn audit_view(p: &StoredProvider) -> Value {
    serde_json::to_value(view(p)).unwrap_or_default()
}

pub async fn create_provider(
    db: &Db,
    actor: &Actor,
    input: ProviderInput,
    now: i64,
) -> Result<Provider, AppError> {
    actor.require(Action::ManageSending)?;
    validate(&input)?;
    let ws = actor.workspace_id;
    let name = input.name.trim();
    let mut tx = db.begin().await?;
    name_free(tx.conn(), ws, name, None).await?;
    let password = input.password.clone().unwrap_or_default();
    let row = row(&input, name, &password);
    let stored = repo::insert_provider(tx.conn(), ws, row, now).await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Provider,
            stored.id,
            json!({"before": {}, "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(view(&stored))
}

fn row<'a>(input: &'a ProviderInput, name: &'a str, password: &'a str) -> ProviderRow<'a> {
    ProviderRow {
        name,
        host: input.host.trim(),
        port: i64::from(input.port),
        security: input.security.as_str(),
        verify_tls: input.verify_tls,
        username: &input.username,
        password,
        per_second: i64::from(input.per_second),
        per_hour: i64::from(input.per_hour),
        concurrency: i64::from(input.concurrency),
    }
}

pub async fn update_provider(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: ProviderInput,
    now: i64,
) -> Result<Provider, AppError> {
    actor.require(Action::ManageSending)?;
    validate(&input)?;
    let ws = actor.workspace_id;
    let name = input.name.trim();
    let mut tx = db.begin().await?;
    let before = repo::get_provider(tx.conn(), ws, id)
        .await?
        .ok_or_else(|| provider_not_found(id))?;
    name_free(tx.conn(), ws, name, Some(id)).await?;
    let password = input.password.clone().unwrap_or(before.password.clone());
    let stored = repo::update_provider(tx.conn(), ws, id, row(&input, name, &password), now)
        .await?
        .ok_or_else(|| provider_not_found(id))?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Provider,
            id,
            json!({"before": audit_view(&before), "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(view(&stored))
}

pub async fn list_providers(db: &Db, actor: &Actor) -> Result<Vec<Provider>, AppError> {
    actor.require(Action::ReadRecords)?;
    let all = repo::list_providers(db.conn(), actor.workspace_id).await?;
    Ok(all.iter().map(view).collect())
}

pub async fn get_provider(db: &Db, actor: &Actor, id: i64) -> Result<Provider, AppError> {
    actor.require(Action::ReadRecords)?;
    repo::get_provider(db.conn(), actor.workspace_id, id)
        .await?
        .map(|p| view(&p))
        .ok_or_else(|| provider_not_found(id))
}

/// The stored provider with its password, for the sender.
pub(crate) async fn stored_provider(
    c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<StoredProvider, AppError> {
    repo::get_provider(c, ws, id)
        .await?
        .ok_or_else(|| provider_not_found(id))
}

pub async fn delete_provider(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageSending)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = repo::get_provider(tx.conn(), ws, id)
        .await?
        .ok_or_else(|| provider_not_found(id))?;
    repo::delete_provider(tx.conn(), ws, id).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Provider,
            id,
            json!({"before": audit_view(&before), "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

// ---- sending rules --------------------------------------------------------------------

/// The workspace's sending rules as stored, or the defaults.
pub(crate) async fn rules_of(c: Conn<'_>, ws: i64) -> Result<SendingRules, AppError> {
    let stored = pitcrew_store::event::workspace_settings(c, ws).await?;
    Ok(stored
        .get(RULES_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default())
}

pub async fn sending_rules(db: &Db, actor: &Actor) -> Result<SendingRules, AppError> {
    actor.require(Action::ReadRecords)?;
    rules_of(db.conn(), actor.workspace_id).await
}

fn check_rules(r: &SendingRules) -> Result<(), AppError> {
    if !r.public_url.is_empty() {
        let ok = url::Url::parse(&r.public_url)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok {
            return Err(AppError::invalid(
                "public_url_invalid",
                "public_url",
                "public_url must be the absolute address people reach this pitcrew at, e.g. https://mail.acme.com",
            ));
        }
    }
    if !r.unsubscribe_mailbox.is_empty()
        && !pitcrew_core::campaign::is_sendable_address(&r.unsubscribe_mailbox)
    {
        return Err(AppError::invalid(
            "unsubscribe_mailbox_invalid",
            "unsubscribe_mailbox",
            "unsubscribe_mailbox must be an email address, e.g. unsubscribe@acme.com",
        ));
    }
    if r.approval_threshold < 0 {
        return Err(AppError::invalid(
            "approval_threshold_invalid",
            "approval_threshold",
            "approval_threshold must be 0 or more people",
        ));
    }
    if let Some(cap) = r.frequency_cap
        && (cap.max == 0 || cap.days == 0 || cap.days > 365)
    {
        return Err(AppError::invalid(
            "frequency_cap_invalid",
            "frequency_cap",
            "a frequency cap needs max of 1 or more emails and days between 1 and 365",
        ));
    }
    if let Some(q) = r.quiet_hours
        && !q.is_valid()
    {
        return Err(AppError::invalid(
            "quiet_hours_invalid",
            "quiet_hours",
            "quiet hours are minutes after local midnight, each from 0 to 1439 (e.g. 1260 to 480 for 21:00–08:00)",
        ));
    }
    if r.soft_bounce_limit == 0 {
        return Err(AppError::invalid(
            "soft_bounce_limit_invalid",
            "soft_bounce_limit",
            "soft_bounce_limit must be 1 or more",
        ));
    }
    if let Some(bad) = r
        .consent_policy
        .countries
        .keys()
        .find(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
    {
        return Err(AppError::invalid(
            "consent_policy_invalid",
            "consent_policy.countries",
            format!("`{bad}` is not a country code; use two capital letters such as DE or US"),
        ));
    }
    Ok(())
}

pub async fn set_sending_rules(
    db: &Db,
    actor: &Actor,
    rules: SendingRules,
    now: i64,
) -> Result<SendingRules, AppError> {
    actor.require(Action::ManageSending)?;
    check_rules(&rules)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let mut stored = pitcrew_store::event::workspace_settings(tx.conn(), ws).await?;
    let before = stored.get(RULES_KEY).cloned().unwrap_or(Value::Null);
    let after = serde_json::to_value(&rules).map_err(|e| AppError::internal(e.to_string()))?;
    stored.insert(RULES_KEY.into(), after.clone());
    pitcrew_store::event::set_workspace_settings(tx.conn(), ws, &stored).await?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Workspace,
            ws,
            json!({"before": {"sending": before}, "after": {"sending": after}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(rules)
}

// ---- DKIM and link keys -----------------------------------------------------------

/// The DKIM key a workspace signs with.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimInput {
    /// The signing domain (`d=`), normally the From address's domain.
    pub domain: String,
    /// The selector (`s=`): the TXT record lives at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The private key in PEM form (RSA, PKCS#1 or PKCS#8).
    pub private_key: String,
}

impl std::fmt::Debug for DkimInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimInput")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// What is shown of the DKIM setup: never the key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DkimView {
    pub configured: bool,
    pub domain: Option<String>,
    pub selector: Option<String>,
}

pub(crate) async fn dkim_of(c: Conn<'_>, ws: i64) -> Result<Option<DkimInput>, AppError> {
    let Some(text) = repo::secret(c, ws, DKIM_SECRET).await? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| AppError::internal(format!("stored DKIM settings are unreadable: {e}")))
}

pub async fn dkim(db: &Db, actor: &Actor) -> Result<DkimView, AppError> {
    actor.require(Action::ReadRecords)?;
    let d = dkim_of(db.conn(), actor.workspace_id).await?;
    Ok(DkimView {
        configured: d.is_some(),
        domain: d.as_ref().map(|d| d.domain.clone()),
        selector: d.map(|d| d.selector),
    })
}

pub async fn set_dkim(
    db: &Db,
    actor: &Actor,
    input: DkimInput,
    now: i64,
) -> Result<DkimView, AppError> {
    actor.require(Action::ManageSending)?;
    let domain = input.domain.trim().to_ascii_lowercase();
    let selector = input.selector.trim().to_string();
    if domain.is_empty() || !domain.contains('.') {
        return Err(AppError::invalid(
            "dkim_domain_invalid",
            "domain",
            "give the domain that signs, e.g. acme.com",
        ));
    }
    if selector.is_empty()
        || !selector
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AppError::invalid(
            "dkim_selector_invalid",
            "selector",
            "give the selector of the DNS record, e.g. pitcrew1 (letters, digits, - _ .)",
        ));
    }
    let clean = DkimInput {
        domain,
        selector,
        private_key: input.private_key.trim().to_string(),
    };
    super::message::DkimKey::new(&clean.domain, &clean.selector, &clean.private_key)
        .map_err(|e| AppError::invalid("dkim_key_invalid", "private_key", e.to_string()))?;
    let text = serde_json::to_string(&clean).map_err(|e| AppError::internal(e.to_string()))?;
    let mut tx = db.begin().await?;
    repo::set_secret(tx.conn(), actor.workspace_id, DKIM_SECRET, &text, now).await?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Workspace,
            actor.workspace_id,
            json!({"before": {}, "after": {"dkim": {"domain": clean.domain, "selector": clean.selector}}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(DkimView {
        configured: true,
        domain: Some(clean.domain),
        selector: Some(clean.selector),
    })
}

/// The key that signs a workspace's tracking and unsubscribe links,
/// created on first use.
pub(crate) async fn link_key(mut c: Conn<'_>, ws: i64, now: i64) -> Result<Vec<u8>, AppError> {
    // Read first: once made, the key costs no write, so it can be read while
    // another transaction holds SQLite's write lock (a broadcast starting).
    if let Some(kept) = repo::secret(c.reborrow(), ws, LINK_SECRET).await? {
        return Ok(kept.into_bytes());
    }
    let fresh = crate::secret::random_hex(32);
    let kept = repo::secret_or_insert(c, ws, LINK_SECRET, &fresh, now).await?;
    Ok(kept.into_bytes())
}
