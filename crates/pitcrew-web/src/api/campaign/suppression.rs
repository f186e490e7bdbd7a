//! `/api/v1/suppressions`: addresses that must never be mailed, for every
//! topic or for one — listed, added and removed one at a time, imported
//! from a CSV file (every bad row reported with its line), exported as a
//! streamed CSV download, and swept for role addresses such as `info@`.

use axum::Json;
use axum::RequestExt as _;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use pitcrew_app::campaign::suppression::{
    self as uc, Suppression, SuppressionChange, SuppressionFilter, SuppressionImport,
    SuppressionKey, SuppressionPage,
};
use pitcrew_app::{AppError, now_ms};
use pitcrew_core::campaign::SuppressionReason;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::download;
use crate::api::import::{MAX_IMPORT_BYTES, Upload, require_csv};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(import_suppressions);
    let import = import.layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES));
    r.routes(routes!(
        list_suppressions,
        add_suppression,
        remove_suppression
    ))
    .routes((schemas, paths, import))
    .routes(routes!(export_suppressions))
    .routes(routes!(suppress_role_addresses))
}

type ApiResult<T> = Result<T, ApiError>;

// ---- shapes ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    reason: Option<SuppressionReason>,
    /// Only rows of this topic; empty for the rows that cover every topic.
    topic: Option<String>,
    /// Text found anywhere in the address, ignoring case.
    search: Option<String>,
    /// The next page: the `email` of the previous page's `next`.
    after: Option<String>,
    /// The next page: the `topic` of the previous page's `next`, if it has one.
    after_topic: Option<String>,
    /// 1 to 1000; default 100.
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportParams {
    reason: Option<SuppressionReason>,
    /// Only rows of this topic; empty for the rows that cover every topic.
    topic: Option<String>,
    /// Text found anywhere in the address, ignoring case.
    search: Option<String>,
}

/// An address to put on a suppression list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSuppression {
    email: String,
    /// The one topic it is suppressed for; leave out for every topic.
    #[serde(default)]
    topic: Option<String>,
    /// `manual` unless given.
    #[serde(default = "manual")]
    reason: SuppressionReason,
    /// Why, for the team.
    #[serde(default)]
    note: String,
}

fn manual() -> SuppressionReason {
    SuppressionReason::Manual
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RemoveParams {
    /// The address to take off the list.
    email: String,
    /// The topic of the row to lift; leave out for the row that covers every topic.
    topic: Option<String>,
}

/// What the role-address sweep did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RoleSweep {
    /// Addresses newly suppressed.
    added: i64,
}

// ---- one at a time -------------------------------------------------------------------------

/// A page of suppressed addresses in address order, with how many match in all.
#[utoipa::path(get, path = "/api/v1/suppressions", tag = "suppressions", params(ListParams),
    responses((status = 200, body = SuppressionPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_suppressions(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<SuppressionPage>> {
    let filter = SuppressionFilter {
        reason: p.reason,
        topic: p.topic,
        search: p.search,
    };
    let after = p.after.map(|email| SuppressionKey {
        email,
        topic: p.after_topic,
    });
    Ok(Json(
        uc::list_suppressions(&s.db, &a, &filter, after.as_ref(), p.limit).await?,
    ))
}

/// Stop mailing an address, for every topic or for one (marketers and up).
/// An address already on the list keeps its row unless the new reason is
/// stronger; `outcome` says which.
#[utoipa::path(post, path = "/api/v1/suppressions", tag = "suppressions", request_body = NewSuppression,
    responses((status = 200, body = SuppressionChange), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_suppression(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewSuppression>,
) -> ApiResult<Json<SuppressionChange>> {
    let topic = new.topic.as_deref();
    Ok(Json(
        uc::add_suppression(
            &s.db,
            &a,
            &new.email,
            topic,
            new.reason,
            &new.note,
            now_ms(),
        )
        .await?,
    ))
}

/// Take an address off the list again (marketers and up); answers the row removed.
#[utoipa::path(delete, path = "/api/v1/suppressions", tag = "suppressions", params(RemoveParams),
    responses((status = 200, body = Suppression), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "The address is not on that list")))]
async fn remove_suppression(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<RemoveParams>,
) -> ApiResult<Json<Suppression>> {
    let topic = p.topic.as_deref();
    Ok(Json(
        uc::remove_suppression(&s.db, &a, &p.email, topic, now_ms()).await?,
    ))
}

/// Suppress every contact whose address is a shared mailbox such as
/// `info@`, `sales@` or `postmaster@` (marketers and up): they did not sign
/// up as a person and complain the most.
#[utoipa::path(post, path = "/api/v1/suppressions/role-addresses", tag = "suppressions",
    responses((status = 200, body = RoleSweep), (status = 403, body = ErrorBody)))]
async fn suppress_role_addresses(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<RoleSweep>> {
    let added = uc::suppress_role_addresses(&s.db, &a, now_ms()).await?;
    Ok(Json(RoleSweep { added }))
}

// ---- CSV in --------------------------------------------------------------------------------

/// The HTTP status of an import error: 413 for an oversized upload.
fn import_failed(e: AppError) -> ApiError {
    let status = match e.code {
        "import_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "import_interrupted" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => return ApiError::from(e),
    };
    let mut err = ApiError::new(status, e.code, e.message);
    err.detail.field = Some("file".into());
    err
}

/// Put the addresses of a CSV file on suppression lists (marketers and up).
/// A header row with an `email` column is needed; `reason` (manual when
/// empty), `topic` (every topic when empty) and `note` are read when
/// present. Every rejected row is reported with its line; the others are
/// written. An exported file imports back as it is.
#[utoipa::path(post, path = "/api/v1/suppressions/import", tag = "suppressions",
    request_body(content = String, content_type = "text/csv",
        description = "A header row with an `email` column (and optionally `reason`, `topic`, `note`), then one row per address"),
    responses((status = 200, body = SuppressionImport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn import_suppressions(
    State(s): State<AppState>,
    Caller(a): Caller,
    req: Request,
) -> ApiResult<Json<SuppressionImport>> {
    require_csv(req.headers())?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES as u64) {
        let e = AppError::invalid(
            "import_too_large",
            "file",
            format!(
                "the file is larger than {} MiB; split it and import the parts",
                MAX_IMPORT_BYTES / (1024 * 1024)
            ),
        );
        return Err(import_failed(e));
    }
    let upload = Upload::new(req.into_limited_body());
    uc::import_suppressions_csv(&s.db, &a, Box::new(upload), now_ms())
        .await
        .map(Json)
        .map_err(import_failed)
}

// ---- CSV out -------------------------------------------------------------------------------

/// The suppressed addresses as a CSV download (`email,topic,reason,note,source,created_at`),
/// in address order, streamed as it is read so any number downloads. The
/// file imports back as it is.
#[utoipa::path(get, path = "/api/v1/suppressions/export", tag = "suppressions", params(ExportParams),
    responses((status = 200, body = String, content_type = "text/csv", description = "email,topic,reason,note,source,created_at"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn export_suppressions(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let filter = SuppressionFilter {
        reason: p.reason,
        topic: p.topic,
        search: p.search,
    };
    let db = s.db.clone();
    download::csv(
        "suppressions.csv",
        "suppressions",
        move |mut out| async move { uc::export_suppressions_csv(&db, &a, &filter, &mut out).await },
    )
    .await
}
