//! Writing a broadcast: one form for its settings (subject, sender, topic,
//! segments, provider, tracking, UTM, schedule) and its email (the
//! template editor), with a preview as a chosen contact. Only drafts are
//! editable. The email is kept as the broadcast's own template.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use pitcrew_app::campaign::broadcast::{self, Broadcast, BroadcastInput};
use pitcrew_app::campaign::consent;
use pitcrew_app::campaign::provider;
use pitcrew_app::campaign::template::{self, Draft, TemplateInput, TemplatePatch};
use pitcrew_app::{AppError, ErrorKind, audience, now_ms};
use pitcrew_core::admin::Action;
use serde::Serialize;
use serde_json::{Value, json};

use super::{SECTION, contact_by_email, id_of, see, with_status};
use crate::AppState;
use crate::ui::view::{Page, PageMeta, UiError, Viewer, form_errors, render};

/// The UTM parameters the form offers, in the order shown.
const UTM_KEYS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
];

/// What the form holds, as typed.
#[derive(Debug, Clone, Serialize)]
pub(super) struct BroadcastForm {
    name: String,
    subject: String,
    from_name: String,
    from_email: String,
    reply_to: String,
    topic: String,
    segments: Vec<i64>,
    exclusions: Vec<i64>,
    provider_id: String,
    tracking: bool,
    utm: BTreeMap<String, String>,
    /// `YYYY-MM-DDTHH:MM` in the workspace's time zone, or empty.
    scheduled_at: String,
    format: String,
    body: String,
    text_body: String,
    /// Whom to preview the email as.
    preview_email: String,
}

impl Default for BroadcastForm {
    fn default() -> Self {
        BroadcastForm {
            name: String::new(),
            subject: String::new(),
            from_name: String::new(),
            from_email: String::new(),
            reply_to: String::new(),
            topic: String::new(),
            segments: Vec::new(),
            exclusions: Vec::new(),
            provider_id: String::new(),
            tracking: true,
            utm: BTreeMap::new(),
            scheduled_at: String::new(),
            format: "html".into(),
            body: String::new(),
            text_body: String::new(),
            preview_email: String::new(),
        }
    }
}

fn ids(field: &str, value: &str) -> Result<i64, AppError> {
    value.trim().parse().map_err(|_| {
        AppError::invalid(
            "segment_invalid",
            field,
            format!("\"{value}\" is not a segment; pick segments from the list"),
        )
    })
}

