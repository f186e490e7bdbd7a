//! Sending that survives crashes, proved on the `pitcrew` executable: a
//! broadcast goes out while `pitcrew serve` is killed (SIGKILL) at random
//! moments and started again. Nobody gets a second copy, nobody waiting is
//! lost, and exactly the messages in flight at a crash end `uncertain`. A
//! graceful stop (SIGTERM) settles the batch on the wire instead.
//!
//! The workspace is built through the library on the same database the
//! executable then serves (SQLite, and PostgreSQL when reachable); the SMTP
//! server is the test kit's sink, running in this test process.

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pitcrew_app::audience::{self, NewSegment, SegmentKind};
use pitcrew_app::campaign::broadcast::{self, BroadcastInput, Stats};
use pitcrew_app::campaign::consent;
use pitcrew_app::campaign::provider::{self, ProviderInput};
use pitcrew_app::campaign::template::{self, TemplateInput};
use pitcrew_app::import::{self, ImportOptions, Unobserved};
use pitcrew_app::record::{self, ListParams};
use pitcrew_app::{Actor, Db, now_ms};
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::campaign::{BroadcastStatus, RecipientState, Security};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::Engine;
use pitcrew_store::campaign::consent::{NewConsentRecord, append_consent};
use pitcrew_testkit::TestDb;
use pitcrew_testkit::smtp::SmtpSink;

use crate::{BIN, Server, TempDir, free_port, wait_healthy};

const CONTACTS: usize = 1_000;
/// People in the graceful-stop test, which needs only a stop mid-send.
const GRACEFUL_CONTACTS: usize = 300;
/// SMTP connections the provider allows.
const CONCURRENCY: u32 = 4;
/// People the sender claims at once: four per connection. At most this
/// many are in flight when the process dies.
const BATCH: usize = 4 * CONCURRENCY as usize;
const CRASHES: usize = 5;
/// How long the sink takes to accept each message. Over four connections
/// the broadcast then takes at least 1,000 × 20 ms / 4 = 5 s of sending,
/// more than five runs killed within 800 ms of answering can use, so every
/// crash lands while the broadcast is still going.
const SINK_DELAY: Duration = Duration::from_millis(20);
/// Random wait between a start (the server answering) and its kill, in
/// milliseconds.
const KILL_AFTER_MS: (u64, u64) = (100, 800);
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);
const SECRET_KEY: &str = "crash-test-secret-key-0123456789abcdef";

