//! Broadcasts: the list, the page of one broadcast with its pre-launch
//! checks, approval and sending controls, live progress while it sends,
//! test sends, and its results with a chart. Writing and editing (with the
//! template editor and preview) live in `editor`.
//!
//! Sending itself is not done here: `pitcrew serve` runs the sender, which
//! picks up a broadcast as soon as a page starts it.

mod editor;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pitcrew_app::campaign::broadcast::{self, Broadcast, Stats};
use pitcrew_app::campaign::send::{self, TestSend};
use pitcrew_app::record;
use pitcrew_app::{AppError, ErrorKind, audience, now_ms};
use pitcrew_core::campaign::{BroadcastStatus, SkipReason};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::record::Lookup;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{Page, PageMeta, UiError, Viewer, form_errors, render};
use crate::AppState;

/// The navigation key of every broadcast page.
const SECTION: &str = "broadcasts";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/broadcasts", get(list).post(editor::create))
        .route("/broadcasts/new", get(editor::new_form))
        .route("/broadcasts/preview", post(editor::preview))
        .route("/broadcasts/{id}", get(show))
        .route(
            "/broadcasts/{id}/edit",
            get(editor::edit_form).post(editor::update),
        )
        .route("/broadcasts/{id}/progress", get(progress))
        .route("/broadcasts/{id}/results", get(results))
        .route("/broadcasts/{id}/approve", post(approve))
        .route("/broadcasts/{id}/start", post(start))
        .route("/broadcasts/{id}/pause", post(pause))
        .route("/broadcasts/{id}/resume", post(resume))
        .route("/broadcasts/{id}/cancel", post(cancel))
        .route("/broadcasts/{id}/test", post(test_send))
}

/// A broadcast id from the address; anything else is a page not found.
fn id_of(raw: &str) -> Result<i64, UiError> {
    raw.parse().map_err(|_| {
        UiError::App(AppError::not_found(
            "broadcast_not_found",
            format!("\"{raw}\" is not a broadcast; pick one from the list of broadcasts"),
        ))
    })
}

fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

/// Whether a broadcast has a send ledger worth counting.
fn has_started(status: BroadcastStatus) -> bool {
    matches!(
        status,
        BroadcastStatus::Sending
            | BroadcastStatus::Paused
            | BroadcastStatus::Sent
            | BroadcastStatus::Cancelled
    )
}

// ---- the list ------------------------------------------------------------------------------

async fn list(State(s): State<AppState>, v: Viewer) -> Page {
    let mut all = broadcast::list_broadcasts(&s.db, &v.actor, None).await?;
    all.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    let names = segment_names(&s, &v).await?;
    let mut rows = Vec::new();
    for b in &all {
        let stats = if has_started(b.status) {
            Some(broadcast::stats(&s.db, &v.actor, b.id).await?)
        } else {
            None
        };
        rows.push(json!({
            "broadcast": b,
            "audience": audience_words(b, &names),
            "stats": stats,
        }));
    }
    v.page(
        PageMeta {
            title: "Broadcasts",
            section: SECTION,
        },
        "broadcasts/list.html",
        json!({ "rows": rows }),
    )
}

/// Segment names by id, to say who a broadcast goes to.
async fn segment_names(s: &AppState, v: &Viewer) -> Result<BTreeMap<i64, String>, AppError> {
    Ok(audience::list_segments(&s.db, &v.actor)
        .await?
        .into_iter()
        .map(|seg| (seg.id, seg.name))
        .collect())
}

/// "Newsletter, Customers (not: Churned)".
fn audience_words(b: &Broadcast, names: &BTreeMap<i64, String>) -> String {
    let name = |id: &i64| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("segment {id}"))
    };
    if b.segments.is_empty() {
        return String::new();
    }
    let mut out = b.segments.iter().map(name).collect::<Vec<_>>().join(", ");
    if !b.exclusions.is_empty() {
        let not = b.exclusions.iter().map(name).collect::<Vec<_>>().join(", ");
        out.push_str(&format!(" (not: {not})"));
    }
    out
}

