//! `/api/v1/health`: the data health report of the caller's workspace.

use axum::Json;
use axum::extract::State;
use pitcrew_app::health::{self as uc, HealthParams, HealthReport};
use pitcrew_app::now_ms;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(health_report))
}

/// How healthy the workspace's contacts or accounts are: invalid and
/// role-based emails, likely duplicates, missing required values, values
/// outside picklists or no longer valid, countries and phones not in their
/// normal form, stale records — each check with its count, the first ids
/// behind it and a few samples. Every check is listed, also when it finds
/// nothing.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", params(HealthParams),
    responses((status = 200, body = HealthReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn health_report(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<HealthParams>,
) -> Result<Json<HealthReport>, ApiError> {
    Ok(Json(uc::report(&s.db, &a, p, now_ms()).await?))
}
