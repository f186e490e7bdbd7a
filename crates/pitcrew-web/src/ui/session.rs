//! Signing in and out in the browser.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pitcrew_app::{admin, now_ms};
use serde::Deserialize;
use serde_json::json;

use super::view::{UiError, local_path, render};
use crate::AppState;
use crate::auth::{session_clear_cookie, session_cookie, session_set_cookie};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Deserialize, Default)]
struct Next {
    #[serde(default)]
    next: String,
}

fn login_form(email: &str, next: &str, error: Option<&str>) -> Result<Response, UiError> {
    let html = render(
        "login.html",
        &json!({"email": email, "next": local_path(next), "error": error}),
    )?;
    let status = if error.is_some() {
        axum::http::StatusCode::UNAUTHORIZED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Html(html)).into_response())
}

async fn login_page(Query(q): Query<Next>) -> Result<Response, UiError> {
    login_form("", &q.next, None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(s): State<AppState>,
    axum::Form(f): axum::Form<LoginForm>,
) -> Result<Response, UiError> {
    match admin::login(&s.db, &f.email, &f.password, None, now_ms()).await {
        Ok(session) => {
            let cookie = session_set_cookie(&session.token, s.secure_cookies);
            Ok((
                [(header::SET_COOKIE, cookie)],
                Redirect::to(local_path(&f.next)),
            )
                .into_response())
        }
        Err(e) => login_form(f.email.trim(), &f.next, Some(&e.message)),
    }
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, UiError> {
    if let Some(session) = session_cookie(&headers) {
        admin::logout(&s.db, session).await?;
    }
    Ok((
        [(header::SET_COOKIE, session_clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response())
}
