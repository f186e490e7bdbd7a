//! Settings: from flags, `PITCREW_*` environment variables and an optional
//! TOML file, in that order of precedence, checked once at start-up with
//! messages that say what to fix. Secrets are redacted in `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The settings as given in a TOML file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub base_url: Option<String>,
    pub secret_key: Option<String>,
    pub log: Option<String>,
    pub max_message_kb: Option<usize>,
    pub max_batch_kb: Option<usize>,
    pub max_batch_messages: Option<usize>,
    pub sender: Option<bool>,
    pub sender_interval_ms: Option<u64>,
}

/// The settings given on the command line or in the environment.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// A TOML file with any of: database_url, data_dir, listen, base_url, secret_key, log,
    /// sender, sender_interval_ms.
    #[arg(long, global = true, env = "PITCREW_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where pitcrew keeps its data: `sqlite://FILE` (the default, under the
    /// data folder) or `postgres://user:password@host/database`.
    #[arg(
        long,
        global = true,
        env = "PITCREW_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Folder for the SQLite database and the generated secret key [default: pitcrew-data].
    #[arg(long, global = true, env = "PITCREW_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "PITCREW_LISTEN", value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// The address people use to reach pitcrew, e.g. https://pitcrew.example.com
    /// [default: http://<listen address>].
    #[arg(long, global = true, env = "PITCREW_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Key (32+ characters) that signs links pitcrew sends out. Generated and kept in
    /// the data folder when not given and the database is SQLite.
    #[arg(
        long,
        global = true,
        env = "PITCREW_SECRET_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Log detail, e.g. `info`, `debug`, `pitcrew_web=debug` [default: info].
    #[arg(long, global = true, env = "PITCREW_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Tracking API: largest single message in KB [default: 32].
    #[arg(long, global = true, env = "PITCREW_MAX_MESSAGE_KB", value_name = "KB")]
    pub max_message_kb: Option<usize>,
    /// Tracking API: largest request body in KB, after gzip [default: 500].
    #[arg(long, global = true, env = "PITCREW_MAX_BATCH_KB", value_name = "KB")]
    pub max_batch_kb: Option<usize>,
    /// Tracking API: most messages in one batch [default: 2500].
    #[arg(
        long,
        global = true,
        env = "PITCREW_MAX_BATCH_MESSAGES",
        value_name = "N"
    )]
    pub max_batch_messages: Option<usize>,
    /// Whether `serve` and `demo` send broadcasts [default: true]. Give
    /// `false` for a web-only process when another process sharing the
    /// PostgreSQL database sends (only one sends at a time anyway).
    #[arg(
        long,
        global = true,
        env = "PITCREW_SENDER",
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub sender: Option<bool>,
    /// How often the sender looks for broadcasts that are due, in
    /// milliseconds [default: 1000].
    #[arg(
        long,
        global = true,
        env = "PITCREW_SENDER_INTERVAL_MS",
        value_name = "MS"
    )]
    pub sender_interval_ms: Option<u64>,
}

/// A value that must never be printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// Validated settings.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub base_url: String,
    pub secret_key: Secret,
    pub log: String,
    /// Tracking API limits: message bytes, body bytes, messages per batch.
    pub ingest_limits: (usize, usize, usize),
    /// Whether this process sends broadcasts.
    pub sender: bool,
    /// How often the sender looks for due broadcasts.
    pub sender_interval: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("secret_key", &self.secret_key)
            .field("log", &self.log)
            .field("ingest_limits", &self.ingest_limits)
            .field("sender", &self.sender)
            .field("sender_interval", &self.sender_interval)
            .finish()
    }
}

/// The URL with any password replaced, fit for logs.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.split_once("://").and_then(|(scheme, rest)| {
        let (userinfo, host) = rest.rsplit_once('@')?;
        Some((scheme, userinfo, host))
    }) {
        Some((scheme, userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:[redacted]@{host}")
        }
        _ => base.to_string(),
    };
    // Passwords can also ride in the query string.
    match query {
        None => base,
        Some(q) => {
            let kept: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", kept.join("&"))
        }
    }
}

