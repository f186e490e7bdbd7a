//! `/api/v1/imports`: CSV imports of contacts and accounts. The file is the
//! request body (`Content-Type: text/csv`, up to 256 MiB) and is read as it
//! arrives; options are query parameters. Every import is kept with its
//! counts, and its rejects report downloads as CSV.

use std::io::Read;
use std::pin::Pin;

use axum::Json;
use axum::RequestExt as _;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pitcrew_app::import::{
    self as uc, Encoding, ImportListParams, ImportMode, ImportOptions, ImportStatus, ImportSummary,
    MatchBy, Unobserved,
};
use pitcrew_app::now_ms;
use pitcrew_core::record::ObjectKind;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};

/// Largest CSV upload accepted (this route's own limit; the rest of the API
/// keeps `MAX_BODY_BYTES`).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let (schemas, paths, imports) = routes!(start_import, list_imports);
    let imports = imports.layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES));
    r.routes((schemas, paths, imports))
        .routes(routes!(get_import))
        .routes(routes!(download_rejects))
}

type ApiResult<T> = Result<T, ApiError>;

/// How to import the file in the body.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `contact` or `account`.
    object: ObjectKind,
    /// `upsert` (default): update what matches, create the rest; `create`:
    /// only new records; `update`: only existing ones.
    mode: Option<ImportMode>,
    /// What finds an existing record: `email` (contacts) or `external_id`.
    /// Default: email for contacts when a column maps to it, else external_id.
    #[serde(rename = "match")]
    match_by: Option<MatchBy>,
    /// Report what would happen and change nothing (the report is kept).
    dry_run: Option<bool>,
    /// A JSON object from column header to a field key or label,
    /// `external_id`, `account_external_id` (contacts) or `skip`, e.g.
    /// `{"Email Address": "email", "Notes": "skip"}`.
    mapping: Option<String>,
    /// Map the columns `mapping` leaves out from their headers (default
    /// true); with false they are not imported.
    suggest: Option<bool>,
    /// `utf8` or `latin1` (Windows-1252). Default: the `charset` of the
    /// Content-Type, else UTF-8, or Latin-1 when the file is not valid UTF-8.
    encoding: Option<Encoding>,
    /// `,`, `;`, `|` or `tab`. Default: whichever the header line uses.
    delimiter: Option<String>,
    /// The file's name, shown in the import history.
    file_name: Option<String>,
}

/// An import and where its full rejects report is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ImportReply {
    #[serde(flatten)]
    summary: ImportSummary,
    /// The complete rejects report as CSV (`line,column,value,reason,code`).
    rejects_url: String,
}

fn reply(summary: ImportSummary) -> ImportReply {
    let rejects_url = format!("/api/v1/imports/{}/rejects.csv", summary.id);
    ImportReply {
        summary,
        rejects_url,
    }
}

/// The HTTP status of an import error: 413 for an oversized upload.
fn failed(code: &str, message: String) -> ApiError {
    let status = match code {
        "import_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "import_interrupted" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut e = ApiError::new(status, code, message);
    e.detail.field = Some("file".into());
    e
}

/// The encoding a `Content-Type` names in its `charset`, if one pitcrew reads.
fn charset(content_type: &str) -> Option<Encoding> {
    content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .and_then(|(_, v)| Encoding::parse(v.trim().trim_matches('"')))
}

/// The media types a CSV upload may arrive as.
pub(crate) const CSV_TYPES: &[&str] = &[
    "text/csv",
    "application/csv",
    "text/plain",
    "text/tab-separated-values",
    "application/vnd.ms-excel",
];

/// Refuse a body that is not declared as a CSV file.
pub(crate) fn require_csv(headers: &HeaderMap) -> ApiResult<()> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !CSV_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_invalid",
            "send the CSV file itself as the body, with the header Content-Type: text/csv",
        ));
    }
    Ok(())
}

fn options(p: ImportParams, headers: &HeaderMap) -> ApiResult<ImportOptions> {
    require_csv(headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let mut o = ImportOptions::new(p.object);
    if let Some(raw) = p.mapping.as_deref() {
        let bad = |why: String| {
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "mapping_invalid",
                format!(
                    "`mapping` must be a JSON object from column to field, e.g. {{\"Email Address\": \"email\"}}: {why}"
                ),
            );
            e.detail.field = Some("mapping".into());
            e
        };
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        for (column, target) in map {
            let target = match target {
                serde_json::Value::String(t) => t,
                serde_json::Value::Null => "skip".into(),
                other => return Err(bad(format!("the target of `{column}` is {other}"))),
            };
            o.mapping.push((column, target));
        }
    }
    if let Some(d) = p.delimiter.as_deref() {
        let d = uc::parse_delimiter(d).ok_or_else(|| {
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "delimiter_invalid",
                "the delimiter must be one of `,` `;` `|` or `tab`",
            );
            e.detail.field = Some("delimiter".into());
            e
        })?;
        o.delimiter = Some(d);
    }
    if o.delimiter.is_none() && media.eq_ignore_ascii_case("text/tab-separated-values") {
        o.delimiter = Some(b'\t');
    }
    o.mode = p.mode.unwrap_or_default();
    o.match_by = p.match_by;
    o.dry_run = p.dry_run.unwrap_or(false);
    o.suggest = p.suggest.unwrap_or(true);
    o.encoding = p.encoding.or_else(|| charset(content_type));
    o.file_name = p.file_name;
    Ok(o)
}

