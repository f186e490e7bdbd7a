//! `/api/v1/providers` and `/api/v1/sending/*`: the SMTP servers email goes
//! out through (their passwords are never shown), the workspace's sending
//! rules (postal address, public address, caps, quiet hours, consent
//! policy, approval threshold) and its DKIM key (never shown either).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pitcrew_app::campaign::provider::{self as uc, DkimInput, DkimView, Provider, ProviderInput};
use pitcrew_app::now_ms;
use pitcrew_core::campaign::guardrail::SendingRules;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_providers, create_provider))
        .routes(routes!(get_provider, update_provider, delete_provider))
        .routes(routes!(sending_rules, set_sending_rules))
        .routes(routes!(dkim, set_dkim))
}

type ApiResult<T> = Result<T, ApiError>;

// ---- providers -------------------------------------------------------------------------

/// The SMTP servers this workspace can send through, without their passwords.
#[utoipa::path(get, path = "/api/v1/providers", tag = "sending",
    responses((status = 200, body = Vec<Provider>), (status = 401, body = ErrorBody)))]
async fn list_providers(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<Provider>>> {
    Ok(Json(uc::list_providers(&s.db, &a).await?))
}

/// Add an SMTP server to send through, with its speed limits (admins).
/// The password is stored and never shown again.
#[utoipa::path(post, path = "/api/v1/providers", tag = "sending", request_body = ProviderInput,
    responses((status = 201, body = Provider), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A provider has this name")))]
async fn create_provider(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<(StatusCode, Json<Provider>)> {
    let provider = uc::create_provider(&s.db, &a, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(provider)))
}

/// One SMTP server, without its password.
#[utoipa::path(get, path = "/api/v1/providers/{id}", tag = "sending", params(("id" = i64, Path)),
    responses((status = 200, body = Provider), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_provider(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Provider>> {
    Ok(Json(uc::get_provider(&s.db, &a, id).await?))
}

/// Replace an SMTP server's settings (admins); leave `password` out to keep
/// the stored one.
#[utoipa::path(put, path = "/api/v1/providers/{id}", tag = "sending", params(("id" = i64, Path)), request_body = ProviderInput,
    responses((status = 200, body = Provider), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_provider(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<Json<Provider>> {
    Ok(Json(
        uc::update_provider(&s.db, &a, id, input, now_ms()).await?,
    ))
}

/// Remove an SMTP server (admins).
#[utoipa::path(delete, path = "/api/v1/providers/{id}", tag = "sending", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_provider(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_provider(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- rules and DKIM ----------------------------------------------------------------------

/// The rules every send obeys: the postal address shown in each email, the
/// public address links point at, the unsubscribe mailbox, the audience size
/// that needs an admin's approval, the frequency cap, quiet hours, the soft
/// bounce limit and which legal bases allow marketing email per country.
#[utoipa::path(get, path = "/api/v1/sending/rules", tag = "sending",
    responses((status = 200, body = SendingRules), (status = 401, body = ErrorBody)))]
async fn sending_rules(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<SendingRules>> {
    Ok(Json(uc::sending_rules(&s.db, &a).await?))
}

/// Replace the sending rules (admins); members left out take their defaults.
#[utoipa::path(put, path = "/api/v1/sending/rules", tag = "sending", request_body = SendingRules,
    responses((status = 200, body = SendingRules), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_sending_rules(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(rules): ApiJson<SendingRules>,
) -> ApiResult<Json<SendingRules>> {
    Ok(Json(
        uc::set_sending_rules(&s.db, &a, rules, now_ms()).await?,
    ))
}

/// Whether emails are DKIM-signed, and with which domain and selector (the
/// key itself is never shown).
#[utoipa::path(get, path = "/api/v1/sending/dkim", tag = "sending",
    responses((status = 200, body = DkimView), (status = 401, body = ErrorBody)))]
async fn dkim(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<DkimView>> {
    Ok(Json(uc::dkim(&s.db, &a).await?))
}

/// Set the key emails are DKIM-signed with (admins): the domain, the
/// selector of its DNS record and the private key in PEM form.
#[utoipa::path(put, path = "/api/v1/sending/dkim", tag = "sending", request_body = DkimInput,
    responses((status = 200, body = DkimView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_dkim(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<DkimInput>,
) -> ApiResult<Json<DkimView>> {
    Ok(Json(uc::set_dkim(&s.db, &a, input, now_ms()).await?))
}
