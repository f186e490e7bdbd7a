//! The marketer's web app: server-rendered pages (minijinja) with htmx for
//! partial updates, served at `/`. Each part of pitcrew has its module of
//! pages; `view` holds what they share (the viewer, templates, layout,
//! errors). Pages call the same use cases as the API, which check roles.
//!
//! Every change a page makes (any method but GET and HEAD) must carry the
//! session's anti-forgery token, as the `X-CSRF-Token` header (htmx sends
//! it), a `_csrf` form field, or a `_csrf` query parameter (file uploads),
//! and must come from pitcrew's own pages.

mod accounts;
mod assets;
mod audit;
mod broadcasts;
mod fields;
mod health;
mod home;
mod imports;
mod people;
mod segments;
mod session;
pub(crate) mod view;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{cross_site, session_cookie};
use view::csrf_token;

/// Largest form (not file upload) read to find its anti-forgery field.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Every page of the web app.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(home::routes())
        .merge(people::routes())
        .merge(accounts::routes())
        .merge(fields::routes())
        .merge(imports::routes())
        .merge(health::routes())
        .merge(segments::routes())
        .merge(broadcasts::routes())
        .merge(audit::routes())
        .merge(session::routes())
        .layer(middleware::from_fn(guard))
        .merge(assets::routes())
}

fn refused(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::response::Html(format!(
            "<!doctype html><html lang=\"en\"><title>Refused</title><main><h1>Refused</h1><p>{message}</p><p><a href=\"/\">Back to pitcrew</a></p></main></html>"
        )),
    )
        .into_response()
}

/// Changes must come from pitcrew's own pages and carry the session's token.
async fn guard(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    if cross_site(&parts) {
        return refused("This change came from another site and was refused.");
    }
    // Signing in has no session yet; the cross-site check above covers it.
    let Some(session) = session_cookie(&parts.headers).map(str::to_string) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let expected = csrf_token(&session);
    let given_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let given_query = parts.uri.query().and_then(|q| field_of(q.as_bytes()));
    if given_header.as_deref() == Some(expected.as_str())
        || given_query.as_deref() == Some(expected.as_str())
    {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let is_form = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return refused(
            "The form had expired or was not sent by pitcrew. Reload the page and try again.",
        );
    }
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return refused("The form is too large.");
    };
    if field_of(&bytes).as_deref() != Some(expected.as_str()) {
        return refused(
            "The form had expired or was not sent by pitcrew. Reload the page and try again.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The `_csrf` value of a URL-encoded form or query.
fn field_of(encoded: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.into_owned())
}
