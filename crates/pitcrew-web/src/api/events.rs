//! `/api/v1/sources`, a contact's events and identities, the event
//! catalogue, undeclared traits and the workspace's data-in settings.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pitcrew_app::audience;
use pitcrew_app::ingest::{self as uc, CreatedSource, Identities, IngestSettings, UnknownTraits};
use pitcrew_app::now_ms;
use pitcrew_core::event::{Event, EventType, Source, UndeclaredTrait};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_sources, create_source))
        .routes(routes!(revoke_source))
        .routes(routes!(contact_events))
        .routes(routes!(contact_identities))
        .routes(routes!(event_types))
        .routes(routes!(undeclared_traits))
        .routes(routes!(get_settings, update_settings))
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSource {
    /// Where events come from, e.g. "Website" or "Mobile app".
    name: String,
}

/// Event sources and their write keys (admins).
#[utoipa::path(get, path = "/api/v1/sources", tag = "sources",
    responses((status = 200, body = Vec<Source>), (status = 403, body = ErrorBody)))]
async fn list_sources(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<Source>>> {
    Ok(Json(uc::list_sources(&s.db, &a).await?))
}

/// Create a source; its write key is in this response only.
#[utoipa::path(post, path = "/api/v1/sources", tag = "sources", request_body = NewSource,
    responses((status = 201, body = CreatedSource), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_source(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewSource>,
) -> ApiResult<(StatusCode, Json<CreatedSource>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::create_source(&s.db, &a, &new.name, now_ms()).await?),
    ))
}

/// Revoke a source's write key at once; its events stay.
#[utoipa::path(delete, path = "/api/v1/sources/{id}", tag = "sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_source(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::revoke_source(&s.db, &a, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct TimelineParams {
    /// Only events older than this event id (the next page).
    before: Option<i64>,
    /// 1 to 500; default 50.
    limit: Option<i64>,
}

/// A contact's timeline: their events, newest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/events", tag = "contacts", params(("id" = i64, Path), TimelineParams),
    responses((status = 200, body = Vec<Event>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn contact_events(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<TimelineParams>,
) -> ApiResult<Json<Vec<Event>>> {
    Ok(Json(
        uc::timeline(&s.db, &a, id, p.before, p.limit.unwrap_or(50)).await?,
    ))
}

/// How a contact is known: user and anonymous ids, merges, undeclared traits.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/identities", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Identities), (status = 404, body = ErrorBody)))]
async fn contact_identities(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Identities>> {
    Ok(Json(uc::identities(&s.db, &a, id).await?))
}

/// The event catalogue: every event name seen, with counts, first and last
/// seen, and the property keys it carried.
#[utoipa::path(get, path = "/api/v1/event-types", tag = "events",
    responses((status = 200, body = Vec<EventType>), (status = 401, body = ErrorBody)))]
async fn event_types(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<EventType>>> {
    Ok(Json(uc::event_types(&s.db, &a).await?))
}

/// Trait keys sent that have no field in the data model, kept or refused.
#[utoipa::path(get, path = "/api/v1/undeclared-traits", tag = "events",
    responses((status = 200, body = Vec<UndeclaredTrait>), (status = 401, body = ErrorBody)))]
async fn undeclared_traits(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<Vec<UndeclaredTrait>>> {
    Ok(Json(uc::undeclared_traits(&s.db, &a).await?))
}

/// The workspace's settings: how data coming in is treated, and the time
/// zone conditions are evaluated in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WorkspaceSettings {
    #[serde(flatten)]
    ingest: IngestSettings,
    /// The IANA time zone that "today", dates and date windows of segment
    /// conditions are read in, e.g. `Europe/Berlin`; `UTC` unless set.
    timezone: String,
}

/// New settings; an absent `timezone` leaves the time zone as it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    #[serde(default)]
    unknown_traits: UnknownTraits,
    /// An IANA time zone name such as `Europe/Berlin`.
    timezone: Option<String>,
}

/// How data coming in is treated (e.g. unknown traits: keep or reject) and
/// the time zone of segment conditions.
#[utoipa::path(get, path = "/api/v1/settings", tag = "sources",
    responses((status = 200, body = WorkspaceSettings), (status = 401, body = ErrorBody)))]
async fn get_settings(
    State(s): State<AppState>,
    Caller(a): Caller,
) -> ApiResult<Json<WorkspaceSettings>> {
    Ok(Json(WorkspaceSettings {
        ingest: uc::settings(&s.db, &a).await?,
        timezone: audience::timezone(&s.db, &a).await?,
    }))
}

/// Change how data coming in is treated and the time zone (admins).
#[utoipa::path(put, path = "/api/v1/settings", tag = "sources", request_body = SettingsChange,
    responses((status = 200, body = WorkspaceSettings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_settings(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<SettingsChange>,
) -> ApiResult<Json<WorkspaceSettings>> {
    let now = now_ms();
    // The time zone first: it is the part that can be refused as invalid,
    // and then nothing has changed.
    let timezone = match new.timezone.as_deref() {
        Some(name) => audience::set_timezone(&s.db, &a, name, now).await?,
        None => audience::timezone(&s.db, &a).await?,
    };
    let ingest = IngestSettings {
        unknown_traits: new.unknown_traits,
    };
    Ok(Json(WorkspaceSettings {
        ingest: uc::set_settings(&s.db, &a, ingest, now).await?,
        timezone,
    }))
}
