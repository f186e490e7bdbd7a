//! Delivering over SMTP: a pooled transport per provider and its rate limits.
//!
//! A `Mailer` owns one provider's connection pool, caps concurrent sessions,
//! paces sends with a `Throttle`, and sorts failures into permanent (the
//! recipient fails), temporary (retry later) and configuration (stop and fix).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use pitcrew_core::campaign::Security;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use super::message::Email;

/// How long one SMTP command (or the connection itself) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One provider's SMTP settings and limits.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Empty means no login.
    pub username: String,
    pub password: String,
    /// `false` accepts any certificate, self-signed included. Only for a
    /// private relay reached over a network you trust: it gives up the
    /// protection TLS offers against someone in the middle.
    pub verify_tls: bool,
    /// Sends per second, evenly spaced (0: no cap).
    pub per_second: u32,
    /// Sends per rolling hour (0: no cap).
    pub per_hour: u32,
    /// SMTP sessions open at once; also the pool size.
    pub concurrency: u32,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = if self.password.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &password)
            .field("verify_tls", &self.verify_tls)
            .field("per_second", &self.per_second)
            .field("per_hour", &self.per_hour)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// Why a message was not accepted, sorted by what the sender should do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused this message for good (5xx): mark the recipient failed.
    #[error("the receiving server refused the message: {0}")]
    Permanent(String),
    /// A 4xx reply, a lost connection or a timeout: try again later.
    #[error("the message could not be handed over this time: {0}")]
    Temporary(String),
    /// Nothing will get through until the provider's settings change
    /// (login refused, TLS failing, bad host): stop and tell the user.
    #[error("the SMTP settings do not work: {0}")]
    Config(String),
}

impl SendError {
    /// Stable, machine-readable.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::Permanent(_) => "smtp_rejected",
            SendError::Temporary(_) => "smtp_unavailable",
            SendError::Config(_) => "smtp_config_invalid",
        }
    }
}

/// One provider's way out: a pool of SMTP sessions behind a throttle.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    throttle: Throttle,
    sessions: Semaphore,
    host: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer with a fresh hour of sending. Must be called inside the Tokio
    /// runtime (the pool starts a clean-up task).
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, SendError> {
        Mailer::with_history(cfg, 0)
    }

    /// A mailer that counts `sent_in_last_hour` sends (known from the send
    /// ledger) against the hourly cap, so a restart does not reset it.
    pub fn with_history(cfg: &SmtpConfig, sent_in_last_hour: u32) -> Result<Mailer, SendError> {
        let host = cfg.host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(SendError::Config(format!(
                "`{host}` is not a host name; give the SMTP server, e.g. smtp.example.com"
            )));
        }
        if cfg.port == 0 {
            return Err(SendError::Config(
                "port 0 is not a port; SMTP servers listen on 587 (STARTTLS), 465 (TLS) or 25"
                    .into(),
            ));
        }
        if cfg.concurrency == 0 {
            return Err(SendError::Config(
                "concurrency must be at least 1 (sessions open at once)".into(),
            ));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SendError::Config(
                "a mailer can only be made inside the Tokio runtime".into(),
            ));
        }
        let tls_parameters = || {
            TlsParameters::builder(host.to_string())
                .dangerous_accept_invalid_certs(!cfg.verify_tls)
                .dangerous_accept_invalid_hostnames(!cfg.verify_tls)
                .build_rustls()
                .map_err(|e| SendError::Config(format!("TLS cannot be set up for {host}: {e}")))
        };
        let tls = match cfg.security {
            Security::Starttls => Tls::Required(tls_parameters()?),
            Security::Tls => Tls::Wrapper(tls_parameters()?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(cfg.concurrency));
        if !cfg.username.is_empty() {
            builder =
                builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            throttle: Throttle::new(cfg.per_second, cfg.per_hour, sent_in_last_hour),
            sessions: Semaphore::new(cfg.concurrency as usize),
            host: host.to_string(),
        })
    }

    /// Hands one message to the server, after waiting for a free session and
    /// for the throttle.
    pub async fn send(&self, message: &Email) -> Result<(), SendError> {
        // The session is taken before the throttle so that the throttle's
        // spacing is the spacing on the wire, not of waiting tasks.
        let _session = self
            .sessions
            .acquire()
            .await
            .map_err(|_| SendError::Temporary("the mailer is shutting down".into()))?;
        self.throttle.acquire().await;
        self.transport
            .send_raw(message.envelope(), message.bytes())
            .await
            .map(|_| ())
            .map_err(|e| classify(&self.host, &e))
    }

    /// Opens a session (TLS and login included) and checks it answers, without
    /// sending anything: for a provider's "test connection" button.
    pub async fn check_connection(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Temporary(format!(
                "{} accepted the connection but did not answer NOOP",
                self.host
            ))),
            Err(e) => Err(classify(&self.host, &e)),
        }
    }

    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Closes the pooled sessions politely (QUIT).
    pub async fn shutdown(&self) {
        self.sessions.close();
        self.transport.shutdown().await;
    }
}

