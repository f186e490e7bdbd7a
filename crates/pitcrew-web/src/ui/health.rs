//! The data health pages: the report of what is wrong with the workspace's
//! contacts or accounts, each check's count a link to the records behind
//! it, a page at a time. The health use case computes everything.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use pitcrew_app::health::{self, HealthCheck, HealthParams, MAX_IDS_LIMIT};
use pitcrew_app::record;
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::record::ObjectKind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{Page, PageMeta, Viewer};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(report))
        .route("/health/{check}", get(check))
}

const SECTION: &str = "health";
/// Records listed per page of a check.
const PER_PAGE: usize = 50;

/// The page's query; all text, so odd input gets a page, not a rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HealthQuery {
    object: Option<String>,
    page: Option<String>,
}

fn object_of(q: &HealthQuery) -> Result<ObjectKind, AppError> {
    match q.object.as_deref().map(str::trim) {
        None | Some("") => Ok(ObjectKind::Contact),
        Some(s) => ObjectKind::parse(s).ok_or_else(|| {
            AppError::not_found(
                "object_unknown",
                format!("`{s}` is not a kind of record; data health covers contacts and accounts"),
            )
        }),
    }
}

/// How a check is named in its address: `code`, or `code.field` for
/// checks made per field (field keys never hold a dot).
fn slug(c: &HealthCheck) -> String {
    match &c.field {
        Some(f) => format!("{}.{f}", c.code),
        None => c.code.clone(),
    }
}

/// Where a record of `object` is shown.
fn record_href(object: ObjectKind, id: i64) -> String {
    match object {
        ObjectKind::Contact => format!("/people/{id}"),
        ObjectKind::Account => format!("/accounts/{id}"),
    }
}

fn words(object: ObjectKind) -> (&'static str, &'static str) {
    match object {
        ObjectKind::Contact => ("contact", "contacts"),
        ObjectKind::Account => ("account", "accounts"),
    }
}

async fn report(State(s): State<AppState>, v: Viewer, Query(q): Query<HealthQuery>) -> Page {
    let object = object_of(&q)?;
    let params = HealthParams {
        object: Some(object.as_str().into()),
        stale_days: None,
        // Counts and samples only; the check pages list the records.
        ids_limit: Some(0),
    };
    let r = health::report(&s.db, &v.actor, params, now_ms()).await?;
    let checks: Vec<Value> = r
        .checks
        .iter()
        .map(|c| {
            json!({
                "slug": slug(c),
                "label": c.label,
                "description": c.description,
                "severity": c.severity.as_str(),
                "count": c.count,
                "group_count": c.group_count,
            })
        })
        .collect();
    let problems = r.checks.iter().filter(|c| c.count > 0).count();
    let (one, many) = words(object);
    v.page(
        PageMeta {
            title: "Data health",
            section: SECTION,
        },
        "health/report.html",
        json!({
            "object": object.as_str(),
            "one": one,
            "many": many,
            "total": r.total,
            "stale_days": r.stale_days,
            "generated_at": r.generated_at,
            "checks": checks,
            "problems": problems,
        }),
    )
}

fn page_number(q: &HealthQuery) -> usize {
    q.page
        .as_deref()
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// A record's name in a list: a person's name and email, or an account's
/// name and domain.
fn describe(object: ObjectKind, fields: &serde_json::Map<String, Value>) -> (String, String) {
    let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("").trim();
    match object {
        ObjectKind::Contact => {
            let name = format!("{} {}", text("first_name"), text("last_name"))
                .trim()
                .to_string();
            (name, text("email").to_string())
        }
        ObjectKind::Account => (text("name").to_string(), text("domain").to_string()),
    }
}

async fn check(
    State(s): State<AppState>,
    v: Viewer,
    Path(wanted): Path<String>,
    Query(q): Query<HealthQuery>,
) -> Page {
    let object = object_of(&q)?;
    let params = HealthParams {
        object: Some(object.as_str().into()),
        stale_days: None,
        ids_limit: Some(MAX_IDS_LIMIT),
    };
    let r = health::report(&s.db, &v.actor, params, now_ms()).await?;
    let Some(c) = r.checks.iter().find(|c| slug(c) == wanted) else {
        return Err(AppError::not_found(
            "health_check_unknown",
            format!(
                "there is no data health check `{wanted}` for {}; open Data health to see them all",
                words(object).1
            ),
        )
        .into());
    };
    let pages = c.ids.len().div_ceil(PER_PAGE).max(1);
    let page = page_number(&q).min(pages);
    let samples: HashMap<i64, &health::Sample> = c.samples.iter().map(|s| (s.id, s)).collect();
    let group_of: HashMap<i64, &str> = c
        .groups
        .iter()
        .flatten()
        .flat_map(|g| g.ids.iter().map(move |id| (*id, g.key.as_str())))
        .collect();
    let mut rows = Vec::new();
    for id in c.ids.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE) {
        let (name, detail) = match record::get_record(&s.db, &v.actor, object, *id).await {
            Ok(rec) => describe(object, &rec.fields),
            // Deleted since the report ran: still listed, without a name.
            Err(e) if e.kind == ErrorKind::NotFound => (String::new(), String::new()),
            Err(e) => return Err(e.into()),
        };
        let sample = samples.get(id).map(|s| {
            json!({
                "value": match &s.value { Value::String(t) => t.clone(), other => other.to_string() },
                "reason": s.reason,
                "normalised": s.normalised.as_ref().map(|n| match n { Value::String(t) => t.clone(), other => other.to_string() }),
            })
        });
        rows.push(json!({
            "id": id,
            "href": record_href(object, *id),
            "name": name,
            "detail": detail,
            "group": group_of.get(id),
            "sample": sample,
        }));
    }
    let (one, many) = words(object);
    let base = format!("/health/{wanted}?object={}", object.as_str());
    v.page(
        PageMeta {
            title: &c.label,
            section: SECTION,
        },
        "health/check.html",
        json!({
            "object": object.as_str(),
            "one": one,
            "many": many,
            "check": {
                "label": c.label,
                "description": c.description,
                "severity": c.severity.as_str(),
                "count": c.count,
                "listed": c.ids.len(),
                "truncated": c.ids_truncated,
                "field": c.field,
                "group_count": c.group_count,
            },
            "rows": rows,
            "page": page,
            "pages": pages,
            "prev": (page > 1).then(|| format!("{base}&page={}", page - 1)),
            "next": (page < pages).then(|| format!("{base}&page={}", page + 1)),
        }),
    )
}
