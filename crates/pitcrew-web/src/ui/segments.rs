//! Audiences in the web app: the list of segments and static lists with
//! their counts, the condition editor that checks and counts as the
//! marketer types, member previews, CSV exports, deleting, and filling a
//! static list from a CSV file. Every page calls the audience use cases
//! the API calls, which check the role.

mod marked;
mod upload;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use pitcrew_app::audience::{
    self, CheckReport, Definition, NewSegment, SavedSegment, SegmentKind, SegmentPatch, SegmentRef,
    UseKind,
};
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::admin::Action;
use pitcrew_core::time::format_ms;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{Page, PageMeta, UiError, Viewer, form_errors, render, status_of};
use crate::AppState;
use crate::api::download;

/// Members shown under the editor while a condition is written.
const PREVIEW_SIZE: i64 = 10;
/// Members shown on a saved segment's or list's page.
const MEMBERS_SHOWN: i64 = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/segments", get(list).post(create))
        .route("/segments/new", get(new))
        .route("/segments/check", post(check))
        .route("/segments/{id}", get(show).post(update))
        .route("/segments/{id}/export.csv", get(export))
        .route("/segments/{id}/delete", get(confirm_delete).post(delete))
        .route(
            "/segments/{id}/members/import",
            post(upload::fill).layer(DefaultBodyLimit::max(upload::MAX_BYTES)),
        )
}

const META: PageMeta<'static> = PageMeta {
    title: "Segments",
    section: "segments",
};

fn meta(title: &str) -> PageMeta<'_> {
    PageMeta {
        title,
        section: "segments",
    }
}

/// A segment id from the address; anything else is a page that does not exist.
fn segment_id(raw: &str) -> Result<i64, UiError> {
    raw.parse().map_err(|_| {
        UiError::App(AppError::not_found(
            "segment_not_found",
            format!("`{raw}` is not a segment id; open the segment from the list of segments"),
        ))
    })
}

/// A page answered with another status than 200 (a refused form).
fn with_status(page: Page, status: StatusCode) -> Page {
    let mut r = page?;
    *r.status_mut() = status;
    Ok(r)
}

/// A use-case message a marketer may read; internal failures are logged
/// and described in general terms.
fn readable(e: &AppError) -> String {
    if e.kind == ErrorKind::Internal && e.code != "segment_unreadable" {
        "it cannot be counted right now; try again in a moment".into()
    } else {
        e.message.clone()
    }
}

/// The fields shown for each member (and exported after its id).
fn member_view(subject: &str) -> Vec<String> {
    if subject == "accounts" {
        vec!["name".into(), "domain".into()]
    } else {
        vec!["email".into(), "first_name".into(), "last_name".into()]
    }
}

/// A table of members (people or accounts), rendered for a page or a fragment.
fn members_table(subject: &str, preview: &audience::Preview) -> Result<String, UiError> {
    let columns = member_view(subject);
    let rows: Vec<Value> = preview
        .members
        .iter()
        .map(|m| {
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| m.fields.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            json!({"id": m.id, "cells": cells})
        })
        .collect();
    let headings: Vec<&str> = columns
        .iter()
        .map(|c| match c.as_str() {
            "email" => "Email",
            "first_name" => "First name",
            "last_name" => "Last name",
            "name" => "Name",
            "domain" => "Domain",
            other => other,
        })
        .collect();
    render(
        "segments/members.html",
        &json!({
            "subject": subject,
            "headings": headings,
            "rows": rows,
            "total": preview.total,
        }),
    )
}

// ---- the list ---------------------------------------------------------------------------

async fn list(State(s): State<AppState>, v: Viewer) -> Page {
    let segments = audience::list_segments(&s.db, &v.actor).await?;
    let now = now_ms();
    let mut rows = Vec::new();
    for seg in &segments {
        let counted =
            audience::count_segment(&s.db, &v.actor, SegmentRef::Saved(seg.id), now).await;
        let (count, problem) = match counted {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(readable(&e))),
        };
        rows.push(json!({"segment": seg, "count": count, "problem": problem}));
    }
    v.page(
        META,
        "segments/list.html",
        json!({"rows": rows, "counted_at": format_ms(now)}),
    )
}

// ---- checking as the marketer types -----------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct SegmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    definition: String,
    /// `dynamic` or `static` (new segments only).
    #[serde(default)]
    kind: String,
    /// `people` or `accounts` (new static lists only).
    #[serde(default)]
    subject: String,
}