/// Sorts a transport error by what the sender should do about it.
fn classify(host: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let reply = || {
        let text = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        match e.status() {
            Some(code) => format!("{code} {text}").trim().to_string(),
            None => text,
        }
    };
    if let Some(code) = e.status() {
        let code = code.to_string();
        // Login refused or required: every message would fail the same way.
        if matches!(code.as_str(), "530" | "534" | "535" | "538") {
            return SendError::Config(format!(
                "{host} refused the login ({}); check the username and password",
                reply()
            ));
        }
        if e.is_permanent() {
            return SendError::Permanent(reply());
        }
        return SendError::Temporary(reply());
    }
    if e.is_tls() || handshake_refused(e) {
        return SendError::Config(format!(
            "TLS with {host} failed ({e}); check the security setting and port, and for a private relay with a self-signed certificate turn certificate checks off"
        ));
    }
    if e.is_client() {
        let text = e.to_string();
        // An address the server cannot take is about this recipient only.
        if text.contains("SMTPUTF8") || text.contains("8BITMIME") {
            return SendError::Permanent(text);
        }
        return SendError::Config(format!(
            "{host} cannot be used as configured ({text}); check the security setting and login"
        ));
    }
    if e.is_timeout() {
        return SendError::Temporary(format!(
            "{host} did not answer within {} s",
            COMMAND_TIMEOUT.as_secs()
        ));
    }
    SendError::Temporary(format!("{host}: {e}"))
}

/// A TLS handshake that failed on its merits (certificate refused, no TLS
/// spoken on that port), as opposed to a dropped connection: the TLS layer
/// reports those as invalid data, and retrying would fail the same way.
fn handshake_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::InvalidData
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// The rolling-hour window is kept as one-second buckets, so its memory is
/// bounded (at most 3,600 entries) whatever the hourly cap.
const BUCKET: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

/// Paces sends for one provider: evenly spaced at `per_second` (no bursts),
/// and at most `per_hour` in any rolling hour. Shared by concurrent tasks;
/// waiters are served in arrival order.
pub struct Throttle {
    per_second: u32,
    per_hour: u32,
    window: Mutex<Window>,
}

struct Window {
    /// The earliest instant the next send may start.
    next_free: Instant,
    /// (bucket start, sends in it), oldest first.
    hour: VecDeque<(Instant, u32)>,
    hour_total: u64,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("per_second", &self.per_second)
            .field("per_hour", &self.per_hour)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// `sent_in_last_hour_at_start` sends are counted as made just now: when
    /// exactly they were made is not known, so the hour is assumed to start
    /// now, which can only err on the side of sending less.
    pub fn new(per_second: u32, per_hour: u32, sent_in_last_hour_at_start: u32) -> Throttle {
        let now = Instant::now();
        let mut hour = VecDeque::new();
        if sent_in_last_hour_at_start > 0 {
            hour.push_back((now, sent_in_last_hour_at_start));
        }
        Throttle {
            per_second,
            per_hour,
            window: Mutex::new(Window {
                next_free: now,
                hour,
                hour_total: u64::from(sent_in_last_hour_at_start),
            }),
        }
    }

