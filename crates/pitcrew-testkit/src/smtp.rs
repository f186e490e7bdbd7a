//! An SMTP server for tests: listens on 127.0.0.1, speaks enough RFC 5321 for
//! lettre and Python's smtplib (EHLO, PIPELINING, STARTTLS, AUTH, DATA with
//! dot-unstuffing), keeps what it accepts, and can refuse chosen recipients.
//!
//! `blast` is the other end: a minimal client that pushes pre-built messages
//! as fast as the sink takes them, the baseline for sending benchmarks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How the sink answers a recipient it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `550 5.1.1`: the mailbox does not exist.
    Permanent,
    /// `451 4.3.0`: try again later.
    Temporary,
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
    /// When the sink accepted it.
    pub at: Instant,
    /// Whether the session had been upgraded with STARTTLS.
    pub tls: bool,
    /// The user name given with AUTH, if any.
    pub login: Option<String>,
}

type RejectFn = Arc<dyn Fn(&str) -> Option<Rejection> + Send + Sync>;

/// A self-signed certificate for `localhost` and 127.0.0.1 (valid until
/// 2126), used only by this sink: clients must be told to accept it.
const TEST_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUcTt17/gLJpvP/W+IJQ4NfeAaQ2swCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzE2MjYyMVoYDzIxMjYxMDMw
MTYyNjIxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATYqXE6OFt8e7HKA0lCgzsytsy0Ib2IaiI2byKNIOc9XhY1P2orS6y3
mgqK7OdxVNiUXwvVQfWYlYq6m9rT7IKxo28wbTAdBgNVHQ4EFgQUkXfa5q9+SmQX
Ea10h0XmpF/J0yIwHwYDVR0jBBgwFoAUkXfa5q9+SmQXEa10h0XmpF/J0yIwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAI299CW+sfKptkpulCIioUkbeTTHj6Mqe3sLdQYFvDohAiAr
MHvQzCR14E8v8yCs0tCYXO/n+UigucU90fztJtvYnA==
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9TStU+yhTy5SNAv5
S87XByUB55nxl4Lyy9qPmHXbKSShRANCAATYqXE6OFt8e7HKA0lCgzsytsy0Ib2I
aiI2byKNIOc9XhY1P2orS6y3mgqK7OdxVNiUXwvVQfWYlYq6m9rT7IKx
-----END PRIVATE KEY-----
";

const SERVER_NAME: &str = "pitcrew-sink";
/// Command lines longer than this are refused (RFC 5321 allows 512).
const COMMAND_LIMIT: usize = 4096;

/// Options for a sink; `SmtpSink::builder()` starts with accepting everything.
pub struct SmtpSinkBuilder {
    reject: Option<RejectFn>,
    delay: Duration,
    starttls: bool,
    auth: bool,
    refuse_logins: bool,
    store_bodies: bool,
    max_size: usize,
}

impl SmtpSinkBuilder {
    /// Refuses recipients for which `decide` returns a rejection.
    pub fn reject(
        mut self,
        decide: impl Fn(&str) -> Option<Rejection> + Send + Sync + 'static,
    ) -> Self {
        self.reject = Some(Arc::new(decide));
        self
    }

    /// Waits this long before accepting each message (a slow server).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Offers STARTTLS with a self-signed certificate.
    pub fn starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }

    /// Offers AUTH PLAIN and LOGIN, accepting any user and password.
    pub fn auth(mut self, on: bool) -> Self {
        self.auth = on;
        self
    }

    /// Answers every AUTH with `535 5.7.8` (wrong user name or password).
    pub fn refuse_logins(mut self, on: bool) -> Self {
        self.refuse_logins = on;
        self
    }

    /// With `false`, accepted messages are only counted, not kept
    /// (for benchmarks: memory stays flat).
    pub fn store_bodies(mut self, on: bool) -> Self {
        self.store_bodies = on;
        self
    }

    /// Largest message accepted, in bytes (default 10 MB); larger ones get 552.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    pub async fn start(self) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink to 127.0.0.1");
        let addr = listener.local_addr().expect("the SMTP sink's address");
        let tls = self.starttls.then(test_tls_acceptor);
        let shared = Arc::new(Shared {
            reject: self.reject,
            delay: self.delay,
            tls,
            auth: self.auth,
            refuse_logins: self.refuse_logins,
            store_bodies: self.store_bodies,
            max_size: self.max_size,
            received: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            arrived: Notify::new(),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        SmtpSink {
            addr,
            shared,
            accept,
        }
    }
}