/// The verdict on a condition as HTML: its problems underlined in a copy
/// of the text and listed with line and column, or, when it is valid, how
/// many it selects now and the first few of them.
async fn check_html(s: &AppState, v: &Viewer, text: &str) -> Result<String, UiError> {
    if text.trim().is_empty() {
        return render("segments/check.html", &json!({"empty": true}));
    }
    let report: CheckReport =
        audience::check_definition(&s.db, &v.actor, Definition::Text(text.to_string())).await?;
    let spans: Vec<Option<(usize, usize)>> = report
        .problems
        .iter()
        .map(|p| p.span.as_ref().map(|s| (s.start, s.end)))
        .collect();
    let pieces = marked::pieces(text, &spans);
    let mut count = None;
    let mut members = None;
    let mut count_problem = None;
    if report.valid {
        let subject = report.subject.map_or("people", |s| s.as_str());
        let fields = member_view(subject);
        let target = SegmentRef::Unsaved(Definition::Text(text.to_string()));
        let preview =
            audience::preview_segment(&s.db, &v.actor, target, fields, PREVIEW_SIZE, 0, now_ms())
                .await;
        match preview {
            Ok(p) => {
                count = Some(p.total);
                members = Some(members_table(subject, &p)?);
            }
            Err(e) => count_problem = Some(readable(&e)),
        }
    }
    render(
        "segments/check.html",
        &json!({
            "empty": false,
            "report": report,
            "pieces": pieces,
            "count": count,
            "members": members,
            "count_problem": count_problem,
        }),
    )
}

async fn check(State(s): State<AppState>, v: Viewer, Form(f): Form<SegmentForm>) -> Page {
    let html = check_html(&s, &v, &f.definition).await?;
    Ok(axum::response::Html(html).into_response())
}

// ---- the editor ---------------------------------------------------------------------------

/// Refuse a page only for those who may change segments (the use case
/// refuses the change itself as well).
fn require_manage(v: &Viewer) -> Result<(), UiError> {
    if v.can(Action::ManageSegments) {
        return Ok(());
    }
    Err(UiError::App(AppError::forbidden(
        "your role can read segments but not create, change or delete them",
    )))
}

#[derive(Debug, Deserialize)]
struct NewParams {
    kind: Option<String>,
}

async fn new(
    State(s): State<AppState>,
    v: Viewer,
    axum::extract::Query(p): axum::extract::Query<NewParams>,
) -> Page {
    require_manage(&v)?;
    let form = SegmentForm {
        kind: p.kind.filter(|k| k == "static").unwrap_or("dynamic".into()),
        subject: "people".into(),
        ..SegmentForm::default()
    };
    new_page(&s, &v, &form, json!({})).await
}

async fn new_page(s: &AppState, v: &Viewer, form: &SegmentForm, errors: Value) -> Page {
    let is_static = form.kind == "static";
    let check = if is_static {
        String::new()
    } else {
        check_html(s, v, &form.definition).await?
    };
    let title = if is_static {
        "New static list"
    } else {
        "New segment"
    };
    v.page(
        meta(title),
        "segments/new.html",
        json!({
            "heading": title,
            "is_static": is_static,
            "form": {
                "name": form.name,
                "description": form.description,
                "definition": form.definition,
                "kind": if is_static { "static" } else { "dynamic" },
                "subject": if form.subject == "accounts" { "accounts" } else { "people" },
            },
            "errors": errors,
            "check": check,
        }),
    )
}

/// The form's values as the use case takes them. Built through the same
/// deserialisation as the API's JSON body, so the page and the API accept
/// exactly the same thing.
fn new_segment(f: &SegmentForm) -> Result<NewSegment, AppError> {
    let is_static = f.kind == "static";
    let body = if is_static {
        let subject = if f.subject == "accounts" {
            "accounts"
        } else {
            "people"
        };
        json!({"name": f.name, "description": f.description, "kind": "static", "subject": subject})
    } else if f.definition.trim().is_empty() {
        json!({"name": f.name, "description": f.description, "kind": "dynamic"})
    } else {
        json!({"name": f.name, "description": f.description, "kind": "dynamic", "definition": f.definition})
    };
    serde_json::from_value(body)
        .map_err(|e| AppError::internal(format!("the segment form could not be read: {e}")))
}

/// A refused change that belongs next to the form's fields.
fn is_form_error(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict)
}

async fn create(State(s): State<AppState>, v: Viewer, Form(f): Form<SegmentForm>) -> Page {
    let new = new_segment(&f)?;
    match audience::create_segment(&s.db, &v.actor, new, now_ms()).await {
        Ok(saved) => Ok(Redirect::to(&format!("/segments/{}", saved.id)).into_response()),
        Err(e) if is_form_error(&e) => with_status(
            new_page(&s, &v, &f, form_errors(&e)).await,
            status_of(e.kind),
        ),
        Err(e) => Err(e.into()),
    }
}

