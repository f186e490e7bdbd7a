//! `/api/v1/topics` and `/api/v1/contacts/{id}/consent`: the subscription
//! topics people opt in to, and each person's opt-ins and opt-outs with
//! their proof (legal basis, source, wording) and current state.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pitcrew_app::campaign::consent::{
    self as uc, ConsentInput, ConsentRecord, DEFAULT_CHANNEL, Topic, TopicConsent, TopicPatch,
};
use pitcrew_app::now_ms;
use pitcrew_core::campaign::consent::ConsentSource;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_topics, create_topic))
        .routes(routes!(get_topic, update_topic, delete_topic))
        .routes(routes!(consent_state, record_consent))
        .routes(routes!(consent_history))
        .routes(routes!(unsubscribe_everything))
}

type ApiResult<T> = Result<T, ApiError>;

/// A new subscription topic.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTopic {
    /// What people choose, e.g. "Newsletter" or "Product updates".
    name: String,
    /// One line people read on the preference page.
    #[serde(default)]
    description: String,
}

/// A request to opt a person out of every topic.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EverythingOff {
    /// `email` unless given.
    #[serde(default = "email_channel")]
    channel: String,
    /// How the person asked: `admin` (by phone, in person…) unless given.
    #[serde(default = "by_admin")]
    source: ConsentSource,
}

fn email_channel() -> String {
    DEFAULT_CHANNEL.into()
}

fn by_admin() -> ConsentSource {
    ConsentSource::Admin
}

// ---- topics --------------------------------------------------------------------------

/// Every subscription topic, by name.
#[utoipa::path(get, path = "/api/v1/topics", tag = "consent",
    responses((status = 200, body = Vec<Topic>), (status = 401, body = ErrorBody)))]
async fn list_topics(State(s): State<AppState>, Caller(a): Caller) -> ApiResult<Json<Vec<Topic>>> {
    Ok(Json(uc::list_topics(&s.db, &a).await?))
}

/// Create a subscription topic people can opt in to, such as "Newsletter"
/// (marketers and up). Every broadcast belongs to one topic.
#[utoipa::path(post, path = "/api/v1/topics", tag = "consent", request_body = NewTopic,
    responses((status = 201, body = Topic), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A topic has this name")))]
async fn create_topic(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewTopic>,
) -> ApiResult<(StatusCode, Json<Topic>)> {
    let topic = uc::create_topic(&s.db, &a, &new.name, &new.description, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(topic)))
}

/// One subscription topic.
#[utoipa::path(get, path = "/api/v1/topics/{id}", tag = "consent", params(("id" = i64, Path)),
    responses((status = 200, body = Topic), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_topic(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Topic>> {
    Ok(Json(uc::get_topic(&s.db, &a, id).await?))
}

/// Change a topic's description, or its name while nothing refers to it yet
/// (consent history keeps a topic's name as proof).
#[utoipa::path(patch, path = "/api/v1/topics/{id}", tag = "consent", params(("id" = i64, Path)), request_body = TopicPatch,
    responses((status = 200, body = Topic), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The name is taken, or the topic is in use")))]
async fn update_topic(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<TopicPatch>,
) -> ApiResult<Json<Topic>> {
    Ok(Json(
        uc::update_topic(&s.db, &a, id, patch, now_ms()).await?,
    ))
}

/// Delete a topic nothing refers to: no segment, consent record,
/// suppression or broadcast.
#[utoipa::path(delete, path = "/api/v1/topics/{id}", tag = "consent", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The topic is in use; `details` says where")))]
async fn delete_topic(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_topic(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- a person's consent ------------------------------------------------------------------

/// What a person has currently chosen, per topic and channel.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent", tag = "consent", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TopicConsent>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_state(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<TopicConsent>>> {
    Ok(Json(uc::consent_state(&s.db, &a, id).await?))
}

/// Record a person's opt-in or opt-out for a topic, with the legal basis,
/// where it came from and the exact wording they agreed to (marketers and
/// up). Kept for good as proof of consent.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent", tag = "consent", params(("id" = i64, Path)), request_body = ConsentInput,
    responses((status = 201, body = ConsentRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn record_consent(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ConsentInput>,
) -> ApiResult<(StatusCode, Json<ConsentRecord>)> {
    let record = uc::record_consent(&s.db, &a, id, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Every opt-in and opt-out a person made, newest first: the consent proof.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent/history", tag = "consent", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ConsentRecord>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_history(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ConsentRecord>>> {
    Ok(Json(uc::consent_history(&s.db, &a, id).await?))
}

/// Opt a person out of every topic at once, when they ask by phone, by
/// letter or in person (marketers and up). Answers the opt-outs written;
/// none when they had already left everything.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent/unsubscribe-all", tag = "consent", params(("id" = i64, Path)),
    request_body = EverythingOff,
    responses((status = 200, body = Vec<ConsentRecord>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unsubscribe_everything(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(off): ApiJson<EverythingOff>,
) -> ApiResult<Json<Vec<ConsentRecord>>> {
    Ok(Json(
        uc::unsubscribe_everything(&s.db, &a, id, &off.channel, off.source, now_ms()).await?,
    ))
}
