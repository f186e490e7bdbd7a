//! The audit log page: every change in the workspace, newest first, for the
//! roles that may read it, filtered by who, what and when, a page at a
//! time. The audit use case checks the role.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use pitcrew_app::audit::{self, AuditNarrowing, AuditParams, OBJECT_TYPES};
use pitcrew_app::{ErrorKind, admin};
use pitcrew_core::admin::AuditEntry;
use pitcrew_core::time::parse_instant;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::view::{Page, PageMeta, Viewer, form_errors};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(log))
}

/// Entries per page.
const PER_PAGE: i64 = 50;
const DAY_MS: i64 = 86_400_000;
/// Actions offered as suggestions; any action can be typed.
const COMMON_ACTIONS: &[&str] = &["create", "update", "delete", "import", "approve", "start"];

/// The filters as the form sends them; all text, so odd input gets the
/// page with a message rather than a bare rejection.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Filters {
    user: String,
    action: String,
    object_type: String,
    from: String,
    to: String,
    before: String,
}

/// The filters read, or the problems by field.
fn read(f: &Filters) -> Result<(AuditParams, AuditNarrowing), Map<String, Value>> {
    let mut errors = Map::new();
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let whole = |s: &str, field: &str, errors: &mut Map<String, Value>| match text(s) {
        None => None,
        Some(t) => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(field.into(), json!("Choose someone from the list."));
                None
            }
        },
    };
    let day = |s: &str, field: &str, errors: &mut Map<String, Value>| {
        let t = text(s)?;
        match parse_instant(&t) {
            Ok(ts) if t.len() == 10 => Some(ts.as_millisecond()),
            _ => {
                errors.insert(
                    field.into(),
                    json!(format!(
                        "`{t}` is not a date; use the date picker or write it as 2026-03-01."
                    )),
                );
                None
            }
        }
    };
    let user_id = whole(&f.user, "user", &mut errors);
    let before = whole(&f.before, "form", &mut errors);
    let from = day(&f.from, "from", &mut errors);
    // The end date counts whole: everything before the next midnight.
    let until = day(&f.to, "to", &mut errors).map(|ms| ms + DAY_MS);
    if let (Some(a), Some(b)) = (from, until)
        && a >= b
    {
        errors.insert(
            "to".into(),
            json!("The end date is before the start date; swap them or clear one."),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        AuditParams {
            object_type: text(&f.object_type),
            object_id: None,
            user_id,
            before,
            limit: Some(PER_PAGE + 1),
        },
        AuditNarrowing {
            action: text(&f.action),
            from,
            until,
        },
    ))
}

/// A value as a person reads it: text without quotes, anything else as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The change of an entry as rows: each member with its value before and
/// after, then anything else the entry notes (e.g. values removed).
fn change_rows(changes: &Value) -> Vec<Value> {
    let empty = Map::new();
    let side = |k: &str| changes.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let (before, after) = (side("before"), side("after"));
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            json!({
                "key": k,
                "before": before.get(k).map(plain),
                "after": after.get(k).map(plain),
            })
        })
        .collect();
    if let Value::Object(m) = changes {
        for (k, v) in m.iter().filter(|(k, _)| *k != "before" && *k != "after") {
            rows.push(json!({"key": k, "note": plain(v)}));
        }
    }
    rows
}

/// Where the changed object is shown, when it has a page.
fn object_href(e: &AuditEntry) -> Option<String> {
    let id = &e.object_id;
    if e.action == "delete" {
        return None;
    }
    match e.object_type.as_str() {
        "contact" => Some(format!("/people/{id}")),
        "account" => Some(format!("/accounts/{id}")),
        "segment" => Some(format!("/segments/{id}")),
        "broadcast" => Some(format!("/broadcasts/{id}")),
        "field" => id
            .split_once('.')
            .map(|(object, key)| format!("/fields#{object}-{key}")),
        _ => None,
    }
}

/// The address of the page with these filters and another cursor.
fn link(f: &Filters, before: Option<i64>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("user", &f.user),
        ("action", &f.action),
        ("object_type", &f.object_type),
        ("from", &f.from),
        ("to", &f.to),
    ] {
        if !v.trim().is_empty() {
            q.append_pair(k, v.trim());
        }
    }
    if let Some(b) = before {
        q.append_pair("before", &b.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        "/audit".into()
    } else {
        format!("/audit?{q}")
    }
}

async fn log(State(s): State<AppState>, v: Viewer, Query(f): Query<Filters>) -> Page {
    let (entries, errors) = match read(&f) {
        Ok((params, narrowing)) => {
            match audit::list_narrowed(&s.db, &v.actor, params, narrowing).await {
                Ok(entries) => (entries, Map::new()),
                Err(e) if e.kind == ErrorKind::Invalid => {
                    let Value::Object(m) = form_errors(&e) else {
                        return Err(e.into());
                    };
                    (Vec::new(), m)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(errors) => {
            // Refuse an outsider before telling them their dates are wrong.
            v.actor.require(pitcrew_core::admin::Action::ReadAudit)?;
            (Vec::new(), errors)
        }
    };
    let members = admin::list_members(&s.db, &v.actor).await?;
    let more = entries.len() > PER_PAGE as usize;
    let shown: Vec<&AuditEntry> = entries.iter().take(PER_PAGE as usize).collect();
    let rows: Vec<Value> = shown
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "href": object_href(e),
                "changes": change_rows(&e.changes),
            })
        })
        .collect();
    let next = if more {
        shown.last().map(|e| link(&f, Some(e.id)))
    } else {
        None
    };
    let filtered = [&f.user, &f.action, &f.object_type, &f.from, &f.to]
        .iter()
        .any(|s| !s.trim().is_empty());
    let mut page = v.page(
        PageMeta {
            title: "Audit log",
            section: "audit",
        },
        "audit/log.html",
        json!({
            "filters": f,
            "errors": errors,
            "members": members,
            "object_types": OBJECT_TYPES,
            "actions": COMMON_ACTIONS,
            "rows": rows,
            "filtered": filtered,
            "paged": !f.before.trim().is_empty(),
            "first": link(&f, None),
            "next": next,
        }),
    )?;
    if !errors.is_empty() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_lists_each_member_before_and_after_then_notes() {
        let rows = change_rows(&json!({
            "before": {"label": "Plan", "options": ["a"]},
            "after": {"label": "Tier"},
            "values_removed": 3
        }));
        assert_eq!(
            rows,
            vec![
                json!({"key": "label", "before": "Plan", "after": "Tier"}),
                json!({"key": "options", "before": "[\"a\"]", "after": null}),
                json!({"key": "values_removed", "note": "3"}),
            ]
        );
    }

    #[test]
    fn an_end_date_counts_the_whole_day_and_bad_dates_are_named() {
        let f = Filters {
            from: "2026-03-01".into(),
            to: "2026-03-01".into(),
            ..Filters::default()
        };
        let (_, n) = read(&f).expect("valid");
        assert_eq!(n.until.zip(n.from).map(|(u, f)| u - f), Some(DAY_MS));
        let bad = Filters {
            from: "yesterday".into(),
            ..Filters::default()
        };
        let errors = read(&bad).expect_err("invalid");
        assert!(
            errors["from"]
                .as_str()
                .is_some_and(|m| m.contains("yesterday"))
        );
    }
}
