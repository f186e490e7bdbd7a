//! The pages and redirects people reach from an email, without signing in:
//! the open pixel, tracked links, the one-click unsubscribe (RFC 8058) and
//! the preference center. The signed token in the path is the only
//! credential; these answers never set a cookie and never say anything
//! about the person beyond their masked address.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use pitcrew_app::campaign::feedback::{self, Preferences, TopicChoice};
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::campaign::consent::ConsentSource;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(open))
        .routes(routes!(click))
        .routes(routes!(confirm_unsubscribe, unsubscribe))
        .routes(routes!(preferences, save_preferences))
}

/// A transparent GIF of one pixel.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Pages load nothing from anywhere and post only to themselves.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const PAGE: &str = "page.html";

/// The page template, parsed once. Its name ends in `.html`, so every
/// value is HTML-escaped.
static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    if let Err(e) = env.add_template(PAGE, include_str!("public/page.html")) {
        // Only a broken build gets here; the unit tests render every page.
        tracing::error!(error = %e, "the public page template does not parse");
    }
    env
});

// ---- pages ------------------------------------------------------------------------------

/// Which page to show, with what it needs.
#[derive(Debug, Default, Serialize)]
struct Page<'a> {
    /// `confirm`, `unsubscribed`, `preferences`, `broken` or `failed`.
    page: &'a str,
    title: &'a str,
    /// The topic the email belonged to.
    topic: &'a str,
    /// The masked address.
    email: &'a str,
    /// The preference center, relative to an unsubscribe page.
    preferences: String,
    topics: &'a [TopicChoice],
    saved: bool,
    /// What a person agrees to on the preference center, as recorded.
    wording: &'a str,
}

/// Headers every page and redirect carries: nothing cached, indexed or
/// passed on in `Referer` (the token is in the address).
fn private_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h
}

fn render(status: StatusCode, page: &Page<'_>) -> Response {
    let html = PAGES
        .get_template(PAGE)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(page))));
    let (status, html) = match html {
        Ok(html) => (status, html),
        Err(e) => {
            tracing::error!(error = %e, page = page.page, "a public page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><html lang=\"en\"><title>Something went wrong</title><h1>Something went wrong</h1><p>Please try again in a few minutes.</p></html>".to_string(),
            )
        }
    };
    let mut headers = private_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    (status, headers, html).into_response()
}

fn broken() -> Response {
    let page = Page {
        page: "broken",
        title: "This link is broken",
        ..Page::default()
    };
    render(StatusCode::NOT_FOUND, &page)
}

fn failed(status: StatusCode) -> Response {
    let page = Page {
        page: "failed",
        title: "Something went wrong",
        ..Page::default()
    };
    render(status, &page)
}

