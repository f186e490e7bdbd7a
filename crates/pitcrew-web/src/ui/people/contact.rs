//! One contact's page: their fields with the data model's labels, their
//! account, their consent per topic, the segments they are in (each with
//! why), and their events, newest first.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use pitcrew_app::campaign::consent;
use pitcrew_app::record;
use pitcrew_app::{AppError, ErrorKind, audience, ingest, now_ms};
use pitcrew_core::event::Event;
use pitcrew_core::record::ObjectKind;
use serde_json::{Value, json};

use super::listing::{account_name, person_name, shown};
use super::wants_fragment;
use crate::AppState;
use crate::ui::view::{Page, PageMeta, UiError, Viewer, render};

/// Events shown at once on the timeline; "Show older events" loads the next ones.
const TIMELINE_PAGE: i64 = 20;

/// A number from the path; anything else is a page that does not exist.
pub(in crate::ui) fn id_of(raw: &str, what: &str) -> Result<i64, UiError> {
    raw.parse::<i64>().map_err(|_| {
        UiError::App(AppError::not_found(
            "not_found",
            format!("`{raw}` is not {what} number; open it from its list"),
        ))
    })
}

/// The `before` event id of a timeline link, if any.
fn before_of(raw: Option<&str>) -> Option<i64> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| v.parse().ok())
}

pub(super) async fn show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let id = id_of(&id, "a person's")?;
    let person = record::get_record(&s.db, &v.actor, ObjectKind::Contact, id).await?;
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let values: Vec<Value> = fields
        .iter()
        .filter_map(|f| {
            let text = shown(f, person.fields.get(&f.key));
            (!text.is_empty()).then(
                || json!({"key": f.key, "label": f.label, "value": text, "custom": !f.builtin}),
            )
        })
        .collect();
    let account = match person.account_id {
        Some(a) => match record::get_record(&s.db, &v.actor, ObjectKind::Account, a).await {
            Ok(r) => Some(json!({"id": a, "name": account_name(a, &r.fields)})),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let consent = consent_rows(&s, &v, id).await?;
    let segments = audience::contact_segments(&s.db, &v.actor, id, now_ms()).await?;
    let before = before_of(raw.as_deref());
    let events = timeline_html(&s, &v, id, before).await?;
    let name = person_name(id, &person.fields);
    v.page(
        PageMeta {
            title: &name,
            section: "people",
        },
        "people/show.html",
        json!({
            "id": id,
            "name": name,
            "external_id": person.external_id,
            "values": values,
            "account": account,
            "account_id": person.account_id,
            "consent": consent,
            "segments": segments,
            "events": events,
            "older": before.is_some(),
        }),
    )
}

/// One row per topic and channel the person chose, then one per topic
/// they never chose anything for.
async fn consent_rows(s: &AppState, v: &Viewer, id: i64) -> Result<Vec<Value>, UiError> {
    let topics = consent::list_topics(&s.db, &v.actor).await?;
    let states = consent::consent_state(&s.db, &v.actor, id).await?;
    let mut rows: Vec<Value> = states
        .iter()
        .map(|c| {
            let basis = serde_json::to_value(c.legal_basis)
                .ok()
                .and_then(|b| b.as_str().map(|b| b.replace('_', " ")))
                .unwrap_or_default();
            json!({
                "topic": c.topic,
                "channel": c.channel,
                "state": if c.subscribed { "subscribed" } else { "unsubscribed" },
                "basis": basis,
                "at": c.at,
            })
        })
        .collect();
    for t in topics {
        if !states.iter().any(|c| c.topic == t.name) {
            rows.push(json!({"topic": t.name, "channel": "email", "state": "none"}));
        }
    }
    Ok(rows)
}

/// What the timeline shows of one event.
fn event_item(e: &Event) -> Value {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_string))
        .unwrap_or_default();
    let title = match (kind.as_str(), e.name.is_empty()) {
        ("track", false) => e.name.clone(),
        ("page" | "screen", false) => format!("Viewed {}", e.name),
        ("page" | "screen", true) => "Viewed a page".to_string(),
        ("identify", _) => "Identified".to_string(),
        ("group", _) => format!("Joined group {}", e.name),
        ("alias", _) => "Linked another id".to_string(),
        _ => e.name.clone(),
    };
    let details: Vec<Value> = e
        .properties
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .take(6)
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            json!({"key": k, "value": value})
        })
        .collect();
    json!({"id": e.id, "kind": kind, "title": title, "at": e.at, "details": details})
}

/// The timeline's items from `before` on, with a "Show older events" item
/// when there are more.
async fn timeline_html(
    s: &AppState,
    v: &Viewer,
    id: i64,
    before: Option<i64>,
) -> Result<String, UiError> {
    let mut events = ingest::timeline(&s.db, &v.actor, id, before, TIMELINE_PAGE + 1).await?;
    let more = i64::try_from(events.len()).unwrap_or(0) > TIMELINE_PAGE;
    events.truncate(usize::try_from(TIMELINE_PAGE).unwrap_or(20));
    let last = events.last().map(|e| e.id);
    render(
        "people/events.html",
        &json!({
            "id": id,
            "events": events.iter().map(event_item).collect::<Vec<_>>(),
            "more": if more { last } else { None },
            "first_page": before.is_none(),
        }),
    )
}

/// Older events: the items alone for htmx to put in place of the
/// "Show older events" item, or the contact page from there without JS.
pub(super) async fn timeline(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let id = id_of(&id, "a person's")?;
    let before = before_of(raw.as_deref());
    if !wants_fragment(&v, &headers) {
        let to = match before {
            Some(b) => format!("/people/{id}?before={b}#timeline"),
            None => format!("/people/{id}#timeline"),
        };
        return Ok(Redirect::to(&to).into_response());
    }
    let html = timeline_html(&s, &v, id, before).await?;
    Ok(axum::response::Html(html).into_response())
}

/// Why a person is in a segment (or not): every part of its condition
/// with its value and the facts that decided it. A fragment for htmx to
/// open in place under the segment, a page without JS.
pub(super) async fn why(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, segment)): Path<(String, String)>,
) -> Page {
    let id = id_of(&id, "a person's")?;
    let segment_id = id_of(&segment, "a segment's")?;
    let person = record::get_record(&s.db, &v.actor, ObjectKind::Contact, id).await?;
    let segment = audience::get_segment(&s.db, &v.actor, segment_id).await?;
    if segment.subject.as_str() != "people" {
        return Err(UiError::App(AppError::not_found(
            "segment_not_people",
            format!(
                "\"{}\" selects accounts, not people; open it from the account's page",
                segment.name
            ),
        )));
    }
    let explanation = audience::explain_segment(&s.db, &v.actor, segment_id, id, now_ms()).await?;
    let name = person_name(id, &person.fields);
    let ctx = json!({
        "id": id,
        "name": name,
        "segment": {"id": segment.id, "name": segment.name},
        "explanation": explanation,
    });
    if wants_fragment(&v, &headers) {
        return v.fragment("people/why_tree.html", ctx);
    }
    let tree = render("people/why_tree.html", &ctx)?;
    let member = ctx["explanation"]["value"].as_bool().unwrap_or(false);
    let title = if member {
        format!("Why {name} is in {}", segment.name)
    } else {
        format!("Why {name} is not in {}", segment.name)
    };
    let mut ctx = ctx;
    ctx["title"] = json!(title);
    ctx["tree"] = json!(tree);
    v.page(
        PageMeta {
            title: &title,
            section: "people",
        },
        "people/why.html",
        ctx,
    )
}
