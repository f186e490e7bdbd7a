//! "Fill from CSV" on a static list's page: the browser uploads a file
//! (multipart), the list import use case adds the people or accounts it
//! names, and the page shows how many were added and which rows were
//! rejected, with their line numbers.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use pitcrew_app::audience;
use pitcrew_app::{AppError, now_ms};
use serde_json::json;

use super::{SegmentForm, segment_id, segment_page, with_status};
use crate::AppState;
use crate::ui::view::{Page, Viewer, form_errors, status_of};

/// Largest file the page takes; bigger ones go through the API or the
/// command line, which stream.
pub(super) const MAX_BYTES: usize = 64 * 1024 * 1024;

fn file_problem(message: impl Into<String>) -> AppError {
    AppError::invalid("file_unreadable", "file", message)
}

/// The bytes of the form's `file` field.
async fn read_file(req: Request) -> Result<Vec<u8>, AppError> {
    let mut form = Multipart::from_request(req, &()).await.map_err(|_| {
        file_problem("the file did not arrive; choose a CSV file and press \"Add to list\"")
    })?;
    loop {
        let field = form.next_field().await.map_err(|e| {
            file_problem(format!(
                "the upload stopped before the end ({}); files up to {} MiB can be added here",
                e.body_text(),
                MAX_BYTES / (1024 * 1024)
            ))
        })?;
        let Some(field) = field else {
            return Err(file_problem("choose a CSV file to add to the list"));
        };
        if field.name() != Some("file") {
            continue;
        }
        let bytes = field.bytes().await.map_err(|e| {
            file_problem(format!(
                "the upload stopped before the end ({}); files up to {} MiB can be added here",
                e.body_text(),
                MAX_BYTES / (1024 * 1024)
            ))
        })?;
        return Ok(bytes.to_vec());
    }
}

/// Add the members a CSV file names to a static list, then show the list
/// with the import's report.
pub(super) async fn fill(
    State(s): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    req: Request,
) -> Page {
    let id = segment_id(&raw)?;
    let seg = audience::get_segment(&s.db, &v.actor, id).await?;
    let form = SegmentForm {
        name: seg.name.clone(),
        description: seg.description.clone(),
        ..SegmentForm::default()
    };
    // A missing file still goes to the use case, so a role that may not
    // change lists is refused for that before anything about the file.
    let (bytes, unread) = match read_file(req).await {
        Ok(b) => (b, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let outcome = match unread {
        Some(e) if v.can(pitcrew_core::admin::Action::ManageSegments) => Err(e),
        _ => {
            let source = Box::new(std::io::Cursor::new(bytes));
            audience::import_list_members_csv(&s.db, &v.actor, id, source, now_ms()).await
        }
    };
    match outcome {
        Ok(report) => {
            let import = json!(report);
            segment_page(&s, &v, &seg, &form, json!({}), import).await
        }
        Err(e) if e.kind == pitcrew_app::ErrorKind::Invalid => {
            let mut errors = form_errors(&e);
            // The use case names the file's problems under `file` or by column.
            if errors.get("file").is_none()
                && let Some(m) = errors.as_object_mut()
            {
                m.insert("file".into(), json!(e.message));
            }
            let page = segment_page(&s, &v, &seg, &form, errors, serde_json::Value::Null).await;
            with_status(page, status_of(e.kind))
        }
        Err(e) => Err(e.into()),
    }
}
