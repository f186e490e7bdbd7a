//! The `pitcrew` command: serve the app, build a demo, migrate the database,
//! and manage workspaces, users and API tokens from a terminal.

mod config;
mod health;
mod import;
mod segment;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pitcrew_app::campaign::send::Sender;
use pitcrew_app::{Actor, AppError, Db, admin, demo, now_ms};
use pitcrew_core::admin::{Member, Role, Workspace};

use config::{Config, Overrides, redact_url};

/// pitcrew — the marketing operations platform: one binary, one system of
/// record for contacts, accounts, audiences, campaigns, plans and numbers.
#[derive(Parser)]
#[command(name = "pitcrew", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web app and API, and send broadcasts that are due (applies
    /// pending database migrations first).
    Serve {
        /// Do not apply migrations at start; fail instead if any are pending.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Create a demo workspace full of realistic data, then serve it and print
    /// where to sign in. Running it again keeps the data and prints a new password.
    Demo {
        /// Build the demo data and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// How many contacts to generate (accounts are a tenth of this).
        #[arg(long, default_value_t = 3000)]
        contacts: usize,
    },
    /// Bring the database schema up to date (or show what is pending).
    Migrate {
        /// Only list the migrations that would run.
        #[arg(long)]
        status: bool,
    },
    /// Workspaces: the tenants that hold all data.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// People who sign in: create them or reset their password.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for integrations: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Event sources and their write keys (for Segment SDKs): create, list, revoke.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Load contacts or accounts from a CSV file.
    Import(import::ImportArgs),
    /// Report how healthy a workspace's data is.
    Health(health::HealthArgs),
    /// Audiences: check, count, preview, explain, export a segment, or print its SQL.
    #[command(subcommand)]
    Segment(segment::SegmentCommand),
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace with the built-in fields.
    Create {
        /// Short name, e.g. `acme` (lowercase letters, digits, dashes).
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user in a workspace (or give an existing user a role there).
    /// Without --password a strong one is generated and printed.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// owner, admin, builder, marketer or viewer.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: Role,
        #[arg(long, env = "PITCREW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set a new password for a user (every session of theirs ends).
    /// Without --password a strong one is generated and printed.
    ResetPassword {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "PITCREW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token acting for a member; the secret is printed once.
    Create {
        #[arg(long)]
        workspace: String,
        /// The member the token acts for.
        #[arg(long)]
        email: String,
        /// What it is for, e.g. "CRM sync".
        #[arg(long)]
        name: String,
        /// At most the member's role [default: the member's role].
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
    },
    /// List a workspace's tokens (never their secrets).
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a token at once.
    Revoke {
        #[arg(long)]
        workspace: String,
        /// The token's id, as shown by `pitcrew token list`.
        id: i64,
    },
}

#[derive(Subcommand)]
enum SourceCommand {
    /// Create a source; its write key is printed once. Point a Segment SDK at
    /// this server with it.
    Create {
        #[arg(long)]
        workspace: String,
        /// Where events come from, e.g. "Website".
        #[arg(long)]
        name: String,
    },
    /// List a workspace's sources (never their write keys).
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a source's write key at once (its events stay).
    Revoke {
        #[arg(long)]
        workspace: String,
        /// The source's id, as shown by `pitcrew source list`.
        id: i64,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "use one of owner, admin, builder, marketer, viewer".to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.settings)?;
    init_logging(&config.log);
    tracing::debug!(?config, "settings");
    let db = open(&config).await?;
    match cli.command {
        Command::Serve { no_migrate } => {
            if no_migrate {
                let pending = pitcrew_store::migrate::pending(&db).await?;
                if !pending.is_empty() {
                    bail!(
                        "the database needs migrations ({}); run `pitcrew migrate`",
                        pending.join(", ")
                    );
                }
            } else {
                migrate(&db).await?;
            }
            serve(db, &config).await
        }
        Command::Demo { no_serve, contacts } => {
            migrate(&db).await?;
            let scale = demo::DemoScale {
                accounts: (contacts / 10).max(1),
                contacts,
            };
            let login = demo::build_demo(&db, now_ms(), scale).await?;
            let verb = if login.created { "Created" } else { "Reusing" };
            println!(
                "{verb} the demo workspace `{}`: {} contacts, {} accounts.\n\n  Open      {}\n  Email     {}\n  Password  {}\n",
                login.workspace.slug,
                login.contacts,
                login.accounts,
                config.base_url,
                login.email,
                login.password
            );
            if no_serve {
                return Ok(());
            }
            serve(db, &config).await
        }
        Command::Migrate { status } => {
            if status {
                let pending = pitcrew_store::migrate::pending(&db).await?;
                if pending.is_empty() {
                    println!("the database is up to date");
                } else {
                    println!("pending: {}", pending.join(", "));
                }
                return Ok(());
            }
            migrate(&db).await
        }
        Command::Workspace(WorkspaceCommand::Create { slug, name }) => {
            migrate(&db).await?;
            let ws =
                admin::create_workspace(&db, &slug, name.as_deref().unwrap_or(&slug), now_ms())
                    .await?;
            println!(
                "created workspace `{}` (id {}); add someone with `pitcrew user create --workspace {} --email you@example.com --role owner`",
                ws.slug, ws.id, ws.slug
            );
            Ok(())
        }
        Command::User(cmd) => user(&db, cmd).await,
        Command::Token(cmd) => token(&db, cmd).await,
        Command::Source(cmd) => source(&db, cmd).await,
        Command::Import(args) => import::run(&db, args).await,
        Command::Health(args) => health::run(&db, args).await,
        Command::Segment(cmd) => segment::run(&db, cmd).await,
    }
}

async fn open(config: &Config) -> anyhow::Result<Db> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
    }
    Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            redact_url(&config.database_url)
        )
    })
}

