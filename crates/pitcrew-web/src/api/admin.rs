//! `/api/v1/auth`, `/api/v1/me`, `/api/v1/users`, `/api/v1/tokens` and
//! `/api/v1/audit`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pitcrew_app::admin::{self as uc, CreatedToken, NewMember, NewTokenRequest};
use pitcrew_app::audit::{self, AuditParams};
use pitcrew_app::now_ms;
use pitcrew_core::admin::{ApiToken, AuditEntry, Member, Role, Workspace};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, session_clear_cookie, session_cookie, session_set_cookie};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(list_users, add_user))
        .routes(routes!(update_user, remove_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_audit))
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
    /// The workspace's slug; the user's first workspace when absent.
    workspace: Option<String>,
}

/// Who the caller is and where.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Me {
    user_id: Option<i64>,
    /// The member's email, or `token:<name>` when calling with a token.
    name: String,
    role: Role,
    workspace: Workspace,
    /// The id of the API token in use, if any.
    token_id: Option<i64>,
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = Me), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn login(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let session = uc::login(
        &s.db,
        &req.email,
        &req.password,
        req.workspace.as_deref(),
        now_ms(),
    )
    .await?;
    let cookie = session_set_cookie(&session.token, s.secure_cookies);
    let me = Me {
        user_id: session.actor.user_id,
        name: session.actor.label.clone(),
        role: session.actor.role,
        workspace: session.workspace,
        token_id: None,
    };
    let mut response = Json(me).into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "could not set the session cookie",
        )
    })?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// End the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(()), responses((status = 204)))]
async fn logout(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(session) = session_cookie(&headers) {
        uc::logout(&s.db, session).await?;
    }
    let expired = session_clear_cookie();
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response())
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Me>> {
    let workspace = uc::workspace(&s.db, &a).await?;
    Ok(Json(Me {
        user_id: a.user_id,
        name: a.label.clone(),
        role: a.role,
        workspace,
        token_id: a.token_id,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    /// At least 10 characters.
    new_password: String,
}

/// Change your own password; every session of yours ends.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn change_password(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    uc::change_password(
        &s.db,
        &a,
        &req.current_password,
        &req.new_password,
        now_ms(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members of the workspace.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody)))]
async fn list_users(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(uc::list_members(&s.db, &a).await?))
}

/// Add a member (admins): a new person with a first password, or an existing pitcrew user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewMember,
    responses((status = 201, body = Member), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewMember>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::add_member(&s.db, &a, new, now_ms()).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: Role,
}

/// Change a member's role (admins; only owners make owners).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = RoleChange,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RoleChange>,
) -> ApiResult<Json<Member>> {
    Ok(Json(uc::set_role(&s.db, &a, id, req.role, now_ms()).await?))
}

/// Remove a member; their sessions end and their tokens are revoked.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::remove_member(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API tokens: all of the workspace's for admins, your own otherwise.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody)))]
async fn list_tokens(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(uc::list_tokens(&s.db, &a).await?))
}

/// Create an API token acting for you. The secret is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::create_token(&s.db, &a, req, now_ms()).await?),
    ))
}

/// Revoke a token at once (your own, or any as an admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::revoke_token(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_audit(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    Ok(Json(audit::list(&s.db, &a, p).await?))
}
