//! The Imports pages: the import history, uploading a CSV, mapping its
//! columns (suggested from the header, with the first rows to check
//! against), a dry run, the import itself with its progress, and each
//! import's result with its rejects report. The same import use cases as
//! the API and the command line, so every import lands in one history.

mod upload;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use pitcrew_app::import::{
    self as uc, ImportListParams, ImportMode, ImportObserver, ImportOptions, ImportProgress,
    ImportStatus, ImportSummary, MatchBy,
};
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::admin::Action;
use pitcrew_core::record::ObjectKind;
use serde_json::json;
use tokio::sync::oneshot;

use super::view::{Page, PageMeta, UiError, Viewer, form_errors, render};
use crate::AppState;
use crate::api::import::MAX_IMPORT_BYTES;
use upload::{Chosen, NewUpload, Upload, UploadNote};

/// Imports listed per page of the history.
const PAGE: i64 = 50;
/// Rows of the file shown on the mapping page.
const SAMPLE_ROWS: usize = 5;
/// Problems shown on a result; the rest are in the download.
const SHOWN_REJECTS: usize = 20;
/// Room for the upload form's other fields around the file.
const FORM_SLACK: usize = 64 * 1024;
const SECTION: &str = "imports";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/imports", get(history))
        .route(
            "/imports/new",
            get(new_import)
                .post(receive)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES + FORM_SLACK)),
        )
        .route("/imports/uploads/{key}", get(mapping).post(start))
        .route("/imports/uploads/{key}/discard", post(discard))
        .route("/imports/{id}", get(show))
        .route("/imports/{id}/progress", get(progress))
        .route("/imports/{id}/rejects.csv", get(rejects))
}

fn meta(title: &str) -> PageMeta<'_> {
    PageMeta {
        title,
        section: SECTION,
    }
}

/// A page sent back with an error status (a refused form keeps its input).
fn with_status(status: StatusCode, page: Page) -> Page {
    page.map(|mut r| {
        *r.status_mut() = status;
        r
    })
}

/// Invalid input and conflicts go back to the form; anything else is an error page.
fn refusal(e: AppError) -> Result<serde_json::Value, UiError> {
    match e.kind {
        ErrorKind::Invalid | ErrorKind::Conflict => Ok(form_errors(&e)),
        _ => Err(e.into()),
    }
}

fn object_label(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "contacts",
        ObjectKind::Account => "accounts",
    }
}

fn mode_label(mode: ImportMode) -> &'static str {
    match mode {
        ImportMode::Upsert => "update the records found, create the rest",
        ImportMode::Create => "only create new records",
        ImportMode::Update => "only update existing records",
    }
}

// ---------------------------------------------------------------- history

async fn history(State(s): State<AppState>, v: Viewer, RawQuery(q): RawQuery) -> Page {
    let before = q.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "before")
            .and_then(|(_, v)| v.parse::<i64>().ok())
    });
    let params = ImportListParams {
        before,
        limit: Some(PAGE),
    };
    let imports = uc::list_imports(&s.db, &v.actor, params).await?;
    let older = match imports.last() {
        Some(last) if imports.len() as i64 == PAGE => Some(last.id),
        _ => None,
    };
    let rows: Vec<_> = imports.iter().map(row).collect();
    v.page(
        meta("Imports"),
        "imports/list.html",
        json!({ "imports": rows, "older": older, "paged": before.is_some() }),
    )
}

/// An import as the pages show it.
fn row(i: &ImportSummary) -> serde_json::Value {
    json!({
        "import": i,
        "object_label": object_label(i.object),
        "mode_label": mode_label(i.mode),
        "name": i.file_name.clone().unwrap_or_else(|| format!("Import {}", i.id)),
    })
}

// ---------------------------------------------------------------- upload

async fn new_import(v: Viewer) -> Page {
    v.actor.require(Action::WriteRecords)?;
    upload_form(&v, "contact", json!({}))
}

fn upload_form(v: &Viewer, object: &str, errors: serde_json::Value) -> Page {
    v.page(
        meta("New import"),
        "imports/new.html",
        json!({
            "object": object,
            "errors": errors,
            "max_mib": MAX_IMPORT_BYTES / (1024 * 1024),
        }),
    )
}

fn too_large() -> AppError {
    AppError::invalid(
        "import_too_large",
        "file",
        format!(
            "the file is larger than {} MiB; split it into smaller files and import them one by one",
            MAX_IMPORT_BYTES / (1024 * 1024)
        ),
    )
}

