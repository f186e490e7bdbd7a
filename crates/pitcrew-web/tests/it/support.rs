//! A workspace with one member (and API token) per role, a second workspace
//! to prove isolation, and a helper that sends requests through the router.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use pitcrew_app::{Actor, admin};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_testkit::TestDb;
use pitcrew_web::AppState;
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct-horse-battery";
pub const NOW: i64 = 1_795_000_000_000;

pub struct World {
    pub t: TestDb,
    pub app: Router,
    pub ws: Workspace,
    /// API token secret per role in `ws`.
    pub tokens: HashMap<Role, String>,
    pub actors: HashMap<Role, Actor>,
    /// The owner's token of a second workspace.
    pub other: String,
    pub other_ws: Workspace,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

pub async fn member_with_token(
    db: &pitcrew_app::Db,
    ws: &Workspace,
    email: &str,
    role: Role,
) -> (Actor, String) {
    let m = admin::upsert_user(db, ws, email, "", PASSWORD, role, NOW)
        .await
        .expect("member");
    let actor = Actor {
        workspace_id: ws.id,
        user_id: Some(m.user_id),
        token_id: None,
        role,
        label: m.email,
    };
    let token = admin::create_token(
        db,
        &actor,
        admin::NewTokenRequest {
            name: format!("{role} token"),
            role: None,
        },
        NOW,
    )
    .await
    .expect("token");
    (actor, token.secret)
}

pub async fn world(t: TestDb) -> World {
    let db = t.db.clone();
    let ws = admin::create_workspace(&db, "acme", "Acme", NOW)
        .await
        .expect("workspace");
    let mut tokens = HashMap::new();
    let mut actors = HashMap::new();
    for role in Role::ALL {
        let (actor, token) = member_with_token(&db, &ws, &format!("{role}@acme.test"), role).await;
        tokens.insert(role, token);
        actors.insert(role, actor);
    }
    let other_ws = admin::create_workspace(&db, "globex", "Globex", NOW)
        .await
        .expect("workspace");
    let (_, other) = member_with_token(&db, &other_ws, "owner@globex.test", Role::Owner).await;
    let app = pitcrew_web::router(AppState::new(
        db,
        false,
        "a-test-secret-key-of-at-least-32-chars",
    ));
    World {
        t,
        app,
        ws,
        tokens,
        actors,
        other,
        other_ws,
    }
}

impl World {
    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).expect("request")).await
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            json,
        }
    }
}

/// Run `f` once per available engine.
#[macro_export]
macro_rules! on_each_engine {
    (|$w:ident| $body:expr) => {
        for t in pitcrew_testkit::each_engine().await {
            let engine = t.engine();
            let $w = $crate::support::world(t).await;
            let _ = engine;
            $body
        }
    };
}

/// A member signed in through the web app's sign-in page, as a browser
/// would be: the session cookie and the anti-forgery token its pages carry.
pub struct Visitor {
    pub cookie: String,
    pub csrf: String,
}

/// A web page's answer.
pub struct Html {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Html {
    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl World {
    /// Sends a request to the web app and reads its page.
    pub async fn html(&self, req: Request<Body>) -> Html {
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        Html {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Signs `role`'s member in at `/login` and reads the token from a page.
    pub async fn sign_in(&self, role: Role) -> Visitor {
        self.sign_in_as(&format!("{role}@acme.test")).await
    }

    /// Signs a member in by email (password `PASSWORD`).
    pub async fn sign_in_as(&self, email: &str) -> Visitor {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .append_pair("password", PASSWORD)
            .append_pair("next", "/")
            .finish();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("response");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email} signs in");
        let cookie = res
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string();
        let mut v = Visitor {
            cookie,
            csrf: String::new(),
        };
        let home = self.page(&v, Method::GET, "/", &[]).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        let marker = "<meta name=\"csrf-token\" content=\"";
        let at = home.body.find(marker).expect("token on the page") + marker.len();
        let len = home.body[at..].find('"').expect("end of token");
        v.csrf = home.body[at..at + len].to_string();
        v
    }

    /// A page request as `v`: GET, or a form post (with `_csrf` added) for
    /// any other method.
    pub async fn page(
        &self,
        v: &Visitor,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> Html {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::COOKIE, &v.cookie);
        let body = if method == Method::GET {
            Body::empty()
        } else {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let mut enc = url::form_urlencoded::Serializer::new(String::new());
            enc.append_pair("_csrf", &v.csrf);
            for (k, val) in form {
                enc.append_pair(k, val);
            }
            Body::from(enc.finish())
        };
        self.html(req.body(body).expect("request")).await
    }
}