async fn migrate(db: &Db) -> anyhow::Result<()> {
    let applied = pitcrew_store::migrate::migrate(db, now_ms()).await?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(())
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(db: Db, config: &Config) -> anyhow::Result<()> {
    let mut state = pitcrew_web::AppState::new(
        db.clone(),
        config.base_url.starts_with("https://"),
        &config.secret_key.0,
    );
    let (message_bytes, batch_bytes, batch_messages) = config.ingest_limits;
    state.ingest_limits = pitcrew_web::ingest::IngestLimits {
        message_bytes,
        batch_bytes,
        batch_messages,
    };
    let app = pitcrew_web::router(state);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another program using it? Choose another with --listen",
                config.listen
            )
        })?;
    tracing::info!(address = %config.listen, base_url = %config.base_url, database = %redact_url(&config.database_url), "pitcrew is serving");
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let on_signal = Arc::clone(&stop);
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.send_replace(true);
    });
    let sender = config
        .sender
        .then(|| start_sender(&db, config.sender_interval, stopped(stopping.clone())));
    if sender.is_none() {
        tracing::info!(
            "this process sends no email (sender off); another pitcrew process sharing the database must send"
        );
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stopped(stopping))
        .await;
    // However the server ended, the sender stops with it.
    stop.send_replace(true);
    if let Some(sender) = sender {
        finish_sender(sender).await;
    }
    db.close().await;
    served?;
    Ok(())
}

/// Longest wait, at shutdown, for the messages on the wire to be settled.
/// Past it the process exits anyway and the next start reports them uncertain.
const SENDER_GRACE: Duration = Duration::from_secs(30);

/// Run the sender next to the web server until `stop` resolves.
fn start_sender(
    db: &Db,
    interval: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tracing::info!(
        interval_ms = interval.as_millis(),
        "the sender is starting; it sends once it holds the sender lease"
    );
    let sender = Arc::new(Sender::new(db.clone(), Arc::new(now_ms)));
    tokio::spawn(sender.run(interval, stop))
}