impl BroadcastForm {
    /// Read a posted form. Repeated names (segments, exclusions) are kept.
    fn parse(pairs: Vec<(String, String)>) -> Result<BroadcastForm, AppError> {
        let mut f = BroadcastForm {
            tracking: false,
            ..BroadcastForm::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "subject" => f.subject = v,
                "from_name" => f.from_name = v,
                "from_email" => f.from_email = v,
                "reply_to" => f.reply_to = v,
                "topic" => f.topic = v,
                "segments" => f.segments.push(ids("segments", &v)?),
                "exclusions" => f.exclusions.push(ids("exclusions", &v)?),
                "provider_id" => f.provider_id = v,
                "tracking" => f.tracking = true,
                "scheduled_at" => f.scheduled_at = v,
                "format" => f.format = v,
                "body" => f.body = v,
                "text_body" => f.text_body = v,
                "preview_email" => f.preview_email = v,
                k if UTM_KEYS.contains(&k) && !v.trim().is_empty() => {
                    f.utm.insert(k.to_string(), v);
                }
                _ => {}
            }
        }
        Ok(f)
    }

    /// The form as a saved broadcast and its template show it.
    fn of(b: &Broadcast, t: Option<&template::Template>, zone: &str) -> BroadcastForm {
        BroadcastForm {
            name: b.name.clone(),
            subject: b.subject.clone(),
            from_name: b.from_name.clone(),
            from_email: b.from_email.clone(),
            reply_to: b.reply_to.clone(),
            topic: b.topic.clone(),
            segments: b.segments.clone(),
            exclusions: b.exclusions.clone(),
            provider_id: b.provider_id.map(|p| p.to_string()).unwrap_or_default(),
            tracking: b.tracking,
            utm: b.utm.clone(),
            scheduled_at: b
                .scheduled_at
                .as_deref()
                .map(|at| local_time(at, zone))
                .unwrap_or_default(),
            format: t.map_or("html".into(), |t| t.format.as_str().to_string()),
            body: t.map(|t| t.body.clone()).unwrap_or_default(),
            text_body: t.map(|t| t.text_body.clone()).unwrap_or_default(),
            preview_email: String::new(),
        }
    }

    /// The broadcast the use cases take (its template is set separately).
    fn input(&self, zone: &str, template_id: Option<i64>) -> Result<BroadcastInput, AppError> {
        let provider_id = match self.provider_id.trim() {
            "" => None,
            p => Some(p.parse().map_err(|_| {
                AppError::invalid(
                    "provider_invalid",
                    "provider_id",
                    "pick a sending provider from the list",
                )
            })?),
        };
        let scheduled_at = match self.scheduled_at.trim() {
            "" => None,
            at => Some(utc_time(at, zone)?),
        };
        Ok(BroadcastInput {
            name: self.name.clone(),
            template_id,
            subject: self.subject.clone(),
            from_name: self.from_name.clone(),
            from_email: self.from_email.clone(),
            reply_to: self.reply_to.clone(),
            topic: self.topic.clone(),
            segments: self.segments.clone(),
            exclusions: self.exclusions.clone(),
            provider_id,
            tracking: self.tracking,
            utm: self.utm.clone(),
            scheduled_at,
        })
    }

    fn draft(&self) -> Draft<'_> {
        Draft {
            subject: &self.subject,
            format: &self.format,
            body: &self.body,
            text_body: &self.text_body,
        }
    }
}

/// A form's `datetime-local` value in the workspace's zone, as RFC 3339 UTC.
fn utc_time(local: &str, zone: &str) -> Result<String, AppError> {
    let bad = || {
        AppError::invalid(
            "scheduled_at_invalid",
            "scheduled_at",
            format!("\"{local}\" is not a date and time; pick one like 2026-12-24 09:30"),
        )
    };
    let civil: jiff::civil::DateTime = local.parse().map_err(|_| bad())?;
    let zoned = civil.in_tz(zone).map_err(|_| bad())?;
    Ok(zoned.timestamp().to_string())
}

/// An RFC 3339 time as a `datetime-local` value in the workspace's zone.
fn local_time(at: &str, zone: &str) -> String {
    let Ok(ts) = at.parse::<jiff::Timestamp>() else {
        return String::new();
    };
    match ts.in_tz(zone) {
        Ok(z) => z.datetime().strftime("%Y-%m-%dT%H:%M").to_string(),
        Err(_) => String::new(),
    }
}

/// The form's inputs by name, for its problems: UTM parameters are named
/// on their own, and a problem of no known input shows above the form.
fn errors_of(e: &AppError) -> Value {
    let known = [
        "name",
        "subject",
        "from_name",
        "from_email",
        "reply_to",
        "topic",
        "segments",
        "exclusions",
        "provider_id",
        "scheduled_at",
        "format",
        "body",
        "text_body",
    ];
    let mut out = serde_json::Map::new();
    if let Value::Object(m) = form_errors(e) {
        for (k, msg) in m {
            let k = k.strip_prefix("utm.").unwrap_or(&k).to_string();
            let key = if known.contains(&k.as_str()) || UTM_KEYS.contains(&k.as_str()) {
                k
            } else {
                "form".to_string()
            };
            out.entry(key).or_insert(msg);
        }
    }
    Value::Object(out)
}

