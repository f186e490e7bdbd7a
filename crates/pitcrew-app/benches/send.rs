//! Sending throughput: one broadcast to every contact of a workspace through
//! the real pipeline, beside the raw rate at which the same SMTP server
//! accepts pre-built messages of the same size, measured in the same run:
//!
//! ```sh
//! cargo bench -p pitcrew-app --bench send              # 100,000 contacts on SQLite
//! cargo bench -p pitcrew-app --bench send -- 20000     # contacts
//! cargo bench -p pitcrew-app --bench send -- --quick   # 2,000 contacts, a smoke run
//! cargo bench -p pitcrew-app --bench send -- --postgres
//! ```
//!
//! Data, written by set-based SQL (not measured): contacts with a first name
//! (some accented), a country whose time zone is in daytime at the send's
//! instant, and for four in five an account (one per 20 contacts); every
//! contact opted in to the topic under `consent` (a `consent_records` row
//! and its `consent_state`); a static list of them all; a few suppressed
//! addresses outside the list. The workspace has sending rules with quiet
//! hours and the default frequency cap, an RSA 2048 DKIM key, and one
//! provider pointing at the test kit's SMTP sink, which runs in a separate
//! process (this binary run again with `--sink`) and counts messages
//! without keeping them, so this process's CPU and memory are the sender's.
//!
//! Measured:
//! - start: `broadcast::start` (pre-launch checks, the plan over the whole
//!   audience, the send ledger written);
//! - send: `Sender::work` until the broadcast is sent — claim a batch, check
//!   consent, suppression and quiet hours again, render the MJML newsletter
//!   for each person, sign tracking and unsubscribe links, DKIM-sign, hand
//!   it to the server over SMTP, settle the batch — with this process's CPU
//!   time (utime + stime) and peak resident memory (VmHWM, reset before
//!   each phase where the kernel allows it);
//! - the baseline: `pitcrew_testkit::smtp::blast` of pre-built messages
//!   (a sample rendered and signed by the same code, cycled to the same
//!   count) over as many connections as the provider's concurrency.
//!
//! To show where the sender's CPU goes, it also prints what building the
//! baseline's sample cost per email (rendering, the MIME message, the DKIM
//! signature), one RSA-2048 signature made with ring, and one claim of a
//! batch against the full ledger (rolled back).
//!
//! Then the sink's count and the ledger must both say every contact was
//! sent exactly one email, or the benchmark stops.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pitcrew_app::audience::{self, NewSegment, SegmentKind};
use pitcrew_app::campaign::broadcast::{self, BroadcastInput};
use pitcrew_app::campaign::consent;
use pitcrew_app::campaign::message::{self, DkimKey, Outgoing};
use pitcrew_app::campaign::provider::{self, DkimInput, ProviderInput};
use pitcrew_app::campaign::render::{self, LinkPolicy};
use pitcrew_app::campaign::send::Sender;
use pitcrew_app::campaign::template::{self, TemplateInput};
use pitcrew_app::campaign::token::{self, Claims, Purpose};
use pitcrew_app::{Actor, Db, admin};
use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::campaign::quiet::QuietHours;
use pitcrew_core::campaign::{Security, TemplateFormat};
use pitcrew_store::Engine;
use pitcrew_testkit::smtp::{SmtpSink, blast};
use serde_json::{Map, Value, json};

/// 2026-01-01T17:00:00Z: daytime from Toronto and New York to Rome, so no
/// one is held back by the quiet hours below and every email goes now.
const NOW: i64 = 1_767_286_800_000;
/// Quiet 21:00–08:00 in each person's zone: checked for every email.
const QUIET: QuietHours = QuietHours {
    start_minute: 21 * 60,
    end_minute: 8 * 60,
};

const PER_SECOND: u32 = 10_000;
const CONCURRENCY: u32 = 8;
/// Distinct pre-built messages for the baseline, cycled to the full count.
const SAMPLE: usize = 1_000;
/// Messages per `blast` call: bounds the baseline's memory.
const BLAST_CHUNK: usize = 5_000;
/// The target a single core should reach.
const TARGET_PER_CORE_HOUR: f64 = 1_000_000.0;
const TARGET_PEAK_MB: f64 = 100.0;
/// Linux reports process CPU time in ticks of 1/100 s (USER_HZ) on every
/// architecture pitcrew runs on.
const TICKS_PER_SECOND: f64 = 100.0;

