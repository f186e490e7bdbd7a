//! Email templates: HTML or MJML with a plain-text part, preview and test sends.
//!
//! A template is saved only if it prepares (MJML converts, every part
//! compiles, no unknown filter), so a broadcast never meets a broken one.
//! [`personal_for`] is the one place a contact's data becomes template
//! variables, for previews and for sending alike.

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::campaign::TemplateFormat;
use pitcrew_core::record::ObjectKind;
use pitcrew_core::time::format_ms;
use pitcrew_store::campaign::template::{self as repo, StoredTemplate, TemplateContent};
use pitcrew_store::{Conn, Db};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::render::{self, LinkPolicy, Personal, RenderError, Rendered};
use crate::names::clean_name;
use crate::{Actor, AppError, ErrorKind};

/// Where preview links point when the workspace has no public address yet.
const PLACEHOLDER_BASE: &str = "https://example.invalid";

/// A template as written by a marketer.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// `html` or `mjml`.
    pub format: String,
    pub body: String,
    /// The plain-text part; leave empty to derive it from the HTML.
    #[serde(default)]
    pub text_body: String,
}

/// Changes to a template; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub format: Option<String>,
    pub body: Option<String>,
    pub text_body: Option<String>,
}

/// A saved template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub format: TemplateFormat,
    pub body: String,
    /// Empty when the plain-text part is derived from the HTML.
    pub text_body: String,
    /// Starts at 1; every change adds one.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn template(t: &StoredTemplate) -> Result<Template, AppError> {
    let format = TemplateFormat::parse(&t.format).ok_or_else(|| {
        AppError::internal(format!(
            "template {} has the unknown format \"{}\" in the database",
            t.id, t.format
        ))
    })?;
    Ok(Template {
        id: t.id,
        name: t.name.clone(),
        format,
        body: t.body.clone(),
        text_body: t.text_body.clone(),
        version: t.version,
        created_at: format_ms(t.created_at),
        updated_at: format_ms(t.updated_at),
    })
}

/// What a template may see of one person: the contact's fields (with
/// `email`), its account's fields, the postal address and the person's
/// unsubscribe and preference links. Fields without a value (null or blank
/// text) are left out, so `{{ contact.first_name | default("there") }}`
/// falls back and nothing prints "none". Every email and every preview is
/// personalised through this function.
pub fn personal_for(
    contact: &Map<String, Value>,
    account: Option<&Map<String, Value>>,
    postal_address: &str,
    unsubscribe_url: &str,
    preferences_url: &str,
) -> Personal {
    Personal {
        contact: with_values(contact),
        account: account.map(with_values),
        postal_address: postal_address.to_string(),
        unsubscribe_url: unsubscribe_url.to_string(),
        preferences_url: preferences_url.to_string(),
    }
}

fn with_values(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(_, v)| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            _ => true,
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

// ---- validation ---------------------------------------------------------------

fn clean_template_name(name: &str) -> Result<String, AppError> {
    clean_name(
        name,
        "template_name_invalid",
        "template",
        "Monthly newsletter",
    )
}

fn clean_format(format: &str) -> Result<TemplateFormat, AppError> {
    TemplateFormat::parse(format).ok_or_else(|| {
        AppError::invalid(
            "template_format_invalid",
            "format",
            format!(
                "\"{format}\" is not a template format; use one of: {}",
                TemplateFormat::choices()
            ),
        )
    })
}

/// The body and plain-text part must prepare; the error names the part and line.
fn check_content(format: TemplateFormat, body: &str, text_body: &str) -> Result<(), AppError> {
    if body.trim().is_empty() {
        return Err(AppError::invalid(
            "template_body_missing",
            "body",
            match format {
                TemplateFormat::Html => "the template has no body; write the email's HTML",
                TemplateFormat::Mjml => {
                    "the template has no body; write the email in MJML, starting with <mjml>"
                }
            },
        ));
    }
    render::prepare("", format, body, text_body)
        .map(drop)
        .map_err(|e| template_invalid(&e))
}

/// The input holding a part of the email.
fn field_of(e: &RenderError) -> &'static str {
    match e.part {
        "text" => "text_body",
        "subject" => "subject",
        _ => "body",
    }
}