async fn finish_sender(mut task: tokio::task::JoinHandle<()>) {
    match tokio::time::timeout(SENDER_GRACE, &mut task).await {
        Ok(Ok(())) => tracing::info!("the sender has stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "the sender stopped abnormally"),
        Err(_) => {
            task.abort();
            tracing::warn!(
                grace_s = SENDER_GRACE.as_secs(),
                "the sender did not settle its messages in time; the next start marks them uncertain"
            );
        }
    }
}

/// Resolves once shutdown was asked for (or can no longer be).
async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

fn generated_password() -> String {
    let hex = pitcrew_app::secret::random_hex(12);
    format!("{}-{}-{}", &hex[..8], &hex[8..16], &hex[16..])
}

async fn user(db: &Db, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            workspace,
            email,
            name,
            role,
            password,
        } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            let shown = password.is_none();
            let password = password.unwrap_or_else(generated_password);
            let m = admin::upsert_user(db, &ws, &email, &name, &password, role, now_ms()).await?;
            println!(
                "{} is {} of `{}` (user id {})",
                m.email, m.role, ws.slug, m.user_id
            );
            if shown {
                println!("password: {password}");
            }
        }
        UserCommand::ResetPassword {
            workspace,
            email,
            password,
        } => {
            let (ws, member) = find_member(db, &workspace, &email).await?;
            let shown = password.is_none();
            let password = password.unwrap_or_else(generated_password);
            admin::upsert_user(
                db,
                &ws,
                &member.email,
                &member.name,
                &password,
                member.role,
                now_ms(),
            )
            .await?;
            println!(
                "new password set for {}; their sessions have ended",
                member.email
            );
            if shown {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

/// The workspace `workspace` and its member `email`.
async fn find_member(db: &Db, workspace: &str, email: &str) -> anyhow::Result<(Workspace, Member)> {
    let ws = admin::workspace_by_slug(db, workspace).await?;
    let member = admin::list_members(db, &Actor::system(ws.id))
        .await?
        .into_iter()
        .find(|m| m.email == email.trim().to_lowercase())
        .ok_or_else(|| {
            AppError::not_found(
                "member_not_found",
                format!(
                    "{email} is not a member of `{workspace}`; add them with `pitcrew user create`"
                ),
            )
        })?;
    Ok((ws, member))
}

/// The member `email` of `workspace`, acting for themselves.
async fn member_actor(db: &Db, workspace: &str, email: &str) -> anyhow::Result<Actor> {
    let (ws, member) = find_member(db, workspace, email).await?;
    Ok(Actor {
        workspace_id: ws.id,
        user_id: Some(member.user_id),
        token_id: None,
        role: member.role,
        label: member.email,
    })
}

async fn source(db: &Db, cmd: SourceCommand) -> anyhow::Result<()> {
    match cmd {
        SourceCommand::Create { workspace, name } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            let created =
                pitcrew_app::ingest::create_source(db, &Actor::system(ws.id), &name, now_ms())
                    .await?;
            println!(
                "source {} ({}) created. Its write key is shown only now:\n\n  {}\n\nGive it to a Segment SDK as the write key, with this server as the API host.",
                created.source.id, created.source.name, created.write_key
            );
        }
        SourceCommand::List { workspace } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            println!("{:>5}  {:<28} {:<13} state", "id", "name", "prefix");
            for s in pitcrew_app::ingest::list_sources(db, &Actor::system(ws.id)).await? {
                let state = s
                    .revoked_at
                    .map_or_else(|| "live".to_string(), |at| format!("revoked {at}"));
                println!("{:>5}  {:<28} {:<13} {state}", s.id, s.name, s.prefix);
            }
        }
        SourceCommand::Revoke { workspace, id } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            pitcrew_app::ingest::revoke_source(db, &Actor::system(ws.id), id, now_ms()).await?;
            println!("source {id} revoked");
        }
    }
    Ok(())
}

async fn token(db: &Db, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            workspace,
            email,
            name,
            role,
        } => {
            let actor = member_actor(db, &workspace, &email).await?;
            let created =
                admin::create_token(db, &actor, admin::NewTokenRequest { name, role }, now_ms())
                    .await?;
            println!(
                "token {} ({}, role {}) created. Its secret is shown only now:\n\n  {}\n\nSend it as `Authorization: Bearer <secret>`.",
                created.token.id, created.token.name, created.token.role, created.secret
            );
        }
        TokenCommand::List { workspace } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            let tokens = admin::list_tokens(db, &Actor::system(ws.id)).await?;
            println!(
                "{:>5}  {:<24} {:<9} {:<13} {:<28} state",
                "id", "name", "role", "prefix", "member"
            );
            for t in tokens {
                let state = match (&t.revoked_at, &t.last_used_at) {
                    (Some(at), _) => format!("revoked {at}"),
                    (None, Some(at)) => format!("last used {at}"),
                    (None, None) => "never used".into(),
                };
                println!(
                    "{:>5}  {:<24} {:<9} {:<13} {:<28} {}",
                    t.id, t.name, t.role, t.prefix, t.user_email, state
                );
            }
        }
        TokenCommand::Revoke { workspace, id } => {
            let ws = admin::workspace_by_slug(db, &workspace).await?;
            admin::revoke_token(db, &Actor::system(ws.id), id, now_ms()).await?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
