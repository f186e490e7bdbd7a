//! `/api/v1/segments` and `/api/v1/uses`: dynamic segments and static lists —
//! checking a condition as it is written, live counts and previews, saving
//! and versions, members, CSV exports, the SQL behind a segment, explanations
//! of one record, list members, and who uses a field, event or segment.

use axum::Json;
use axum::RequestExt as _;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pitcrew_app::audience::{
    self as uc, CheckReport, Definition, ListImport, MembersAdded, MembersRemoved, NewSegment,
    Preview, SavedSegment, SegmentBrief, SegmentPatch, SegmentRef, SegmentVersion, Snapshot,
    UseKind, User,
};
use pitcrew_app::{AppError, now_ms};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::download;
use crate::api::import::{MAX_IMPORT_BYTES, Upload, require_csv};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(import_members);
    let import = import.layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES));
    r.routes(routes!(check_definition))
        .routes(routes!(count_unsaved))
        .routes(routes!(preview_unsaved))
        .routes(routes!(list_segments, create_segment))
        .routes(routes!(get_segment, update_segment, delete_segment))
        .routes(routes!(segment_versions))
        .routes(routes!(count_segment))
        .routes(routes!(segment_members, add_members, remove_members))
        .routes((schemas, paths, import))
        .routes(routes!(snapshot))
        .routes(routes!(export_segment))
        .routes(routes!(segment_sql))
        .routes(routes!(explain_segment))
        .routes(routes!(contact_segments))
        .routes(routes!(account_segments))
        .routes(routes!(uses))
}

/// Members a page shows when the caller does not say.
const DEFAULT_LIMIT: i64 = 50;

// ---- errors ----------------------------------------------------------------------------

/// An error of this area. A condition that cannot be used is 422: the request
/// was read, but what it asks for cannot be counted or saved; every other
/// error answers as everywhere else.
struct AudienceError(ApiError);

impl From<AppError> for AudienceError {
    fn from(e: AppError) -> AudienceError {
        let unusable = e.code == "definition_invalid";
        let mut err = ApiError::from(e);
        if unusable {
            err.status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        AudienceError(err)
    }
}

impl From<ApiError> for AudienceError {
    fn from(e: ApiError) -> AudienceError {
        AudienceError(e)
    }
}

impl IntoResponse for AudienceError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

type ApiResult<T> = Result<T, AudienceError>;

// ---- shapes --------------------------------------------------------------------------------

/// A condition in its text form (`people where country is "DE"`) or its JSON form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DefinitionBody {
    definition: Definition,
}

/// A condition not saved yet and which of its members to show.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    definition: Definition,
    /// Field keys to show for each member, e.g. `["email", "country"]`.
    #[serde(default)]
    fields: Vec<String>,
    /// 1 to 500; default 50.
    limit: Option<i64>,
    /// Members to skip; default 0.
    offset: Option<i64>,
}

/// How many people or accounts a segment selects now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Count {
    count: i64,
}

