//! The `pitcrew segment` commands: check a condition while writing it, count
//! and preview a segment, explain one person's membership, export members as
//! CSV and print the portable PostgreSQL query.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use pitcrew_app::audience::{self, CheckReport, Definition, DefinitionProblem, SegmentRef};
use pitcrew_app::{Actor, Db, admin, now_ms};
use pitcrew_filter::eval::Explanation;

#[derive(Debug, clap::Subcommand)]
pub enum SegmentCommand {
    /// Save a condition as a dynamic segment.
    Create {
        #[command(flatten)]
        target: Condition,
        /// The segment's name, unique in the workspace.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Check a condition: print its canonical form, or every problem with
    /// its line and column. Exits with 1 when the condition has errors.
    Check {
        #[command(flatten)]
        target: Condition,
    },
    /// How many people or accounts a segment selects now.
    Count {
        #[command(flatten)]
        target: Target,
    },
    /// The first members of a segment with chosen fields.
    Preview {
        #[command(flatten)]
        target: Target,
        /// Fields to show, comma-separated (default: email, first_name, last_name, country).
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Why a person (or account) is in a saved segment or not.
    Explain {
        #[command(flatten)]
        target: Target,
        /// The contact's (or account's) id.
        #[arg(long)]
        record: i64,
    },
    /// Every member of a saved segment as CSV, to stdout or a file.
    Export {
        #[command(flatten)]
        target: Target,
        /// Fields to include after the id, comma-separated.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The PostgreSQL query that selects the segment's members, for a data
    /// team to run the same formula in their warehouse.
    Sql {
        #[command(flatten)]
        target: Target,
    },
}

/// A condition given on the command line or in a file.
#[derive(Debug, clap::Args)]
pub struct Condition {
    /// The workspace's slug.
    #[arg(long)]
    workspace: String,
    /// The condition in text form, e.g. `people where country is "DE"`.
    #[arg(long = "where", conflicts_with = "file")]
    text: Option<String>,
    /// A file holding the condition in text or JSON form (`-` for stdin).
    #[arg(long)]
    file: Option<PathBuf>,
}

/// A saved segment by name or id, or an unsaved condition.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The workspace's slug.
    #[arg(long)]
    workspace: String,
    /// A saved segment's name or id.
    #[arg(conflicts_with_all = ["text", "file"])]
    segment: Option<String>,
    /// An unsaved condition in text form.
    #[arg(long = "where", conflicts_with = "file")]
    text: Option<String>,
    /// A file holding an unsaved condition in text or JSON form (`-` for stdin).
    #[arg(long)]
    file: Option<PathBuf>,
}

pub async fn run(db: &Db, cmd: SegmentCommand) -> anyhow::Result<()> {
    let pending = pitcrew_store::migrate::pending(db).await?;
    if !pending.is_empty() {
        bail!(
            "the database needs migrations ({}); run `pitcrew migrate` first",
            pending.join(", ")
        );
    }
    let now = now_ms();
    match cmd {
        SegmentCommand::Check { target } => {
            let actor = actor(db, &target.workspace).await?;
            let (definition, source) = definition(target.text, target.file)?;
            let report = audience::check_definition(db, &actor, definition).await?;
            print!("{}", check_report(&report, &source));
            if !report.valid {
                std::process::exit(1);
            }
            Ok(())
        }
        SegmentCommand::Create {
            target,
            name,
            description,
        } => {
            let actor = actor(db, &target.workspace).await?;
            let (definition, _) = definition(target.text, target.file)?;
            let new = audience::NewSegment {
                name,
                description,
                kind: audience::SegmentKind::Dynamic,
                subject: None,
                definition: Some(definition),
            };
            let s = audience::create_segment(db, &actor, new, now).await?;
            println!("created segment `{}` (id {})", s.name, s.id);
            Ok(())
        }
        SegmentCommand::Count { target } => {
            let (actor, target) = resolve(db, target).await?;
            let n = audience::count_segment(db, &actor, target, now).await?;
            println!("{n}");
            Ok(())
        }
        SegmentCommand::Preview {
            target,
            fields,
            limit,
            offset,
        } => {
            let (actor, target) = resolve(db, target).await?;
            let fields = if fields.is_empty() {
                ["email", "first_name", "last_name", "country"]
                    .map(String::from)
                    .to_vec()
            } else {
                fields
            };
            let preview =
                audience::preview_segment(db, &actor, target, fields.clone(), limit, offset, now)
                    .await?;
            let mut rows = vec![
                std::iter::once("id".to_string())
                    .chain(fields.iter().cloned())
                    .collect::<Vec<_>>(),
            ];
            for m in &preview.members {
                let mut row = vec![m.id.to_string()];
                row.extend(fields.iter().map(|f| cell(m.fields.get(f))));
                rows.push(row);
            }
            print!("{}", table(&rows));
            println!(
                "{} of {} members (offset {offset})",
                preview.members.len(),
                preview.total
            );
            Ok(())
        }
        SegmentCommand::Explain { target, record } => {
            let (actor, target) = resolve(db, target).await?;
            let SegmentRef::Saved(id) = target else {
                bail!("explain needs a saved segment: give its name or id");
            };
            let e = audience::explain_segment(db, &actor, id, record, now).await?;
            print!("{}", explanation(&e, 0));
            Ok(())
        }
        SegmentCommand::Export {
            target,
            fields,
            output,
        } => {
            let (actor, target) = resolve(db, target).await?;
            let SegmentRef::Saved(id) = target else {
                bail!("export needs a saved segment: give its name or id");
            };
            let n = match output {
                Some(path) => {
                    let mut file = tokio::fs::File::create(&path)
                        .await
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let n = audience::export_segment_csv(db, &actor, id, fields, &mut file, now)
                        .await?;
                    file.sync_all().await?;
                    eprintln!("wrote {n} members to {}", path.display());
                    n
                }
                None => {
                    let mut out = tokio::io::stdout();
                    audience::export_segment_csv(db, &actor, id, fields, &mut out, now).await?
                }
            };
            tracing::debug!(members = n, "exported");
            Ok(())
        }
        SegmentCommand::Sql { target } => {
            let (actor, target) = resolve(db, target).await?;
            println!("{};", audience::segment_sql(db, &actor, target, now).await?);
            Ok(())
        }
    }
}

async fn actor(db: &Db, slug: &str) -> anyhow::Result<Actor> {
    let ws = admin::workspace_by_slug(db, slug).await?;
    Ok(Actor::system(ws.id))
}

/// The saved segment named (or numbered) on the command line, or the
/// unsaved condition given instead.
async fn resolve(db: &Db, t: Target) -> anyhow::Result<(Actor, SegmentRef)> {
    let actor = actor(db, &t.workspace).await?;
    let Some(wanted) = t.segment else {
        let (definition, _) = definition(t.text, t.file)?;
        return Ok((actor, SegmentRef::Unsaved(definition)));
    };
    let segments = audience::list_segments(db, &actor).await?;
    let found = segments
        .iter()
        .find(|s| s.name == wanted || s.id.to_string() == wanted);
    match found {
        Some(s) => Ok((actor, SegmentRef::Saved(s.id))),
        None => {
            let hint =
                pitcrew_core::suggest::closest(&wanted, segments.iter().map(|s| s.name.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
            bail!("there is no segment `{wanted}` in `{}`{hint}", t.workspace)
        }
    }
}

/// The condition and its text (for pointing at problems).
fn definition(text: Option<String>, file: Option<PathBuf>) -> anyhow::Result<(Definition, String)> {
    let source = match (text, file) {
        (Some(t), _) => t,
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, None) => bail!("give a segment's name, a condition with --where, or --file"),
    };
    if source.trim_start().starts_with('{') {
        let json = serde_json::from_str(&source)
            .with_context(|| "the file starts with `{` but is not valid JSON")?;
        return Ok((Definition::Json(json), source));
    }
    Ok((Definition::Text(source.clone()), source))
}

/// The canonical form of a valid condition, or each problem pointed at.
fn check_report(r: &CheckReport, source: &str) -> String {
    let mut out = String::new();
    for p in &r.problems {
        out.push_str(&problem("error", p, source));
    }
    for p in &r.warnings {
        out.push_str(&problem("warning", p, source));
    }
    if r.valid {
        if let Some(text) = &r.text {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    } else {
        let n = r.problems.len();
        out.push_str(&format!(
            "{n} problem{} found\n",
            if n == 1 { "" } else { "s" }
        ));
    }
    out
}

/// One problem, compiler style, with the offending line underlined.
fn problem(level: &str, p: &DefinitionProblem, source: &str) -> String {
    let mut out = format!("{level}[{}]: {}\n", p.code, p.message);
    let Some(span) = &p.span else {
        if !p.path.is_empty() {
            out.push_str(&format!("  at {}\n", p.path));
        }
        return out;
    };
    let line_no = span.line as usize;
    let Some(line) = source.lines().nth(line_no.saturating_sub(1)) else {
        return out;
    };
    let col = (span.column as usize).max(1);
    let width = source
        .get(span.start..span.end)
        .map(|s| s.lines().next().unwrap_or("").chars().count())
        .unwrap_or(1)
        .clamp(1, line.chars().count().saturating_sub(col - 1).max(1));
    let gutter = line_no.to_string().len();
    out.push_str(&format!(
        "{:gutter$}--> line {line_no}, column {col}\n{:gutter$} |\n{line_no} | {line}\n{:gutter$} | {}{}\n",
        "",
        "",
        "",
        " ".repeat(col - 1),
        "^".repeat(width)
    ));
    out
}

fn explanation(e: &Explanation, depth: usize) -> String {
    let mark = if e.value { "yes" } else { "no " };
    let mut out = format!(
        "{}{mark}  {}",
        "  ".repeat(depth),
        e.condition.lines().next().unwrap_or("")
    );
    if !e.reason.is_empty() {
        out.push_str(&format!("  — {}", e.reason));
    }
    out.push('\n');
    for c in &e.children {
        out.push_str(&explanation(c, depth + 1));
    }
    out
}

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