async fn show(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = segment_id(&raw)?;
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    let form = SegmentForm {
        name: seg.name.clone(),
        description: seg.description.clone(),
        definition: seg
            .definition
            .as_ref()
            .map(|d| d.text.clone())
            .unwrap_or_default(),
        ..SegmentForm::default()
    };
    segment_page(&s, &v, &seg, &form, json!({}), Value::Null).await
}

/// A saved segment's page: the editor (read-only for those who may not
/// change it) for a dynamic segment, the members and "Fill from CSV" for
/// a static list. `import` is the report of a file just imported.
async fn segment_page(
    s: &AppState,
    v: &Viewer,
    seg: &SavedSegment,
    form: &SegmentForm,
    errors: Value,
    import: Value,
) -> Page {
    let subject = seg.subject.as_str();
    let is_static = seg.kind == SegmentKind::Static;
    let versions = audience::segment_versions(&s.db, &v.actor, seg.id).await?;
    let (check, members, count_problem) = if is_static {
        let fields = member_view(subject);
        let target = SegmentRef::Saved(seg.id);
        let preview =
            audience::preview_segment(&s.db, &v.actor, target, fields, MEMBERS_SHOWN, 0, now_ms())
                .await;
        match preview {
            Ok(p) => (String::new(), members_table(subject, &p)?, None),
            Err(e) => (String::new(), String::new(), Some(readable(&e))),
        }
    } else {
        (
            check_html(s, v, &form.definition).await?,
            String::new(),
            None,
        )
    };
    v.page(
        meta(&seg.name),
        "segments/segment.html",
        json!({
            "segment": seg,
            "is_static": is_static,
            "subject": subject,
            "form": {
                "name": form.name,
                "description": form.description,
                "definition": form.definition,
            },
            "errors": errors,
            "check": check,
            "members": members,
            "count_problem": count_problem,
            "versions": versions,
            "import": import,
        }),
    )
}

async fn update(
    State(s): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    Form(f): Form<SegmentForm>,
) -> Page {
    let id = segment_id(&raw)?;
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    let patch = SegmentPatch {
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
        definition: (seg.kind == SegmentKind::Dynamic)
            .then(|| Definition::Text(f.definition.clone())),
    };
    match audience::update_segment(&s.db, &v.actor, id, patch, now_ms()).await {
        Ok(saved) => Ok(Redirect::to(&format!("/segments/{}", saved.id)).into_response()),
        Err(e) if is_form_error(&e) => with_status(
            segment_page(&s, &v, &seg, &f, form_errors(&e), Value::Null).await,
            status_of(e.kind),
        ),
        Err(e) => Err(e.into()),
    }
}

// ---- export -------------------------------------------------------------------------------

/// The members now as CSV, as the API's export gives them: `id`, then the
/// fields shown on the page.
async fn export(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = segment_id(&raw)?;
    // Refusals and unknown ids end on the error page, before the download starts.
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    let fields = member_view(seg.subject.as_str());
    let db = s.db.clone();
    let actor = v.actor.clone();
    let filename = format!("segment-{id}.csv");
    download::csv(&filename, "segment", move |mut out| async move {
        audience::export_segment_csv(&db, &actor, id, fields, &mut out, now_ms()).await
    })
    .await
    .map_err(|e| {
        let kind = match e.status {
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            s if s.is_client_error() => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        };
        UiError::App(AppError::new(kind, "export_failed", e.detail.message))
    })
}

// ---- delete -------------------------------------------------------------------------------

async fn confirm_delete(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = segment_id(&raw)?;
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    require_manage(&v)?;
    delete_page(&s, &v, &seg, None).await
}

async fn delete_page(
    s: &AppState,
    v: &Viewer,
    seg: &SavedSegment,
    refused: Option<&AppError>,
) -> Page {
    let users = audience::uses_of(&s.db, &v.actor, UseKind::Segment, &seg.name)
        .await?
        .into_iter()
        .filter(|u| !(u.owner_type == "segment" && u.id == seg.id))
        .collect::<Vec<_>>();
    let title = format!("Delete {}", seg.name);
    v.page(
        meta(&title),
        "segments/delete.html",
        json!({
            "segment": seg,
            "users": users,
            "refused": refused.map(|e| e.message.clone()),
        }),
    )
}

async fn delete(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = segment_id(&raw)?;
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    match audience::delete_segment(&s.db, &v.actor, id, now_ms()).await {
        Ok(()) => Ok(Redirect::to("/segments").into_response()),
        Err(e) if e.kind == ErrorKind::Conflict => with_status(
            delete_page(&s, &v, &seg, Some(&e)).await,
            StatusCode::CONFLICT,
        ),
        Err(e) => Err(e.into()),
    }
}
