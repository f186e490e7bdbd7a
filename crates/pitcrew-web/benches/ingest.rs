//! Ingest throughput: a realistic Segment event stream sent as `/v1/batch`
//! requests over real TCP into pitcrew, on SQLite and on PostgreSQL, beside
//! a baseline measured in the same run — the same event rows written by
//! plain multi-row INSERTs with no HTTP, parsing or identity resolution.
//!
//! `cargo bench -p pitcrew-web --bench ingest [-- EVENTS [BATCH]]`
//! (default 50,000 events in batches of 500). PostgreSQL is used when
//! reachable (`PITCREW_TEST_POSTGRES`).

use std::time::Instant;

use pitcrew_app::{Actor, admin, ingest};
use pitcrew_core::event::MessageType;
use pitcrew_store::event::NewEvent;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const NOW: i64 = 1_795_000_000_000;

/// A small deterministic generator (SplitMix64), so every run sends the same stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

const PAGES: &[&str] = &[
    "Home",
    "Pricing",
    "Features",
    "Blog",
    "Docs",
    "Customers",
    "Contact",
    "Careers",
];
const EVENTS: &[&str] = &[
    "Signed Up",
    "Demo Requested",
    "Webinar Attended",
    "Email Clicked",
    "Trial Started",
    "Order Completed",
    "Feature Used",
    "Invite Sent",
];

/// The stream: mostly page views and events from a few thousand people,
/// some anonymous, with identifies as visitors sign up.
fn stream(n: usize) -> Vec<Value> {
    let mut rng = Rng(42);
    let people = (n / 20).max(10) as u64;
    (0..n)
        .map(|i| {
            let p = rng.below(people);
            let anon = format!("anon-{p:06}");
            let user = format!("user-{p:06}");
            let known = !p.is_multiple_of(3);
            let ids = if known { json!({"userId": user, "anonymousId": anon}) } else { json!({"anonymousId": anon}) };
            let mut m = match rng.below(100) {
                0..=44 => {
                    let page = rng.pick(PAGES);
                    json!({"type": "page", "name": page, "properties": {"path": format!("/{}", page.to_lowercase()), "url": format!("https://www.example.com/{}", page.to_lowercase()), "referrer": "https://www.google.com/", "title": page}})
                }
                45..=89 => json!({"type": "track", "event": rng.pick(EVENTS), "properties": {"plan": "team", "value": rng.below(500), "source": "web"}}),
                90..=97 if std::env::var("BENCH_NO_IDENTIFY").is_err() => json!({"type": "identify", "traits": {"email": format!("person{p}@example.com"), "firstName": "Alex", "lastName": format!("Tester{p}"), "plan": "trial"}}),
                98.. if std::env::var("BENCH_NO_IDENTIFY").is_err() => json!({"type": "group", "groupId": format!("acct-{}", p % 200), "traits": {"name": format!("Company {}", p % 200), "employees": 50}}),
                _ => json!({"type": "track", "event": rng.pick(EVENTS), "properties": {"plan": "team"}}),
            };
            let obj = m.as_object_mut().expect("object");
            for (k, v) in ids.as_object().expect("ids") {
                obj.insert(k.clone(), v.clone());
            }
            obj.insert("messageId".into(), json!(format!("msg-{i:09}")));
            obj.insert("timestamp".into(), json!("2026-11-18T10:00:00.000Z"));
            obj.insert("context".into(), json!({"library": {"name": "analytics.js", "version": "2.11.1"}, "ip": "203.0.113.7", "locale": "en-GB", "userAgent": "Mozilla/5.0"}));
            m
        })
        .collect()
}

async fn post(stream: &mut BufReader<tokio::net::TcpStream>, auth: &str, body: &[u8]) -> u16 {
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let s = stream.get_mut();
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    let mut status = String::new();
    stream.read_line(&mut status).await.expect("status");
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("body");
    status.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn through_http(db: pitcrew_app::Db, batches: &[Vec<u8>]) -> f64 {
    let ws = admin::create_workspace(&db, "bench", "Bench", NOW)
        .await
        .expect("workspace");
    let key = ingest::create_source(&db, &Actor::system(ws.id), "Bench", NOW)
        .await
        .expect("source")
        .write_key;
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    );
    let app = pitcrew_web::router(pitcrew_web::AppState::new(
        db,
        false,
        "bench-secret-key-of-32-characters-x",
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    let started = Instant::now();
    for b in batches {
        let status = post(&mut conn, &auth, b).await;
        assert_eq!(status, 200, "the benchmark stream is valid");
    }
    let secs = started.elapsed().as_secs_f64();
    server.abort();
    secs
}

async fn baseline(db: pitcrew_app::Db, messages: &[Value], batch: usize) -> f64 {
    let ws = admin::create_workspace(&db, "baseline", "Baseline", NOW)
        .await
        .expect("workspace");
    let rows: Vec<NewEvent> = messages
        .iter()
        .map(|m| NewEvent {
            source_id: 1,
            contact_id: Some(1),
            message_id: m["messageId"].as_str().unwrap_or_default().to_string(),
            kind: MessageType::parse(m["type"].as_str().unwrap_or("track"))
                .unwrap_or(MessageType::Track),
            name: m["event"]
                .as_str()
                .or(m["name"].as_str())
                .unwrap_or_default()
                .to_string(),
            at: NOW,
            received_at: NOW,
            user_id: m["userId"].as_str().map(str::to_string),
            anonymous_id: m["anonymousId"].as_str().map(str::to_string),
            properties: m["properties"].clone(),
            context: m["context"].clone(),
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut tx = db.begin().await.expect("begin");
        pitcrew_store::event::insert_events(tx.conn(), ws.id, chunk)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    started.elapsed().as_secs_f64()
}

async fn fresh(engine: &str) -> Option<pitcrew_testkit::TestDb> {
    match engine {
        "sqlite" => Some(pitcrew_testkit::sqlite().await),
        _ => pitcrew_testkit::postgres().await,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(50_000);
    let batch = args.get(1).copied().unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let messages = stream(n);
        let batches: Vec<Vec<u8>> = messages
            .chunks(batch)
            .map(|c| serde_json::to_vec(&json!({"batch": c})).expect("json"))
            .collect();
        let mb = batches.iter().map(Vec::len).sum::<usize>() as f64 / 1_048_576.0;
        println!(
            "ingest benchmark: {n} events in batches of {batch} ({mb:.1} MiB of JSON), 2 cores"
        );
        println!(
            "{:<10} {:>16} {:>16} {:>8}",
            "engine", "HTTP events/s", "INSERT rows/s", "ratio"
        );
        for engine in ["sqlite", "postgres"] {
            let (Some(a), Some(b)) = (fresh(engine).await, fresh(engine).await) else {
                println!("{engine:<10} (not reachable; skipped)");
                continue;
            };
            let http = through_http(a.db.clone(), &batches).await;
            let base = baseline(b.db.clone(), &messages, batch).await;
            let (hr, br) = (n as f64 / http, n as f64 / base);
            println!("{engine:<10} {hr:>16.0} {br:>16.0} {:>7.2}x", hr / br);
        }
    });
}