/// The form page, for a new broadcast (`id` none) or a draft.
async fn form_page(
    s: &AppState,
    v: &Viewer,
    id: Option<i64>,
    form: &BroadcastForm,
    errors: Value,
) -> Page {
    let topics = consent::list_topics(&s.db, &v.actor).await?;
    let segments: Vec<Value> = audience::list_segments(&s.db, &v.actor)
        .await?
        .into_iter()
        .filter(|seg| seg.subject.as_str() == "people")
        .map(|seg| json!({"id": seg.id, "name": seg.name, "kind": seg.kind}))
        .collect();
    let providers = provider::list_providers(&s.db, &v.actor).await?;
    let zone = audience::timezone(&s.db, &v.actor).await?;
    let utm: Vec<Value> = UTM_KEYS
        .iter()
        .map(|k| json!({"key": k, "value": form.utm.get(*k).cloned().unwrap_or_default()}))
        .collect();
    let title = match id {
        Some(_) => format!("Edit {}", form.name),
        None => "New broadcast".to_string(),
    };
    let status = if errors.as_object().is_some_and(|m| !m.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = v.page(
        PageMeta {
            title: &title,
            section: SECTION,
        },
        "broadcasts/form.html",
        json!({
            "id": id,
            "heading": title,
            "f": form,
            "errors": errors,
            "topics": topics,
            "segments": segments,
            "providers": providers,
            "utm": utm,
            "zone": zone,
        }),
    )?;
    Ok(with_status(page, status))
}

/// Invalid or conflicting input goes back to the form; anything else is an
/// error page.
fn refusal(e: AppError) -> Result<Value, UiError> {
    if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) {
        return Ok(errors_of(&e));
    }
    Err(e.into())
}

pub(super) async fn new_form(State(s): State<AppState>, v: Viewer) -> Page {
    v.actor.require(Action::ManageCampaigns)?;
    form_page(&s, &v, None, &BroadcastForm::default(), json!({})).await
}

/// A name for the broadcast's own template that no other template has.
async fn free_template_name(
    s: &AppState,
    v: &Viewer,
    broadcast_name: &str,
    id: i64,
) -> Result<String, AppError> {
    let taken: Vec<String> = template::list_templates(&s.db, &v.actor)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let base = format!("{} (broadcast {id})", broadcast_name.trim());
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base} {n}");
        n += 1;
    }
    Ok(name)
}

/// Save the email of broadcast `b`: a new template if it has none, else a
/// new version of its own. Returns the template id, if there is an email.
async fn save_email(
    s: &AppState,
    v: &Viewer,
    b: &Broadcast,
    f: &BroadcastForm,
) -> Result<Option<i64>, AppError> {
    if f.body.trim().is_empty() {
        return Ok(b.template_id);
    }
    let now = now_ms();
    if let Some(t) = b.template_id {
        let patch = TemplatePatch {
            format: Some(f.format.clone()),
            body: Some(f.body.clone()),
            text_body: Some(f.text_body.clone()),
            ..TemplatePatch::default()
        };
        template::update_template(&s.db, &v.actor, t, patch, now).await?;
        return Ok(Some(t));
    }
    let input = TemplateInput {
        name: free_template_name(s, v, &b.name, b.id).await?,
        format: f.format.clone(),
        body: f.body.clone(),
        text_body: f.text_body.clone(),
    };
    Ok(Some(
        template::create_template(&s.db, &v.actor, input, now)
            .await?
            .id,
    ))
}