/// What the upload form sent: the object and the file, kept on disk.
struct Received {
    object: Option<String>,
    upload: Option<(NewUpload, String)>,
}

/// Read the upload form's fields, writing the file to its private folder
/// as it arrives.
async fn read_form(mut form: Multipart, received: &mut Received) -> Result<(), AppError> {
    let broke = |e: axum::extract::multipart::MultipartError| {
        if e.body_text().contains("length limit") {
            return too_large();
        }
        AppError::invalid(
            "upload_broken",
            "file",
            format!("the upload broke off ({}); try again", e.body_text()),
        )
    };
    while let Some(mut field) = form.next_field().await.map_err(broke)? {
        match field.name() {
            Some("object") => received.object = Some(field.text().await.map_err(broke)?),
            Some("file") => {
                // Some browsers send the whole path; the history shows the name.
                let name = field
                    .file_name()
                    .unwrap_or("")
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let mut new = NewUpload::create()?;
                let written = async {
                    while let Some(chunk) = field.chunk().await.map_err(broke)? {
                        new.write(&chunk)?;
                        if new.size > MAX_IMPORT_BYTES as u64 {
                            return Err(too_large());
                        }
                    }
                    Ok(())
                }
                .await;
                if let Some((old, _)) = received.upload.replace((new, name)) {
                    old.discard();
                }
                written?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn receive(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Page {
    v.actor.require(Action::WriteRecords)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<u64>().ok());
    let refuse = |object: &str, e: AppError| -> Page {
        let errors = refusal(e)?;
        with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            upload_form(&v, object, errors),
        )
    };
    if declared.is_some_and(|n| n > (MAX_IMPORT_BYTES + FORM_SLACK) as u64) {
        return refuse("contact", too_large());
    }
    let Ok(form) = form else {
        return refuse(
            "contact",
            AppError::invalid(
                "upload_missing",
                "file",
                "no file arrived; choose a CSV file and send it with the Upload button",
            ),
        );
    };
    let mut received = Received {
        object: None,
        upload: None,
    };
    let read = read_form(form, &mut received).await;
    let object_raw = received.object.clone().unwrap_or_default();
    let kept = object_raw.as_str();
    let Some((new, file_name)) = received.upload.take() else {
        read?;
        return refuse(
            kept,
            AppError::invalid("upload_missing", "file", "choose a CSV file to upload"),
        );
    };
    if let Err(e) = read {
        new.discard();
        return refuse(kept, e);
    }
    let object = match kept {
        "contact" => ObjectKind::Contact,
        "account" => ObjectKind::Account,
        _ => {
            new.discard();
            return refuse(
                kept,
                AppError::invalid(
                    "object_invalid",
                    "object",
                    "choose whether the file holds contacts or accounts",
                ),
            );
        }
    };
    if new.size == 0 && file_name.is_empty() {
        new.discard();
        return refuse(
            kept,
            AppError::invalid("upload_missing", "file", "choose a CSV file to upload"),
        );
    }
    let preview = match std::fs::File::open(new.path()) {
        Ok(file) => uc::preview_csv(&s.db, &v.actor, Box::new(file), object, 1).await,
        Err(e) => Err(AppError::internal(format!(
            "the upload could not be read back: {e}"
        ))),
    };
    let preview = match preview {
        Ok(p) => p,
        Err(e) => {
            new.discard();
            return refuse(kept, e);
        }
    };
    let note = UploadNote {
        workspace_id: v.actor.workspace_id,
        object,
        file_name: if file_name.is_empty() {
            "upload.csv".into()
        } else {
            file_name
        },
        size: new.size,
        headers: preview.headers,
        chosen: None,
    };
    let key = new.keep(&note)?;
    Ok(Redirect::to(&format!("/imports/uploads/{key}")).into_response())
}

// ---------------------------------------------------------------- mapping

async fn mapping(
    State(s): State<AppState>,
    v: Viewer,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Page {
    v.actor.require(Action::WriteRecords)?;
    let upload = Upload::open(&key, v.actor.workspace_id)?;
    let dry_run = q.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "dry_run")
            .and_then(|(_, v)| v.parse::<i64>().ok())
    });
    let dry = match dry_run {
        Some(id) => Some(uc::get_import(&s.db, &v.actor, id).await?).filter(|d| d.dry_run),
        None => None,
    };
    mapping_page(&s, &v, &key, &upload, dry.as_ref(), json!({})).await
}

async fn mapping_page(
    s: &AppState,
    v: &Viewer,
    key: &str,
    upload: &Upload,
    dry: Option<&ImportSummary>,
    errors: serde_json::Value,
) -> Page {
    let note = &upload.note;
    let preview = uc::preview_csv(
        &s.db,
        &v.actor,
        Box::new(upload.file()?),
        note.object,
        SAMPLE_ROWS,
    )
    .await?;
    let chosen = note
        .chosen
        .clone()
        .filter(|c| c.targets.len() == preview.headers.len());
    let columns: Vec<_> = preview
        .headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            let suggested = preview.suggested.get(i);
            let target = match &chosen {
                Some(c) => c.targets[i].clone(),
                None => suggested
                    .and_then(|m| m.target.clone())
                    .unwrap_or_default(),
            };
            let is_suggested = chosen.is_none()
                && suggested.is_some_and(|m| m.source == uc::MappingSource::Suggested);
            let name = if header.trim().is_empty() {
                format!("column {}", i + 1)
            } else {
                header.trim().to_string()
            };
            let error = errors
                .get(format!("mapping.{}", header.trim()))
                .or_else(|| errors.get(format!("mapping.{name}")))
                .cloned();
            json!({
                "position": i,
                "name": name,
                "target": target,
                "suggested": is_suggested,
                "note": if chosen.is_none() { suggested.and_then(|m| m.note.clone()) } else { None },
                "first": preview.sample.first().and_then(|r| r.get(i)).cloned().unwrap_or_default(),
                "error": error,
            })
        })
        .collect();
    let chosen = chosen.unwrap_or_default();
    let dry_html = match dry {
        Some(d) => Some(result_html(v, d)?),
        None => None,
    };
    let page = v.page(
        meta("Map the columns"),
        "imports/map.html",
        json!({
            "key": key,
            "file_name": note.file_name,
            "object": note.object,
            "object_label": object_label(note.object),
            "size_kib": note.size.div_ceil(1024),
            "encoding": preview.encoding.label(),
            "encoding_detected": preview.encoding_detected,
            "delimiter": preview.delimiter,
            "columns": columns,
            "headers": preview.headers.iter().enumerate().map(|(i, h)| if h.trim().is_empty() { format!("column {}", i + 1) } else { h.trim().to_string() }).collect::<Vec<_>>(),
            "sample": preview.sample,
            "choices": preview.choices,
            "match": chosen.match_by,
            "mode": if chosen.mode.is_empty() { "upsert".to_string() } else { chosen.mode },
            "errors": errors,
            "dry": dry.map(|d| json!({ "id": d.id, "running": d.status == ImportStatus::Running })),
            "dry_html": dry_html,
        }),
    )?;
    Ok(page)
}