/// The query that selects a segment's members, for PostgreSQL.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SegmentSql {
    sql: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MembersParams {
    /// Field keys to show, comma separated, e.g. `email,country`.
    fields: Option<String>,
    /// 1 to 500; default 50.
    limit: Option<i64>,
    /// Members to skip; default 0.
    offset: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportParams {
    /// Columns after `id`, comma separated, e.g. `email,country`.
    fields: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExplainParams {
    /// The contact (people segments) or account (account segments) to explain.
    record: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsesParams {
    kind: UseKind,
    /// A field key, an event name, a segment name or a topic name.
    target: String,
}

/// Records to put on or take off a static list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MemberIds {
    ids: Vec<i64>,
}

/// Which segment's current members to copy into this list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SnapshotRequest {
    /// The segment or list to copy from.
    from: i64,
    /// Empty the list first; otherwise the members are added to those it has.
    #[serde(default)]
    replace: bool,
}

/// Why a record is in a segment or not: one node of the condition, its
/// value and what decided it, with the nodes under it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(no_recursion)]
struct ExplanationNode {
    /// The node in text form.
    condition: String,
    /// Whether the record meets this node.
    value: bool,
    /// The facts that decided it.
    reason: String,
    children: Vec<ExplanationNode>,
}

/// `email, country` as a list of keys.
fn field_list(fields: Option<&str>) -> Vec<String> {
    fields
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

fn page_size(l: Option<i64>) -> i64 {
    l.unwrap_or(DEFAULT_LIMIT)
}

// ---- conditions being written ---------------------------------------------------------------

/// Check a condition as it is being written: its canonical forms, every
/// problem with its line and column, warnings, and what it uses. Answers
/// 200 even when the condition is not valid — the report says why.
#[utoipa::path(post, path = "/api/v1/segments/check", tag = "segments", request_body = DefinitionBody,
    responses((status = 200, body = CheckReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn check_definition(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(body): ApiJson<DefinitionBody>,
) -> ApiResult<Json<CheckReport>> {
    Ok(Json(
        uc::check_definition(&s.db, &a, body.definition).await?,
    ))
}

/// How many people or accounts a condition not saved yet selects now (a
/// live count while it is written).
#[utoipa::path(post, path = "/api/v1/segments/count", tag = "segments", request_body = DefinitionBody,
    responses((status = 200, body = Count), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The condition is not valid; `details` lists every problem")))]
async fn count_unsaved(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(body): ApiJson<DefinitionBody>,
) -> ApiResult<Json<Count>> {
    let target = SegmentRef::Unsaved(body.definition);
    let count = uc::count_segment(&s.db, &a, target, now_ms()).await?;
    Ok(Json(Count { count }))
}

/// A page of the members a condition not saved yet selects now, with the
/// fields asked for.
#[utoipa::path(post, path = "/api/v1/segments/preview", tag = "segments", request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The condition is not valid; `details` lists every problem")))]
async fn preview_unsaved(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(p): ApiJson<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    let target = SegmentRef::Unsaved(p.definition);
    let (limit, offset) = (page_size(p.limit), p.offset.unwrap_or(0));
    Ok(Json(
        uc::preview_segment(&s.db, &a, target, p.fields, limit, offset, now_ms()).await?,
    ))
}

// ---- saved segments ---------------------------------------------------------------------------

/// Every segment and static list of the workspace, by name.
#[utoipa::path(get, path = "/api/v1/segments", tag = "segments",
    responses((status = 200, body = Vec<SavedSegment>), (status = 401, body = ErrorBody)))]
async fn list_segments(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<SavedSegment>>> {
    Ok(Json(uc::list_segments(&s.db, &a).await?))
}

/// Save a dynamic segment (with its condition) or a static list (marketers and up).
#[utoipa::path(post, path = "/api/v1/segments", tag = "segments", request_body = NewSegment,
    responses((status = 201, body = SavedSegment), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another segment has this name"),
        (status = 422, body = ErrorBody, description = "The condition is not valid; `details` lists every problem")))]
async fn create_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewSegment>,
) -> ApiResult<(StatusCode, Json<SavedSegment>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::create_segment(&s.db, &a, new, now_ms()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)),
    responses((status = 200, body = SavedSegment), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SavedSegment>> {
    Ok(Json(uc::get_segment(&s.db, &a, id).await?))
}

/// Change a segment's name, description or condition; each change is a new
/// version. Segments that refer to it by name follow a rename.
#[utoipa::path(patch, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)), request_body = SegmentPatch,
    responses((status = 200, body = SavedSegment), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The condition is not valid; `details` lists every problem")))]
async fn update_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<SegmentPatch>,
) -> ApiResult<Json<SavedSegment>> {
    Ok(Json(
        uc::update_segment(&s.db, &a, id, patch, now_ms()).await?,
    ))
}

/// Delete a segment or list with its versions and members; refused while
/// another segment refers to it.
#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Another segment uses it")))]
async fn delete_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_segment(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a segment, newest first.
#[utoipa::path(get, path = "/api/v1/segments/{id}/versions", tag = "segments", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SegmentVersion>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn segment_versions(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SegmentVersion>>> {
    Ok(Json(uc::segment_versions(&s.db, &a, id).await?))
}

// ---- members -----------------------------------------------------------------------------------

/// How many people or accounts a segment selects now.
#[utoipa::path(get, path = "/api/v1/segments/{id}/count", tag = "segments", params(("id" = i64, Path)),
    responses((status = 200, body = Count), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn count_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Count>> {
    let count = uc::count_segment(&s.db, &a, SegmentRef::Saved(id), now_ms()).await?;
    Ok(Json(Count { count }))
}

/// A page of a segment's members now, with the fields asked for, and how
/// many there are in all.
#[utoipa::path(get, path = "/api/v1/segments/{id}/members", tag = "segments", params(("id" = i64, Path), MembersParams),
    responses((status = 200, body = Preview), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn segment_members(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<MembersParams>,
) -> ApiResult<Json<Preview>> {
    let fields = field_list(p.fields.as_deref());
    let (limit, offset) = (page_size(p.limit), p.offset.unwrap_or(0));
    let target = SegmentRef::Saved(id);
    Ok(Json(
        uc::preview_segment(&s.db, &a, target, fields, limit, offset, now_ms()).await?,
    ))
}

/// Put records on a static list by id; ids not in this workspace are
/// ignored and listed.
#[utoipa::path(post, path = "/api/v1/segments/{id}/members", tag = "segments", params(("id" = i64, Path)), request_body = MemberIds,
    responses((status = 200, body = MembersAdded), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_members(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MemberIds>,
) -> ApiResult<Json<MembersAdded>> {
    Ok(Json(
        uc::add_list_members(&s.db, &a, id, body.ids, now_ms()).await?,
    ))
}

/// Take records off a static list by id.
#[utoipa::path(delete, path = "/api/v1/segments/{id}/members", tag = "segments", params(("id" = i64, Path)), request_body = MemberIds,
    responses((status = 200, body = MembersRemoved), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_members(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MemberIds>,
) -> ApiResult<Json<MembersRemoved>> {
    Ok(Json(
        uc::remove_list_members(&s.db, &a, id, body.ids, now_ms()).await?,
    ))
}

/// Copy the members a segment has now into this static list.
#[utoipa::path(post, path = "/api/v1/segments/{id}/snapshot", tag = "segments", params(("id" = i64, Path)), request_body = SnapshotRequest,
    responses((status = 200, body = Snapshot), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn snapshot(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SnapshotRequest>,
) -> ApiResult<Json<Snapshot>> {
    Ok(Json(
        uc::snapshot_segment_into_list(&s.db, &a, body.from, id, body.replace, now_ms()).await?,
    ))
}

// ---- importing list members ----------------------------------------------------------------------

fn too_large() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "import_too_large",
        format!(
            "the file is larger than {} MiB; split it and import the parts",
            MAX_IMPORT_BYTES / (1024 * 1024)
        ),
    );
    e.detail.field = Some("file".into());
    e
}

/// Put the people (or accounts) a CSV file names on a static list. The file
/// needs a header row with an `id`, `external_id` or `email` column; every
/// row that names nobody is reported with its line, and the rest are added.
#[utoipa::path(post, path = "/api/v1/segments/{id}/members/import", tag = "segments", params(("id" = i64, Path)),
    request_body(content = String, content_type = "text/csv",
        description = "A header row with an `id`, `external_id` or `email` column, then one row per member"),
    responses((status = 200, body = ListImport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn import_members(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<Json<ListImport>> {
    require_csv(req.headers())?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES as u64) {
        return Err(too_large().into());
    }
    let upload = Upload::new(req.into_limited_body());
    Ok(Json(
        uc::import_list_members_csv(&s.db, &a, id, Box::new(upload), now_ms()).await?,
    ))
}

// ---- export --------------------------------------------------------------------------------------

/// A segment's members now as a CSV download: `id`, then the fields asked
/// for, one row per member in id order. Streamed as it is read, so any
/// number of members downloads.
#[utoipa::path(get, path = "/api/v1/segments/{id}/export", tag = "segments", params(("id" = i64, Path), ExportParams),
    responses((status = 200, body = String, content_type = "text/csv", description = "id, then the fields asked for"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let fields = field_list(p.fields.as_deref());
    let db = s.db.clone();
    download::csv(
        &format!("segment-{id}.csv"),
        "segment",
        move |mut out| async move {
            uc::export_segment_csv(&db, &a, id, fields, &mut out, now_ms()).await
        },
    )
    .await
    .map_err(AudienceError::from)
}

// ---- what a segment is -----------------------------------------------------------------------------

/// The PostgreSQL query that selects a segment's members, with every value
/// written inline and relative times resolved now, for running the same
/// formula in a warehouse.
#[utoipa::path(get, path = "/api/v1/segments/{id}/sql", tag = "segments", params(("id" = i64, Path)),
    responses((status = 200, body = SegmentSql), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn segment_sql(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SegmentSql>> {
    let sql = uc::segment_sql(&s.db, &a, SegmentRef::Saved(id), now_ms()).await?;
    Ok(Json(SegmentSql { sql }))
}

/// Why a contact (people segments) or an account (account segments) is in
/// the segment now, or why not: every node of the condition with its value
/// and the facts that decided it.
#[utoipa::path(get, path = "/api/v1/segments/{id}/explain", tag = "segments", params(("id" = i64, Path), ExplainParams),
    responses((status = 200, body = ExplanationNode), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn explain_segment(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<ExplainParams>,
) -> ApiResult<Json<impl Serialize>> {
    Ok(Json(
        uc::explain_segment(&s.db, &a, id, p.record, now_ms()).await?,
    ))
}

/// The people segments and lists a contact is in now.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/segments", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SegmentBrief>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn contact_segments(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SegmentBrief>>> {
    Ok(Json(uc::contact_segments(&s.db, &a, id, now_ms()).await?))
}

/// The account segments and lists an account is in now.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/segments", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SegmentBrief>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account_segments(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SegmentBrief>>> {
    Ok(Json(uc::account_segments(&s.db, &a, id, now_ms()).await?))
}

/// Who uses a field (by key), an event, a segment or a topic (by name):
/// what would break if it changed.
#[utoipa::path(get, path = "/api/v1/uses", tag = "segments", params(UsesParams),
    responses((status = 200, body = Vec<User>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn uses(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<UsesParams>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(uc::uses_of(&s.db, &a, p.kind, &p.target).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_list_drops_blanks_and_spaces() {
        assert_eq!(
            field_list(Some(" email, ,country,")),
            vec!["email".to_string(), "country".to_string()]
        );
        assert!(field_list(None).is_empty());
    }

    #[test]
    fn an_invalid_condition_is_unprocessable_and_other_errors_keep_their_status() {
        let bad = AppError::invalid("definition_invalid", "definition", "no");
        assert_eq!(
            AudienceError::from(bad).0.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let missing = AppError::invalid("definition_missing", "definition", "no");
        assert_eq!(
            AudienceError::from(missing).0.status,
            StatusCode::BAD_REQUEST
        );
    }
}