const SINK_FLAG: &str = "--sink";
const TOPIC: &str = "Newsletter";
const PUBLIC_URL: &str = "https://mail.northwind.test";
const POSTAL: &str = "Northwind Cycling GmbH, Radweg 12, 10115 Berlin, Germany";
const MAILBOX: &str = "unsubscribe@northwind.test";
const FROM_NAME: &str = "Northwind Cycling";
const FROM_EMAIL: &str = "news@northwind.test";
const REPLY_TO: &str = "hello@northwind.test";
const DKIM_PEM: &str = include_str!("../tests/fixtures/dkim/rsa2048.pem");

const FIRST_NAMES: [&str; 12] = [
    "Anna", "Ben", "Chloé", "David", "Elif", "Farah", "Georg", "Hana", "Ivan", "Jules", "Kofi",
    "Lena",
];
const COUNTRIES: [&str; 8] = ["US", "DE", "GB", "FR", "CA", "NL", "ES", "IT"];
const STAGES: [&str; 4] = ["subscriber", "lead", "customer", "mql"];
const INDUSTRIES: [&str; 5] = ["software", "retail", "healthcare", "education", "media"];

const SUBJECT: &str = r#"{{ contact.first_name | default("Rider") }}, the spring edition is here"#;

/// A monthly newsletter as a marketer would write it: a header image,
/// a personal greeting, three stories with buttons, a footer with the
/// preference and unsubscribe links and the postal address.
const NEWSLETTER: &str = r##"<mjml>
  <mj-head>
    <mj-title>Northwind Cycling: the spring edition</mj-title>
    <mj-preview>New routes, the spring range and a workshop near you</mj-preview>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="15px" line-height="22px" color="#222222" />
      <mj-button background-color="#e63946" color="#ffffff" border-radius="4px" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#1d3557" padding="16px">
      <mj-column>
        <mj-image width="160px" src="https://cdn.northwind.test/logo.png" alt="Northwind Cycling" href="https://northwind.test/" />
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="22px" font-weight="bold">Hello {{ contact.first_name | default("there") }},</mj-text>
        <mj-text>The trails are drying out and the evenings are getting longer{% if account.name %}, and we have set aside a team rate for everyone at {{ account.name }}{% endif %}. Here is what is new this month.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column width="40%">
        <mj-image src="https://cdn.northwind.test/spring/range.jpg" alt="The spring range" href="https://northwind.test/spring" />
      </mj-column>
      <mj-column width="60%">
        <mj-text font-size="18px" font-weight="bold">The spring range has landed</mj-text>
        <mj-text>Lighter jackets that pack into their own pocket, gloves for the cold first hour, and a saddle bag that finally fits a spare tube and lunch.</mj-text>
        <mj-button href="https://northwind.test/spring?ref=newsletter">See the range</mj-button>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column width="40%">
        <mj-image src="https://cdn.northwind.test/spring/routes.jpg" alt="Three new routes" href="https://northwind.test/routes" />
      </mj-column>
      <mj-column width="60%">
        <mj-text font-size="18px" font-weight="bold">Three routes for a Sunday</mj-text>
        <mj-text>Our riders mapped three loops between 40 and 90 kilometres, each with a café stop at the halfway mark{% if contact.country %} and one within reach of you in {{ contact.country }}{% endif %}.</mj-text>
        <mj-button href="https://northwind.test/routes">Download the routes</mj-button>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column width="40%">
        <mj-image src="https://cdn.northwind.test/spring/workshop.jpg" alt="Workshop" href="https://northwind.test/workshops" />
      </mj-column>
      <mj-column width="60%">
        <mj-text font-size="18px" font-weight="bold">Free spring check</mj-text>
        <mj-text>Bring your bike to any of our workshops before the end of April: brakes, gears and chain checked while you have a coffee.</mj-text>
        <mj-button href="https://northwind.test/workshops/book">Book a slot</mj-button>
      </mj-column>
    </mj-section>
    <mj-section padding="20px">
      <mj-column>
        <mj-text font-size="12px" line-height="18px" color="#777777">You receive this email because you subscribed to the Northwind newsletter. <a href="{{ preferences_url }}">Choose what you receive</a> or <a href="{{ unsubscribe_url }}">unsubscribe</a>.<br />{{ postal_address }}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"##;

// ---- command line -------------------------------------------------------------

struct Options {
    contacts: usize,
    postgres: bool,
}