/// What the mapping form sent.
fn chosen_of(form: &[(String, String)], columns: usize) -> (Chosen, String) {
    let mut chosen = Chosen {
        targets: vec![String::new(); columns],
        match_by: String::new(),
        mode: String::new(),
    };
    let mut action = String::new();
    for (k, val) in form {
        match k.as_str() {
            "match" => chosen.match_by = val.trim().to_string(),
            "mode" => chosen.mode = val.trim().to_string(),
            "action" => action = val.clone(),
            _ => {
                let at = k
                    .strip_prefix("target.")
                    .and_then(|i| i.parse::<usize>().ok());
                if let Some(slot) = at.and_then(|i| chosen.targets.get_mut(i)) {
                    *slot = val.trim().to_string();
                }
            }
        }
    }
    (chosen, action)
}

/// The import options a mapping asks for.
fn options_of(
    note: &UploadNote,
    chosen: &Chosen,
    dry_run: bool,
) -> Result<ImportOptions, AppError> {
    let mut o = ImportOptions::new(note.object);
    o.suggest = false;
    o.dry_run = dry_run;
    o.file_name = Some(note.file_name.clone());
    o.mapping = note
        .headers
        .iter()
        .zip(&chosen.targets)
        .filter(|(_, t)| !t.is_empty())
        .map(|(h, t)| (h.clone(), t.clone()))
        .collect();
    o.mode = match chosen.mode.as_str() {
        "" => ImportMode::Upsert,
        m => ImportMode::parse(m).ok_or_else(|| {
            AppError::invalid("mode_invalid", "mode", "choose what to do with the rows")
        })?,
    };
    o.match_by = match chosen.match_by.as_str() {
        "" => None,
        m => Some(MatchBy::parse(m).ok_or_else(|| {
            AppError::invalid(
                "match_invalid",
                "match",
                "choose how to find existing records",
            )
        })?),
    };
    Ok(o)
}

