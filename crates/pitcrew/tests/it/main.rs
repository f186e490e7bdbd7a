//! The `pitcrew` executable as a newcomer and an operator use it: the demo,
//! the admin commands, configuration errors, and secrets kept out of logs.

mod browser;
mod import;
mod segment;
mod sending;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_pitcrew");

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("pitcrew_cli_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process that is killed when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn pitcrew(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("PITCREW_DATABASE_URL")
        .output()
        .expect("run pitcrew")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "pitcrew failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Send one HTTP/1.1 request and return (status, body).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).await.expect("read");
    let status = out.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn wait_healthy(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && http(port, "GET", "/healthz", &[], None).await.0 == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pitcrew did not become healthy on port {port}");
}

fn line_value(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no `{label}` line in {lines:?}"))
}

#[tokio::test]
async fn the_demo_prints_a_login_that_works() {
    let dir = TempDir::new("demo");
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir.0)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "demo",
            "--contacts",
            "400",
        ])
        .env_remove("PITCREW_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let out = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.expect("line");
        let done = line.trim_start().starts_with("Password");
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(lines[0].contains("400 contacts"), "{lines:?}");
    assert_eq!(
        line_value(&lines, "Open"),
        format!("http://127.0.0.1:{port}")
    );
    let email = line_value(&lines, "Email");
    let password = line_value(&lines, "Password");
    wait_healthy(port).await;

    let login = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
    let (status, body) = http(port, "POST", "/api/v1/auth/login", &[], Some(&login)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""role":"owner""#) && body.contains(r#""slug":"demo""#),
        "{body}"
    );
    drop(server);

    // A second run keeps the data and replaces the password.
    let again = stdout(&pitcrew(&dir.0, &["demo", "--no-serve"]));
    assert!(
        again.starts_with("Reusing the demo workspace `demo`: 400 contacts"),
        "{again}"
    );
    let lines: Vec<String> = again.lines().map(str::to_string).collect();
    assert_ne!(line_value(&lines, "Password"), password);
}