/// A small seeded random source (SplitMix64): the same seed gives the same
/// crash schedule.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, (low, high): (u64, u64)) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// `PITCREW_CRASH_SEED` replays a schedule; otherwise the clock picks one.
fn seed() -> u64 {
    if let Some(seed) = std::env::var("PITCREW_CRASH_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return seed;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    nanos ^ u64::from(std::process::id())
}

/// The database of a test, as the executable is told to open it.
struct Target {
    url: String,
    /// PostgreSQL: the name the executable's connections carry, to see
    /// when a killed process's sessions are gone.
    application_name: Option<String>,
}

async fn target_of(t: &TestDb, label: &str) -> Target {
    match t.engine() {
        Engine::Sqlite => {
            let row =
                t.db.fetch_one(
                    "SELECT file FROM pragma_database_list WHERE name = 'main'",
                    vec![],
                )
                .await
                .expect("the SQLite file");
            Target {
                url: format!("sqlite://{}", row.text("file").expect("file")),
                application_name: None,
            }
        }
        Engine::Postgres => {
            let row =
                t.db.fetch_one("SELECT current_schema() AS s", vec![])
                    .await
                    .expect("the schema");
            let schema = row.text("s").expect("schema");
            let name = format!("{schema}_{label}");
            let base = pitcrew_testkit::postgres_url();
            let join = if base.contains('?') { '&' } else { '?' };
            Target {
                url: format!("{base}{join}options[search_path]={schema}&application_name={name}"),
                application_name: Some(name),
            }
        }
    }
}

/// A broadcast approved and started to `people` opted-in contacts.
struct Campaign {
    actor: Actor,
    broadcast: i64,
}

async fn campaign(db: &Db, sink: &SmtpSink, people: usize) -> Campaign {
    let now = now_ms();
    let ws = pitcrew_app::admin::create_workspace(db, "crash", "Crash Test Ltd", now)
        .await
        .expect("workspace");
    let actor = Actor::system(ws.id);
    provider::set_sending_rules(
        db,
        &actor,
        SendingRules {
            postal_address: "Crash Test Ltd, 1 Harbour Street, Leith".into(),
            public_url: "https://mail.crash.test".into(),
            ..SendingRules::default()
        },
        now,
    )
    .await
    .expect("sending rules");
    let sink_provider = provider::create_provider(
        db,
        &actor,
        ProviderInput {
            name: "Sink".into(),
            host: "127.0.0.1".into(),
            port: sink.port(),
            security: Security::None,
            verify_tls: true,
            username: String::new(),
            password: None,
            per_second: 10_000,
            per_hour: 0,
            concurrency: CONCURRENCY,
        },
        now,
    )
    .await
    .expect("provider");
    consent::create_topic(db, &actor, "News", "Product news", now)
        .await
        .expect("topic");
    let body = "<html><body><p>Hi {{ contact.first_name }},</p><p>Our autumn range is in.</p>\
                <p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> · {{ postal_address }}</p></body></html>";
    let t = template::create_template(
        db,
        &actor,
        TemplateInput {
            name: "Autumn".into(),
            format: "html".into(),
            body: body.into(),
            text_body: String::new(),
        },
        now,
    )
    .await
    .expect("template");

    let mut csv = String::from("email,first_name\n");
    for i in 0..people {
        csv.push_str(&format!("person{i:04}@crash.test,Person {i}\n"));
    }
    let imported = import::import_csv(
        db,
        &actor,
        Box::new(Cursor::new(csv.into_bytes())),
        ImportOptions::new(ObjectKind::Contact),
        &mut Unobserved,
        now,
    )
    .await
    .expect("import");
    assert_eq!(imported.created, people as i64, "{imported:?}");
    let ids = contact_ids(db, &actor).await;
    // The opt-ins arrive with the list, in one transaction: a thousand
    // single-person calls would make the setup outlast the test.
    let mut tx = db.begin().await.expect("begin");
    for id in &ids {
        let opt_in = NewConsentRecord {
            topic: "News",
            channel: "email",
            subscribed: true,
            purpose: "marketing",
            legal_basis: LegalBasis::Consent,
            source: ConsentSource::Import,
            wording: "Send me product news",
            wording_version: "signup-1",
            broadcast_id: None,
            actor: "system",
            at: now,
        };
        append_consent(tx.conn(), ws.id, *id, &opt_in)
            .await
            .expect("opt in");
    }
    tx.commit().await.expect("commit");
    let list = audience::create_segment(
        db,
        &actor,
        NewSegment {
            name: "Everyone".into(),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        now,
    )
    .await
    .expect("list");
    audience::add_list_members(db, &actor, list.id, ids, now)
        .await
        .expect("members");
    let b = broadcast::create_broadcast(
        db,
        &actor,
        BroadcastInput {
            name: "Autumn range".into(),
            template_id: Some(t.id),
            subject: "Autumn is here, {{ contact.first_name }}".into(),
            from_name: "Crash Test".into(),
            from_email: "news@crash.test".into(),
            reply_to: String::new(),
            topic: "News".into(),
            segments: vec![list.id],
            exclusions: vec![],
            provider_id: Some(sink_provider.id),
            tracking: true,
            utm: Default::default(),
            scheduled_at: None,
        },
        now,
    )
    .await
    .expect("broadcast");
    broadcast::approve(db, &actor, b.id, now)
        .await
        .expect("approve");
    let started = broadcast::start(db, &actor, b.id, now_ms())
        .await
        .expect("start");
    assert_eq!(started.status, BroadcastStatus::Sending);
    Campaign {
        actor,
        broadcast: b.id,
    }
}

async fn contact_ids(db: &Db, actor: &Actor) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let (page, ..) = record::list_records(
            db,
            actor,
            ObjectKind::Contact,
            ListParams {
                sort: Some("id".into()),
                limit: Some(record::MAX_PAGE),
                offset: Some(ids.len() as i64),
                ..ListParams::default()
            },
        )
        .await
        .expect("contacts");
        if page.is_empty() {
            return ids;
        }
        ids.extend(page.iter().map(|r| r.id));
    }
}

/// `pitcrew serve` on the test's database, its log appended to `log`,
/// and the port it listens on.
fn serve(target: &Target, data: &Path, log: &Path) -> (Server, u16) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let child = Command::new(BIN)
        .args(["--database-url", &target.url, "--data-dir"])
        .arg(data)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--secret-key",
            SECRET_KEY,
            "--sender",
            "true",
            "--sender-interval-ms",
            "100",
            "--log",
            "info",
            "serve",
        ])
        .env_remove("PITCREW_DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start pitcrew serve");
    (Server(child), port)
}

