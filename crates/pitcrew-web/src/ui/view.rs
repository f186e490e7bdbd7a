//! What every page shares: the signed-in viewer, the page templates and
//! the layout around them, and the errors a page can end in.
//!
//! Templates live in `ui/templates/` and are embedded in the binary. A
//! page template renders only its own content; `Viewer::page` puts it in
//! the layout (navigation, who is signed in), and `Viewer::fragment`
//! renders a piece on its own for htmx to swap in. Composing in Rust keeps
//! minijinja's include/extends off, as the email sandbox requires.

use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, Value};
use pitcrew_app::{Actor, AppError, ErrorKind, admin, now_ms, secret};
use pitcrew_core::admin::{Action, Role};
use serde::Serialize;
use serde_json::{Map, json};

use crate::AppState;
use crate::auth::session_cookie;

/// The page templates, the stylesheet, the script and the vendored
/// front-end libraries.
#[derive(rust_embed::Embed)]
#[folder = "ui/"]
pub(crate) struct Files;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_loader(|name| {
        Ok(Files::get(&format!("templates/{name}"))
            .map(|f| String::from_utf8_lossy(&f.data).into_owned()))
    });
    env.add_filter("number", number);
    env.add_filter("when", when);
    env
});

/// `12345` → `12,345`: whole numbers are easier to read grouped.
pub(crate) fn number(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

/// An RFC 3339 time (as the use cases give them) shown as `2026-11-23 14:05 UTC`.
fn when(v: String) -> String {
    match v.split_once('T') {
        Some((date, time)) if time.len() >= 5 => format!("{date} {} UTC", &time[..5]),
        _ => v,
    }
}

/// Renders one template with a context.
pub(crate) fn render(name: &str, ctx: &impl Serialize) -> Result<String, UiError> {
    let template = TEMPLATES
        .get_template(name)
        .map_err(|e| UiError::internal(format!("page template {name}: {e:#}")))?;
    template
        .render(Value::from(minijinja::value::Serde(ctx)))
        .map_err(|e| UiError::internal(format!("page template {name}: {e:#}")))
}

/// One entry of the left navigation.
#[derive(Serialize)]
struct NavItem {
    label: &'static str,
    href: &'static str,
    current: bool,
}

#[derive(Serialize)]
struct NavSection {
    label: &'static str,
    items: Vec<NavItem>,
}

/// The parts of pitcrew built so far, and the pages of each a role may
/// open. Parts not built yet are absent, not dead links.
fn navigation(role: Role, section: &str) -> Vec<NavSection> {
    let item = |label, href, key: &str| NavItem {
        label,
        href,
        current: key == section,
    };
    let mut record = vec![
        item("People", "/people", "people"),
        item("Accounts", "/accounts", "accounts"),
        item("Data model", "/fields", "fields"),
    ];
    // Importing writes records; the history is for those who may import.
    if role.can(Action::WriteRecords) {
        record.push(item("Imports", "/imports", "imports"));
    }
    record.push(item("Data health", "/health", "health"));
    let mut parts = vec![
        NavSection {
            label: "Record",
            items: record,
        },
        NavSection {
            label: "Audiences",
            items: vec![item("Segments", "/segments", "segments")],
        },
        NavSection {
            label: "Campaigns",
            items: vec![item("Broadcasts", "/broadcasts", "broadcasts")],
        },
    ];
    if role.can(Action::ReadAudit) {
        parts.push(NavSection {
            label: "Admin",
            items: vec![item("Audit log", "/audit", "audit")],
        });
    }
    parts
}

/// The person signed in through the browser, on a page request.
pub(crate) struct Viewer {
    pub actor: Actor,
    pub workspace: String,
    /// The anti-forgery token every form and htmx request of this session carries.
    pub csrf: String,
    /// The request came from htmx (it wants a fragment, not a page).
    pub htmx: bool,
}

/// The anti-forgery token of a session: derived from the session's secret
/// id, so another site can neither read nor guess it.
pub(crate) fn csrf_token(session: &str) -> String {
    secret::sha256_hex(&format!("pitcrew-csrf:{session}"))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let htmx = is_htmx(&parts.headers);
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let Some(session) = session_cookie(&parts.headers) else {
            return Err(UiError::SignIn { next, htmx });
        };
        let Some(actor) = admin::session_actor(&state.db, session, now_ms()).await? else {
            return Err(UiError::SignIn { next, htmx });
        };
        let workspace = admin::workspace(&state.db, &actor).await?.name;
        Ok(Viewer {
            csrf: csrf_token(session),
            actor,
            workspace,
            htmx,
        })
    }
}

pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// What a page is called and where it sits in the navigation.
pub(crate) struct PageMeta<'a> {
    pub title: &'a str,
    /// The navigation key of the page's part, e.g. `people`.
    pub section: &'a str,
}

impl Viewer {
    /// Whether the viewer's role allows `action` (to show or hide a button;
    /// the use case checks again).
    pub fn can(&self, action: Action) -> bool {
        self.actor.role.can(action)
    }