fn template_invalid(e: &RenderError) -> AppError {
    AppError::invalid(
        "template_invalid",
        field_of(e),
        format!("{e}; fix it and save again"),
    )
}

/// Refuse a name another template of the workspace already has.
async fn name_free(c: Conn<'_>, ws: i64, name: &str, except: Option<i64>) -> Result<(), AppError> {
    match repo::template_by_name(c, ws, name).await? {
        Some(other) if Some(other.id) != except => Err(AppError::conflict(
            "template_name_taken",
            "name",
            format!(
                "template \"{name}\" already exists (id {}); pick another name or change that one",
                other.id
            ),
        )),
        _ => Ok(()),
    }
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(
        "template_not_found",
        format!("there is no template {id} in this workspace"),
    )
}

async fn template_or_404(
    c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<StoredTemplate, AppError> {
    repo::get_template_locked(c, ws, id, lock)
        .await?
        .ok_or_else(|| not_found(id))
}

/// The audit entry's view of a template: the whole content, so the audit
/// log holds every version.
fn audit_view(t: &StoredTemplate) -> Value {
    json!({
        "name": t.name,
        "format": t.format,
        "body": t.body,
        "text_body": t.text_body,
        "version": t.version,
    })
}

// ---- use cases -------------------------------------------------------------------

/// Save a new template as version 1.
pub async fn create_template(
    db: &Db,
    actor: &Actor,
    input: TemplateInput,
    now: i64,
) -> Result<Template, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let name = clean_template_name(&input.name)?;
    let format = clean_format(&input.format)?;
    check_content(format, &input.body, &input.text_body)?;
    let mut tx = db.begin().await?;
    name_free(tx.conn(), ws, &name, None).await?;
    let content = TemplateContent {
        name: &name,
        format: format.as_str(),
        body: &input.body,
        text_body: &input.text_body,
    };
    let stored = repo::insert_template(tx.conn(), ws, content, now).await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Template,
            stored.id,
            json!({"before": {}, "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    template(&stored)
}

/// Change a template; each change is a new version. A patch that changes
/// nothing saves nothing.
pub async fn update_template(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: TemplatePatch,
    now: i64,
) -> Result<Template, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = template_or_404(tx.conn(), ws, id, true).await?;
    let name = match &patch.name {
        Some(n) => clean_template_name(n)?,
        None => before.name.clone(),
    };
    let format = match &patch.format {
        Some(f) => clean_format(f)?,
        None => clean_format(&before.format)?,
    };
    let body = patch.body.unwrap_or_else(|| before.body.clone());
    let text_body = patch.text_body.unwrap_or_else(|| before.text_body.clone());
    let unchanged = name == before.name
        && format.as_str() == before.format
        && body == before.body
        && text_body == before.text_body;
    if unchanged {
        return template(&before);
    }
    check_content(format, &body, &text_body)?;
    if name != before.name {
        name_free(tx.conn(), ws, &name, Some(id)).await?;
    }
    let change = TemplateContent {
        name: &name,
        format: format.as_str(),
        body: &body,
        text_body: &text_body,
    };
    let after = repo::update_template(tx.conn(), ws, id, change, now)
        .await?
        .ok_or_else(|| not_found(id))?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Template,
            id,
            json!({"before": audit_view(&before), "after": audit_view(&after)}),
            now,
        )
        .await?;
    tx.commit().await?;
    template(&after)
}

pub async fn get_template(db: &Db, actor: &Actor, id: i64) -> Result<Template, AppError> {
    actor.require(Action::ReadRecords)?;
    template(&template_or_404(db.conn(), actor.workspace_id, id, false).await?)
}

/// Every template of the workspace, by name.
pub async fn list_templates(db: &Db, actor: &Actor) -> Result<Vec<Template>, AppError> {
    actor.require(Action::ReadRecords)?;
    repo::list_templates(db.conn(), actor.workspace_id)
        .await?
        .iter()
        .map(template)
        .collect()
}