/// The page for a use-case error: a bad token is a broken link; anything
/// else is logged and shown as a failure that changed nothing.
fn error_page(e: &AppError) -> Response {
    match e.kind {
        ErrorKind::NotFound => broken(),
        ErrorKind::Invalid => {
            tracing::warn!(code = e.code, error = %e.message, "a public request was refused");
            failed(StatusCode::BAD_REQUEST)
        }
        _ => {
            tracing::error!(code = e.code, error = %e.message, "a public request failed");
            failed(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The preference center's address as seen from `/u/{token}`.
fn preferences_link(token: &str) -> String {
    format!("{token}/preferences")
}

fn preferences_page(p: &Preferences, saved: bool) -> Response {
    let page = Page {
        page: "preferences",
        title: "Your email preferences",
        email: &p.email,
        topics: &p.topics,
        saved,
        wording: feedback::PREFERENCES_WORDING,
        ..Page::default()
    };
    render(StatusCode::OK, &page)
}

// ---- tracking ------------------------------------------------------------------------------

fn pixel() -> Response {
    let mut headers = private_headers();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    (StatusCode::OK, headers, PIXEL).into_response()
}

/// The open-tracking pixel: always a transparent 1×1 GIF, never cached. The
/// open is recorded only when the token is genuine; a broken one still gets
/// the image, so no error ever shows inside an email.
#[utoipa::path(get, path = "/t/o/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    responses((status = 200, content_type = "image/gif", description = "A transparent 1×1 GIF")))]
async fn open(State(s): State<AppState>, token: Result<Path<String>, PathRejection>) -> Response {
    if let Ok(Path(token)) = token
        && let Err(e) = feedback::open(&s.db, &token, now_ms()).await
        && e.kind != ErrorKind::NotFound
    {
        tracing::error!(code = e.code, error = %e.message, "an email open was not recorded");
    }
    pixel()
}

/// A tracked link from an email: records the click, then redirects to the
/// link's address, which is part of the signed token (never taken from the
/// request, so nobody can borrow it to redirect elsewhere). A broken token
/// answers a small page saying so.
#[utoipa::path(get, path = "/t/c/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    responses((status = 302, description = "To the link's address, with its UTM parameters"),
        (status = 404, content_type = "text/html", description = "The link is broken")))]
async fn click(State(s): State<AppState>, token: Result<Path<String>, PathRejection>) -> Response {
    let Ok(Path(token)) = token else {
        return broken();
    };
    let url = match feedback::click(&s.db, &token, now_ms()).await {
        Ok(url) => url,
        Err(e) => return error_page(&e),
    };
    // A header carries ASCII only: a parsed URL writes itself so
    // (punycode host, percent-encoded path and query).
    let location = url::Url::parse(&url).map_or(url, String::from);
    let Ok(location) = HeaderValue::from_str(&location) else {
        tracing::warn!("a signed link's address cannot be sent as a header");
        return broken();
    };
    let mut headers = private_headers();
    headers.insert(header::LOCATION, location);
    (StatusCode::FOUND, headers).into_response()
}

// ---- unsubscribe and preferences -------------------------------------------------------------

/// The unsubscribe page: asks "Unsubscribe from <topic>?" with a button,
/// and links to the preference center. Opening it changes nothing, so link
/// scanners that fetch every link never unsubscribe anyone.
#[utoipa::path(get, path = "/u/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    responses((status = 200, content_type = "text/html", description = "The question and its button"),
        (status = 404, content_type = "text/html", description = "The link is broken")))]
async fn confirm_unsubscribe(
    State(s): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return broken();
    };
    let p = match feedback::preferences(&s.db, &token, now_ms()).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let title = format!("Unsubscribe from {}?", p.from_topic);
    let page = Page {
        page: "confirm",
        title: &title,
        topic: &p.from_topic,
        email: &p.email,
        preferences: preferences_link(&token),
        ..Page::default()
    };
    render(StatusCode::OK, &page)
}

/// One-click unsubscribe (RFC 8058), as mail apps send it from the
/// `List-Unsubscribe` header (`List-Unsubscribe=One-Click`, form-encoded
/// or multipart) and as the unsubscribe page's button sends it. Any body is
/// accepted: the signed token is the credential. Repeating it answers the
/// same and changes nothing.
#[utoipa::path(post, path = "/u/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`; any body is accepted"),
    responses((status = 200, content_type = "text/html", description = "You will no longer receive the topic's emails"),
        (status = 404, content_type = "text/html", description = "The link is broken")))]
async fn unsubscribe(
    State(s): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return broken();
    };
    let now = now_ms();
    let done = match feedback::unsubscribe(&s.db, &token, ConsentSource::UnsubscribeLink, now).await
    {
        Ok(done) => done,
        Err(e) => return error_page(&e),
    };
    // The address is only shown back; the unsubscribe stands without it.
    let email = feedback::preferences(&s.db, &token, now)
        .await
        .map(|p| p.email)
        .unwrap_or_default();
    let page = Page {
        page: "unsubscribed",
        title: "You are unsubscribed",
        topic: &done.topic,
        email: &email,
        preferences: preferences_link(&token),
        ..Page::default()
    };
    render(StatusCode::OK, &page)
}

/// The preference center: a checkbox per topic, ticked for those the person
/// gets now, and a Save button.
#[utoipa::path(get, path = "/u/{token}/preferences", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    responses((status = 200, content_type = "text/html", description = "The person's choices"),
        (status = 404, content_type = "text/html", description = "The link is broken")))]
async fn preferences(
    State(s): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return broken();
    };
    match feedback::preferences(&s.db, &token, now_ms()).await {
        Ok(p) => preferences_page(&p, false),
        Err(e) => error_page(&e),
    }
}

/// The topics ticked on the preference form (`topic`, once per box), or
/// `None` when the body is not a form pitcrew's page sends.
fn ticked(headers: &HeaderMap, body: &[u8]) -> Option<Vec<String>> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return None;
    }
    Some(
        url::form_urlencoded::parse(body)
            .filter(|(k, _)| k == "topic")
            .map(|(_, v)| v.into_owned())
            .collect(),
    )
}