/// Check the email, then save the broadcast, then its email: a refusal of
/// the broadcast's settings leaves the email as it was.
async fn save(
    s: &AppState,
    v: &Viewer,
    id: Option<i64>,
    f: &BroadcastForm,
) -> Result<i64, AppError> {
    v.actor.require(Action::ManageCampaigns)?;
    template::check_draft(&f.draft())?;
    let zone = audience::timezone(&s.db, &v.actor).await?;
    let now = now_ms();
    let saved = match id {
        None => broadcast::create_broadcast(&s.db, &v.actor, f.input(&zone, None)?, now).await?,
        Some(id) => {
            let before = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
            let input = f.input(&zone, before.template_id)?;
            broadcast::update_broadcast(&s.db, &v.actor, id, input, now).await?
        }
    };
    let template_id = save_email(s, v, &saved, f).await?;
    if template_id != saved.template_id {
        let input = f.input(&zone, template_id)?;
        broadcast::update_broadcast(&s.db, &v.actor, saved.id, input, now_ms()).await?;
    }
    Ok(saved.id)
}

pub(super) async fn create(
    State(s): State<AppState>,
    v: Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let f = match BroadcastForm::parse(pairs) {
        Ok(f) => f,
        Err(e) => return form_page(&s, &v, None, &BroadcastForm::default(), refusal(e)?).await,
    };
    match save(&s, &v, None, &f).await {
        Ok(id) => Ok(see(&format!("/broadcasts/{id}"))),
        Err(e) => {
            let errors = refusal(e)?;
            form_page(&s, &v, None, &f, errors).await
        }
    }
}

/// A draft, or the refusal to edit anything else.
async fn draft_of(s: &AppState, v: &Viewer, id: i64) -> Result<Broadcast, UiError> {
    v.actor.require(Action::ManageCampaigns)?;
    let b = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
    if !b.status.editable() {
        return Err(AppError::conflict(
            "broadcast_not_editable",
            "status",
            format!(
                "\"{}\" is {}; only a draft can be changed (a scheduled one goes back to draft when you cancel its schedule)",
                b.name,
                b.status.as_str()
            ),
        )
        .into());
    }
    Ok(b)
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
) -> Page {
    let id = id_of(&raw)?;
    let b = draft_of(&s, &v, id).await?;
    let t = match b.template_id {
        Some(t) => Some(template::get_template(&s.db, &v.actor, t).await?),
        None => None,
    };
    let zone = audience::timezone(&s.db, &v.actor).await?;
    form_page(
        &s,
        &v,
        Some(id),
        &BroadcastForm::of(&b, t.as_ref(), &zone),
        json!({}),
    )
    .await
}

pub(super) async fn update(
    State(s): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let id = id_of(&raw)?;
    draft_of(&s, &v, id).await?;
    let f = match BroadcastForm::parse(pairs) {
        Ok(f) => f,
        Err(e) => {
            let errors = refusal(e)?;
            return form_page(&s, &v, Some(id), &BroadcastForm::default(), errors).await;
        }
    };
    match save(&s, &v, Some(id), &f).await {
        Ok(id) => Ok(see(&format!("/broadcasts/{id}"))),
        Err(e) => {
            let errors = refusal(e)?;
            form_page(&s, &v, Some(id), &f, errors).await
        }
    }
}

/// The email as one contact would get it, from the editor's unsaved
/// content: for htmx to show beside the editor. Problems come back as a
/// 422 with the renderer's words.
pub(super) async fn preview(
    State(s): State<AppState>,
    v: Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let rendered = match BroadcastForm::parse(pairs) {
        Ok(f) => match contact_by_email(&s, &v, &f.preview_email, "preview_email").await {
            Ok(contact) => {
                template::preview_draft(&s.db, &v.actor, &f.draft(), contact, now_ms()).await
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let (ctx, status) = match rendered {
        Ok(r) => (json!({"r": r}), StatusCode::OK),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => (
            json!({"problem": e.message, "field": e.field}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => return Err(e.into()),
    };
    let page = if v.htmx {
        v.fragment("broadcasts/preview.html", ctx)?
    } else {
        v.page(
            PageMeta {
                title: "Preview",
                section: SECTION,
            },
            "broadcasts/preview_page.html",
            json!({"preview_html": render("broadcasts/preview.html", &ctx)?}),
        )?
    };
    Ok(with_status(page, status))
}