#[tokio::test]
async fn an_operator_manages_users_and_tokens_from_the_terminal() {
    let dir = TempDir::new("admin");
    let out = stdout(&pitcrew(
        &dir.0,
        &["workspace", "create", "acme", "--name", "Acme Inc."],
    ));
    assert!(out.contains("created workspace `acme`"), "{out}");
    let out = stdout(&pitcrew(
        &dir.0,
        &[
            "user",
            "create",
            "--workspace",
            "acme",
            "--email",
            "Ops@Acme.example",
            "--role",
            "owner",
        ],
    ));
    assert!(out.contains("ops@acme.example is owner of `acme`"), "{out}");
    assert!(
        out.contains("password: "),
        "a generated password is printed: {out}"
    );
    let out = stdout(&pitcrew(
        &dir.0,
        &[
            "token",
            "create",
            "--workspace",
            "acme",
            "--email",
            "ops@acme.example",
            "--name",
            "CRM sync",
            "--role",
            "marketer",
        ],
    ));
    let secret = out
        .split_whitespace()
        .find(|w| w.starts_with("pct_"))
        .expect("secret printed")
        .to_string();
    let listed = stdout(&pitcrew(&dir.0, &["token", "list", "--workspace", "acme"]));
    assert!(
        listed.contains("CRM sync") && listed.contains("marketer") && listed.contains("never used"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the list never shows secrets");

    let port = free_port();
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir.0)
        .args(["--listen", &format!("127.0.0.1:{port}"), "serve"])
        .env_remove("PITCREW_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let _server = Server(child);
    wait_healthy(port).await;
    let bearer = format!("Bearer {secret}");
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/me",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""role":"marketer""#), "{body}");

    let id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("token id")
        .to_string();
    let out = stdout(&pitcrew(
        &dir.0,
        &["token", "revoke", "--workspace", "acme", &id],
    ));
    assert!(out.contains("revoked"), "{out}");
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/me",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(status, 401, "a revoked token stops working at once: {body}");
}

#[test]
fn a_wrong_setting_stops_pitcrew_with_what_to_write_instead() {
    let dir = TempDir::new("config");
    let o = pitcrew(&dir.0, &["--listen", "localhost", "migrate"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("127.0.0.1:8080"), "{err}");

    let file = dir.0.join("pitcrew.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9\"\ndatabase = \"sqlite://x\"\n",
    )
    .expect("write");
    let o = pitcrew(
        &dir.0,
        &["--config", file.to_str().expect("path"), "migrate"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("unknown field `database`"),
        "{err}"
    );
}

#[test]
fn secrets_never_reach_the_logs() {
    let dir = TempDir::new("secrets");
    let secret_key = "s3cr3t-key-that-must-never-be-logged-0123456789";
    let o = Command::new(BIN)
        .args([
            "--log",
            "debug",
            "--secret-key",
            secret_key,
            "--database-url",
            "postgres://app:hunter2-in-the-url@127.0.0.1:1/pitcrew",
            "--data-dir",
        ])
        .arg(&dir.0)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!o.status.success(), "nothing listens on port 1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[redacted]"),
        "the settings are logged, redacted: {err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains(secret_key),
        "{err}"
    );
}

#[test]
fn every_command_explains_itself() {
    for cmd in [
        vec![],
        vec!["serve"],
        vec!["demo"],
        vec!["migrate"],
        vec!["workspace", "create"],
        vec!["user", "create"],
        vec!["user", "reset-password"],
        vec!["token", "create"],
        vec!["token", "list"],
        vec!["token", "revoke"],
    ] {
        let o = Command::new(BIN)
            .args(&cmd)
            .arg("--help")
            .output()
            .expect("help");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && text.contains("Usage:"),
            "{cmd:?}: {text}"
        );
        assert!(
            text.lines().next().is_some_and(|l| l.len() > 10),
            "{cmd:?} starts with a sentence: {text}"
        );
    }
}

fn serve(dir: &Path, port: u16) -> Server {
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}"), "serve"])
        .env_remove("PITCREW_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    Server(child)
}

#[tokio::test]
async fn a_200_from_the_tracking_api_survives_killing_the_server_at_once() {
    let dir = TempDir::new("durable");
    stdout(&pitcrew(&dir.0, &["workspace", "create", "acme"]));
    stdout(&pitcrew(
        &dir.0,
        &[
            "user",
            "create",
            "--workspace",
            "acme",
            "--email",
            "ops@acme.example",
            "--role",
            "owner",
        ],
    ));
    let out = stdout(&pitcrew(
        &dir.0,
        &[
            "source",
            "create",
            "--workspace",
            "acme",
            "--name",
            "Website",
        ],
    ));
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("pcw_"))
        .expect("write key printed")
        .to_string();
    let out = stdout(&pitcrew(
        &dir.0,
        &[
            "token",
            "create",
            "--workspace",
            "acme",
            "--email",
            "ops@acme.example",
            "--name",
            "check",
        ],
    ));
    let token = out
        .split_whitespace()
        .find(|w| w.starts_with("pct_"))
        .expect("token printed")
        .to_string();

    let port = free_port();
    let mut server = serve(&dir.0, port);
    wait_healthy(port).await;
    let batch: Vec<String> = (0..300)
        .map(|i| {
            format!(
                r#"{{"type":"track","userId":"u-{}","event":"Clicked","messageId":"m-{i}"}}"#,
                i % 7
            )
        })
        .collect();
    let body = format!(r#"{{"writeKey":"{key}","batch":[{}]}}"#, batch.join(","));
    let (status, reply) = http(port, "POST", "/v1/batch", &[], Some(&body)).await;
    assert_eq!(status, 200, "{reply}");
    // No graceful shutdown: SIGKILL straight after the answer.
    server.0.kill().expect("kill");
    let _ = server.0.wait();

    let port = free_port();
    let _again = serve(&dir.0, port);
    wait_healthy(port).await;
    let bearer = format!("Bearer {token}");
    let (status, types) = http(
        port,
        "GET",
        "/api/v1/event-types",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{types}");
    assert!(
        types.contains(r#""name":"Clicked","count":300"#),
        "every acknowledged event is there: {types}"
    );
}

#[test]
fn the_health_report_of_the_demo_finds_its_duplicate_names() {
    let dir = TempDir::new("health");
    stdout(&pitcrew(
        &dir.0,
        &["demo", "--no-serve", "--contacts", "600"],
    ));
    let table = stdout(&pitcrew(&dir.0, &["health", "--workspace", "demo"]));
    assert!(table.contains("duplicate_name_company"), "{table}");
    let json = stdout(&pitcrew(
        &dir.0,
        &["health", "--workspace", "demo", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(report["total"], 600, "{json}");
    let checks = report["checks"].as_array().expect("checks");
    let invalid_emails = checks
        .iter()
        .find(|c| c["code"] == "email_invalid")
        .expect("email check");
    assert_eq!(invalid_emails["count"], 0, "the demo's emails are valid");
}
