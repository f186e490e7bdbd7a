//! `/api/v1/broadcasts` and `/api/v1/reports`: one email to segments of
//! people — written, checked before launch, approved, started, paused,
//! resumed or cancelled — with its results and the decision for every
//! person; and the upload of bounce and complaint reports that come back.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use pitcrew_app::campaign::broadcast::{
    self as uc, Broadcast, BroadcastInput, Decision, Prelaunch, Stats,
};
use pitcrew_app::campaign::feedback::{self, ReportSummary};
use pitcrew_app::now_ms;
use pitcrew_core::campaign::{BroadcastStatus, RecipientState};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_broadcasts, create_broadcast))
        .routes(routes!(get_broadcast, update_broadcast, delete_broadcast))
        .routes(routes!(prelaunch))
        .routes(routes!(approve))
        .routes(routes!(start))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
        .routes(routes!(stats))
        .routes(routes!(recipients))
        .routes(routes!(decision))
        .routes(routes!(ingest_reports))
}

type ApiResult<T> = Result<T, ApiError>;

/// Decisions a page shows when the caller does not say.
const DEFAULT_LIMIT: i64 = 100;
/// Largest report upload: a day of bounces from a busy mailbox.
const MAX_REPORT_BYTES: usize = 64 * 1024 * 1024;
/// The media types a report upload may arrive as.
const REPORT_TYPES: &[&str] = &["message/rfc822", "application/mbox", "text/plain"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only broadcasts in this state.
    status: Option<BroadcastStatus>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RecipientParams {
    /// Only people in this state, e.g. `skipped`.
    state: Option<RecipientState>,
    /// The next page: the last `contact_id` of the previous page.
    after: Option<i64>,
    /// 1 to 1000; default 100.
    limit: Option<i64>,
}

// ---- writing -----------------------------------------------------------------------------

/// Every broadcast, optionally only those in one state.
#[utoipa::path(get, path = "/api/v1/broadcasts", tag = "broadcasts", params(ListParams),
    responses((status = 200, body = Vec<Broadcast>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_broadcasts(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Vec<Broadcast>>> {
    Ok(Json(uc::list_broadcasts(&s.db, &a, p.status).await?))
}

/// Write a broadcast as a draft (marketers and up): a template, subject,
/// sender, topic and segments. Anything but the name may come later; the
/// checks say what is still missing.
#[utoipa::path(post, path = "/api/v1/broadcasts", tag = "broadcasts", request_body = BroadcastInput,
    responses((status = 201, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_broadcast(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<BroadcastInput>,
) -> ApiResult<(StatusCode, Json<Broadcast>)> {
    let broadcast = uc::create_broadcast(&s.db, &a, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(broadcast)))
}

/// One broadcast and where it is in its life.
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_broadcast(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::get_broadcast(&s.db, &a, id).await?))
}

/// Replace a draft's content (marketers and up). Any approval is withdrawn:
/// it approved something else.
#[utoipa::path(put, path = "/api/v1/broadcasts/{id}", tag = "broadcasts", params(("id" = i64, Path)), request_body = BroadcastInput,
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Only a draft can be changed")))]
async fn update_broadcast(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<BroadcastInput>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(
        uc::update_broadcast(&s.db, &a, id, input, now_ms()).await?,
    ))
}

/// Delete a draft (marketers and up); a broadcast that started is cancelled instead.
#[utoipa::path(delete, path = "/api/v1/broadcasts/{id}", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Only a draft can be deleted")))]
async fn delete_broadcast(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_broadcast(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- before and during sending --------------------------------------------------------------

/// The pre-launch checklist: what passed, what warns and what blocks the
/// start (no unsubscribe link, no consent, approval needed…), with how
/// many people each item concerns and how many would be sent the email.
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}/checks", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Prelaunch), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn prelaunch(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Prelaunch>> {
    Ok(Json(uc::prelaunch(&s.db, &a, id, now_ms()).await?))
}

/// Sign off a draft as it is now (admins). Needed for a workspace's first
/// send and for audiences above the approval threshold; changing the draft
/// afterwards withdraws it.
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/approve", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Only a draft is approved")))]
async fn approve(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::approve(&s.db, &a, id, now_ms()).await?))
}