    /// Waits until one more send is allowed and counts it.
    pub async fn acquire(&self) {
        // The lock is held while sleeping: the next waiter's turn comes after
        // this one's, which keeps the order fair and the spacing exact.
        let mut window = self.window.lock().await;
        loop {
            let now = Instant::now();
            window.expire(now);
            let mut at = now;
            if self.per_second > 0 {
                at = at.max(window.next_free);
            }
            if self.per_hour > 0
                && window.hour_total >= u64::from(self.per_hour)
                && let Some((oldest, _)) = window.hour.front()
            {
                // A bucket's sends are all out of the window once the hour
                // has passed since the end of that bucket.
                at = at.max(*oldest + HOUR + BUCKET);
            }
            if at <= now {
                window.record(now);
                if self.per_second > 0 {
                    window.next_free = now + BUCKET / self.per_second;
                }
                return;
            }
            tokio::time::sleep_until(at).await;
        }
    }
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while let Some((start, count)) = self.hour.front().copied() {
            if start + HOUR + BUCKET > now {
                break;
            }
            self.hour_total -= u64::from(count);
            self.hour.pop_front();
        }
    }

    fn record(&mut self, now: Instant) {
        self.hour_total += 1;
        if let Some((start, count)) = self.hour.back_mut()
            && now < *start + BUCKET
        {
            *count += 1;
            return;
        }
        self.hour.push_back((now, 1));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::Starttls,
            username: "user".into(),
            password: "hunter2".into(),
            verify_tls: true,
            per_second: 10,
            per_hour: 1000,
            concurrency: 4,
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("smtp.example.com"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn unusable_settings_are_config_errors() {
        for (spoil, says) in [
            (
                (|c: &mut SmtpConfig| c.host = " ".into()) as fn(&mut SmtpConfig),
                "host",
            ),
            (|c| c.port = 0, "port"),
            (|c| c.concurrency = 0, "concurrency"),
        ] {
            let mut cfg = config();
            spoil(&mut cfg);
            let err = Mailer::new(&cfg).expect_err("refused");
            assert_eq!(err.code(), "smtp_config_invalid");
            assert!(err.to_string().contains(says), "{err}");
        }
        assert!(Mailer::new(&config()).is_ok());
    }

    #[test]
    fn a_mailer_outside_the_runtime_is_refused_not_a_panic() {
        let err = Mailer::new(&config()).expect_err("no runtime");
        assert!(matches!(err, SendError::Config(_)), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_evenly_at_the_per_second_rate() {
        let throttle = Throttle::new(5, 0, 0);
        let start = Instant::now();
        for _ in 0..10 {
            throttle.acquire().await;
        }
        // Ten sends at 5/s: nine gaps of 200 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(1800));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_tasks_share_one_pace() {
        let throttle = Arc::new(Throttle::new(10, 0, 0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let t = Arc::clone(&throttle);
                tokio::spawn(async move {
                    t.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.expect("task"));
        }
        times.sort();
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(100), "{times:?}");
        }
        assert_eq!(times[19] - start, Duration::from_millis(1900));
    }

    #[tokio::test(start_paused = true)]
    async fn the_hourly_cap_blocks_until_the_hour_rolls() {
        let throttle = Throttle::new(0, 3, 0);
        let start = Instant::now();
        for _ in 0..3 {
            throttle.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        throttle.acquire().await;
        let waited = start.elapsed();
        assert!(waited >= HOUR && waited <= HOUR + BUCKET, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_remembers_the_sends_of_the_last_hour() {
        let throttle = Throttle::new(100, 5, 4);
        let start = Instant::now();
        throttle.acquire().await;
        assert!(start.elapsed() < Duration::from_secs(1));
        throttle.acquire().await;
        assert!(start.elapsed() >= HOUR, "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn the_hour_rolls_bucket_by_bucket() {
        // Two sends now, two ten minutes later; the fifth waits for the first two to age out.
        let throttle = Throttle::new(0, 4, 0);
        let start = Instant::now();
        throttle.acquire().await;
        throttle.acquire().await;
        tokio::time::sleep(Duration::from_secs(600)).await;
        throttle.acquire().await;
        throttle.acquire().await;
        throttle.acquire().await;
        let waited = start.elapsed();
        assert!(waited >= HOUR && waited <= HOUR + BUCKET, "{waited:?}");
        // The sixth fits; the seventh waits for the sends of minute ten to age out.
        throttle.acquire().await;
        assert_eq!(start.elapsed(), waited);
        throttle.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= HOUR + Duration::from_secs(600) && waited <= HOUR + Duration::from_secs(601),
            "{waited:?}"
        );
    }
}