/// Delete a template. Refused while a draft or scheduled broadcast uses it
/// (broadcasts that have started keep their own copy).
pub async fn delete_template(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = template_or_404(tx.conn(), ws, id, true).await?;
    let users = repo::template_users(tx.conn(), ws, id).await?;
    if !users.is_empty() {
        let names = users
            .iter()
            .map(|u| format!("\"{}\" (id {}, {})", u.name, u.broadcast_id, u.status))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(AppError::new(
            ErrorKind::Conflict,
            "template_in_use",
            format!(
                "template \"{}\" is used by broadcast {names}; choose another template there first",
                before.name
            ),
        ));
    }
    repo::delete_template(tx.conn(), ws, id).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Template,
            id,
            json!({"before": audit_view(&before), "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The email one contact would get from a template with `subject`: their
/// fields and account filled in, the workspace's postal address, and
/// unsubscribe and preference links that only look real (a preview must
/// not unsubscribe anyone). Links are neither tagged nor tracked.
pub async fn preview_template(
    db: &Db,
    actor: &Actor,
    template_id: i64,
    contact_id: i64,
    subject: &str,
    _now: i64,
) -> Result<Rendered, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let stored = template_or_404(db.conn(), ws, template_id, false).await?;
    let format = clean_format(&stored.format)?;
    render_as(
        db,
        ws,
        format,
        &stored.body,
        &stored.text_body,
        contact_id,
        subject,
    )
    .await
}

/// Email content not saved yet, as a template editor holds it.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// The subject line, which may use the same variables as the body.
    pub subject: &'a str,
    /// `html` or `mjml`.
    pub format: &'a str,
    pub body: &'a str,
    pub text_body: &'a str,
}

/// Whether a draft would be saved and sent: it prepares, and the error
/// names the input that is wrong. An empty body passes: a draft may be
/// half done.
pub fn check_draft(d: &Draft<'_>) -> Result<(), AppError> {
    let format = clean_format(d.format)?;
    if d.body.trim().is_empty() {
        return Ok(());
    }
    render::prepare(d.subject, format, d.body, d.text_body)
        .map(drop)
        .map_err(|e| template_invalid(&e))
}

/// [`preview_template`] for content not saved yet, as the template editor
/// shows it while the marketer writes.
pub async fn preview_draft(
    db: &Db,
    actor: &Actor,
    d: &Draft<'_>,
    contact_id: i64,
    _now: i64,
) -> Result<Rendered, AppError> {
    actor.require(Action::ReadRecords)?;
    let format = clean_format(d.format)?;
    check_content(format, d.body, d.text_body)?;
    render_as(
        db,
        actor.workspace_id,
        format,
        d.body,
        d.text_body,
        contact_id,
        d.subject,
    )
    .await
}

/// One contact's email from some content, with links that only look real.
async fn render_as(
    db: &Db,
    ws: i64,
    format: TemplateFormat,
    body: &str,
    text_body: &str,
    contact_id: i64,
    subject: &str,
) -> Result<Rendered, AppError> {
    let contact =
        pitcrew_store::record::get_record(db.conn(), ws, ObjectKind::Contact, contact_id, false)
            .await?
            .ok_or_else(|| {
                AppError::not_found(
                    "contact_not_found",
                    format!("there is no contact {contact_id} in this workspace"),
                )
                .at("contact_id")
            })?;
    let account = match contact.account_id {
        Some(a) => pitcrew_store::record::get_record(db.conn(), ws, ObjectKind::Account, a, false)
            .await?
            .map(|r| r.fields),
        None => None,
    };
    let rules = super::provider::rules_of(db.conn(), ws).await?;
    let base = match rules.public_url.trim().trim_end_matches('/') {
        "" => PLACEHOLDER_BASE,
        url => url,
    };
    let personal = personal_for(
        &contact.fields,
        account.as_ref(),
        &rules.postal_address,
        &format!("{base}/unsubscribe"),
        &format!("{base}/preferences"),
    );
    let prepared =
        render::prepare(subject, format, body, text_body).map_err(|e| template_invalid(&e))?;
    prepared
        .render(&personal, &LinkPolicy::default())
        .map_err(|e| {
            AppError::invalid(
                "template_render_failed",
                field_of(&e),
                format!("the template cannot be rendered for contact {contact_id}: {e}"),
            )
        })
}