// ---- one broadcast ---------------------------------------------------------------------------

/// What the test-send form holds after a try.
#[derive(Default)]
struct TestState {
    to: String,
    contact_email: String,
    errors: Value,
    sent: Vec<String>,
}

impl TestState {
    fn context(&self, id: i64, csrf: &str) -> Value {
        json!({
            "id": id,
            "csrf": csrf,
            "to": self.to,
            "contact_email": self.contact_email,
            "errors": if self.errors.is_null() { json!({}) } else { self.errors.clone() },
            "sent": self.sent,
        })
    }
}

async fn show(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    page_of(&s, &v, id, None, &TestState::default()).await
}

/// The broadcast's page, with an optional refusal shown at the top.
async fn page_of(s: &AppState, v: &Viewer, id: i64, alert: Option<&str>, test: &TestState) -> Page {
    let b = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
    let names = segment_names(s, v).await?;
    let checks = if b.status.editable() || b.status == BroadcastStatus::Scheduled {
        Some(broadcast::prelaunch(&s.db, &v.actor, id, now_ms()).await?)
    } else {
        None
    };
    let blocking: Vec<String> = checks
        .iter()
        .flat_map(|p| p.checks.iter())
        .filter(|c| c.status == pitcrew_core::campaign::guardrail::CheckStatus::Blocking)
        .map(|c| c.message.clone())
        .collect();
    let progress = if has_started(b.status) {
        let stats = broadcast::stats(&s.db, &v.actor, id).await?;
        Some(render(
            "broadcasts/progress.html",
            &progress_context(&b, &stats),
        )?)
    } else {
        None
    };
    let template = match b.template_id {
        Some(t) => pitcrew_app::campaign::template::get_template(&s.db, &v.actor, t)
            .await
            .ok(),
        None => None,
    };
    let test_form = render("broadcasts/test_send.html", &test.context(id, &v.csrf))?;
    let later = b
        .scheduled_at
        .as_deref()
        .and_then(|t| pitcrew_core::time::parse_instant(t).ok())
        .is_some_and(|t| t.as_millisecond() > now_ms());
    v.page(
        PageMeta {
            title: &b.name,
            section: SECTION,
        },
        "broadcasts/show.html",
        json!({
            "b": b,
            "audience": audience_words(&b, &names),
            "template": template,
            "prelaunch": checks,
            "blocking": blocking,
            "later": later,
            "progress": progress,
            "test_form": test_form,
            "alert": alert,
        }),
    )
}

/// Run a change of a broadcast's life; a refusal other than a role's comes
/// back on the broadcast's page, with the server's reason.
async fn change(s: &AppState, v: &Viewer, id: i64, result: Result<Broadcast, AppError>) -> Page {
    match result {
        Ok(_) => Ok(see(&format!("/broadcasts/{id}"))),
        Err(e) if matches!(e.kind, ErrorKind::Conflict | ErrorKind::Invalid) => {
            let status = super::view::status_of(e.kind);
            let page = page_of(s, v, id, Some(&e.message), &TestState::default()).await?;
            Ok(with_status(page, status))
        }
        Err(e) => Err(e.into()),
    }
}

async fn approve(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let r = broadcast::approve(&s.db, &v.actor, id, now_ms()).await;
    change(&s, &v, id, r).await
}

async fn start(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let r = broadcast::start(&s.db, &v.actor, id, now_ms()).await;
    change(&s, &v, id, r).await
}

async fn pause(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let r = broadcast::pause(&s.db, &v.actor, id, now_ms()).await;
    change(&s, &v, id, r).await
}

async fn resume(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let r = broadcast::resume(&s.db, &v.actor, id, now_ms()).await;
    change(&s, &v, id, r).await
}

async fn cancel(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let r = broadcast::cancel(&s.db, &v.actor, id, now_ms()).await;
    change(&s, &v, id, r).await
}

// ---- test sends ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TestForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    contact_email: String,
}

