//! pitcrew-web: the HTTP face of pitcrew — the REST API under `/api/v1`,
//! its OpenAPI document, health and metrics.
//!
//! Handlers are thin: extract and parse, identify the caller, call one use
//! case in `pitcrew-app`, render. Permission checks live in the use cases;
//! this crate never touches SQL.

mod api;
pub mod auth;
pub mod error;
pub mod ingest;
mod ops;
mod public;
mod ui;

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pitcrew_app::Db;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Mark cookies `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// The workspace-independent key that signs links pitcrew sends out
    /// (tracking and unsubscribe links); shared by every process.
    pub secret_key: std::sync::Arc<str>,
    /// Size limits of the tracking API.
    pub ingest_limits: ingest::IngestLimits,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool, secret_key: &str) -> AppState {
        AppState {
            db,
            secure_cookies,
            secret_key: secret_key.into(),
            ingest_limits: ingest::IngestLimits::default(),
            metrics: metrics_handle(),
        }
    }
}

/// The process-wide Prometheus recorder (installed once).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by an embedding program); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pitcrew API",
        description = "The marketing operations platform's REST API. Authenticate with `Authorization: Bearer <token>` or a session cookie from `POST /api/v1/auth/login`. Every error answers `{\"error\": {\"code\", \"message\", \"field\", \"at\", \"details\"}}`."
    ),
    modifiers(&SecuritySchemes),
    security(("token" = []), ("session" = [])),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "write_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The source's write key as the username, an empty password",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// The API routes and their OpenAPI description, built together.
fn api(limits: ingest::IngestLimits) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi());
    let router = api::record::routes(router);
    let router = api::admin::routes(router);
    let router = api::events::routes(router);
    let router = api::import::routes(router);
    let router = api::health::routes(router);
    let router = api::audience::routes(router);
    let router = api::campaign::routes(router);
    let router = public::routes(router);
    let router = ops::documented(router);
    let router = ingest::routes(router, limits);
    router.split_for_parts()
}

/// The OpenAPI document of this build.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api(ingest::IngestLimits::default()).1
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api(state.ingest_limits);
    let doc = std::sync::Arc::new(doc);
    api.merge(ops::routes(doc))
        .merge(ui::routes())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(record_metrics))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            ops::panic_response,
        ))
        .with_state(state)
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("pitcrew_http_requests_total", &labels).increment(1);
    metrics::histogram!("pitcrew_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
