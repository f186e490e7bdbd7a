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
    let dir = TempDir::new(name);
    let out = stdout(&pitcrew(&dir.0, &["demo", "--no-serve"]));
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let email = line_value(&lines, "Email");
    let password = line_value(&lines, "Password");
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
