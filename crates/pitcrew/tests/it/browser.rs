//! The web app in a real browser: the system's Chromium, driven by
//! playwright-core, against the real `pitcrew` executable serving a demo
//! workspace. Each test runs one script from `tests/browser/`, which
//! checks what the pages show and takes screenshots (kept under the build
//! folder's `browser-screenshots/` for people to look at).

use std::path::{Path, PathBuf};

use pitcrew_testkit::browser::{self, Browser};

use crate::{TempDir, free_port, line_value, pitcrew, serve, stdout, wait_healthy};

/// A served demo workspace and its owner's sign-in.
struct Demo {
    _dir: TempDir,
    _server: crate::Server,
    port: u16,
    email: String,
    password: String,
}

async fn demo(name: &str) -> Demo {
    demo_sending_to(name, None).await
}

/// A demo whose sending provider points at `smtp_port` (the demo's own
/// points at a mail catcher that may not be running).
async fn demo_sending_to(name: &str, smtp_port: Option<u16>) -> Demo {
    let dir = TempDir::new(name);
    let out = stdout(&pitcrew(&dir.0, &["demo", "--no-serve"]));
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let email = line_value(&lines, "Email");
    let password = line_value(&lines, "Password");
    if let Some(smtp_port) = smtp_port {
        point_provider_at(&dir.0, smtp_port).await;
    }
    let port = free_port();
    let server = serve(&dir.0, port);
    wait_healthy(port).await;
    Demo {
        _dir: dir,
        _server: server,
        port,
        email,
        password,
    }
}

/// Points every provider of the demo workspace at the SMTP server on
/// `port`, and lets it send at any hour (the demo keeps quiet hours, which
/// would defer a test run in the evening), through the library, as an
/// admin would in the API.
async fn point_provider_at(data: &Path, port: u16) {
    use pitcrew_app::campaign::provider::{self, ProviderInput};
    let url = format!("sqlite://{}", data.join("pitcrew.db").display());
    let db = pitcrew_app::Db::connect(&url)
        .await
        .expect("the demo database");
    let ws = pitcrew_store::admin::workspace_by_slug(db.conn(), "demo")
        .await
        .expect("read workspace")
        .expect("the demo workspace");
    let owner = pitcrew_app::Actor {
        workspace_id: ws.id,
        user_id: None,
        token_id: None,
        role: pitcrew_core::admin::Role::Owner,
        label: "browser test".into(),
    };
    for p in provider::list_providers(&db, &owner)
        .await
        .expect("providers")
    {
        let input = ProviderInput {
            name: p.name,
            host: "127.0.0.1".into(),
            port,
            security: p.security,
            verify_tls: p.verify_tls,
            username: p.username,
            password: None,
            per_second: p.per_second,
            per_hour: p.per_hour,
            concurrency: p.concurrency,
        };
        provider::update_provider(&db, &owner, p.id, input, pitcrew_app::now_ms())
            .await
            .expect("point the provider at the test's SMTP server");
    }
    let mut rules = provider::sending_rules(&db, &owner).await.expect("rules");
    rules.quiet_hours = None;
    provider::set_sending_rules(&db, &owner, rules, pitcrew_app::now_ms())
        .await
        .expect("send at any hour");
}

fn screenshots(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-screenshots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(name)
}

/// Runs a browser script against a demo and fails with what it printed.
fn walk(b: &Browser, d: &Demo, name: &str) -> String {
    let shots = screenshots(name.trim_end_matches(".cjs"));
    let base = format!("http://127.0.0.1:{}", d.port);
    let out = b.run(
        &script(name),
        &[
            ("BASE_URL", base.as_str()),
            ("EMAIL", d.email.as_str()),
            ("PASSWORD", d.password.as_str()),
            ("SCREENSHOT_DIR", &shots.to_string_lossy()),
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{said}");
    said
}

#[tokio::test]
async fn a_newcomer_signs_in_and_finds_the_home_page_useful() {
    let Some(b) = browser::browser() else {
        return browser::missing("the browser tests");
    };
    let d = demo("browser_home").await;
    let said = walk(&b, &d, "home.cjs");
    assert!(
        said.contains("screenshot") && said.ends_with("ok\n"),
        "{said}"
    );
}

// Two workers: the browser script blocks one while the SMTP server, a task
// of this test, answers the sender on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_walks_from_data_to_a_sent_broadcast() {
    let Some(b) = browser::browser() else {
        return browser::missing("the browser tests");
    };
    let sink = pitcrew_testkit::smtp::SmtpSink::start().await;
    let d = demo_sending_to("browser_journey", Some(sink.port())).await;
    let said = walk(&b, &d, "journey.cjs");
    assert!(said.ends_with("ok\n"), "{said}");
    // The broadcast sent from the browser reached the SMTP server: as many
    // emails as its results page counts as sent, each with the subject
    // written in the browser and the one-click unsubscribe headers.
    let sent: usize = said
        .lines()
        .find_map(|l| l.strip_prefix("sent: "))
        .and_then(|n| n.replace(',', "").parse().ok())
        .expect("the script reports how many were sent");
    let messages = sink.messages();
    assert_eq!(messages.len(), sent, "one email per person sent");
    for m in &messages {
        let text = String::from_utf8_lossy(&m.data);
        assert!(text.contains("Subject: Welcome to the pit lane"), "{text}");
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    }
}