/// `[CONTACTS]`, `--quick` (2,000 contacts) and `--postgres`; cargo's own
/// `--bench` is ignored.
fn options() -> Options {
    let mut o = Options {
        contacts: 100_000,
        postgres: false,
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => o.contacts = 2_000,
            "--postgres" => o.postgres = true,
            a if a.starts_with("--") => {}
            a => {
                o.contacts = a
                    .replace(['_', ','], "")
                    .parse()
                    .expect("CONTACTS is a whole number, e.g. 100000");
            }
        }
    }
    assert!(o.contacts >= 1, "at least one contact");
    o
}

// ---- the sink, in a process of its own ------------------------------------------

/// The test kit's sink started by this binary run with `--sink`: it prints
/// its port, then answers `count` on stdin with the messages accepted, and
/// ends when stdin closes.
fn sink_process_main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        use tokio::io::AsyncBufReadExt;
        let sink = SmtpSink::builder().store_bodies(false).start().await;
        println!("{}", sink.port());
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match line.trim() {
                "count" => println!("{}", sink.count()),
                other => println!("unknown command `{other}`"),
            }
        }
    });
}

/// The parent's handle on the sink process.
struct SinkProcess {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl SinkProcess {
    fn start() -> SinkProcess {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut child = Command::new(exe)
            .arg(SINK_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the sink process");
        let to = child.stdin.take().expect("the sink's stdin");
        let mut from = BufReader::new(child.stdout.take().expect("the sink's stdout"));
        let mut line = String::new();
        from.read_line(&mut line).expect("the sink's port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the sink said `{}` instead of its port", line.trim()));
        SinkProcess {
            child,
            to,
            from,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn count(&mut self) -> usize {
        writeln!(self.to, "count").expect("ask the sink");
        self.to.flush().expect("ask the sink");
        let mut line = String::new();
        self.from.read_line(&mut line).expect("the sink's answer");
        line.trim()
            .parse()
            .unwrap_or_else(|_| panic!("the sink answered `{}`", line.trim()))
    }

    fn cpu(&self) -> Cpu {
        Cpu::of(&self.child.id().to_string())
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- what the kernel says about a process --------------------------------------

/// CPU time used so far, in seconds.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    user: f64,
    system: f64,
}

impl Cpu {
    /// From `/proc/<pid>/stat`: utime and stime are the 14th and 15th
    /// fields, the 12th and 13th after the command name's closing bracket.
    fn of(pid: &str) -> Cpu {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .expect("read /proc/<pid>/stat (Linux only)");
        let after = &stat[stat.rfind(')').expect("a stat line") + 1..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks =
            |i: usize| -> f64 { fields[i].parse::<f64>().expect("CPU ticks") / TICKS_PER_SECOND };
        Cpu {
            user: ticks(11),
            system: ticks(12),
        }
    }

    /// The whole process: every thread, live or ended.
    fn me() -> Cpu {
        Cpu::of("self")
    }

    /// The calling thread alone.
    fn thread() -> Cpu {
        Cpu::of("thread-self")
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            user: self.user - before.user,
            system: self.system - before.system,
        }
    }

    fn total(self) -> f64 {
        self.user + self.system
    }
}

/// A `/proc/self/status` value in MB (`VmRSS`, `VmHWM`).
fn memory_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The 1-minute load average: other work on the machine slows the wall
/// clock (CPU time per email is affected far less).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Start a new peak: the kernel sets VmHWM back to the current RSS.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---- generating the audience ---------------------------------------------------

fn series(engine: Engine, lo: usize, hi: usize) -> String {
    match engine {
        Engine::Sqlite => format!(
            "(WITH RECURSIVE c(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM c WHERE n < {hi}) SELECT n FROM c) AS g"
        ),
        Engine::Postgres => format!("generate_series({lo}::bigint, {hi}::bigint) AS g(n)"),
    }
}

/// `values[n % len]` as SQL.
fn pick(n: &str, values: &[&str]) -> String {
    let mut sql = format!("CASE {n} % {}", values.len());
    for (i, v) in values.iter().enumerate() {
        sql.push_str(&format!(" WHEN {i} THEN '{v}'"));
    }
    sql.push_str(" END");
    sql
}

fn object(engine: Engine, pairs: &[(&str, String)]) -> String {
    let args = pairs
        .iter()
        .map(|(k, v)| format!("'{k}', {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    match engine {
        Engine::Sqlite => format!("json_object({args})"),
        Engine::Postgres => format!("jsonb_build_object({args})"),
    }
}

fn accounts_for(contacts: usize) -> usize {
    contacts.div_ceil(20)
}

/// Contact `n`'s account, if it has one: four in five do, 20 per account.
fn account_of(n: usize) -> Option<usize> {
    (!n.is_multiple_of(5)).then(|| (n - 1) / 20 + 1)
}

fn fields(pairs: [(&str, Value); 3]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Contact `n`'s fields, as the SQL below writes them.
fn contact_fields(n: usize) -> Map<String, Value> {
    let mut m = fields([
        ("email", json!(format!("person{n}@example.com"))),
        ("first_name", json!(FIRST_NAMES[n % FIRST_NAMES.len()])),
        ("last_name", json!(format!("Last{n}"))),
    ]);
    m.insert("country".into(), json!(COUNTRIES[n % COUNTRIES.len()]));
    m.insert("lifecycle_stage".into(), json!(STAGES[n % STAGES.len()]));
    m
}

fn account_fields(a: usize) -> Map<String, Value> {
    fields([
        ("name", json!(format!("Company {a}"))),
        ("domain", json!(format!("company{a}.example"))),
        ("industry", json!(INDUSTRIES[a % INDUSTRIES.len()])),
    ])
}

/// Accounts, contacts, their opt-ins, suppressed strangers and the list.
async fn generate(db: &Db, ws: i64, list: i64, contacts: usize) {
    let e = db.engine();
    let accounts = object(
        e,
        &[
            ("name", "'Company ' || g.n".into()),
            ("domain", "'company' || g.n || '.example'".into()),
            ("industry", pick("g.n", &INDUSTRIES)),
        ],
    );
    run(
        db,
        &format!(
            "INSERT INTO accounts (workspace_id, external_id, search, data, created_at, updated_at) \
             SELECT {ws}, 'acct-' || g.n, 'company ' || g.n, {accounts}, {NOW}, {NOW} FROM {}",
            series(e, 1, accounts_for(contacts))
        ),
    )
    .await;
    let fields = object(
        e,
        &[
            ("email", "'person' || g.n || '@example.com'".into()),
            ("first_name", pick("g.n", &FIRST_NAMES)),
            ("last_name", "'Last' || g.n".into()),
            ("country", pick("g.n", &COUNTRIES)),
            ("lifecycle_stage", pick("g.n", &STAGES)),
        ],
    );
    // Chunks keep each transaction moderate at a million contacts.
    let chunk = 200_000;
    for lo in (1..=contacts).step_by(chunk) {
        let hi = (lo + chunk - 1).min(contacts);
        run(
            db,
            &format!(
                "INSERT INTO contacts (workspace_id, external_id, email, account_id, search, data, created_at, updated_at) \
                 SELECT {ws}, 'user-' || g.n, 'person' || g.n || '@example.com', \
                 CASE WHEN g.n % 5 <> 0 THEN (SELECT a.id FROM accounts a WHERE a.workspace_id = {ws} AND a.external_id = 'acct-' || ((g.n - 1) / 20 + 1)) END, \
                 'person' || g.n || '@example.com', {fields}, {NOW}, {NOW} FROM {}",
                series(e, lo, hi)
            ),
        )
        .await;
    }
    let opted_in = NOW - 30 * 86_400_000;
    run(
        db,
        &format!(
            "INSERT INTO consent_records (workspace_id, contact_id, topic, channel, subscribed, purpose, legal_basis, source, wording, wording_version, actor, at) \
             SELECT {ws}, id, '{TOPIC}', 'email', TRUE, 'marketing', 'consent', 'form', 'Send me the monthly Northwind newsletter. I can unsubscribe at any time.', 'v3', 'bench', {opted_in} \
             FROM contacts WHERE workspace_id = {ws}"
        ),
    )
    .await;
    run(
        db,
        &format!(
            "INSERT INTO consent_state (workspace_id, contact_id, topic, channel, subscribed, legal_basis, at) \
             SELECT {ws}, id, '{TOPIC}', 'email', TRUE, 'consent', {opted_in} FROM contacts WHERE workspace_id = {ws}"
        ),
    )
    .await;
    // Addresses that bounced before, none of them in the list: the
    // suppression check runs against a table that is not empty.
    run(
        db,
        &format!(
            "INSERT INTO suppressions (workspace_id, email, topic, reason, note, source, created_at) \
             SELECT {ws}, 'gone' || g.n || '@example.net', '', 'hard_bounce', '', 'bounce', {NOW} FROM {}",
            series(e, 1, (contacts / 100).max(1))
        ),
    )
    .await;
    run(
        db,
        &format!(
            "INSERT INTO segment_members (workspace_id, segment_id, member_id, added_at) \
             SELECT {ws}, {list}, id, {NOW} FROM contacts WHERE workspace_id = {ws}"
        ),
    )
    .await;
    if e == Engine::Postgres {
        // Autovacuum would have analysed tables this size by the time anyone sends.
        run(db, "ANALYZE").await;
    }
}

async fn run(db: &Db, sql: &str) {
    db.execute(sql, vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

// ---- the workspace ---------------------------------------------------------------

struct Workspace {
    ws: i64,
    owner: Actor,
    list: i64,
    template: i64,
    provider: i64,
}

async fn workspace(db: &Db, sink: SocketAddr) -> Workspace {
    let ws = admin::create_workspace(db, "northwind", "Northwind Cycling", NOW)
        .await
        .expect("workspace")
        .id;
    let owner = Actor::system(ws);
    provider::set_sending_rules(
        db,
        &owner,
        SendingRules {
            postal_address: POSTAL.into(),
            public_url: PUBLIC_URL.into(),
            unsubscribe_mailbox: MAILBOX.into(),
            quiet_hours: Some(QUIET),
            ..SendingRules::default()
        },
        NOW,
    )
    .await
    .expect("sending rules");
    provider::set_dkim(
        db,
        &owner,
        DkimInput {
            domain: "northwind.test".into(),
            selector: "pitcrew1".into(),
            private_key: DKIM_PEM.into(),
        },
        NOW,
    )
    .await
    .expect("DKIM key");
    let provider = provider::create_provider(
        db,
        &owner,
        ProviderInput {
            name: "Sink".into(),
            host: sink.ip().to_string(),
            port: sink.port(),
            security: Security::None,
            verify_tls: true,
            username: String::new(),
            password: None,
            per_second: PER_SECOND,
            per_hour: 0,
            concurrency: CONCURRENCY,
        },
        NOW,
    )
    .await
    .expect("provider")
    .id;
    consent::create_topic(db, &owner, TOPIC, "The monthly newsletter", NOW)
        .await
        .expect("topic");
    let template = template::create_template(
        db,
        &owner,
        TemplateInput {
            name: "Spring newsletter".into(),
            format: "mjml".into(),
            body: NEWSLETTER.into(),
            text_body: String::new(),
        },
        NOW,
    )
    .await
    .expect("template")
    .id;
    let list = audience::create_segment(
        db,
        &owner,
        NewSegment {
            name: "Newsletter readers".into(),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        NOW,
    )
    .await
    .expect("list")
    .id;
    Workspace {
        ws,
        owner,
        list,
        template,
        provider,
    }
}

fn utm() -> BTreeMap<String, String> {
    [
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", "spring"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn broadcast_input(w: &Workspace) -> BroadcastInput {
    BroadcastInput {
        name: "Spring edition".into(),
        template_id: Some(w.template),
        subject: SUBJECT.into(),
        from_name: FROM_NAME.into(),
        from_email: FROM_EMAIL.into(),
        reply_to: REPLY_TO.into(),
        topic: TOPIC.into(),
        segments: vec![w.list],
        exclusions: vec![],
        provider_id: Some(w.provider),
        tracking: true,
        utm: utm(),
        scheduled_at: None,
    }
}

// ---- the baseline's messages -------------------------------------------------------

/// Pre-built messages and what building them cost, in CPU seconds of
/// this thread for the whole sample (other load on the machine barely
/// changes them).
struct Sample {
    messages: Vec<Vec<u8>>,
    /// Personalising: link tokens, the template, link rewriting, the text part.
    render: f64,
    /// The MIME messages without a signature.
    build: f64,
    /// The same messages built and DKIM-signed.
    build_signed: f64,
}

/// `count` people's emails rendered, link-signed and DKIM-signed by the
/// same functions the sender uses, so they have the pipeline's size. Each
/// step runs over the whole sample in turn, timed as one.
fn sample(count: usize, ws: i64, broadcast_id: i64) -> Sample {
    let prepared = render::prepare(SUBJECT, TemplateFormat::Mjml, NEWSLETTER, "")
        .expect("the newsletter prepares");
    let dkim = DkimKey::new("northwind.test", "pitcrew1", DKIM_PEM).expect("DKIM key");
    let key = token::new_secret().into_bytes();
    let utm: Vec<(String, String)> = utm().into_iter().collect();

    let started = Cpu::thread();
    let outgoing: Vec<Outgoing> = (1..=count)
        .map(|n| {
            let claims = |url: Option<String>| Claims {
                workspace_id: ws,
                broadcast_id,
                contact_id: n as i64,
                url,
            };
            let unsubscribe = token::sign(&key, Purpose::Unsubscribe, &claims(None));
            let unsubscribe_url = format!("{PUBLIC_URL}/u/{unsubscribe}");
            let account = account_of(n).map(account_fields);
            let personal = template::personal_for(
                &contact_fields(n),
                account.as_ref(),
                POSTAL,
                &unsubscribe_url,
                &format!("{unsubscribe_url}/preferences"),
            );
            let track = |url: &str| {
                let t = token::sign(&key, Purpose::Click, &claims(Some(url.to_string())));
                format!("{PUBLIC_URL}/t/c/{t}")
            };
            let pixel = format!(
                "{PUBLIC_URL}/t/o/{}",
                token::sign(&key, Purpose::Open, &claims(None))
            );
            let policy = LinkPolicy {
                utm: &utm,
                track: Some(&track),
                open_pixel: Some(&pixel),
            };
            let rendered = prepared.render(&personal, &policy).expect("renders");
            Outgoing {
                from_name: FROM_NAME.into(),
                from_email: FROM_EMAIL.into(),
                reply_to: Some(REPLY_TO.into()),
                to: format!("person{n}@example.com"),
                subject: rendered.subject,
                html: rendered.html,
                text: rendered.text,
                message_id: message::message_id("northwind.test"),
                unsubscribe_url,
                unsubscribe_mailto: Some(format!(
                    "mailto:{MAILBOX}?subject=unsubscribe%20{unsubscribe}"
                )),
                feedback_id: Some(format!("b{broadcast_id}:w{ws}:pitcrew")),
            }
        })
        .collect();
    let render = Cpu::thread().since(started).total();

    let started = Cpu::thread();
    for o in &outgoing {
        let unsigned = message::build(o, None).expect("builds");
        std::hint::black_box(unsigned.bytes());
    }
    let build = Cpu::thread().since(started).total();

    let started = Cpu::thread();
    let messages = outgoing
        .iter()
        .map(|o| {
            message::build(o, Some(&dkim))
                .expect("builds")
                .bytes()
                .to_vec()
        })
        .collect();
    let build_signed = Cpu::thread().since(started).total();
    Sample {
        messages,
        render,
        build,
        build_signed,
    }
}

/// What one RSA-2048 PKCS#1 v1.5 SHA-256 signature of the same key costs
/// with ring (already a dependency), for comparison with the DKIM step:
/// CPU seconds of this thread.
fn ring_signature() -> f64 {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            DKIM_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("the key's base64");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key");
    let rng = ring::rand::SystemRandom::new();
    let mut signature = vec![0; key.public().modulus_len()];
    let rounds = 1_000;
    let started = Cpu::thread();
    for i in 0..rounds {
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &rng,
            format!("dkim-signature header {i}").as_bytes(),
            &mut signature,
        )
        .expect("sign");
    }
    Cpu::thread().since(started).total() / f64::from(rounds)
}

/// One claim of a batch against the full ledger, rolled back: how long
/// picking the next people takes when all of them still wait.
async fn claim_at_start(db: &Db, ws: i64, broadcast_id: i64, limit: i64) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let mut tx = db.begin().await.expect("begin");
        let started = Instant::now();
        let claimed =
            pitcrew_store::campaign::ledger::claim(tx.conn(), ws, broadcast_id, NOW, limit)
                .await
                .expect("claim");
        best = best.min(started.elapsed());
        assert!(!claimed.is_empty(), "nobody to claim in a fresh ledger");
        // Dropped, not committed: the claim is rolled back.
        drop(tx);
    }
    best
}

/// The sink's acceptance rate: `total` sample messages, cycled, pushed in
/// chunks over `connections` sessions. Only the time on the wire counts.
async fn baseline(
    sink: SocketAddr,
    sample: &[Vec<u8>],
    total: usize,
    connections: usize,
) -> Duration {
    let mut took = Duration::ZERO;
    let mut sent = 0;
    while sent < total {
        let n = BLAST_CHUNK.min(total - sent);
        let chunk: Vec<Vec<u8>> = (sent..sent + n)
            .map(|i| sample[i % sample.len()].clone())
            .collect();
        took += blast(sink, &chunk, connections).await.expect("blast");
        sent += n;
    }
    took
}

// ---- reporting ---------------------------------------------------------------------

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn per_hour(n: usize, took: Duration) -> f64 {
    n as f64 * 3600.0 / took.as_secs_f64()
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

// ---- the run -------------------------------------------------------------------------

async fn bench(o: &Options, db: &Db, engine_label: &str) {
    let n = o.contacts;
    let mut sink = SinkProcess::start();
    println!(
        "pitcrew send: {} contacts on {engine_label}, an MJML newsletter personalised per person, DKIM rsa-sha256 (2048-bit), click and open tracking on",
        thousands(n as f64)
    );
    println!(
        "provider: SMTP sink at {} in process {} (counts, keeps no bodies), security none, per_second {}, per_hour 0 (none), concurrency {CONCURRENCY}",
        sink.addr,
        sink.child.id(),
        thousands(f64::from(PER_SECOND)),
    );

    let started = Instant::now();
    let w = workspace(db, sink.addr).await;
    generate(db, w.ws, w.list, n).await;
    let setup = started.elapsed();
    println!(
        "setup (not measured): {} contacts, {} accounts, {} opt-ins (consent_records + consent_state), {} suppressed addresses elsewhere, one static list: {:.2}s",
        thousands(n as f64),
        thousands(accounts_for(n) as f64),
        thousands(n as f64),
        thousands((n / 100).max(1) as f64),
        setup.as_secs_f64()
    );
    let after_setup = (memory_mb("VmRSS"), memory_mb("VmHWM"));
    let resets = reset_peak();

    let b = broadcast::create_broadcast(db, &w.owner, broadcast_input(&w), NOW)
        .await
        .expect("create the broadcast");
    broadcast::approve(db, &w.owner, b.id, NOW)
        .await
        .expect("approve the broadcast");
    let started = Instant::now();
    let s = broadcast::start(db, &w.owner, b.id, NOW)
        .await
        .expect("start the broadcast");
    let start = started.elapsed();
    assert_eq!(s.status.as_str(), "sending", "{s:?}");
    let start_peak = memory_mb("VmHWM");

    let claim = claim_at_start(db, w.ws, b.id, 4 * i64::from(CONCURRENCY)).await;
    reset_peak();
    let before_send = memory_mb("VmRSS");
    let t0 = Instant::now();
    let sender = Sender::new(
        db.clone(),
        Arc::new(move || NOW + t0.elapsed().as_millis() as i64),
    );
    let (cpu_before, sink_before) = (Cpu::me(), sink.cpu());
    let load_before = load();
    let started = Instant::now();
    let progress = sender.work(w.ws, b.id).await.expect("send");
    let send = started.elapsed();
    let (cpu, sink_cpu) = (Cpu::me().since(cpu_before), sink.cpu().since(sink_before));
    let send_peak = memory_mb("VmHWM");
    let load_after = load();
    drop(sender);

    // Fail loudly unless every person got exactly one email.
    let received = sink.count();
    let stats = broadcast::stats(db, &w.owner, b.id).await.expect("stats");
    assert!(
        progress.finished && progress.sent as usize == n,
        "the sender stopped before the end: {progress:?}"
    );
    assert_eq!(
        received, n,
        "the sink received {received} messages, not {n}"
    );
    assert_eq!(
        (
            stats.sent,
            stats.queued,
            stats.sending,
            stats.failed,
            stats.uncertain
        ),
        (n as i64, 0, 0, 0, 0),
        "the ledger does not show every person sent: {stats:?}"
    );
    assert!(
        stats.skipped.is_empty(),
        "people were skipped: {:?}",
        stats.skipped
    );

    let sample = sample(SAMPLE.min(n), w.ws, b.id);
    let size =
        sample.messages.iter().map(Vec::len).sum::<usize>() as f64 / sample.messages.len() as f64;
    let sink_before = sink.cpu();
    let base = baseline(sink.addr, &sample.messages, n, CONCURRENCY as usize).await;
    let base_sink_cpu = sink.cpu().since(sink_before);
    let received_total = sink.count();
    assert_eq!(
        received_total,
        2 * n,
        "the sink counted {} baseline messages, not {n}",
        received_total - received
    );

    let rate = per_hour(n, send);
    let base_rate = per_hour(n, base);
    let per_cpu_hour = n as f64 * 3600.0 / cpu.total();
    println!();
    println!(
        "start: broadcast::start (checks, plan, ledger of {} rows): {:.2}s",
        thousands(n as f64),
        start.as_secs_f64()
    );
    println!(
        "send: Sender::work until sent, {} people per batch: {:.2}s (machine load {load_before} before, {load_after} after, on {} CPUs)",
        4 * CONCURRENCY,
        send.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    println!(
        "{:<42} {:>12} {:>9} {:>9}",
        "what", "emails/h", "time", "vs base"
    );
    println!(
        "{:<42} {:>12} {:>8.2}s {:>9.2}",
        "baseline: blast of pre-built messages",
        thousands(base_rate),
        base.as_secs_f64(),
        1.0
    );
    println!(
        "{:<42} {:>12} {:>8.2}s {:>9.2}",
        "pipeline: Sender::work",
        thousands(rate),
        send.as_secs_f64(),
        rate / base_rate
    );
    println!();
    println!(
        "sender CPU while sending: {:.2}s (user {:.2}s, system {:.2}s) = {} emails per CPU-hour, {:.0} µs per email",
        cpu.total(),
        cpu.user,
        cpu.system,
        thousands(per_cpu_hour),
        cpu.total() * 1e6 / n as f64
    );
    let each = |cpu: f64| cpu * 1e6 / sample.messages.len() as f64;
    println!(
        "  per email, in CPU time on the baseline's sample: render (tokens, template, links, text part) {:.0} µs, MIME build {:.0} µs, DKIM signature {:.0} µs",
        each(sample.render),
        each(sample.build),
        each(sample.build_signed - sample.build),
    );
    println!(
        "  for comparison, one RSA-2048 signature with ring: {:.0} µs of CPU; one claim of {} people with all {} still queued: {:.1} ms wall",
        ring_signature() * 1e6,
        4 * CONCURRENCY,
        thousands(n as f64),
        claim.as_secs_f64() * 1e3
    );
    println!(
        "sink CPU: {:.2}s while the pipeline sent, {:.2}s during the baseline",
        sink_cpu.total(),
        base_sink_cpu.total()
    );
    println!(
        "baseline messages: {} distinct, {:.1} KB on average, cycled to {} in blasts of {}, over {CONCURRENCY} connections",
        thousands(sample.messages.len() as f64),
        size / 1024.0,
        thousands(n as f64),
        thousands(BLAST_CHUNK as f64)
    );
    if resets {
        println!(
            "sender memory: after setup {:.1} MB resident (peak so far {:.1} MB, the generator's included); peak during start {:.1} MB; {:.1} MB before sending; peak while sending {:.1} MB",
            after_setup.0, after_setup.1, start_peak, before_send, send_peak
        );
    } else {
        println!(
            "sender memory: after setup {:.1} MB resident; the kernel refused to reset the peak, so peaks include earlier phases: {:.1} MB by the end of start, {:.1} MB by the end of sending",
            after_setup.0, start_peak, send_peak
        );
    }
    println!();
    println!(
        "target {} emails per hour per core: {} ({} per CPU-hour of the sender{})",
        thousands(TARGET_PER_CORE_HOUR),
        verdict(per_cpu_hour >= TARGET_PER_CORE_HOUR),
        thousands(per_cpu_hour),
        if db.engine() == Engine::Postgres {
            "; PostgreSQL's own CPU is not counted"
        } else {
            ", SQLite included"
        }
    );
    println!(
        "target peak memory below {TARGET_PEAK_MB:.0} MB while sending: {} ({send_peak:.1} MB)",
        verdict(send_peak < TARGET_PEAK_MB)
    );
    println!(
        "checked: the sink received exactly {} messages from the pipeline; the ledger shows {} sent, none waiting, in flight, failed, uncertain or skipped",
        thousands(received as f64),
        thousands(stats.sent as f64)
    );
}

fn main() {
    if std::env::args().any(|a| a == SINK_FLAG) {
        sink_process_main();
        return;
    }
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if o.postgres {
            let pg = pitcrew_testkit::postgres()
                .await
                .expect("--postgres: PostgreSQL is not reachable (see PITCREW_TEST_POSTGRES)");
            bench(&o, &pg.db, "PostgreSQL (a schema of its own)").await;
        } else {
            let sqlite = pitcrew_testkit::sqlite().await;
            bench(&o, &sqlite.db, "SQLite (a file in a temporary folder)").await;
        }
    });
}
