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