pub const MIN_SECRET_CHARS: usize = 32;

impl Config {
    /// Merge flags/environment over the file over defaults, and check it all.
    pub fn load(o: &Overrides) -> anyhow::Result<Config> {
        let file = match &o.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let ingest_limits = ingest_limits(o, &file)?;
        let sender_interval = sender_interval(o, &file)?;
        let sender = o.sender.or(file.sender).unwrap_or(true);
        let data_dir = o
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("pitcrew-data"));
        let database_url = o
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("pitcrew.db").display()));
        let is_sqlite = database_url.starts_with("sqlite:");
        if !is_sqlite
            && !database_url.starts_with("postgres://")
            && !database_url.starts_with("postgresql://")
        {
            bail!(
                "database URL `{}` is not one pitcrew can use: write sqlite://path/to/file.db or postgres://user:password@host:5432/database",
                redact_url(&database_url)
            );
        }
        let listen_text = o
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!("listen address `{listen_text}` is not host:port; write it like 127.0.0.1:8080 or 0.0.0.0:80")
        })?;
        let base_url = o
            .base_url
            .clone()
            .or(file.base_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            bail!(
                "base URL `{base_url}` must start with http:// or https://, e.g. https://pitcrew.example.com"
            );
        }
        let secret_key = match o.secret_key.clone().or(file.secret_key) {
            Some(key) => key,
            None if is_sqlite => stored_secret(&data_dir)?,
            None => bail!(
                "set a secret key (PITCREW_SECRET_KEY or secret_key in the config file) of at least {MIN_SECRET_CHARS} characters; with PostgreSQL every pitcrew process must share the same key, e.g. the output of `openssl rand -hex 32`"
            ),
        };
        if secret_key.trim().chars().count() < MIN_SECRET_CHARS {
            bail!(
                "the secret key is too short: it needs at least {MIN_SECRET_CHARS} characters, e.g. the output of `openssl rand -hex 32`"
            );
        }
        Ok(Config {
            database_url,
            data_dir,
            listen,
            base_url,
            secret_key: Secret(secret_key),
            ingest_limits,
            sender,
            sender_interval,
            log: o.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
        })
    }
}

fn ingest_limits(o: &Overrides, file: &FileConfig) -> anyhow::Result<(usize, usize, usize)> {
    let message_kb = o.max_message_kb.or(file.max_message_kb).unwrap_or(32);
    let batch_kb = o.max_batch_kb.or(file.max_batch_kb).unwrap_or(500);
    let messages = o
        .max_batch_messages
        .or(file.max_batch_messages)
        .unwrap_or(2500);
    if message_kb == 0 || batch_kb < message_kb || messages == 0 || batch_kb > 1024 * 1024 {
        bail!(
            "tracking limits must satisfy 0 < max_message_kb <= max_batch_kb <= 1048576 and max_batch_messages > 0 (got {message_kb}, {batch_kb}, {messages})"
        );
    }
    Ok((message_kb * 1024, batch_kb * 1024, messages))
}

/// Shortest and longest wait between the sender's looks for due broadcasts.
const SENDER_INTERVAL_MS: (u64, u64) = (10, 600_000);

fn sender_interval(o: &Overrides, file: &FileConfig) -> anyhow::Result<Duration> {
    let ms = o
        .sender_interval_ms
        .or(file.sender_interval_ms)
        .unwrap_or(1000);
    let (min, max) = SENDER_INTERVAL_MS;
    if !(min..=max).contains(&ms) {
        bail!(
            "sender_interval_ms must be between {min} and {max} (got {ms}); 1000 looks for due broadcasts every second"
        );
    }
    Ok(Duration::from_millis(ms))
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
}

