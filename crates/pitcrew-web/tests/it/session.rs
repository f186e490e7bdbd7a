//! Signing in with a password: the session cookie, what it allows, and how
//! it ends.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{PASSWORD, World, world};

async fn login(
    w: &World,
    email: &str,
    password: &str,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let reply = w
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
    let cookie = reply
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (reply.status, cookie, reply.json)
}

fn with_cookie(
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let pair = cookie.split(';').next().expect("cookie pair");
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, pair)
        .header(header::HOST, "pitcrew.example");
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    req.body(body).expect("request")
}

#[tokio::test]
async fn signing_in_sets_a_safe_cookie_that_identifies_the_member() {
    for t in pitcrew_testkit::each_engine().await {
        let w = world(t).await;
        let (status, cookie, me) = login(&w, " Marketer@Acme.test ", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        let cookie = cookie.expect("cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert_eq!(me["role"], "marketer");
        assert_eq!(me["workspace"]["slug"], "acme");
        let reply = w
            .send(with_cookie(Method::GET, "/api/v1/me", &cookie, None))
            .await;
        assert_eq!(reply.json["name"], "marketer@acme.test");
        let created = w
            .send(with_cookie(
                Method::POST,
                "/api/v1/contacts",
                &cookie,
                Some(json!({"fields": {"first_name": "Grace"}})),
            ))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let (s1, c1, j1) = login(&w, "marketer@acme.test", "wrong password!").await;
    let (s2, c2, j2) = login(&w, "nobody@acme.test", "wrong password!").await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert!(c1.is_none() && c2.is_none());
    assert_eq!(j1, j2);
    assert_eq!(j1["error"]["code"], "invalid_credentials");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let (_, cookie, _) = login(&w, "viewer@acme.test", PASSWORD).await;
    let cookie = cookie.expect("cookie");
    let out = w
        .send(with_cookie(
            Method::POST,
            "/api/v1/auth/logout",
            &cookie,
            None,
        ))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = w
        .send(with_cookie(Method::GET, "/api/v1/me", &cookie, None))
        .await;
    assert_eq!(
        (after.status, after.code()),
        (StatusCode::UNAUTHORIZED, "session_expired")
    );
}

#[tokio::test]
async fn a_cookie_cannot_be_used_for_changes_from_another_site() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let (_, cookie, _) = login(&w, "owner@acme.test", PASSWORD).await;
    let cookie = cookie.expect("cookie");
    let mut req = with_cookie(
        Method::POST,
        "/api/v1/contacts",
        &cookie,
        Some(json!({"fields": {"first_name": "Eve"}})),
    );
    req.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("header"),
    );
    let reply = w.send(req).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "cross_site_request")
    );
    let mut req = with_cookie(
        Method::POST,
        "/api/v1/contacts",
        &cookie,
        Some(json!({"fields": {"first_name": "Ok"}})),
    );
    req.headers_mut().insert(
        header::ORIGIN,
        "http://pitcrew.example".parse().expect("header"),
    );
    assert_eq!(
        w.send(req).await.status,
        StatusCode::CREATED,
        "same-origin changes pass"
    );
}

#[tokio::test]
async fn changing_the_password_signs_the_member_out_everywhere() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let (_, cookie, _) = login(&w, "builder@acme.test", PASSWORD).await;
    let cookie = cookie.expect("cookie");
    let reply = w
        .send(with_cookie(
            Method::PUT,
            "/api/v1/me/password",
            &cookie,
            Some(json!({"current_password": PASSWORD, "new_password": "short"})),
        ))
        .await;
    assert_eq!(reply.code(), "password_too_short");
    let reply = w.send(with_cookie(Method::PUT, "/api/v1/me/password", &cookie, Some(json!({"current_password": "guess-guess-guess", "new_password": "a brand new passphrase"})))).await;
    assert_eq!(reply.code(), "password_wrong");
    let reply = w
        .send(with_cookie(
            Method::PUT,
            "/api/v1/me/password",
            &cookie,
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let after = w
        .send(with_cookie(Method::GET, "/api/v1/me", &cookie, None))
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&w, "builder@acme.test", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&w, "builder@acme.test", "a brand new passphrase")
            .await
            .0,
        StatusCode::OK
    );
}