/// A running sink; dropping it stops the server and ends its sessions.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    reject: Option<RejectFn>,
    delay: Duration,
    tls: Option<TlsAcceptor>,
    auth: bool,
    refuse_logins: bool,
    store_bodies: bool,
    max_size: usize,
    received: Mutex<Vec<Received>>,
    count: AtomicUsize,
    rejected: AtomicUsize,
    arrived: Notify,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The accept task owns every session task; aborting it ends them all.
        self.accept.abort();
    }
}

impl SmtpSink {
    /// A sink that accepts everything, with AUTH on and STARTTLS off.
    pub async fn start() -> SmtpSink {
        SmtpSink::builder().start().await
    }

    pub fn builder() -> SmtpSinkBuilder {
        SmtpSinkBuilder {
            reject: None,
            delay: Duration::ZERO,
            starttls: false,
            auth: true,
            refuse_logins: false,
            store_bodies: true,
            max_size: 10 * 1024 * 1024,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything accepted so far, in order (empty with `store_bodies(false)`).
    pub fn messages(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many messages were accepted.
    pub fn count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// How many recipients were refused.
    pub fn rejected(&self) -> usize {
        self.shared.rejected.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` messages were accepted; `false` on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            // Registered before the count is read, so no arrival is missed.
            arrived.as_mut().enable();
            if self.count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.count() >= n;
            }
        }
    }
}

fn test_tls_acceptor() -> TlsAcceptor {
    let cert = CertificateDer::from_pem_slice(TEST_CERTIFICATE.as_bytes())
        .expect("the sink's test certificate");
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).expect("the sink's test key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("the sink's TLS settings");
    TlsAcceptor::from(Arc::new(config))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                sessions.spawn(serve(stream, Arc::clone(&shared)));
            }
            // Reap finished sessions so the set does not grow without bound.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

enum End {
    Closed,
    StartTls,
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut plain = BufReader::new(stream);
    let greeting = format!("220 {SERVER_NAME} ESMTP ready\r\n");
    if plain
        .get_mut()
        .write_all(greeting.as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let Ok(End::StartTls) = session(&mut plain, &shared, false).await else {
        return;
    };
    let Some(acceptor) = shared.tls.clone() else {
        return;
    };
    let Ok(tls) = acceptor.accept(plain.into_inner()).await else {
        return;
    };
    // RFC 3207: after the handshake the client starts over with EHLO.
    let mut secure = BufReader::new(tls);
    let _ = session(&mut secure, &shared, true).await;
}

#[derive(PartialEq)]
enum Line {
    Full,
    TooLong,
    Eof,
}

/// Reads one line (up to and including `\n`) of at most `limit` bytes; a
/// longer line is consumed and reported, not kept.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    line.clear();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > limit {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        reader.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Full });
        }
    }
}

/// The address inside `<…>` after `FROM:` or `TO:`, and what follows it.
fn path_argument<'a>(args: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = args[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some((&rest[..end], &rest[end + 1..]))
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim()).ok()
}

struct Session {
    greeted: bool,
    login: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// Runs commands until QUIT, end of input, or a STARTTLS to perform.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    shared: &Shared,
    tls: bool,
) -> std::io::Result<End> {
    let mut s = Session {
        greeted: false,
        login: None,
        mail_from: None,
        rcpt_to: Vec::new(),
    };
    let mut out: Vec<u8> = Vec::new();
    let mut line = Vec::new();
    loop {
        // Replies to pipelined commands go out together, once the client's
        // batch has been read; before any read that could block they are sent.
        if reader.buffer().is_empty() && !out.is_empty() {
            reader.get_mut().write_all(&out).await?;
            out.clear();
        }
        match read_line(reader, &mut line, COMMAND_LIMIT).await? {
            Line::Eof => return Ok(End::Closed),
            Line::TooLong => {
                out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
                continue;
            }
            Line::Full => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, args) = text.split_once(' ').unwrap_or((text, ""));
        let args = args.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                s = Session {
                    greeted: true,
                    login: s.login,
                    mail_from: None,
                    rcpt_to: Vec::new(),
                };
                let mut reply = format!(
                    "250-{SERVER_NAME} greets {args}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE {}\r\n",
                    shared.max_size
                );
                if shared.tls.is_some() && !tls {
                    reply.push_str("250-STARTTLS\r\n");
                }
                if shared.auth {
                    reply.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                reply.push_str("250 ENHANCEDSTATUSCODES\r\n");
                out.extend_from_slice(reply.as_bytes());
            }
            "HELO" => {
                s.greeted = true;
                s.mail_from = None;
                s.rcpt_to.clear();
                out.extend_from_slice(format!("250 {SERVER_NAME}\r\n").as_bytes());
            }
            "STARTTLS" if shared.tls.is_some() && !tls => {
                out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                reader.get_mut().write_all(&out).await?;
                // Anything sent after STARTTLS before the handshake would be
                // injected into the secure session: refuse the connection.
                if !reader.buffer().is_empty() {
                    return Ok(End::Closed);
                }
                return Ok(End::StartTls);
            }
            "AUTH" if shared.auth => {
                if s.login.is_some() || s.mail_from.is_some() {
                    out.extend_from_slice(
                        b"503 5.5.1 Already authenticated or in a transaction\r\n",
                    );
                    continue;
                }
                match auth(reader, &mut out, args).await? {
                    Some(_) if shared.refuse_logins => {
                        out.extend_from_slice(b"535 5.7.8 Authentication credentials invalid\r\n");
                    }
                    Some(user) => {
                        s.login = Some(user);
                        out.extend_from_slice(b"235 2.7.0 Authentication successful\r\n");
                    }
                    None => out.extend_from_slice(b"501 5.5.4 Malformed authentication\r\n"),
                }
            }
            "MAIL" => {
                if !s.greeted {
                    out.extend_from_slice(b"503 5.5.1 Say EHLO first\r\n");
                } else if s.mail_from.is_some() {
                    out.extend_from_slice(b"503 5.5.1 Nested MAIL command\r\n");
                } else if let Some((from, params)) = path_argument(args, "FROM:") {
                    let declared = params.split_whitespace().find_map(|p| {
                        let (k, v) = p.split_once('=')?;
                        k.eq_ignore_ascii_case("SIZE")
                            .then(|| v.parse::<usize>().ok())?
                    });
                    if declared.is_some_and(|size| size > shared.max_size) {
                        out.extend_from_slice(b"552 5.3.4 Message size exceeds fixed limit\r\n");
                    } else {
                        s.mail_from = Some(from.to_string());
                        out.extend_from_slice(b"250 2.1.0 OK\r\n");
                    }
                } else {
                    out.extend_from_slice(b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
                }
            }
            "RCPT" => {
                if s.mail_from.is_none() {
                    out.extend_from_slice(b"503 5.5.1 Need MAIL before RCPT\r\n");
                    continue;
                }
                let Some((to, _)) = path_argument(args, "TO:").filter(|(to, _)| !to.is_empty())
                else {
                    out.extend_from_slice(b"501 5.5.4 Syntax: RCPT TO:<address>\r\n");
                    continue;
                };
                match shared.reject.as_ref().and_then(|decide| decide(to)) {
                    Some(Rejection::Permanent) => {
                        shared.rejected.fetch_add(1, Ordering::SeqCst);
                        out.extend_from_slice(
                            format!(
                                "550 5.1.1 <{to}>: Recipient address rejected: no such mailbox\r\n"
                            )
                            .as_bytes(),
                        );
                    }
                    Some(Rejection::Temporary) => {
                        shared.rejected.fetch_add(1, Ordering::SeqCst);
                        out.extend_from_slice(
                            format!("451 4.3.0 <{to}>: Temporary failure, try again later\r\n")
                                .as_bytes(),
                        );
                    }
                    None => {
                        s.rcpt_to.push(to.to_string());
                        out.extend_from_slice(b"250 2.1.5 OK\r\n");
                    }
                }
            }
            "DATA" => {
                if s.mail_from.is_none() || s.rcpt_to.is_empty() {
                    out.extend_from_slice(b"503 5.5.1 Need MAIL and RCPT before DATA\r\n");
                    continue;
                }
                out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                reader.get_mut().write_all(&out).await?;
                out.clear();
                let Some((data, fits)) = read_data(reader, shared).await? else {
                    return Ok(End::Closed);
                };
                let mail_from = s.mail_from.take().unwrap_or_default();
                let rcpt_to = std::mem::take(&mut s.rcpt_to);
                if !fits {
                    out.extend_from_slice(b"552 5.3.4 Message size exceeds fixed limit\r\n");
                    continue;
                }
                if !shared.delay.is_zero() {
                    tokio::time::sleep(shared.delay).await;
                }
                let number = accept(shared, mail_from, rcpt_to, data, tls, s.login.clone());
                out.extend_from_slice(format!("250 2.0.0 OK queued as {number}\r\n").as_bytes());
            }
            "RSET" => {
                s.mail_from = None;
                s.rcpt_to.clear();
                out.extend_from_slice(b"250 2.0.0 OK\r\n");
            }
            "NOOP" => out.extend_from_slice(b"250 2.0.0 OK\r\n"),
            "VRFY" => out.extend_from_slice(b"252 2.5.2 Cannot VRFY user\r\n"),
            "QUIT" => {
                out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                reader.get_mut().write_all(&out).await?;
                let _ = reader.get_mut().shutdown().await;
                return Ok(End::Closed);
            }
            _ => out.extend_from_slice(b"502 5.5.2 Command not implemented\r\n"),
        }
    }
}

/// Reads the message after 354 up to the `.` line, undoing dot-stuffing.
/// `None` when the client hung up; `fits` is false past the size limit.
async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    shared: &Shared,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut data = Vec::new();
    let mut size = 0usize;
    let mut fits = true;
    let mut line = Vec::new();
    loop {
        match read_line(reader, &mut line, shared.max_size + 3).await? {
            Line::Eof => return Ok(None),
            Line::TooLong => {
                fits = false;
                continue;
            }
            Line::Full => {}
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some((data, fits)));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        size += content.len();
        if size > shared.max_size {
            fits = false;
            data = Vec::new();
        }
        if fits && shared.store_bodies {
            data.extend_from_slice(content);
        }
    }
}

fn accept(
    shared: &Shared,
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
    tls: bool,
    login: Option<String>,
) -> usize {
    let number = if shared.store_bodies {
        let mut received = shared
            .received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        received.push(Received {
            mail_from,
            rcpt_to,
            data,
            at: Instant::now(),
            tls,
            login,
        });
        // Counted under the lock so `count` never runs ahead of `messages`.
        shared.count.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        shared.count.fetch_add(1, Ordering::SeqCst) + 1
    };
    shared.arrived.notify_waiters();
    number
}

/// AUTH PLAIN and LOGIN, initial response or challenge; returns the user.
async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    out: &mut Vec<u8>,
    args: &str,
) -> std::io::Result<Option<String>> {
    let (mechanism, initial) = args.split_once(' ').unwrap_or((args, ""));
    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let response = if initial.is_empty() {
                ask(reader, out, b"334 \r\n").await?
            } else {
                decode_base64(initial)
            };
            // authzid \0 authcid \0 password
            Ok(response.and_then(|r| {
                let parts: Vec<&[u8]> = r.split(|b| *b == 0).collect();
                (parts.len() == 3).then(|| String::from_utf8_lossy(parts[1]).into_owned())
            }))
        }
        "LOGIN" => {
            let user = if initial.is_empty() {
                ask(reader, out, b"334 VXNlcm5hbWU6\r\n").await?
            } else {
                decode_base64(initial)
            };
            let Some(user) = user else { return Ok(None) };
            let password = ask(reader, out, b"334 UGFzc3dvcmQ6\r\n").await?;
            Ok(password.map(|_| String::from_utf8_lossy(&user).into_owned()))
        }
        _ => Ok(None),
    }
}

/// Sends a challenge and reads the base64 answer (`None` if cancelled or malformed).
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    out: &mut Vec<u8>,
    prompt: &[u8],
) -> std::io::Result<Option<Vec<u8>>> {
    out.extend_from_slice(prompt);
    reader.get_mut().write_all(out).await?;
    out.clear();
    let mut line = Vec::new();
    if read_line(reader, &mut line, COMMAND_LIMIT).await? != Line::Full {
        return Ok(None);
    }
    let answer = String::from_utf8_lossy(&line).trim().to_string();
    Ok((answer != "*").then(|| decode_base64(&answer)).flatten())
}

/// Pushes `messages` (complete RFC 5322 messages) into an SMTP server over
/// `connections` parallel sessions, with the least client work possible, and
/// returns how long the server took to accept them all. Dot-stuffing is done
/// before the clock starts.
pub async fn blast(
    addr: SocketAddr,
    messages: &[Vec<u8>],
    connections: usize,
) -> std::io::Result<Duration> {
    let connections = connections.clamp(1, messages.len().max(1));
    let mut lanes: Vec<Vec<Vec<u8>>> = vec![Vec::new(); connections];
    for (i, message) in messages.iter().enumerate() {
        lanes[i % connections].push(stuffed(message));
    }
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for lane in lanes {
        tasks.spawn(blast_lane(addr, lane));
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(std::io::Error::other)??;
    }
    Ok(start.elapsed())
}

/// The message as it goes after DATA: leading dots doubled, CRLF-terminated,
/// and the final `.` line.
fn stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn blast_lane(addr: SocketAddr, lane: Vec<Vec<u8>>) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    expect_reply(&mut reader, &mut line, b"220").await?;
    reader
        .get_mut()
        .write_all(b"EHLO blast.pitcrew.test\r\n")
        .await?;
    expect_reply(&mut reader, &mut line, b"250").await?;
    for message in &lane {
        // PIPELINING: the envelope goes in one write; DATA must wait for 354.
        reader
            .get_mut()
            .write_all(b"MAIL FROM:<blast@pitcrew.test>\r\nRCPT TO:<sink@pitcrew.test>\r\nDATA\r\n")
            .await?;
        expect_reply(&mut reader, &mut line, b"250").await?;
        expect_reply(&mut reader, &mut line, b"250").await?;
        expect_reply(&mut reader, &mut line, b"354").await?;
        reader.get_mut().write_all(message).await?;
        expect_reply(&mut reader, &mut line, b"250").await?;
    }
    reader.get_mut().write_all(b"QUIT\r\n").await?;
    expect_reply(&mut reader, &mut line, b"221").await
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect_reply<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    code: &[u8],
) -> std::io::Result<()> {
    loop {
        if read_line(reader, line, COMMAND_LIMIT).await? != Line::Full {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if !line.starts_with(code) {
            return Err(std::io::Error::other(format!(
                "expected {}, the server said {}",
                String::from_utf8_lossy(code),
                String::from_utf8_lossy(line).trim_end()
            )));
        }
        // `250-` continues a reply, `250 ` ends it.
        if line.get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn talk(sink: &SmtpSink, script: &[u8]) -> String {
        let mut stream = TcpStream::connect(sink.addr()).await.expect("connect");
        stream.write_all(script).await.expect("write");
        let mut reply = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut reply)
            .await
            .expect("read");
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[tokio::test]
    async fn pipelined_session_is_answered_in_order_and_unstuffed() {
        let sink = SmtpSink::start().await;
        let reply = talk(
            &sink,
            b"EHLO me\r\nMAIL FROM:<a@example.com> SIZE=20\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\n..hidden dot\r\n.\r\nQUIT\r\n",
        )
        .await;
        let codes: Vec<&str> = reply
            .lines()
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| &l[..3])
            .collect();
        assert_eq!(
            codes,
            ["220", "250", "250", "250", "354", "250", "221"],
            "{reply}"
        );
        let got = sink.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].mail_from, "a@example.com");
        assert_eq!(got[0].rcpt_to, ["b@example.com"]);
        assert_eq!(got[0].data, b"Subject: x\r\n\r\n.hidden dot\r\n");
    }

    #[tokio::test]
    async fn rejections_and_size_limit_answer_with_their_codes() {
        let sink = SmtpSink::builder()
            .reject(|to| match to {
                "gone@example.com" => Some(Rejection::Permanent),
                "busy@example.com" => Some(Rejection::Temporary),
                _ => None,
            })
            .max_size(10)
            .start()
            .await;
        let reply = talk(
            &sink,
            b"EHLO me\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<gone@example.com>\r\nRCPT TO:<busy@example.com>\r\nDATA\r\nRCPT TO:<ok@example.com>\r\nDATA\r\n0123456789abc\r\n.\r\nDATA\r\nQUIT\r\n",
        )
        .await;
        for expected in ["550 5.1.1", "451 4.3.0", "503 5.5.1", "552 5.3.4"] {
            assert!(reply.contains(expected), "{expected} in {reply}");
        }
        assert_eq!(sink.rejected(), 2);
        assert_eq!(sink.count(), 0);
    }

    #[tokio::test]
    async fn blast_pushes_every_message_and_counting_keeps_no_bodies() {
        let sink = SmtpSink::builder().store_bodies(false).start().await;
        let messages: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("Subject: {i}\r\n\r\n.starts with a dot\r\n").into_bytes())
            .collect();
        blast(sink.addr(), &messages, 4).await.expect("blast");
        assert!(sink.wait_for(50, Duration::from_secs(5)).await);
        assert_eq!(sink.count(), 50);
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn wait_for_gives_up_at_its_timeout() {
        let sink = SmtpSink::start().await;
        assert!(!sink.wait_for(1, Duration::from_millis(50)).await);
    }

    #[tokio::test]
    async fn auth_plain_and_login_record_the_user() {
        let sink = SmtpSink::start().await;
        // "\0ann\0secret" and "bob" / "pw"
        let reply = talk(
            &sink,
            b"EHLO me\r\nAUTH PLAIN AGFubgBzZWNyZXQ=\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert!(
            reply.contains("250-AUTH PLAIN LOGIN") && reply.contains("235 2.7.0"),
            "{reply}"
        );
        let reply = talk(&sink, b"EHLO me\r\nAUTH LOGIN\r\nYm9i\r\ncHc=\r\nQUIT\r\n").await;
        assert!(
            reply.contains("334 VXNlcm5hbWU6") && reply.contains("235 2.7.0"),
            "{reply}"
        );
        assert_eq!(sink.messages()[0].login.as_deref(), Some("ann"));
    }
}