/// Save the preference center's choices: opted in to the ticked topics, out
/// of the rest. Shows the page again with "Saved".
#[utoipa::path(post, path = "/u/{token}/preferences", tag = "public", security(()),
    params(("token" = String, Path, description = "The signed token from the email")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`topic=<name>` once per ticked box"),
    responses((status = 200, content_type = "text/html", description = "The choices, saved"),
        (status = 400, content_type = "text/html", description = "The form could not be read; nothing changed"),
        (status = 404, content_type = "text/html", description = "The link is broken")))]
async fn save_preferences(
    State(s): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return broken();
    };
    // Reading any other body as "nothing ticked" would opt the person out
    // of everything, so only the form itself is taken.
    let Some(topics) = body.ok().and_then(|b| ticked(&headers, &b)) else {
        return failed(StatusCode::BAD_REQUEST);
    };
    match feedback::set_preferences(&s.db, &token, &topics, now_ms()).await {
        Ok(p) => preferences_page(&p, true),
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    fn choice(name: &str, description: &str, subscribed: bool) -> TopicChoice {
        TopicChoice {
            name: name.into(),
            description: description.into(),
            subscribed,
        }
    }

    #[tokio::test]
    async fn every_value_on_a_page_is_escaped() {
        let topics = [choice("<script>x</script>", "\"quoted\" & <b>", true)];
        let p = Preferences {
            email: "<img src=x>…@example.com".into(),
            from_topic: "News".into(),
            topics: topics.to_vec(),
        };
        let html = text(preferences_page(&p, true)).await;
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&quot;quoted&quot; &amp; &lt;b&gt;"),
            "{html}"
        );
        let confirm = Page {
            page: "confirm",
            title: "Unsubscribe from <i>?",
            topic: "<i>",
            email: "an…@example.com",
            preferences: preferences_link("\"><a"),
            ..Page::default()
        };
        let html = text(render(StatusCode::OK, &confirm)).await;
        assert!(!html.contains("<i>") && !html.contains("\"><a"), "{html}");
    }

    #[tokio::test]
    async fn pages_are_self_contained_and_accessible() {
        let topics = [
            choice("Newsletter", "Monthly news", true),
            choice("Offers", "", false),
        ];
        let p = Preferences {
            email: "an…@example.com".into(),
            from_topic: "Newsletter".into(),
            topics: topics.to_vec(),
        };
        let response = preferences_page(&p, false);
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        let html = text(response).await;
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains(":focus-visible"));
        assert!(!html.contains("src=") && !html.contains("<link"), "{html}");
        assert!(
            html.contains(
                r#"<input type="checkbox" id="topic-1" name="topic" value="Newsletter" checked"#
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"<label for="topic-1">Newsletter</label>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<label for="topic-2">Offers</label>"#),
            "{html}"
        );
        assert!(!html.contains("value=\"Offers\" checked"), "{html}");
        assert!(html.contains(feedback::PREFERENCES_WORDING));
        assert!(html.contains(">Save</button>"));
        assert!(!html.contains("Saved."), "not saved yet");
    }

    #[tokio::test]
    async fn a_broken_link_is_a_404_page_and_a_failure_says_nothing_changed() {
        let r = broken();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(text(r).await.contains("This link is broken"));
        let r = failed(StatusCode::INTERNAL_SERVER_ERROR);
        assert!(text(r).await.contains("Nothing was changed"));
    }

    #[tokio::test]
    async fn the_pixel_is_a_transparent_gif_that_is_never_cached() {
        let r = pixel();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "image/gif");
        assert!(
            r.headers()[header::CACHE_CONTROL]
                .to_str()
                .expect("ascii")
                .contains("no-store")
        );
        let body = axum::body::to_bytes(r.into_body(), 1024)
            .await
            .expect("body");
        assert!(body.starts_with(b"GIF89a") && body.ends_with(b";"));
        assert_eq!(body.len(), 43);
    }

    #[test]
    fn only_a_form_body_is_read_as_ticked_topics() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        assert_eq!(
            ticked(&h, b"topic=Newsletter&topic=Product+updates&x=1"),
            Some(vec![
                "Newsletter".to_string(),
                "Product updates".to_string()
            ])
        );
        assert_eq!(ticked(&h, b""), Some(vec![]));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=x"),
        );
        assert_eq!(ticked(&h, b"--x--"), None);
    }
}