/// The request body as a blocking reader, for the import's parsing thread:
/// each read waits for the next chunk of the upload on the runtime.
pub(crate) struct Upload {
    body: Body,
    runtime: tokio::runtime::Handle,
    chunk: Bytes,
    done: bool,
}

impl Upload {
    /// Read `body` from a blocking thread of the current runtime.
    pub(crate) fn new(body: Body) -> Upload {
        Upload {
            body,
            runtime: tokio::runtime::Handle::current(),
            chunk: Bytes::new(),
            done: false,
        }
    }
}

impl Read for Upload {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            if self.done {
                return Ok(0);
            }
            let body = &mut self.body;
            let frame = self.runtime.block_on(std::future::poll_fn(|cx| {
                Pin::new(&mut *body).poll_frame(cx)
            }));
            match frame {
                None => self.done = true,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.chunk = data;
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    // The body limit's error has no type reachable from here; its text is stable.
                    if e.to_string().contains("length limit exceeded") {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::FileTooLarge,
                            format!(
                                "the upload is larger than {} MiB; split the file and import the parts",
                                MAX_IMPORT_BYTES / (1024 * 1024)
                            ),
                        ));
                    }
                    return Err(std::io::Error::other(format!("the upload broke off: {e}")));
                }
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// Import contacts or accounts from the CSV file in the body (marketers and
/// up). Rows are checked like records created one by one; a bad row is
/// rejected with its line and the rest are imported. The reply holds the
/// counts, the mapping used and the first 100 problems.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(ImportParams),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file: a header row, then one row per record. UTF-8 (with or without BOM) or Latin-1; `,`, `;` or tab separated; quoted values may hold separators and line breaks."),
    responses(
        (status = 200, body = ImportReply, description = "The import ran (or, with dry_run, would run) to the end"),
        (status = 400, body = ErrorBody, description = "The file or mapping cannot be imported, or the import stopped at a problem in the file (rows before it were imported)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "The upload is larger than 256 MiB"),
        (status = 415, body = ErrorBody)))]
async fn start_import(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ImportParams>,
    req: Request,
) -> ApiResult<Json<ImportReply>> {
    let options = options(p, req.headers())?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES as u64) {
        return Err(failed(
            "import_too_large",
            format!(
                "the upload is larger than {} MiB; split the file and import the parts",
                MAX_IMPORT_BYTES / (1024 * 1024)
            ),
        ));
    }
    let upload = Upload::new(req.into_limited_body());
    let summary = uc::import_csv(
        &s.db,
        &a,
        Box::new(upload),
        options,
        &mut Unobserved,
        now_ms(),
    )
    .await
    .map_err(|e| match e.code {
        "import_too_large" | "import_interrupted" => failed(e.code, e.message),
        _ => ApiError::from(e),
    })?;
    if summary.status == ImportStatus::Failed {
        let (code, message) = summary
            .error
            .as_ref()
            .map(|f| (f.code.clone(), f.message.clone()))
            .unwrap_or_else(|| ("import_failed".into(), "the import stopped".into()));
        return Err(failed(
            &code,
            format!(
                "{message}. Import {} stopped there after {} rows ({} created, {} updated, {} rejected); see /api/v1/imports/{}",
                summary.id,
                summary.rows,
                summary.created,
                summary.updated,
                summary.rejected,
                summary.id
            ),
        ));
    }
    Ok(Json(reply(summary)))
}

/// The import history, newest first (marketers and up); `rejects` is empty here.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", params(ImportListParams),
    responses((status = 200, body = Vec<ImportSummary>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_imports(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ImportListParams>,
) -> ApiResult<Json<Vec<ImportSummary>>> {
    Ok(Json(uc::list_imports(&s.db, &a, p).await?))
}

/// One import: its settings, counts and first 100 problems.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = ImportReply), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_import(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ImportReply>> {
    Ok(Json(reply(uc::get_import(&s.db, &a, id).await?)))
}

/// The rejects report of an import as a CSV download: one row per problem
/// with the file's line (1 is the header), the column, the value, the
/// reason and a stable code.
#[utoipa::path(get, path = "/api/v1/imports/{id}/rejects.csv", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = String, content_type = "text/csv", description = "line,column,value,reason,code"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn download_rejects(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let csv = uc::rejects_csv(&s.db, &a, id).await?;
    let disposition = format!("attachment; filename=\"import-{id}-rejects.csv\"");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((StatusCode::OK, headers, csv).into_response())
}
