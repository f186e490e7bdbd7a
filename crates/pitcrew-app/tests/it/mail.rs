//! Email on the wire, over real TCP: messages built and DKIM-signed by
//! pitcrew and delivered by `Mailer` to the test kit's SMTP sink and to
//! aiosmtpd (a Python SMTP server), read back with mail-parser and verified
//! by dkimpy (a DKIM implementation that is not ours).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use pitcrew_app::campaign::message::{self, DkimKey, Outgoing};
use pitcrew_app::campaign::smtp::{Mailer, SendError, SmtpConfig};
use pitcrew_core::campaign::Security;
use pitcrew_testkit::python;
use pitcrew_testkit::smtp::{Rejection, SmtpSink};

const RSA_KEY: &str = include_str!("../fixtures/dkim/rsa2048.pem");
const RSA_PUBLIC: &str = include_str!("../fixtures/dkim/rsa2048.pub.pem");
const ED25519_KEY: &str = include_str!("../fixtures/dkim/ed25519.pem");
const ED25519_PUBLIC: &str = include_str!("../fixtures/dkim/ed25519.pub.pem");

/// Python packages of the independent checks.
const PYTHON_PACKAGES: &[&str] = &["dkimpy==1.1.8", "PyNaCl==1.5.0", "aiosmtpd==1.4.6"];

const WAIT: Duration = Duration::from_secs(10);

fn rsa_key() -> DkimKey {
    DkimKey::new("example.com", "pc1", RSA_KEY).expect("fixture RSA key")
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// The DNS TXT record for the fixture RSA key, built from its public half.
fn rsa_record() -> String {
    format!("v=DKIM1; k=rsa; p={}", pem_body(RSA_PUBLIC))
}

/// Ed25519 records carry the raw 32-byte key: the tail of the SubjectPublicKeyInfo.
fn ed25519_record() -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let spki = b64
        .decode(pem_body(ED25519_PUBLIC))
        .expect("fixture base64");
    format!(
        "v=DKIM1; k=ed25519; p={}",
        b64.encode(&spki[spki.len() - 32..])
    )
}

fn outgoing(to: &str, first_name: &str) -> Outgoing {
    let tag: String = first_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    Outgoing {
        from_name: "Pitcrew Ünited".into(),
        from_email: "news@example.com".into(),
        reply_to: Some("help@example.com".into()),
        to: to.into(),
        subject: format!("{first_name}, deine Grüße — 20 % off 🎉"),
        html: format!(
            "<html><body><p>Hello {first_name},</p><p>.A line with a leading dot</p></body></html>"
        ),
        text: format!("Hello {first_name},\n\n.A line with a leading dot\n"),
        message_id: message::message_id("example.com"),
        unsubscribe_url: format!("https://t.example.com/u/{first_name}?sig=abc"),
        unsubscribe_mailto: Some(format!("unsubscribe+{tag}@example.com")),
        feedback_id: Some("b-7:ws-1:pitcrew".into()),
    }
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: String::new(),
        password: String::new(),
        verify_tls: true,
        per_second: 0,
        per_hour: 0,
        concurrency: 4,
    }
}

fn header(parsed: &mail_parser::Message<'_>, name: &str) -> String {
    parsed
        .header_raw(name)
        .unwrap_or_default()
        .replace("\r\n", "")
        .trim()
        .to_string()
}