/// A contact found by email, or an error at `field`.
pub(super) async fn contact_by_email(
    s: &AppState,
    v: &Viewer,
    email: &str,
    field: &str,
) -> Result<i64, AppError> {
    if email.trim().is_empty() {
        return Err(AppError::invalid(
            "contact_email_missing",
            field,
            "type the email address of a contact whose fields fill in the email",
        ));
    }
    record::find_record(
        &s.db,
        &v.actor,
        ObjectKind::Contact,
        Lookup::Email(email.trim().to_string()),
    )
    .await
    .map(|r| r.id)
    .map_err(|e| match e.kind {
        ErrorKind::NotFound => AppError::invalid(
            "contact_not_found",
            field,
            format!(
                "no contact has the email {}; check the spelling or pick another person",
                email.trim()
            ),
        ),
        _ => e,
    })
}

async fn try_test_send(
    s: &AppState,
    v: &Viewer,
    b: &Broadcast,
    f: &TestForm,
) -> Result<Vec<String>, AppError> {
    v.actor
        .require(pitcrew_core::admin::Action::ManageCampaigns)?;
    let to: Vec<String> =
        f.to.split([',', ';', '\n', '\r', ' ', '\t'])
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
    let contact_id = contact_by_email(s, v, &f.contact_email, "contact_email").await?;
    let Some(template_id) = b.template_id else {
        return Err(AppError::invalid(
            "template_missing",
            "form",
            "the broadcast has no email yet: write it on the edit page first",
        ));
    };
    let Some(provider_id) = b.provider_id else {
        return Err(AppError::invalid(
            "provider_missing",
            "form",
            "the broadcast has no sending provider: choose one on the edit page first",
        ));
    };
    let t = TestSend {
        to,
        contact_id,
        subject: b.subject.clone(),
        from_name: b.from_name.clone(),
        from_email: b.from_email.clone(),
        provider_id,
    };
    Ok(send::test_send(&s.db, &v.actor, template_id, t, now_ms())
        .await?
        .sent)
}

/// The problems of a test send by the form's inputs.
fn test_errors(e: &AppError) -> Value {
    let mut out = serde_json::Map::new();
    if let Value::Object(m) = form_errors(e) {
        for (k, msg) in m {
            let key = if k == "to" || k.starts_with("to[") {
                "to"
            } else if k == "contact_email" {
                "contact_email"
            } else {
                "form"
            };
            out.entry(key.to_string()).or_insert(msg);
        }
    }
    Value::Object(out)
}

async fn test_send(
    State(s): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    Form(f): Form<TestForm>,
) -> Page {
    let id = id_of(&raw)?;
    let b = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
    let mut state = TestState {
        to: f.to.clone(),
        contact_email: f.contact_email.clone(),
        ..TestState::default()
    };
    let status = match try_test_send(&s, &v, &b, &f).await {
        Ok(sent) => {
            state.sent = sent;
            StatusCode::OK
        }
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            state.errors = test_errors(&e);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(e) => return Err(e.into()),
    };
    let page = if v.htmx {
        v.fragment("broadcasts/test_send.html", state.context(id, &v.csrf))?
    } else {
        page_of(&s, &v, id, None, &state).await?
    };
    Ok(with_status(page, status))
}

// ---- progress and results -----------------------------------------------------------------------

fn skipped_total(stats: &Stats) -> i64 {
    stats.skipped.values().sum()
}

fn progress_context(b: &Broadcast, stats: &Stats) -> Value {
    let skipped = skipped_total(stats);
    let done = stats.sent + skipped + stats.failed + stats.uncertain;
    let total = stats.audience.max(done);
    let percent = if total > 0 { done * 100 / total } else { 0 };
    json!({
        "id": b.id,
        "status": b.status,
        "polling": b.status == BroadcastStatus::Sending,
        "queued": stats.queued + stats.sending,
        "sent": stats.sent,
        "skipped": skipped,
        "failed": stats.failed,
        "uncertain": stats.uncertain,
        "done": done,
        "total": total,
        "percent": percent,
    })
}

