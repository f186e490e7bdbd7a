//! Who is calling: an API token (`Authorization: Bearer pct_…`) or a
//! browser session cookie. Handlers take a `Caller` and pass its actor to
//! the use cases, which check the role.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use pitcrew_app::{Actor, admin, now_ms};

use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "pitcrew_session";

/// The `Set-Cookie` value that starts a browser session: not readable by
/// scripts, sent only by pitcrew's own pages' navigations and requests.
pub fn session_set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        pitcrew_app::admin::SESSION_DAYS * 86_400
    )
}

/// The `Set-Cookie` value that ends a browser session.
pub fn session_clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The authenticated caller of a request.
pub struct Caller(pub Actor);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// A cookie-authenticated change must come from pitcrew's own pages, not
/// from another site riding on the user's cookie.
pub(crate) fn cross_site(parts: &Parts) -> bool {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let site = parts
        .headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return true;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            origin_host != host
        }
        _ => false,
    }
}

fn unauthenticated(code: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = now_ms();
        if let Some(token) = bearer(&parts.headers) {
            return match admin::token_actor(&state.db, token, now).await? {
                Some(actor) => Ok(Caller(actor)),
                None => Err(unauthenticated(
                    "token_invalid",
                    "this API token is unknown or revoked; create a new one with `pitcrew token create` or in Settings",
                )),
            };
        }
        let Some(session) = session_cookie(&parts.headers) else {
            return Err(unauthenticated(
                "unauthenticated",
                "sign in first (POST /api/v1/auth/login), or send an API token as `Authorization: Bearer pct_…`",
            ));
        };
        let Some(actor) = admin::session_actor(&state.db, session, now).await? else {
            return Err(unauthenticated(
                "session_expired",
                "your session has ended; sign in again",
            ));
        };
        if cross_site(parts) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "this change came from another site and was refused; make it from pitcrew itself or with an API token",
            ));
        }
        Ok(Caller(actor))
    }
}