    /// The context every template sees: who is signed in, what they may
    /// do, and the anti-forgery token.
    fn common(&self) -> Map<String, serde_json::Value> {
        let can = |a| json!(self.can(a));
        let mut m = Map::new();
        m.insert(
            "me".into(),
            json!({
                "name": self.actor.label,
                "role": self.actor.role,
                "workspace": self.workspace,
            }),
        );
        m.insert("csrf".into(), json!(self.csrf));
        m.insert(
            "can".into(),
            json!({
                "write_records": can(Action::WriteRecords),
                "delete_records": can(Action::DeleteRecords),
                "manage_fields": can(Action::ManageFields),
                "manage_segments": can(Action::ManageSegments),
                "manage_campaigns": can(Action::ManageCampaigns),
                "manage_consent": can(Action::ManageConsent),
                "approve": can(Action::ApproveBroadcasts),
                "manage_sending": can(Action::ManageSending),
                "read_audit": can(Action::ReadAudit),
            }),
        );
        m
    }

    /// The context of a template: the page's own values (an object) plus
    /// the common ones.
    fn context(&self, ctx: serde_json::Value) -> serde_json::Value {
        let mut m = self.common();
        if let serde_json::Value::Object(own) = ctx {
            m.extend(own);
        }
        serde_json::Value::Object(m)
    }

    /// A whole page: `template` rendered with `ctx`, inside the layout.
    pub fn page(
        &self,
        meta: PageMeta<'_>,
        template: &str,
        ctx: serde_json::Value,
    ) -> Result<Response, UiError> {
        let body = render(template, &self.context(ctx))?;
        self.layout(meta, &body)
    }

    /// A piece of a page for htmx to swap in: `template` rendered alone.
    pub fn fragment(&self, template: &str, ctx: serde_json::Value) -> Result<Response, UiError> {
        Ok(Html(render(template, &self.context(ctx))?).into_response())
    }

    fn layout(&self, meta: PageMeta<'_>, body: &str) -> Result<Response, UiError> {
        let mut ctx = self.common();
        ctx.insert("title".into(), json!(meta.title));
        ctx.insert(
            "nav".into(),
            json!(navigation(self.actor.role, meta.section)),
        );
        ctx.insert("content".into(), json!(body));
        let html = render("layout.html", &serde_json::Value::Object(ctx))?;
        Ok(Html(html).into_response())
    }
}

/// How a page request can end other than with its page.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Not signed in (or the session ended): off to the sign-in page, and
    /// back to `next` afterwards.
    SignIn { next: String, htmx: bool },
    /// A use case refused or failed.
    App(AppError),
}

impl UiError {
    pub fn internal(message: impl Into<String>) -> UiError {
        UiError::App(AppError::internal(message))
    }
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> UiError {
        UiError::App(e)
    }
}

impl From<pitcrew_store::StoreError> for UiError {
    fn from(e: pitcrew_store::StoreError) -> UiError {
        UiError::App(e.into())
    }
}

pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Where to go after signing in: only a path on this site.
pub(crate) fn local_path(next: &str) -> &str {
    let safe = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if safe { next } else { "/" }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next, htmx } => {
                let to = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(local_path(&next).as_bytes())
                        .collect::<String>()
                );
                if htmx {
                    // htmx follows this header with a full page load.
                    let mut r = StatusCode::NO_CONTENT.into_response();
                    if let Ok(v) = HeaderValue::from_str(&to) {
                        r.headers_mut().insert("hx-redirect", v);
                    }
                    return r;
                }
                Redirect::to(&to).into_response()
            }
            UiError::App(e) => {
                let status = status_of(e.kind);
                if status.is_server_error() {
                    tracing::error!(code = e.code, message = %e.message, "page failed");
                }
                let (heading, advice) = match e.kind {
                    ErrorKind::Forbidden => (
                        "You cannot open this",
                        "Your role does not allow it. Ask a workspace admin if you need it.",
                    ),
                    ErrorKind::NotFound => (
                        "Not found",
                        "It may have been deleted, or the link is wrong.",
                    ),
                    ErrorKind::Internal => (
                        "Something went wrong on our side",
                        "Try again in a moment. If it keeps happening, tell your admin what you were doing.",
                    ),
                    _ => ("That did not work", ""),
                };
                let message = if status.is_server_error() {
                    String::new()
                } else {
                    e.message
                };
                let ctx = json!({
                    "status": status.as_u16(),
                    "heading": heading,
                    "message": message,
                    "advice": advice,
                    "code": e.code,
                });
                let html = render("error.html", &ctx).unwrap_or_else(|_| heading.to_string());
                (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
            }
        }
    }
}

/// The problems of a refused form, by field name, for inline errors: the
/// use case's field (with a `fields.` prefix removed) or `form` when the
/// error names none.
pub(crate) fn form_errors(e: &AppError) -> serde_json::Value {
    let mut m = Map::new();
    for d in &e.details {
        m.insert(d.field.clone(), json!(d.message));
    }
    let field = e
        .field
        .as_deref()
        .map(|f| f.strip_prefix("fields.").unwrap_or(f))
        .unwrap_or("form");
    m.entry(field.to_string()).or_insert(json!(e.message));
    serde_json::Value::Object(m)
}

/// A page result: `Ok` renders, an invalid or conflicting input comes
/// back to the form with its errors, anything else is an error page.
pub(crate) type Page = Result<Response, UiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_in_thousands() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(-1234567), "-1,234,567");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/people?q=a"), "/people?q=a");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
    }

    #[test]
    fn every_template_parses() {
        for name in Files::iter().filter(|n| n.starts_with("templates/")) {
            let name = name.trim_start_matches("templates/");
            assert!(
                TEMPLATES.get_template(name).is_ok(),
                "{name}: {:?}",
                TEMPLATES.get_template(name).err()
            );
        }
    }
}