/// Start sending now, or at the scheduled time (marketers and up). Refused
/// while any check blocks; the refusal lists them.
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/start", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "A check blocks the start, or it is not a draft")))]
async fn start(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::start(&s.db, &a, id, now_ms()).await?))
}

/// Stop taking new recipients for now; emails already on their way finish.
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/pause", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "It is not sending")))]
async fn pause(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::pause(&s.db, &a, id, now_ms()).await?))
}

/// Carry on sending a paused broadcast.
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/resume", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "It is not paused")))]
async fn resume(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::resume(&s.db, &a, id, now_ms()).await?))
}

/// Stop for good: everyone still waiting is skipped. A scheduled broadcast
/// goes back to draft instead, keeping its content.
#[utoipa::path(post, path = "/api/v1/broadcasts/{id}/cancel", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Broadcast), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "It has already finished")))]
async fn cancel(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Broadcast>> {
    Ok(Json(uc::cancel(&s.db, &a, id, now_ms()).await?))
}

// ---- results --------------------------------------------------------------------------------

/// The results: sent, delivered, bounced, opened and clicked (unique people
/// and in total), unsubscribes, complaints, who was skipped and why, and
/// opens and clicks per hour.
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}/stats", tag = "broadcasts", params(("id" = i64, Path)),
    responses((status = 200, body = Stats), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn stats(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(uc::stats(&s.db, &a, id).await?))
}

/// A page of the decision log: for each person in the audience, whether
/// they were sent the email and, if not, why — in contact order.
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}/recipients", tag = "broadcasts", params(("id" = i64, Path), RecipientParams),
    responses((status = 200, body = Vec<Decision>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn recipients(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<RecipientParams>,
) -> ApiResult<Json<Vec<Decision>>> {
    let (after, limit) = (p.after.unwrap_or(0), p.limit.unwrap_or(DEFAULT_LIMIT));
    Ok(Json(
        uc::recipients(&s.db, &a, id, p.state, after, limit).await?,
    ))
}

/// Why one person did or did not get the broadcast, and everything that
/// happened to their email since: delivered, bounced, opened, clicked…
#[utoipa::path(get, path = "/api/v1/broadcasts/{id}/recipients/{contact_id}", tag = "broadcasts",
    params(("id" = i64, Path), ("contact_id" = i64, Path)),
    responses((status = 200, body = Decision), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn decision(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath((id, contact_id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<Decision>> {
    Ok(Json(uc::decision(&s.db, &a, id, contact_id).await?))
}

// ---- reports coming back ----------------------------------------------------------------------

/// Refuse a body that is not declared as an email or a mailbox file.
fn require_report(headers: &HeaderMap) -> ApiResult<()> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if REPORT_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_invalid",
        "send the report itself as the body: one email as Content-Type: message/rfc822 (or text/plain), or a mailbox file as application/mbox",
    ))
}

fn report_too_large() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "report_too_large",
        format!(
            "the upload is larger than {} MiB; split the mailbox and send the parts",
            MAX_REPORT_BYTES / (1024 * 1024)
        ),
    );
    e.detail.field = Some("file".into());
    e
}

/// Hand in bounce and complaint emails (marketers and up): one message
/// (a delivery status notification, a spam complaint report or an emailed
/// unsubscribe request) or a whole mailbox file. Hard bounces and
/// complaints suppress the address at once, soft bounces after the limit in
/// a row. Messages that cannot be used are listed with their number and
/// line, and change nothing.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports",
    request_body(content = String, content_type = "message/rfc822",
        description = "One raw email (message/rfc822 or text/plain) or an mbox file (application/mbox)"),
    responses((status = 200, body = ReportSummary), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn ingest_reports(
    State(s): State<AppState>,
    Caller(a): Caller,
    req: Request,
) -> ApiResult<Json<ReportSummary>> {
    require_report(req.headers())?;
    // Read with this route's own limit: mailbox files outgrow the API's.
    let raw = axum::body::to_bytes(req.into_body(), MAX_REPORT_BYTES)
        .await
        .map_err(|e| {
            // The limit's error has no type reachable from here; its text is stable.
            if e.to_string().contains("length limit exceeded") {
                return report_too_large();
            }
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("the upload broke off: {e}; send it again"),
            )
        })?;
    Ok(Json(
        feedback::ingest_reports(&s.db, &a, &raw, now_ms()).await?,
    ))
}