async fn start(
    State(s): State<AppState>,
    v: Viewer,
    Path(key): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Page {
    v.actor.require(Action::WriteRecords)?;
    let mut upload = Upload::open(&key, v.actor.workspace_id)?;
    let (chosen, action) = chosen_of(&form, upload.note.headers.len());
    let dry_run = action != "run";
    upload.remember(chosen.clone())?;
    let started = match options_of(&upload.note, &chosen, dry_run) {
        Ok(options) => run(&s, &v, upload, options).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(id) if dry_run => Ok(Redirect::to(&format!(
            "/imports/uploads/{key}?dry_run={id}#dry-run"
        ))
        .into_response()),
        Ok(id) => Ok(Redirect::to(&format!("/imports/{id}")).into_response()),
        Err(e) => {
            let errors = refusal(e)?;
            let upload = Upload::open(&key, v.actor.workspace_id)?;
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                mapping_page(&s, &v, &key, &upload, None, errors).await,
            )
        }
    }
}

async fn discard(v: Viewer, Path(key): Path<String>) -> Page {
    v.actor.require(Action::WriteRecords)?;
    Upload::open(&key, v.actor.workspace_id)?.remove();
    Ok(Redirect::to("/imports").into_response())
}

// ---------------------------------------------------------------- running

/// How far each import running in this process has read its file:
/// `(bytes read, file size)`. Counts come from the database; this only
/// adds the share of the file done.
static READ_SO_FAR: LazyLock<Mutex<HashMap<i64, (u64, u64)>>> = LazyLock::new(Mutex::default);

fn set_read(id: i64, read: Option<(u64, u64)>) {
    if let Ok(mut m) = READ_SO_FAR.lock() {
        match read {
            Some(r) => m.insert(id, r),
            None => m.remove(&id),
        };
    }
}

fn percent_read(id: i64) -> Option<u64> {
    let (read, size) = *READ_SO_FAR.lock().ok()?.get(&id)?;
    Some((read.saturating_mul(100) / size.max(1)).min(100))
}

/// Follows an import started from a page: tells the page its id as soon as
/// it has one, and keeps how much of the file is read.
struct Follow {
    started: Option<oneshot::Sender<i64>>,
    id: Option<i64>,
    size: u64,
}

impl ImportObserver for Follow {
    fn started(&mut self, id: i64) {
        self.id = Some(id);
        set_read(id, Some((0, self.size)));
        if let Some(tx) = self.started.take() {
            let _ = tx.send(id);
        }
    }

    fn progress(&mut self, p: &ImportProgress) {
        if let Some(id) = self.id {
            set_read(id, Some((p.bytes, self.size)));
        }
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            set_read(id, None);
        }
    }
}

/// Start importing an upload in the background and return the import's id
/// once it is under way; a file or mapping the import refuses comes back
/// as the error. A real import removes the upload when it ends.
async fn run(
    s: &AppState,
    v: &Viewer,
    upload: Upload,
    options: ImportOptions,
) -> Result<i64, AppError> {
    let file = upload.file()?;
    let (db, actor) = (s.db.clone(), v.actor.clone());
    let (tx, rx) = oneshot::channel();
    let dry_run = options.dry_run;
    let task = tokio::spawn(async move {
        let mut follow = Follow {
            started: Some(tx),
            id: None,
            size: upload.note.size,
        };
        let out = uc::import_csv(&db, &actor, Box::new(file), options, &mut follow, now_ms()).await;
        if follow.id.is_some() && !dry_run {
            upload.remove();
        }
        if let (Some(id), Err(e)) = (follow.id, &out) {
            tracing::error!(import = id, error = %e.message, "an import started from the web app failed");
        }
        out
    });
    match rx.await {
        Ok(id) => Ok(id),
        Err(_) => match task.await {
            Ok(Ok(summary)) => Ok(summary.id),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(AppError::internal(format!(
                "the import stopped unexpectedly: {e}"
            ))),
        },
    }
}

// ---------------------------------------------------------------- results

/// The result of an import (or its progress while it runs), as the
/// progress fragment and the pages that hold it show it.
fn result_context(i: &ImportSummary) -> serde_json::Value {
    let shown: Vec<_> = i.rejects.iter().take(SHOWN_REJECTS).collect();
    json!({
        "imp": i,
        "running": i.status == ImportStatus::Running,
        "percent": percent_read(i.id),
        "shown": shown,
        "more": i.problems - shown.len() as i64,
        "object_label": object_label(i.object),
    })
}