/// The key kept in the data folder, created on first use.
fn stored_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("secret.key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key.trim().to_string());
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let key = pitcrew_app::secret::random_hex(32);
    write_private(&path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/pc"),
            "postgres://app:[redacted]@db:5432/pc"
        );
        assert_eq!(
            redact_url("postgres://db/pc?user=a&password=hunter2"),
            "postgres://db/pc?user=a&password=[redacted]"
        );
        assert_eq!(
            redact_url("sqlite://pitcrew-data/pitcrew.db"),
            "sqlite://pitcrew-data/pitcrew.db"
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret_key() {
        let c = Config {
            database_url: "postgres://app:hunter2@db/pc".into(),
            data_dir: "d".into(),
            listen: "127.0.0.1:1".parse().expect("address"),
            base_url: "http://x".into(),
            secret_key: Secret("0123456789abcdef0123456789abcdef-very-secret".into()),
            log: "info".into(),
            ingest_limits: (1, 2, 3),
            sender: true,
            sender_interval: Duration::from_secs(1),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_listen_address_says_how_to_write_it() {
        let o = Overrides {
            listen: Some("localhost".into()),
            secret_key: Some("k".repeat(32)),
            ..Overrides::default()
        };
        let e = Config::load(&o).expect_err("invalid").to_string();
        assert!(e.contains("127.0.0.1:8080"), "{e}");
    }

    #[test]
    fn postgres_without_secret_key_is_refused() {
        let o = Overrides {
            database_url: Some("postgres://db/pc".into()),
            ..Overrides::default()
        };
        let e = Config::load(&o).expect_err("needs key").to_string();
        assert!(e.contains("PITCREW_SECRET_KEY"), "{e}");
    }

    #[test]
    fn unknown_database_scheme_is_refused() {
        let o = Overrides {
            database_url: Some("mysql://db/pc".into()),
            secret_key: Some("k".repeat(32)),
            ..Overrides::default()
        };
        let e = Config::load(&o).expect_err("bad scheme").to_string();
        assert!(e.contains("sqlite://") && e.contains("postgres://"), "{e}");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn the_sender_runs_by_default_and_a_web_only_process_turns_it_off() {
        let key = Some("k".repeat(32));
        let o = Overrides {
            secret_key: key.clone(),
            ..Overrides::default()
        };
        let c = Config::load(&o).expect("valid");
        assert!(c.sender);
        assert_eq!(c.sender_interval, Duration::from_secs(1));
        let o = Overrides {
            secret_key: key.clone(),
            sender: Some(false),
            sender_interval_ms: Some(250),
            ..Overrides::default()
        };
        let c = Config::load(&o).expect("valid");
        assert!(!c.sender);
        assert_eq!(c.sender_interval, Duration::from_millis(250));

        let file: FileConfig =
            toml::from_str("sender = false\nsender_interval_ms = 50\n").expect("file");
        assert_eq!(file.sender, Some(false));
        assert_eq!(
            sender_interval(&Overrides::default(), &file).expect("valid"),
            Duration::from_millis(50)
        );

        let o = Overrides {
            secret_key: key,
            sender_interval_ms: Some(0),
            ..Overrides::default()
        };
        let e = Config::load(&o).expect_err("zero interval").to_string();
        assert!(e.contains("sender_interval_ms must be between 10"), "{e}");
    }

    #[test]
    fn tracking_limits_default_to_the_segment_ones_and_can_be_raised() {
        let key = Some("k".repeat(32));
        let o = Overrides {
            secret_key: key.clone(),
            ..Overrides::default()
        };
        assert_eq!(
            Config::load(&o).expect("valid").ingest_limits,
            (32 * 1024, 500 * 1024, 2500)
        );
        let o = Overrides {
            secret_key: key.clone(),
            max_batch_kb: Some(4096),
            max_batch_messages: Some(10_000),
            ..Overrides::default()
        };
        assert_eq!(
            Config::load(&o).expect("valid").ingest_limits,
            (32 * 1024, 4096 * 1024, 10_000)
        );
        let o = Overrides {
            secret_key: key,
            max_message_kb: Some(64),
            max_batch_kb: Some(32),
            ..Overrides::default()
        };
        let e = Config::load(&o)
            .expect_err("message over batch")
            .to_string();
        assert!(e.contains("max_message_kb <= max_batch_kb"), "{e}");
    }
}
