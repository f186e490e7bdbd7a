//! The stylesheet, script and vendored libraries (htmx, Chart.js), served
//! from the binary at `/assets/…`. Names carry a version, so browsers may
//! keep them for a long time.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::view::Files;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/assets/{*name}", get(asset))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

async fn asset(Path(name): Path<String>) -> Response {
    match Files::get(&format!("assets/{name}")) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, content_type(&name)),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