fn result_html(v: &Viewer, i: &ImportSummary) -> Result<String, UiError> {
    let mut ctx = result_context(i);
    if let Some(m) = ctx.as_object_mut() {
        m.insert("csrf".into(), json!(v.csrf));
    }
    render("imports/progress.html", &ctx)
}

/// An import's id from its address; anything else is not found.
fn import_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| {
        AppError::new(
            ErrorKind::NotFound,
            "import_not_found",
            format!("there is no import `{raw}`"),
        )
    })
}

async fn show(State(s): State<AppState>, v: Viewer, Path(id): Path<String>) -> Page {
    let id = import_id(&id)?;
    let i = uc::get_import(&s.db, &v.actor, id).await?;
    let title = format!("Import {id}");
    let result = result_html(&v, &i)?;
    let mut ctx = row(&i);
    if let Some(m) = ctx.as_object_mut() {
        m.insert("result_html".into(), json!(result));
    }
    v.page(meta(&title), "imports/show.html", ctx)
}

async fn progress(State(s): State<AppState>, v: Viewer, Path(id): Path<String>) -> Page {
    let id = import_id(&id)?;
    let i = uc::get_import(&s.db, &v.actor, id).await?;
    v.fragment("imports/progress.html", result_context(&i))
}

async fn rejects(State(s): State<AppState>, v: Viewer, Path(id): Path<String>) -> Page {
    let id = import_id(&id)?;
    let csv = uc::rejects_csv(&s.db, &v.actor, id).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"import-{id}-rejects.csv\"");
    if let Ok(h) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, h);
    }
    Ok((StatusCode::OK, headers, csv).into_response())
}

#[cfg(test)]
mod tests {
    use pitcrew_app::import::{Encoding, ImportFailure, Reject};

    use super::*;

    fn summary(status: ImportStatus, dry_run: bool) -> ImportSummary {
        ImportSummary {
            id: 41,
            object: ObjectKind::Contact,
            status,
            dry_run,
            mode: ImportMode::Upsert,
            match_by: MatchBy::Email,
            file_name: Some("people.csv".into()),
            encoding: Encoding::Utf8,
            encoding_detected: false,
            delimiter: ",".into(),
            mapping: Vec::new(),
            rows: 1500,
            created: 1000,
            updated: 400,
            unchanged: 0,
            rejected: 100,
            problems: 130,
            rejects: vec![Reject {
                line: 7,
                column: "Email".into(),
                value: "nope".into(),
                reason: "not an email address".into(),
                code: "field_invalid".into(),
            }],
            error: None,
            by: "marketer@acme.test".into(),
            started_at: "2026-12-07T19:00:00Z".into(),
            finished_at: None,
        }
    }

    #[test]
    fn a_running_import_polls_its_progress_every_second() {
        let running = summary(ImportStatus::Running, false);
        set_read(41, Some((250, 1000)));
        let html = render("imports/progress.html", &result_context(&running)).expect("renders");
        set_read(41, None);
        assert!(html.contains("hx-get=\"/imports/41/progress\""), "{html}");
        assert!(html.contains("hx-trigger=\"every 1s\""));
        assert!(html.contains("value=\"25\""), "{html}");
        assert!(html.contains("1,500 rows so far"));
        let unknown_share =
            render("imports/progress.html", &result_context(&running)).expect("renders");
        assert!(unknown_share.contains("<progress aria-label=\"Working\">"));
    }

    #[test]
    fn a_finished_import_shows_counts_rejects_and_the_report() {
        let mut failed = summary(ImportStatus::Failed, false);
        failed.error = Some(ImportFailure {
            code: "import_unclosed_quote".into(),
            message: "a quote opened on line 9 is never closed".into(),
        });
        let html = render("imports/progress.html", &result_context(&failed)).expect("renders");
        assert!(!html.contains("hx-trigger"));
        assert!(
            html.contains("stopped early: a quote opened on line 9"),
            "{html}"
        );
        assert!(html.contains("the first 1 of 130 are below"), "{html}");
        assert!(html.contains("href=\"/imports/41/rejects.csv\""));
        let dry = render(
            "imports/progress.html",
            &result_context(&summary(ImportStatus::Done, true)),
        )
        .expect("renders");
        assert!(dry.contains("Would create</dt><dd>1,000</dd>"), "{dry}");
    }
}