/// What every delivered copy of `sent` must show.
fn assert_compliant(data: &[u8], sent: &Outgoing) {
    let parsed = MessageParser::default()
        .parse(data)
        .expect("parsable message");
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.name(), Some("Pitcrew Ünited"));
    assert_eq!(from.address(), Some("news@example.com"));
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some(sent.to.as_str()));
    assert_eq!(parsed.subject(), Some(sent.subject.as_str()));
    assert_eq!(
        parsed
            .reply_to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("help@example.com")
    );
    assert_eq!(
        parsed.message_id(),
        Some(sent.message_id.trim_matches(['<', '>']))
    );
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    let unix = |s: &str| s.replace("\r\n", "\n").trim_end().to_string();
    assert_eq!(
        parsed.body_text(0).as_deref().map(unix),
        Some(unix(&sent.text))
    );
    assert_eq!(
        parsed.body_html(0).as_deref().map(unix),
        Some(unix(&sent.html))
    );
    let list_unsubscribe = header(&parsed, "List-Unsubscribe");
    assert_eq!(
        list_unsubscribe
            .split(',')
            .map(str::trim)
            .collect::<Vec<_>>(),
        [
            // Accented letters in the link go percent-encoded.
            format!(
                "<{}>",
                url::Url::parse(&sent.unsubscribe_url).expect("link")
            ),
            format!(
                "<mailto:{}>",
                sent.unsubscribe_mailto.as_deref().unwrap_or_default()
            ),
        ],
    );
    assert_eq!(
        header(&parsed, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(header(&parsed, "Feedback-ID"), "b-7:ws-1:pitcrew");
    let signature = header(&parsed, "DKIM-Signature").replace([' ', '\t'], "");
    let signed: Vec<&str> = signature
        .split(';')
        .find_map(|tag| tag.strip_prefix("h="))
        .expect("h= tag")
        .split(':')
        .collect();
    for name in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(signed.contains(&name), "{name} is signed: {signature}");
    }
    assert!(signature.contains("c=relaxed/relaxed"), "{signature}");
}

/// A folder for this test's files, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("pitcrew-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, data).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Verifies each file with dkimpy, which is given `records` (DNS name → TXT)
/// in place of DNS; `true` per file that verifies.
const DKIM_VERIFY: &str = r#"
import json, sys, dkim
records = json.loads(sys.argv[1])
def dns(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    record = records.get(name.rstrip("."))
    return record.encode() if record else None
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        ok = dkim.DKIM(data).verify(dnsfunc=dns)
    except Exception as e:
        print("error", repr(e), file=sys.stderr)
        ok = False
    print("pass" if ok else "fail")
"#;

fn dkim_verdicts(python: &Path, files: &[PathBuf]) -> Vec<bool> {
    let records = serde_json::json!({
        "pc1._domainkey.example.com": rsa_record(),
        "ed1._domainkey.example.com": ed25519_record(),
    });
    let out = Command::new(python)
        .args(["-c", DKIM_VERIFY, &records.to_string()])
        .args(files)
        .output()
        .expect("run dkimpy");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dkimpy: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<bool> = stdout.lines().map(|l| l == "pass").collect();
    assert_eq!(verdicts.len(), files.len(), "{stdout}");
    verdicts
}

fn checks_python() -> Option<PathBuf> {
    let found = python::venv("mail-checks", PYTHON_PACKAGES);
    if found.is_none() {
        python::missing("the DKIM and aiosmtpd mail tests");
    }
    found
}

/// Changes the Subject's value in place, as a tampering relay would.
fn with_altered_subject(data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(data.to_vec()).expect("ASCII message");
    let altered = text.replacen("\r\nSubject: ", "\r\nSubject: Re: ", 1);
    assert_ne!(altered, text, "the message has a Subject");
    altered.into_bytes()
}

#[tokio::test]
async fn mailer_delivers_signed_messages_with_compliance_headers() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&SmtpConfig {
        username: "campaigns".into(),
        password: "secret".into(),
        ..config(sink.port())
    })
    .expect("mailer");
    let key = rsa_key();
    let sent = [
        outgoing("lin@example.org", "Lin"),
        outgoing("zoë@example.org", "Zoë"),
    ];
    for o in &sent {
        let built = message::build(o, Some(&key)).expect("build");
        mailer.send(&built).await.expect("send");
    }
    assert!(sink.wait_for(2, WAIT).await, "two messages arrive");
    let got = sink.messages();
    for (received, o) in got.iter().zip(&sent) {
        assert_eq!(received.mail_from, "news@example.com");
        assert_eq!(received.rcpt_to, [o.to.as_str()]);
        assert_eq!(received.login.as_deref(), Some("campaigns"));
        assert_compliant(&received.data, o);
    }
    assert_ne!(sent[0].message_id, sent[1].message_id);
}