/// The live counts while sending, for htmx to poll every two seconds; it
/// stops asking once the broadcast no longer sends.
async fn progress(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let b = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
    let stats = broadcast::stats(&s.db, &v.actor, id).await?;
    v.fragment("broadcasts/progress.html", progress_context(&b, &stats))
}

/// Sends, opens and clicks per hour, as Chart.js reads them: one label per
/// hour and one series per kind.
fn chart_data(timeline: &[broadcast::TimelinePoint]) -> Value {
    let mut hours: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
    for p in timeline {
        let slot = match p.kind.as_str() {
            "sent" => 0,
            "opened" => 1,
            "clicked" => 2,
            _ => continue,
        };
        hours.entry(p.at.as_str()).or_default()[slot] += p.count;
    }
    let labels: Vec<String> = hours.keys().map(|at| hour_label(at)).collect();
    let series = |i: usize| hours.values().map(|v| v[i]).collect::<Vec<_>>();
    json!({
        "labels": labels,
        "sent": series(0),
        "opened": series(1),
        "clicked": series(2),
    })
}

/// `2026-12-07T10:00:00Z` → `2026-12-07 10:00 UTC`, as the pages show times.
fn hour_label(at: &str) -> String {
    match at.split_once('T') {
        Some((date, time)) if time.len() >= 5 => format!("{date} {} UTC", &time[..5]),
        _ => at.to_string(),
    }
}

/// JSON that is safe inside a `<script type="application/json">` block.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

async fn results(State(s): State<AppState>, v: Viewer, Path(raw): Path<String>) -> Page {
    let id = id_of(&raw)?;
    let b = broadcast::get_broadcast(&s.db, &v.actor, id).await?;
    let stats = broadcast::stats(&s.db, &v.actor, id).await?;
    let mut timeline = broadcast::sent_per_hour(&s.db, &v.actor, id).await?;
    timeline.extend(stats.timeline.iter().cloned());
    let chart = chart_data(&timeline);
    let skipped: Vec<Value> = stats
        .skipped
        .iter()
        .map(|(reason, n)| {
            json!({
                "reason": reason,
                "explain": SkipReason::parse(reason).map_or(reason.as_str(), |r| r.explain()),
                "count": n,
            })
        })
        .collect();
    let rows: Vec<Value> = chart["labels"]
        .as_array()
        .map(|labels| {
            labels
                .iter()
                .enumerate()
                .map(|(i, at)| {
                    json!({
                        "at": at,
                        "sent": chart["sent"][i],
                        "opened": chart["opened"][i],
                        "clicked": chart["clicked"][i],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.page(
        PageMeta {
            title: &format!("Results of {}", b.name),
            section: SECTION,
        },
        "broadcasts/results.html",
        json!({
            "b": b,
            "stats": stats,
            "skipped_total": skipped_total(&stats),
            "skipped": skipped,
            "chart_json": script_json(&chart),
            "hours": rows,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_json_cannot_end_its_script_block() {
        let out = script_json(&json!({"x": "</script><b>&"}));
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        assert_eq!(
            serde_json::from_str::<Value>(&out).expect("still JSON")["x"],
            "</script><b>&"
        );
    }

    #[test]
    fn chart_series_line_up_by_hour() {
        let p = |at: &str, kind: &str, count| broadcast::TimelinePoint {
            at: at.into(),
            kind: kind.into(),
            count,
        };
        let c = chart_data(&[
            p("2026-12-07T10:00:00Z", "sent", 5),
            p("2026-12-07T11:00:00Z", "opened", 2),
            p("2026-12-07T10:00:00Z", "clicked", 1),
        ]);
        assert_eq!(c["sent"], json!([5, 0]));
        assert_eq!(c["opened"], json!([0, 2]));
        assert_eq!(c["clicked"], json!([1, 0]));
        assert_eq!(c["labels"][0], "2026-12-07 10:00 UTC");
    }
}
