//! The web app as each role sees it: signing in, the home page, the
//! anti-forgery guard, and every page opened by every role.

use axum::http::{Method, StatusCode};
use pitcrew_core::admin::Role;

use crate::on_each_engine;

#[tokio::test]
async fn every_role_signs_in_and_sees_the_home_page() {
    on_each_engine!(|w| {
        for role in Role::ALL {
            let v = w.sign_in(role).await;
            let home = w.page(&v, Method::GET, "/", &[]).await;
            assert_eq!(home.status, StatusCode::OK);
            assert!(home.body.contains(&format!("{role}@acme.test")), "{role}");
            assert!(home.body.contains("<strong>Acme</strong>"), "{}", home.body);
            assert_eq!(
                home.body.contains(">Audit log</a>"),
                role.can(pitcrew_core::admin::Action::ReadAudit),
                "{role} and the audit link"
            );
        }
    });
}

#[tokio::test]
async fn a_change_without_the_pages_token_is_refused() {
    on_each_engine!(|w| {
        let mut v = w.sign_in(Role::Owner).await;
        v.csrf = "forged".into();
        let out = w.page(&v, Method::POST, "/logout", &[]).await;
        assert_eq!(out.status, StatusCode::FORBIDDEN);
        assert!(out.body.contains("Reload the page"), "{}", out.body);
        // The session still works: signing out was refused.
        let home = w.page(&v, Method::GET, "/", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
    });
}

#[tokio::test]
async fn a_page_without_a_session_sends_the_visitor_to_sign_in() {
    on_each_engine!(|w| {
        let v = crate::support::Visitor {
            cookie: "pitcrew_session=nope".into(),
            csrf: String::new(),
        };
        let out = w.page(&v, Method::GET, "/?from=mail", &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(out.location(), "/login?next=%2F%3Ffrom%3Dmail");
    });
}

/// The links of a page to other pages of the web app (not assets, not
/// other sites), with the template's HTML escapes undone.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&#x2f;", "/").replace("&amp;", "&"))
        .filter(|h| h.starts_with('/') && !h.starts_with("//") && !h.starts_with("/assets/"))
        .map(|h| h.split('#').next().unwrap_or_default().to_string())
        .collect()
}

/// A page's shape: ids become `{n}` and query values are dropped, so the
/// walk opens a few of each kind of page, not every contact.
fn shape(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
                "{n}"
            } else {
                seg
            }
        })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    format!("{}?{}", path.join("/"), keys.join("&"))
}

/// Opens every page reachable by links from the home page as `v`, at most
/// `per_shape` of each shape. Every page linked must open (200): a role is
/// never shown a link it may not follow, and no link is dead. Returns the
/// pages opened.
async fn walk(
    w: &crate::support::World,
    v: &crate::support::Visitor,
    who: &str,
    per_shape: usize,
) -> Vec<String> {
    let mut queue = std::collections::VecDeque::from(["/".to_string()]);
    let mut seen = std::collections::HashSet::new();
    let mut shapes: std::collections::HashMap<String, usize> = Default::default();
    let mut opened = Vec::new();
    while let Some(url) = queue.pop_front() {
        if !seen.insert(url.clone()) {
            continue;
        }
        let count = shapes.entry(shape(&url)).or_default();
        if *count >= per_shape {
            continue;
        }
        *count += 1;
        let page = w.page(v, Method::GET, &url, &[]).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "{who} followed a link to {url}: {}",
            &page.body[..page.body.len().min(600)]
        );
        opened.push(url.clone());
        let is_html = page
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|c| c.to_str().unwrap_or("").starts_with("text/html"));
        if is_html {
            queue.extend(links(&page.body));
        }
    }
    opened
}

#[tokio::test]
async fn every_page_opens_for_every_role_that_may_see_it() {
    on_each_engine!(|w| {
        let now = crate::support::NOW;
        let demo = pitcrew_app::demo::build_demo(
            &w.t.db,
            now,
            pitcrew_app::demo::DemoScale {
                accounts: 12,
                contacts: 120,
            },
        )
        .await
        .expect("demo");
        let mut visitors = Vec::new();
        for role in Role::ALL {
            let email = format!("{role}@walk.test");
            pitcrew_app::admin::upsert_user(
                &w.t.db,
                &demo.workspace,
                &email,
                "",
                crate::support::PASSWORD,
                role,
                now,
            )
            .await
            .expect("member");
            visitors.push((role, w.sign_in_as(&email).await));
        }
        // Each role walks its own links: all of them open.
        let mut walked = std::collections::BTreeMap::new();
        for (role, v) in &visitors {
            walked.insert(*role, walk(&w, v, &role.to_string(), 2).await);
        }
        for (role, pages) in &walked {
            println!("{:?}: {role} opened {} pages", w.t.engine(), pages.len());
        }
        let owners = &walked[&Role::Owner];
        assert!(
            owners.len() >= 25,
            "the owner reaches every part: {owners:?}"
        );
        for part in [
            "/people",
            "/accounts",
            "/fields",
            "/imports",
            "/health",
            "/segments",
            "/broadcasts",
            "/audit",
        ] {
            assert!(
                owners.iter().any(|u| u == part),
                "the owner's walk reaches {part}"
            );
        }
        // Every page the owner reached is refused or shown to each other
        // role, never a server error or a page that is not there.
        for (role, v) in &visitors {
            for url in owners {
                let page = w.page(v, Method::GET, url, &[]).await;
                assert!(
                    page.status == StatusCode::OK || page.status == StatusCode::FORBIDDEN,
                    "{role} opening {url}: {} {}",
                    page.status,
                    &page.body[..page.body.len().min(600)]
                );
                let shown = walked[role].contains(url);
                if page.status == StatusCode::FORBIDDEN {
                    assert!(
                        page.body.contains("Your role does not allow it"),
                        "{role} {url}"
                    );
                    assert!(!shown, "{role} was linked to {url} it may not open");
                }
            }
        }
        // A viewer changes nothing, so sees no page to make things.
        for url in &walked[&Role::Viewer] {
            assert!(
                !url.ends_with("/new") && !url.ends_with("/edit"),
                "viewer reached {url}"
            );
        }
        let audit_for = |r: Role| walked[&r].iter().any(|u| u == "/audit");
        assert!(!audit_for(Role::Viewer) && !audit_for(Role::Marketer) && audit_for(Role::Admin));
    });
}
