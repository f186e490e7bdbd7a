//! `/api/v1/templates`: email templates (HTML or MJML with a plain-text
//! part), a preview as one contact would get it, and test sends.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pitcrew_app::campaign::render::Rendered;
use pitcrew_app::campaign::send::{self, TestSend, TestSent};
use pitcrew_app::campaign::template::{self as uc, Template, TemplateInput, TemplatePatch};
use pitcrew_app::now_ms;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(preview_template))
        .routes(routes!(test_send))
}

type ApiResult<T> = Result<T, ApiError>;

/// Whom to preview a template as, and with which subject.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    /// The contact whose fields fill the template.
    contact_id: i64,
    /// The subject line, which may use the same variables as the body.
    #[serde(default)]
    subject: String,
}

/// Every template, by name.
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    responses((status = 200, body = Vec<Template>), (status = 401, body = ErrorBody)))]
async fn list_templates(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<Template>>> {
    Ok(Json(uc::list_templates(&s.db, &a).await?))
}

/// Save a new email template (marketers and up). It is saved only if it
/// renders, so a broadcast never meets a broken one; the error says where
/// the template is wrong.
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = TemplateInput,
    responses((status = 201, body = Template), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A template has this name")))]
async fn create_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let template = uc::create_template(&s.db, &a, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// One template with its content and version.
#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 200, body = Template), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Template>> {
    Ok(Json(uc::get_template(&s.db, &a, id).await?))
}

/// Change a template's name or content; each change is a new version.
#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)), request_body = TemplatePatch,
    responses((status = 200, body = Template), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<TemplatePatch>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        uc::update_template(&s.db, &a, id, patch, now_ms()).await?,
    ))
}

/// Delete a template no draft or scheduled broadcast uses.
#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "A broadcast uses it")))]
async fn delete_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_template(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The email one contact would get from this template: subject, HTML and
/// plain text with their fields filled in. Its unsubscribe links only look
/// real, so a preview never unsubscribes anyone.
#[utoipa::path(post, path = "/api/v1/templates/{id}/preview", tag = "templates", params(("id" = i64, Path)), request_body = PreviewRequest,
    responses((status = 200, body = Rendered), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn preview_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<PreviewRequest>,
) -> ApiResult<Json<Rendered>> {
    Ok(Json(
        uc::preview_template(&s.db, &a, id, p.contact_id, &p.subject, now_ms()).await?,
    ))
}

/// Send this template, filled in as one contact, to up to 10 addresses
/// through a provider, to check how it looks in real inboxes (marketers and
/// up). Test emails are marked `[Test]` and count in no results.
#[utoipa::path(post, path = "/api/v1/templates/{id}/test", tag = "templates", params(("id" = i64, Path)), request_body = TestSend,
    responses((status = 200, body = TestSent), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The SMTP server refused the message")))]
async fn test_send(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(t): ApiJson<TestSend>,
) -> ApiResult<Json<TestSent>> {
    Ok(Json(send::test_send(&s.db, &a, id, t, now_ms()).await?))
}