#[tokio::test]
async fn dkimpy_verifies_our_signatures_and_refuses_an_altered_subject() {
    let Some(python) = checks_python() else {
        return;
    };
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&config(sink.port())).expect("mailer");
    let ed_key = DkimKey::new("example.com", "ed1", ED25519_KEY).expect("fixture Ed25519 key");
    for (i, key) in [rsa_key(), ed_key].iter().enumerate() {
        let built = message::build(&outgoing(&format!("p{i}@example.org"), "Sam"), Some(key))
            .expect("build");
        mailer.send(&built).await.expect("send");
    }
    assert!(sink.wait_for(2, WAIT).await);
    let got = sink.messages();
    let scratch = Scratch::new("dkim");
    let files = [
        scratch.write("rsa.eml", &got[0].data),
        scratch.write("ed25519.eml", &got[1].data),
        scratch.write("rsa-altered.eml", &with_altered_subject(&got[0].data)),
        scratch.write("ed25519-altered.eml", &with_altered_subject(&got[1].data)),
    ];
    assert_eq!(dkim_verdicts(&python, &files), [true, true, false, false]);
}

/// aiosmtpd on a port of ours, writing each message it accepts to a folder.
const AIOSMTPD_SERVER: &str = r#"
import os, sys, uuid
from aiosmtpd.controller import Controller

port, folder = int(sys.argv[1]), sys.argv[2]

class Keep:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(folder, uuid.uuid4().hex)
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(name + ".tmp", name + ".eml")
        return "250 2.0.0 Stored"