/// Kill without warning and wait until the database has let go of the
/// process: after this, what the ledger shows is what the next start finds.
async fn kill(server: &mut Server, db: &Db, target: &Target) {
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reap");
    let Some(name) = &target.application_name else {
        return;
    };
    let started = Instant::now();
    loop {
        let n = db
            .fetch_one(
                "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = $1",
                vec![name.as_str().into()],
            )
            .await
            .expect("sessions")
            .int("n")
            .expect("count");
        if n == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "PostgreSQL still has {n} sessions of a killed pitcrew"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(db: &Db, c: &Campaign) -> BroadcastStatus {
    broadcast::get_broadcast(db, &c.actor, c.broadcast)
        .await
        .expect("broadcast")
        .status
}

async fn stats(db: &Db, c: &Campaign) -> Stats {
    broadcast::stats(db, &c.actor, c.broadcast)
        .await
        .expect("stats")
}

/// Every ledger row: contact id → (email, state).
async fn ledger(db: &Db, c: &Campaign) -> HashMap<i64, (String, RecipientState)> {
    let mut rows = HashMap::new();
    let mut after = 0;
    loop {
        let page = broadcast::recipients(db, &c.actor, c.broadcast, None, after, 1000)
            .await
            .expect("recipients");
        let Some(last) = page.last() else {
            return rows;
        };
        after = last.contact_id;
        rows.extend(page.into_iter().map(|d| (d.contact_id, (d.email, d.state))));
    }
}

/// The contacts whose rows are `state` now.
async fn in_state(db: &Db, c: &Campaign, state: RecipientState) -> BTreeSet<i64> {
    ledger(db, c)
        .await
        .into_iter()
        .filter(|(_, (_, s))| *s == state)
        .map(|(id, _)| id)
        .collect()
}

/// Copies the sink accepted, per recipient address.
fn copies(sink: &SmtpSink) -> HashMap<String, usize> {
    let mut got = HashMap::new();
    for m in sink.messages() {
        for to in m.rcpt_to {
            *got.entry(to).or_default() += 1;
        }
    }
    got
}

async fn wait_until_sent(db: &Db, c: &Campaign, log: &Path) {
    let started = Instant::now();
    while status(db, c).await != BroadcastStatus::Sent {
        assert!(
            started.elapsed() < FINISH_TIMEOUT,
            "the broadcast did not finish in {FINISH_TIMEOUT:?}: {:?}\n{}",
            stats(db, c).await,
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the sender logged, at start, it had marked uncertain.
fn recovered_in(log: &Path) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("the sender holds its lease"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("recovered_as_uncertain="))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

fn folder(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.0.join(name);
    std::fs::create_dir_all(&path).expect("folder");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_killed_mid_broadcast_never_sends_twice_and_reports_only_what_was_in_flight() {
    let seed = seed();
    println!("crash schedule seed {seed} (replay with PITCREW_CRASH_SEED={seed})");
    let dir = TempDir::new("crash");
    for t in pitcrew_testkit::each_engine().await {
        let engine = format!("{:?}", t.engine());
        let db = &t.db;
        let sink = SmtpSink::builder().delay(SINK_DELAY).start().await;
        let setup = Instant::now();
        let c = campaign(db, &sink, CONTACTS).await;
        let setup = setup.elapsed();
        let target = target_of(&t, "crash").await;
        let data = folder(&dir, &engine);
        let log = data.join("serve.log");
        let mut dice = Dice(seed);

        // Rows `sending` after each crash: the messages whose fate it left unknown.
        let mut in_flight: Vec<BTreeSet<i64>> = Vec::new();
        let sending = Instant::now();
        while in_flight.len() < CRASHES && status(db, &c).await == BroadcastStatus::Sending {
            let (mut server, port) = serve(&target, &data, &log);
            wait_healthy(port).await;
            let after = dice.between(KILL_AFTER_MS);
            tokio::time::sleep(Duration::from_millis(after)).await;
            kill(&mut server, db, &target).await;
            let flying = in_state(db, &c, RecipientState::Sending).await;
            let s = stats(db, &c).await;
            println!(
                "{engine}: crash {} after {after} ms: {} in flight, {} sent, {} uncertain, {} received",
                in_flight.len() + 1,
                flying.len(),
                s.sent,
                s.uncertain,
                sink.count()
            );
            in_flight.push(flying);
        }
        let crashes = in_flight.len();
        let finish_log = data.join("finish.log");
        let (last, _) = serve(&target, &data, &finish_log);
        wait_until_sent(db, &c, &finish_log).await;
        let sending = sending.elapsed();
        drop(last);

        let rows = ledger(db, &c).await;
        let got = copies(&sink);
        let s = stats(db, &c).await;
        let uncertain: BTreeSet<i64> = rows
            .iter()
            .filter(|(_, (_, state))| *state == RecipientState::Uncertain)
            .map(|(id, _)| *id)
            .collect();
        let was_in_flight: BTreeSet<i64> = in_flight.iter().flatten().copied().collect();
        let received: usize = got.values().sum();
        println!(
            "{engine}: seed {seed}, setup {setup:?}, sending {sending:?}: crashes {crashes}, sent {}, uncertain {}, received {received} (to {} addresses), skipped {:?}",
            s.sent,
            uncertain.len(),
            got.len(),
            s.skipped,
        );

        assert_eq!(
            crashes, CRASHES,
            "{engine}: the broadcast finished before every crash; slow the sink down"
        );
        assert!(
            in_flight.iter().any(|f| !f.is_empty()),
            "{engine}: no crash landed while messages were in flight"
        );
        assert_eq!(rows.len(), CONTACTS, "{engine}: one ledger row per person");
        for (id, (email, state)) in &rows {
            assert!(
                matches!(
                    state,
                    RecipientState::Sent | RecipientState::Skipped | RecipientState::Uncertain
                ),
                "{engine}: contact {id} ({email}) ended {state:?}"
            );
            if *state == RecipientState::Sent {
                assert_eq!(
                    got.get(email),
                    Some(&1),
                    "{engine}: {email} is marked sent, so exactly one copy arrived"
                );
            }
        }
        let state_of: HashMap<&str, RecipientState> =
            rows.values().map(|(e, s)| (e.as_str(), *s)).collect();
        for (email, n) in &got {
            assert_eq!(*n, 1, "{engine}: {email} received {n} copies");
            let state = *state_of
                .get(email.as_str())
                .unwrap_or_else(|| panic!("{engine}: {email} received mail but has no row"));
            assert!(
                matches!(state, RecipientState::Sent | RecipientState::Uncertain),
                "{engine}: {email} received a copy but is {state:?}"
            );
        }
        // Everyone was opted in and reachable: nobody waiting was dropped.
        assert_eq!(
            s.sent as usize + uncertain.len(),
            CONTACTS,
            "{engine}: {s:?}"
        );
        assert_eq!((s.queued, s.sending, s.failed), (0, 0, 0), "{engine}");
        assert_eq!(
            uncertain, was_in_flight,
            "{engine}: exactly the messages in flight at a crash are uncertain"
        );
        for (i, f) in in_flight.iter().enumerate() {
            assert!(
                f.len() <= BATCH,
                "{engine}: crash {} left {} in flight, more than one batch of {BATCH}",
                i + 1,
                f.len()
            );
        }
        assert!(uncertain.len() <= crashes * BATCH, "{engine}");
        // The run that finished began by settling what the last crash left.
        let last_crash = in_flight.last().map_or(0, BTreeSet::len) as u64;
        assert_eq!(
            recovered_in(&finish_log),
            [last_crash],
            "{engine}: {}",
            std::fs::read_to_string(&finish_log).unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_stop_settles_the_batch_on_the_wire_and_the_next_start_resumes() {
    let dir = TempDir::new("graceful");
    for t in pitcrew_testkit::each_engine().await {
        let engine = format!("{:?}", t.engine());
        let db = &t.db;
        let sink = SmtpSink::builder().delay(SINK_DELAY).start().await;
        let c = campaign(db, &sink, GRACEFUL_CONTACTS).await;
        let target = target_of(&t, "graceful").await;
        let data = folder(&dir, &engine);
        let log = data.join("serve.log");

        let (mut server, _) = serve(&target, &data, &log);
        assert!(
            sink.wait_for(100, Duration::from_secs(30)).await,
            "{engine}: sending began: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let term = Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(term.success());
        let stopped = Instant::now();
        let exit = loop {
            if let Some(exit) = server.0.try_wait().expect("wait") {
                break exit;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(20),
                "{engine}: pitcrew did not stop on SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(exit.success(), "{engine}: {exit:?}\n{text}");
        assert!(text.contains("the sender has stopped"), "{engine}: {text}");

        let s = stats(db, &c).await;
        println!(
            "{engine}: stopped after {} sent, {} waiting",
            s.sent, s.queued
        );
        assert_eq!(
            (s.sending, s.uncertain),
            (0, 0),
            "{engine}: nothing is left in flight: {s:?}"
        );
        assert!(
            s.queued > 0,
            "{engine}: the stop came before the end: {s:?}"
        );
        assert_eq!(status(db, &c).await, BroadcastStatus::Sending);
        assert_eq!(
            s.sent as usize,
            sink.count(),
            "{engine}: what arrived is what is marked sent"
        );

        let (again, _) = serve(&target, &data, &log);
        wait_until_sent(db, &c, &log).await;
        drop(again);
        let s = stats(db, &c).await;
        let got = copies(&sink);
        assert_eq!(
            (s.sent as usize, s.uncertain, got.len()),
            (GRACEFUL_CONTACTS, 0, GRACEFUL_CONTACTS),
            "{engine}: {s:?}"
        );
        assert!(got.values().all(|n| *n == 1), "{engine}: one copy each");
        assert_eq!(
            recovered_in(&log),
            [0, 0],
            "{engine}: neither start found anything in flight"
        );
    }
}