controller = Controller(Keep(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// Ends the Python server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_aiosmtpd(python: &Path, folder: &Path) -> (Server, u16) {
    let port = free_port();
    let mut child = Command::new(python)
        .args(["-c", AIOSMTPD_SERVER, &port.to_string()])
        .arg(folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let stdout = child.stdout.take().expect("aiosmtpd stdout");
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let ready = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    assert_eq!(ready.trim(), "ready", "aiosmtpd did not start");
    (server, port)
}

#[tokio::test]
async fn aiosmtpd_receives_personalised_messages_that_verify() {
    let Some(python) = checks_python() else {
        return;
    };
    let scratch = Scratch::new("aiosmtpd");
    let (_server, port) = start_aiosmtpd(&python, &scratch.0);
    let mailer = Mailer::new(&config(port)).expect("mailer");
    let key = rsa_key();
    let sent: Vec<Outgoing> = [
        ("ana@example.org", "Ana"),
        ("bo@example.org", "Bo"),
        ("chloe@example.org", "Chloé"),
    ]
    .into_iter()
    .map(|(to, name)| outgoing(to, name))
    .collect();
    for o in &sent {
        mailer
            .send(&message::build(o, Some(&key)).expect("build"))
            .await
            .expect("aiosmtpd accepts");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&scratch.0)
        .expect("read folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let mut seen = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("stored message");
        let parsed = MessageParser::default().parse(&data).expect("parsable");
        let to = parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        let o = sent.iter().find(|o| o.to == to).expect("one of ours");
        assert_compliant(&data, o);
        seen.push(to);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["ana@example.org", "bo@example.org", "chloe@example.org"]
    );
    assert_eq!(dkim_verdicts(&python, &files), [true, true, true]);
}

#[tokio::test]
async fn refusals_are_sorted_into_permanent_temporary_and_settings() {
    let sink = SmtpSink::builder()
        .reject(|to| match to {
            "gone@example.org" => Some(Rejection::Permanent),
            "busy@example.org" => Some(Rejection::Temporary),
            _ => None,
        })
        .start()
        .await;
    let mailer = Mailer::new(&config(sink.port())).expect("mailer");
    let send = async |to: &str| {
        let built = message::build(&outgoing(to, "Kim"), None).expect("build");
        mailer.send(&built).await
    };
    let gone = send("gone@example.org").await.expect_err("refused");
    assert!(
        matches!(&gone, SendError::Permanent(m) if m.starts_with("550 ")),
        "{gone}"
    );
    assert_eq!(gone.code(), "smtp_rejected");
    let busy = send("busy@example.org").await.expect_err("deferred");
    assert!(
        matches!(&busy, SendError::Temporary(m) if m.starts_with("451 ")),
        "{busy}"
    );
    assert_eq!(busy.code(), "smtp_unavailable");
    send("fine@example.org")
        .await
        .expect("accepted after refusals");
    assert_eq!(sink.count(), 1);

    // Nobody listening: try again later.
    let closed = Mailer::new(&config(free_port())).expect("mailer");
    let built = message::build(&outgoing("fine@example.org", "Kim"), None).expect("build");
    let down = closed.send(&built).await.expect_err("no server");
    assert!(matches!(down, SendError::Temporary(_)), "{down}");

    // A refused login or a missing STARTTLS would fail every message alike.
    let strict = SmtpSink::builder().refuse_logins(true).start().await;
    let login = Mailer::new(&SmtpConfig {
        username: "campaigns".into(),
        password: "wrong".into(),
        ..config(strict.port())
    })
    .expect("mailer");
    let refused = login.send(&built).await.expect_err("login refused");
    assert!(
        matches!(&refused, SendError::Config(m) if m.contains("535")),
        "{refused}"
    );
    let starttls = Mailer::new(&SmtpConfig {
        security: Security::Starttls,
        ..config(sink.port())
    })
    .expect("mailer");
    let plain_only = starttls
        .send(&built)
        .await
        .expect_err("no STARTTLS offered");
    assert!(matches!(plain_only, SendError::Config(_)), "{plain_only}");
    assert_eq!(sink.count(), 1, "nothing sent in the clear");
}

#[tokio::test]
async fn starttls_to_a_self_signed_relay_needs_checks_turned_off() {
    let sink = SmtpSink::builder().starttls(true).start().await;
    let built = message::build(&outgoing("tls@example.org", "Tess"), None).expect("build");
    let trusting = Mailer::new(&SmtpConfig {
        security: Security::Starttls,
        verify_tls: false,
        username: "campaigns".into(),
        password: "secret".into(),
        ..config(sink.port())
    })
    .expect("mailer");
    trusting.send(&built).await.expect("sent over STARTTLS");
    let got = sink.messages();
    assert!(got[0].tls, "the session was encrypted");
    assert_eq!(got[0].login.as_deref(), Some("campaigns"));

    let checking = Mailer::new(&SmtpConfig {
        security: Security::Starttls,
        verify_tls: true,
        ..config(sink.port())
    })
    .expect("mailer");
    let refused = checking
        .send(&built)
        .await
        .expect_err("unknown certificate");
    assert!(matches!(refused, SendError::Config(_)), "{refused}");
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn sends_keep_to_the_per_second_limit_on_the_wire() {
    let sink = SmtpSink::start().await;
    let mailer = Arc::new(
        Mailer::new(&SmtpConfig {
            per_second: 10,
            concurrency: 4,
            ..config(sink.port())
        })
        .expect("mailer"),
    );
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let mailer = Arc::clone(&mailer);
            tokio::spawn(async move {
                let built = message::build(&outgoing(&format!("r{i}@example.org"), "Max"), None)
                    .expect("build");
                mailer.send(&built).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("sent");
    }
    let times: Vec<_> = sink.messages().iter().map(|m| m.at).collect();
    assert_eq!(times.len(), 20);
    let first = times.iter().min().copied().expect("first");
    let last = times.iter().max().copied().expect("last");
    // 20 sends at 10/s are 19 gaps of 100 ms; a lower bound only, never a speed check.
    assert!(
        last - first >= Duration::from_millis(1500),
        "spread over {:?}",
        last - first
    );
}

#[tokio::test]
async fn concurrency_caps_the_sessions_open_at_once() {
    let sink = SmtpSink::builder()
        .delay(Duration::from_millis(300))
        .start()
        .await;
    let mailer = Arc::new(
        Mailer::new(&SmtpConfig {
            concurrency: 2,
            ..config(sink.port())
        })
        .expect("mailer"),
    );
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let mailer = Arc::clone(&mailer);
            tokio::spawn(async move {
                let built = message::build(&outgoing(&format!("c{i}@example.org"), "Cy"), None)
                    .expect("build");
                mailer.send(&built).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("sent");
    }
    // Six slow acceptances two at a time take at least three rounds.
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sink.count(), 6);
}
